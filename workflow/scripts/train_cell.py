"""Train one grid cell; checkpoints stay in the cell folder so a retried job resumes."""

from pathlib import Path

from clinprompt.cell import cell_setup, train_cell
from clinprompt.scripting import run_step

cell = snakemake.params.cell
spec, settings = cell_setup(snakemake.config, cell)
run_step(
    snakemake.log[0],
    train_cell,
    cell,
    Path(snakemake.input[0]).parent,
    snakemake.params.schema,
    spec,
    settings,
    Path(snakemake.output.model).parent,
)
