"""Write the grid (one row per cell, with its experiments) as Parquet for the aggregation."""

from pathlib import Path

from clinprompt.grid import write_grid
from clinprompt.scripting import run_step

run_step(snakemake.log[0], write_grid, snakemake.params.cells, Path(snakemake.output[0]))
