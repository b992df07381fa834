"""Score one test institution of a grid cell into its metrics JSON (no torch needed)."""

from pathlib import Path

from clinprompt.score.cell import score_cell
from clinprompt.scripting import run_step

run_step(
    snakemake.log[0],
    score_cell,
    Path(snakemake.input.tables[0]).parent,
    snakemake.params.schema,
    Path(snakemake.input.predictions),
    Path(snakemake.input.summary),
    snakemake.wildcards.test_inst,
    Path(snakemake.output[0]),
    snakemake.params.bootstrap,
)
