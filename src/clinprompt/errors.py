"""User-facing errors: one line that names the file and line, or the config key, at fault.

The CLI and the workflow scripts print a `ClinpromptError` as that one line and exit with
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ClinpromptError(Exception):
    """An error caused by the user's input, reported as a single line."""


class InvalidInputError(ClinpromptError):
    """Input data that breaks a rule: a malformed BRAT line, an impossible value."""


class ConfigError(ClinpromptError):
    """A wrong, missing or contradictory configuration key."""
