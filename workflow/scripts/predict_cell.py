"""Predict one test institution of a trained cell as BRAT and score it."""

from pathlib import Path

from clinprompt.cell import cell_settings, predict_cell
from clinprompt.registry import model_registry
from clinprompt.scripting import run_step

cell = snakemake.params.cell
spec = model_registry(snakemake.config.get("models"))[cell.model]
run_step(
    snakemake.log[0],
    predict_cell,
    cell,
    Path(snakemake.input.tables[0]).parent,
    snakemake.params.schema,
    spec,
    cell_settings(snakemake.config, spec, cell.seed),
    Path(snakemake.input.model).parent,
    snakemake.wildcards.test_inst,
    snakemake.output.predictions,
    snakemake.output.metrics,
)
