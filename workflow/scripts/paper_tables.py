"""Write the paper's tables (Parquet, HTML, LaTeX) from the cells' metrics files and the grid."""

from pathlib import Path

from clinprompt.report.tables import write_paper_tables
from clinprompt.scripting import run_step

run_step(
    snakemake.log[0],
    write_paper_tables,
    [Path(path) for path in snakemake.input.metrics],
    Path(snakemake.input.grid),
    Path(snakemake.output[0]).parent,
)
