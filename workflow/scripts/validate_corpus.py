"""Validate every BRAT folder of a dataset; the log lists each problem as path:line."""

from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart
from clinprompt.corpus.validation import validate_parts
from clinprompt.scripting import run_step


def validate(settings: dict, parts: list, out: str) -> None:
    validate_parts(
        [CorpusPart(*part) for part in parts],
        load_schema(settings["schema"]),
        out,
        skip_invalid=settings["skip_invalid"],
        trust_offsets=settings["trust_offsets"],
        on_invalid=settings["on_invalid"],
    )


run_step(
    snakemake.log[0],
    validate,
    snakemake.params.settings,
    snakemake.params.parts,
    snakemake.output[0],
)
