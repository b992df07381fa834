"""Score stage: each cell's predictions of one test institution against the gold corpus, and
the dictionary baseline (training mentions looked up in the test text), scored the same way."""


rule score_cell:
    input:
        tables=corpus_table_files(),
        predictions=f"{CELL}/predictions",
        summary=f"{CELL}/train.json",
    output:
        f"{CELL}/metrics/{{test_inst}}.json",
    log:
        f"logs/score/{CELL_PATH}/{{test_inst}}.log",
    conda:
        "../../envs/core.yaml"
    params:
        schema=dataset_schema,
        bootstrap=config["training"]["bootstrap"],
    script:
        "../scripts/score_cell.py"


rule dictionary_baseline:
    input:
        tables=corpus_table_files(),
    output:
        f"{DICTIONARY_CELL}/metrics/{{test_inst}}.json",
    log:
        f"logs/score/{DICTIONARY_LOG}/{{test_inst}}.log",
    conda:
        "../../envs/core.yaml"
    params:
        cell=dictionary_cell,
        schema=dataset_schema,
        bootstrap=config["training"]["bootstrap"],
    script:
        "../scripts/dictionary_baseline.py"


rule cell_summary:
    input:
        summary=f"{CELL}/train.json",
        metrics=cell_metrics,
    output:
        report(
            f"{CELL}/summary.html",
            caption="../report/cell_summary.rst",
            category="Cells",
            subcategory="{dataset}",
            labels=CELL_LABELS,
        ),
    log:
        f"logs/score/{CELL_PATH}/summary.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/cell_summary.py"
