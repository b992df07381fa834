"""Train one grid cell; checkpoints stay in the cell folder so a retried job resumes."""

from pathlib import Path

from clinprompt.cell import cell_settings, train_cell
from clinprompt.registry import model_registry
from clinprompt.scripting import run_step

cell = snakemake.params.cell
spec = model_registry(snakemake.config.get("models"))[cell.model]
run_step(
    snakemake.log[0],
    train_cell,
    cell,
    Path(snakemake.input[0]).parent,
    snakemake.params.schema,
    spec,
    cell_settings(snakemake.config, spec, cell.seed),
    Path(snakemake.output.model).parent,
)
