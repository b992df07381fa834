"""Cell stage: train one grid cell, then predict the test documents of every institution."""


rule train_cell:
    input:
        corpus_table_files(),
    output:
        summary=f"{CELL}/train.json",
        predictions=directory(f"{CELL}/predictions"),
    log:
        f"logs/train/{CELL_PATH}.log",
    benchmark:
        f"results/benchmarks/train/{CELL_PATH}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: train_threads
    resources:
        gpu=train_gpus,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
    params:
        model=cell_model,
        settings=cell_training,
        schema=dataset_schema,
        test_institutions=test_institutions,
        keep_weights=KEEP_CHECKPOINTS,
    script:
        "../scripts/train_cell.py"
