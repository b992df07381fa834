"""clinprompt: model tuning vs prompt tuning for clinical concept and relation extraction."""

__version__ = "0.1.0"
