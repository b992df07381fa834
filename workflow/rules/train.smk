"""Cell stage: train one grid cell, then predict and score each test institution."""


rule train_cell:
    input:
        corpus_table_files(),
    output:
        model=f"{CELL}/best.pt",
        summary=f"{CELL}/train.json",
    log:
        f"logs/train/{CELL_LOG}.log",
    benchmark:
        f"results/benchmarks/train/{CELL_LOG}.tsv"
    retries: 1
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        gpu=train_gpus,
        mem_mb=train_mem_mb,
    params:
        cell=cell_of,
        schema=dataset_schema,
    script:
        "../scripts/train_cell.py"


rule predict_cell:
    input:
        tables=corpus_table_files(),
        model=f"{CELL}/best.pt",
        summary=f"{CELL}/train.json",
    output:
        metrics=f"{CELL}/metrics/{{test_inst}}.json",
        predictions=directory(f"{CELL}/predictions/{{test_inst}}"),
    log:
        f"logs/predict/{CELL_LOG}/{{test_inst}}.log",
    benchmark:
        f"results/benchmarks/predict/{CELL_LOG}/{{test_inst}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        gpu=train_gpus,
        mem_mb=train_mem_mb,
    params:
        cell=cell_of,
        schema=dataset_schema,
    script:
        "../scripts/predict_cell.py"
