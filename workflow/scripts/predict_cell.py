"""Predict one test institution of a trained cell as BRAT and score it."""

from pathlib import Path

from clinprompt.cell import cell_setup, predict_cell
from clinprompt.scripting import run_step

cell = snakemake.params.cell
spec, settings = cell_setup(snakemake.config, cell)
run_step(
    snakemake.log[0],
    predict_cell,
    cell,
    Path(snakemake.input.tables[0]).parent,
    snakemake.params.schema,
    spec,
    settings,
    Path(snakemake.input.model).parent,
    snakemake.wildcards.test_inst,
    snakemake.output.predictions,
    snakemake.output.metrics,
)
