"""Train one grid cell (under torchrun when its model asks for several GPUs) and predict every
test institution; a retried job resumes training. The cell's model entry and settings come as
rule params, so Snakemake sees them."""

from pathlib import Path

from clinprompt.cell import train_and_predict
from clinprompt.corpus.tables import Dataset
from clinprompt.registry import ModelSpec
from clinprompt.scripting import run_step
from clinprompt.settings import from_params
from clinprompt.study import Cell

run_step(
    snakemake.log[0],
    train_and_predict,
    Cell.from_wildcards(snakemake.wildcards),
    Dataset.read(Path(snakemake.input[0]).parent, snakemake.params.schema),
    ModelSpec(**snakemake.params.model),
    from_params(snakemake.params.settings),
    Path(snakemake.output.summary).parent,
    snakemake.params.test_institutions,
    snakemake.params.keep_weights,
)
