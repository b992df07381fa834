"""Write a dataset's corpus statistics (counts only) as an HTML table for the report."""

from pathlib import Path

from clinprompt.corpus.stats import write_statistics
from clinprompt.scripting import run_step

run_step(
    snakemake.log[0],
    write_statistics,
    Path(snakemake.input.tables[0]).parent,
    snakemake.output[0],
    f"Corpus statistics: {snakemake.wildcards.dataset}",
    snakemake.input.validation,
)
