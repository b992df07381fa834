"""Write the tidy metrics table: one row per cell, test institution, task, mode and metric."""

from pathlib import Path

from clinprompt.report.tidy import write_tidy_metrics
from clinprompt.scripting import run_step

run_step(
    snakemake.log[0],
    write_tidy_metrics,
    [Path(path) for path in snakemake.input.metrics],
    Path(snakemake.input.grid),
    Path(snakemake.output[0]),
)
