"""Corpus stage: synthesise (embedded default) -> validate -> tables -> statistics."""


rule synthesise_corpus:
    output:
        directory("results/corpora/{dataset}/brat"),
    log:
        "logs/corpus/{dataset}/synthesise.log",
    conda:
        "../../envs/core.yaml"
    params:
        synthetic=synthetic_settings,
    script:
        "../scripts/synthesise_corpus.py"


rule validate_corpus:
    input:
        corpus_folders,
    output:
        "results/corpora/{dataset}/validation.json",
    log:
        "logs/corpus/{dataset}/validate.log",
    conda:
        "../../envs/core.yaml"
    params:
        settings=dataset_settings,
        parts=corpus_parts,
    script:
        "../scripts/validate_corpus.py"


rule corpus_tables:
    input:
        folders=corpus_folders,
        validation="results/corpora/{dataset}/validation.json",
    output:
        corpus_table_files(),
    log:
        "logs/corpus/{dataset}/tables.log",
    conda:
        "../../envs/core.yaml"
    params:
        settings=dataset_settings,
        parts=corpus_parts,
        corpus=config["corpus"],
    script:
        "../scripts/corpus_tables.py"


rule corpus_statistics:
    input:
        tables=corpus_table_files(),
        validation="results/corpora/{dataset}/validation.json",
    output:
        report(
            "results/corpora/{dataset}/statistics.html",
            caption="../report/corpus_statistics.rst",
            category="Corpus",
            labels={"dataset": "{dataset}", "table": "statistics"},
        ),
    log:
        "logs/corpus/{dataset}/statistics.log",
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/corpus_statistics.py"
