"""Score the dictionary baseline of one training draw on one test institution (no torch)."""

from pathlib import Path

from clinprompt.predict.baseline import score_dictionary
from clinprompt.scripting import run_step

run_step(
    snakemake.log[0],
    score_dictionary,
    Path(snakemake.input.tables[0]).parent,
    snakemake.params.schema,
    snakemake.params.cell,
    snakemake.wildcards.test_inst,
    Path(snakemake.output[0]),
    snakemake.params.bootstrap,
)
