"""Write the report card of one grid cell (metrics per test institution and cost)."""

from pathlib import Path

from clinprompt.score.cell import write_cell_summary
from clinprompt.scripting import run_step

run_step(
    snakemake.log[0],
    write_cell_summary,
    Path(snakemake.input.summary),
    [Path(path) for path in snakemake.input.metrics],
    Path(snakemake.output[0]),
)
