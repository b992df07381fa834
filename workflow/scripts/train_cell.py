"""Train one grid cell (under torchrun when its model asks for several GPUs) and predict every
test institution; a retried job resumes training."""

from pathlib import Path

from clinprompt.cell import cell_setup, train_and_predict
from clinprompt.scripting import run_step

cell = snakemake.params.cell
spec, settings = cell_setup(snakemake.config, cell)
run_step(
    snakemake.log[0],
    train_and_predict,
    cell,
    Path(snakemake.input[0]).parent,
    snakemake.params.schema,
    spec,
    settings,
    Path(snakemake.output.summary).parent,
    snakemake.params.test_institutions,
    snakemake.params.keep_weights,
)
