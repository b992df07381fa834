"""Write the paper's figures (PNG, SVG) from the tidy metrics table."""

from pathlib import Path

from clinprompt.report.figures import write_figures_from
from clinprompt.scripting import run_step

run_step(
    snakemake.log[0],
    write_figures_from,
    Path(snakemake.input.metrics),
    Path(snakemake.output[0]).parent,
)
