"""Read a dataset's BRAT folders into the Parquet corpus tables."""

from pathlib import Path

from clinprompt.config import split_draw
from clinprompt.corpus.schema import load_schema
from clinprompt.corpus.tables import CorpusPart, write_corpus_tables
from clinprompt.scripting import run_step


def tables(settings: dict, parts: list, corpus: dict, out_dir: Path) -> None:
    write_corpus_tables(
        [CorpusPart(*part) for part in parts],
        load_schema(settings["schema"]),
        out_dir,
        dev_fraction=corpus["dev_fraction"],
        dev_seed=corpus["dev_seed"],
        skip_invalid=settings["skip_invalid"],
        trust_offsets=settings["trust_offsets"],
        on_invalid=settings["on_invalid"],
        split_draw=split_draw(settings),
    )


run_step(
    snakemake.log[0],
    tables,
    snakemake.params.settings,
    snakemake.params.parts,
    snakemake.params.corpus,
    Path(snakemake.output[0]).parent,
)
