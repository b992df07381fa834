"""The corpus stage run by Snakemake in a temporary folder: outputs, reruns, bad input; the
reduced grid end to end, with the dictionary baseline and the cells' cards."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.conftest import GRID_CELLS, GRID_CONFIG, REPO, SMALL, job_counts, run_snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("corpus_stage")
    result = run_snakemake(workdir, SMALL)
    assert result.returncode == 0, result.stderr
    return workdir


def test_corpus_stage_outputs(corpus_run):
    for dataset, docs in (("drug_ade", 9), ("sdoh", 14)):
        root = corpus_run / "results/corpora" / dataset
        validation = json.loads((root / "validation.json").read_text())
        assert validation["documents"] == docs and validation["errors"] == 0
        documents = pd.read_parquet(root / "tables/documents.parquet")
        assert len(documents) == docs
        assert set(documents["split"]) == {"train", "dev", "test"}
        html = (root / "statistics.html").read_text()
        assert "<table" in html and "documents" in html
        for log in ("synthesise", "validate", "tables", "statistics"):
            assert (corpus_run / "logs/corpus" / dataset / f"{log}.log").is_file()
    sdoh = pd.read_parquet(corpus_run / "results/corpora/sdoh/tables/documents.parquet")
    assert set(sdoh["institution"]) == {"MIMIC", "UW"}


def test_rerun_after_success_does_nothing(corpus_run):
    result = run_snakemake(corpus_run, SMALL, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_table_log_counts_line_kinds_without_note_text(corpus_run):
    from clinprompt.synth.corpora import CANARY_IDENTIFIERS

    log = (corpus_run / "logs/corpus/drug_ade/tables.log").read_text()
    assert "lines per kind" in log and "'T':" in log
    for path in (corpus_run / "logs").rglob("*.log"):
        text = path.read_text()
        assert not any(canary in text for canary in CANARY_IDENTIFIERS), path
    html = (corpus_run / "results/corpora/drug_ade/statistics.html").read_text()
    assert not any(canary in html for canary in CANARY_IDENTIFIERS)


def test_invalid_user_corpus_fails_with_file_and_line(corpus_run, tmp_path):
    brat = tmp_path / "brat"
    shutil.copytree(corpus_run / "results/corpora/drug_ade/brat/train/MIMIC", brat / "train")
    shutil.copytree(corpus_run / "results/corpora/drug_ade/brat/test/MIMIC", brat / "test")
    bad = sorted((brat / "train").glob("*.ann"))[0]
    bad.write_text(bad.read_text() + "T999\tDrug 5 two\tx\n")
    config = {
        "datasets": {
            "real": {
                "schema": "n2c2-2018",
                "parts": [
                    {"split": "train", "institution": "MIMIC", "path": str(brat / "train")},
                    {"split": "test", "institution": "MIMIC", "path": str(brat / "test")},
                ],
            }
        }
    }
    result = run_snakemake(tmp_path, config)
    assert result.returncode != 0
    log = (tmp_path / "logs/corpus/real/validate.log").read_text()
    line = len(bad.read_text().splitlines())
    assert f"{bad}:{line}: non-integer offset in '5 two'" in log
    assert "Traceback" not in log
    assert not (tmp_path / "results/corpora/real/validation.json").exists()
    config["datasets"]["real"]["skip_invalid"] = True
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr
    summary = (tmp_path / "logs/corpus/real/tables.log").read_text()
    assert "skipped 1 invalid documents" in summary
    config["datasets"]["real"] |= {"skip_invalid": False, "on_invalid": "drop_annotation"}
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr
    validation = json.loads((tmp_path / "results/corpora/real/validation.json").read_text())
    assert validation["dropped"] == [f"{bad}:{line}: non-integer offset in '5 two'"]
    documents = pd.read_parquet(tmp_path / "results/corpora/real/tables/documents.parquet")
    assert len(documents) == validation["documents"]
    html = (tmp_path / "results/corpora/real/statistics.html").read_text()
    assert "1 invalid annotation lines were dropped" in html


def test_repository_config_dry_run(repo=REPO):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--cores", "1"],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "synthesise_corpus" in result.stdout


def test_grid_runs_end_to_end(grid_run):
    tests = {"drug_ade": ["MIMIC"], "sdoh": ["MIMIC", "UW"]}
    for cell in GRID_CELLS:
        folder = grid_run / "results" / cell
        for test in tests[cell.split("/")[0]]:
            metrics = json.loads((folder / "metrics" / f"{test}.json").read_text())
            assert metrics["cell"]["test_institution"] == test
            assert 0 <= metrics["entities"]["strict"]["micro"]["f1"] <= 1
            gold = grid_run / "results/corpora" / cell.split("/")[0] / "brat/test" / test
            predicted = sorted(p.name for p in (folder / "predictions" / test).glob("*.ann"))
            assert predicted == sorted(p.name for p in gold.glob("*.ann"))
        assert not (folder / "best.pt").exists() and not (folder / "checkpoint.pt").exists()
        assert (grid_run / "results/benchmarks/train" / f"{cell}.tsv").is_file()
    frozen = json.loads((grid_run / "results" / GRID_CELLS[2] / "train.json").read_text())
    assert frozen["train_documents"] == 2 and frozen["parameters"]["share"] < 1


def test_grid_aggregates_every_metrics_file(grid_run):
    tidy = pd.read_parquet(grid_run / "results/tables/metrics.parquet")
    tested = {(row.dataset, row.train_institution, row.test_institution, row.strategy)
              for row in tidy.itertuples()}  # fmt: skip
    # 3 drug-ADE and 2 x 2 x 2 SDoH model systems, then the dictionary: 1 drug-ADE, 2 x 2 SDoH
    assert len(tested) == 3 + 2 * 2 * 2 + 1 + 2 * 2
    assert set(tidy["task"]) == {"concepts", "relations", "events"}
    main = pd.read_parquet(grid_run / "results/tables/main.parquet")
    assert {"finetune", "soft"} <= set(main["strategy"])
    assert "soft-frozen" not in set(main["strategy"])
    for table in ("main", "prompt_length", "few_shot", "cross_institution", "cost"):
        assert "<table" in (grid_run / f"results/tables/{table}.html").read_text()
        assert "\\begin{tabular}" in (grid_run / f"results/tables/{table}.tex").read_text()
    for figure in ("strategies", "prompt_length", "few_shot", "cross_institution", "frozen_gap",
                   "cost"):  # fmt: skip
        assert (grid_run / f"results/figures/{figure}.png").stat().st_size > 1000
        assert "<svg" in (grid_run / f"results/figures/{figure}.svg").read_text()


def test_grid_rerun_does_nothing_and_one_lost_metrics_file_rescores_only_it(grid_run):
    result = run_snakemake(grid_run, GRID_CONFIG, "-n")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr
    (grid_run / "results" / GRID_CELLS[3] / "metrics/UW.json").unlink()
    result = run_snakemake(grid_run, GRID_CONFIG, "-n")
    counts = job_counts(result.stdout)
    rebuilt = {"score_cell": 1, "cell_summary": 1, "aggregate_metrics": 1, "paper_tables": 1,
               "paper_figures": 1, "all": 1, "total": 6}  # fmt: skip
    assert counts == rebuilt, result.stdout
    result = run_snakemake(grid_run, GRID_CONFIG)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (grid_run / "results" / GRID_CELLS[3] / "metrics/UW.json").is_file()


def test_a_changed_training_setting_reruns_exactly_the_cells_it_touches(grid_run):
    frozen_lr = {**GRID_CONFIG["training"], "strategies": {"soft-frozen": {"lr_head": 0.05}}}
    result = run_snakemake(grid_run, {**GRID_CONFIG, "training": frozen_lr}, "-n")
    assert job_counts(result.stdout)["train_cell"] == 1, result.stdout
    assert "soft-frozen" in result.stdout and "Params have changed" in result.stdout
    sdoh = {**GRID_CONFIG["datasets"]["sdoh"], "training": {"epochs": 2}}
    datasets = {**GRID_CONFIG["datasets"], "sdoh": sdoh}
    result = run_snakemake(grid_run, {**GRID_CONFIG, "datasets": datasets}, "-n")
    counts = job_counts(result.stdout)
    assert counts["train_cell"] == 4 and counts.get("synthesise_corpus", 0) == 0, result.stdout
    result = run_snakemake(grid_run, GRID_CONFIG, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_no_note_text_in_logs_or_metrics(grid_run):
    from clinprompt.synth.corpora import CANARY_IDENTIFIERS

    files = [*(grid_run / "logs").rglob("*.log"), *(grid_run / "results").rglob("metrics/*.json")]
    assert files
    for path in files:
        text = path.read_text()
        assert not any(canary in text for canary in CANARY_IDENTIFIERS), path


def test_targeted_cell_builds_only_its_dependencies(tmp_path):
    cell = "results/sdoh/tiny-bert/soft/p4/k3/UW/seed1"
    target = f"{cell}/metrics/MIMIC.json"
    dry = run_snakemake(tmp_path, GRID_CONFIG, target, "-n")
    assert dry.returncode == 0, dry.stderr
    assert job_counts(dry.stdout) == {"synthesise_corpus": 1, "validate_corpus": 1,
                                      "corpus_tables": 1, "train_cell": 1, "score_cell": 1,
                                      "total": 5}  # fmt: skip
    keep = {**GRID_CONFIG, "grid": {**GRID_CONFIG["grid"], "keep_checkpoints": True}}
    result = run_snakemake(tmp_path, keep, target)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / target).read_text())
    assert metrics["cell"]["test_institution"] == "MIMIC"
    assert metrics["cell"]["train_institution"] == "UW" and metrics["cell"]["shots"] == 3
    assert "events" in metrics
    assert (tmp_path / cell / "best.pt").is_file()
    train = json.loads((tmp_path / cell / "train.json").read_text())
    assert train["train_documents"] == 3
    log = (tmp_path / "logs/train/sdoh/tiny-bert/soft/p4/k3/UW/seed1.log").read_text()
    assert "epoch 1/1 loss" in log


def test_select_from_the_command_line_restricts_the_grid(tmp_path):
    dry = run_snakemake(tmp_path, GRID_CONFIG, "-n", "--config", "select={strategy: [soft]}")
    assert dry.returncode == 0, dry.stderr
    counts = job_counts(dry.stdout)
    assert counts["train_cell"] == 3 and counts["score_cell"] == 5, dry.stdout


DICTIONARY_CELLS = [
    "drug_ade/none/dictionary/p0/kall/MIMIC/seed1",
    "drug_ade/none/dictionary/p0/k2/MIMIC/seed1",
    "sdoh/none/dictionary/p0/kall/MIMIC/seed1",
    "sdoh/none/dictionary/p0/kall/UW/seed1",
]


def metrics_of(root, cell: str, test: str) -> dict:
    return json.loads((root / "results" / cell / "metrics" / f"{test}.json").read_text())


def test_dictionary_baseline_scored_like_a_cell_and_in_the_main_table(grid_run):
    tests = {"drug_ade": ["MIMIC"], "sdoh": ["MIMIC", "UW"]}
    for cell in DICTIONARY_CELLS:
        dataset, *_, shots, train, seed = cell.split("/")
        for test in tests[dataset]:
            metrics = metrics_of(grid_run, cell, test)
            assert metrics["cell"]["strategy"] == "dictionary"
            assert metrics["cost"]["parameters"]["trainable"] == 0
            assert metrics["relations"]["strict"]["micro"]["f1"] == 0.0
            if shots == "kall":  # the same test documents as the model cells
                model = metrics_of(grid_run, f"{dataset}/tiny-bert/finetune/p0/{shots}/{train}/"
                                   f"{seed}", test)  # fmt: skip
                assert metrics["per_document"]["digest"] == model["per_document"]["digest"]
    k2 = metrics_of(grid_run, DICTIONARY_CELLS[1], "MIMIC")
    frozen = json.loads((grid_run / "results" / GRID_CELLS[2] / "train.json").read_text())
    assert k2["diagnostics"]["train_documents"] == frozen["train_documents"] == 2
    main = pd.read_parquet(grid_run / "results/tables/main.parquet")
    assert main.loc[0, "strategy"] == "dictionary" and main.loc[0, "model"] == "none"
    assert "dictionary" in (grid_run / "results/tables/main.html").read_text()
    few_shot = pd.read_parquet(grid_run / "results/tables/few_shot.parquet")
    assert set(few_shot.loc[few_shot["strategy"] == "dictionary", "shots"]) == {"2"}
    assert (grid_run / "logs/score" / DICTIONARY_CELLS[0] / "MIMIC.log").is_file()


def test_cell_card_has_per_type_scores_learning_curve_and_diagnostics(grid_run):
    html = (grid_run / "results" / GRID_CELLS[0] / "summary.html").read_text()
    assert "Concepts per type, tested at MIMIC" in html and "<th>predicted</th>" in html
    assert "<td>Drug</td>" in html
    assert html.count("data:image/png;base64,") == 1
    assert "<td>training examples</td>" in html


def test_lost_dictionary_metrics_file_rescores_only_it(grid_run):
    lost = grid_run / "results" / DICTIONARY_CELLS[3] / "metrics/MIMIC.json"
    lost.unlink()
    counts = job_counts(run_snakemake(grid_run, GRID_CONFIG, "-n").stdout)
    assert counts == {"dictionary_baseline": 1, "aggregate_metrics": 1, "paper_tables": 1,
                      "paper_figures": 1, "all": 1, "total": 5}  # fmt: skip
    result = run_snakemake(grid_run, GRID_CONFIG)
    assert result.returncode == 0, result.stderr[-3000:]
    assert lost.is_file()


def test_dictionary_baseline_can_be_switched_off(tmp_path):
    on = job_counts(run_snakemake(tmp_path, GRID_CONFIG, "-n").stdout)
    assert on["dictionary_baseline"] == 1 + 1 + 2 * 2  # drug-ADE main and k2, SDoH 2 x 2
    off = {**GRID_CONFIG, "grid": {**GRID_CONFIG["grid"], "dictionary_baseline": False}}
    dry = run_snakemake(tmp_path, off, "-n")
    assert dry.returncode == 0, dry.stderr
    assert "dictionary_baseline" not in job_counts(dry.stdout)
