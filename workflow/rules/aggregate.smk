"""Aggregate stage: the grid, a tidy table of every metric, the paper's tables and figures."""


rule grid_table:
    output:
        "results/tables/grid.parquet",
    log:
        "logs/aggregate/grid.log",
    conda:
        "../../envs/core.yaml"
    params:
        cells=STUDY_CELLS,
    script:
        "../scripts/grid_table.py"


rule aggregate_metrics:
    input:
        metrics=STUDY_METRICS,
        grid="results/tables/grid.parquet",
    output:
        "results/tables/metrics.parquet",
    log:
        "logs/aggregate/metrics.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/aggregate_metrics.py"


rule paper_tables:
    input:
        metrics=STUDY_METRICS,
        grid="results/tables/grid.parquet",
    output:
        **table_outputs(),
    log:
        "logs/aggregate/tables.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/paper_tables.py"


rule paper_figures:
    input:
        metrics="results/tables/metrics.parquet",
    output:
        **figure_outputs(),
    log:
        "logs/aggregate/figures.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/paper_figures.py"
