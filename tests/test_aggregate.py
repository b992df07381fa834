"""Aggregation: the tidy table equals the metrics JSON, seeds are summarised, the paired test
marks a clearly better strategy and not an identical one, empty experiments give placeholders,
the dictionary baseline is a row of its experiments' tables. A cell's card shows per-type
scores, its learning curve and any diagnostics.

Metrics files come from the real scorer: synthetic gold notes, predictions made by dropping a
seeded share of the gold annotations, scored by `score_predictions` and written by
`write_metrics`.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clinprompt.cli import main
from clinprompt.corpus.brat import Document
from clinprompt.corpus.schema import load_schema
from clinprompt.errors import InvalidInputError
from clinprompt.grid import write_grid
from clinprompt.predict.baseline import DICTIONARY, NO_MODEL, dictionary_cells
from clinprompt.report.significance import experiment_summary
from clinprompt.report.tables import DAGGER, TABLES, paper_tables, write_paper_tables
from clinprompt.report.tidy import read_scores, tidy_frame, tidy_metrics, write_tidy_metrics
from clinprompt.score.cell import cell_summary_html, score_predictions, write_metrics
from clinprompt.study import CELL_FIELDS, Cell
from clinprompt.synth.drug_ade import drug_ade_note
from clinprompt.synth.sdoh import mimic_social_history, uw_social_history

NOTES = {"MIMIC": mimic_social_history, "UW": uw_social_history}
SCHEMAS = {"drug_ade": "n2c2-2018", "sdoh": "n2c2-2022-sdoh"}
# Share of gold annotations a strategy predicts: soft is perfect, soft-frozen copies finetune.
QUALITY = {"finetune": 0.55, "hard": 0.6, "soft": 1.0, "soft-frozen": 0.55, DICTIONARY: 0.3}
MODELS = {"tiny-bert": 4_000_000, "tiny-roberta": 9_000_000}


def gold_documents(dataset: str, institution: str, n: int = 8) -> dict[str, Document]:
    """Synthetic test notes keyed like the corpus tables (`INSTITUTION/test/ID`)."""
    note = drug_ade_note if dataset == "drug_ade" else NOTES[institution]
    keys = [f"{institution}/test/{i:03d}" for i in range(n)]
    return {key: note(random.Random(f"{dataset}{key}"), key) for key in keys}


def degrade(doc: Document, keep: float, rng: random.Random) -> Document:
    """A prediction: a random share `keep` of the gold entities and what still refers to them."""
    entities = [e for e in doc.entities if rng.random() < keep]
    kept = {e.id for e in entities}
    relations = [r for r in doc.relations if {r.arg1, r.arg2} <= kept]
    events = [
        replace(e, arguments=tuple(a for a in e.arguments if a[1] in kept))
        for e in doc.events
        if e.trigger in kept
    ]
    kept |= {e.id for e in events}
    attributes = [a for a in doc.attributes if a.target in kept]
    return Document(doc.doc_id, doc.text, entities, relations, events, attributes)


def cell_row(dataset, model, strategy, plen, shots, train, seed, experiments) -> dict:
    return dict(zip((*CELL_FIELDS, "experiments"),
                    (dataset, model, strategy, plen, shots, train, seed, experiments),
                    strict=True))  # fmt: skip


def write_cell(root: Path, row: dict, test: str, bootstrap: int = 50) -> Path:
    """Score a degraded copy of the gold notes for `row` and write its metrics file."""
    gold = gold_documents(row["dataset"], test)
    quality = QUALITY[row["strategy"]] * (0.8 if row["shots"] != "all" else 1.0)
    # soft-frozen reuses finetune's draw: identical predictions, so no significant difference
    strategy = "finetune" if row["strategy"] == "soft-frozen" else row["strategy"]
    rng = random.Random(f"{row['model']}{strategy}{row['shots']}{row['train_institution']}"
                        f"{test}{row['seed']}")  # fmt: skip
    predicted = {key: degrade(doc, quality, rng) for key, doc in gold.items()}
    schema = load_schema(SCHEMAS[row["dataset"]])
    report = score_predictions(gold, predicted, schema, bootstrap, row["seed"])
    total = 0 if row["strategy"] == DICTIONARY else MODELS[row["model"]]
    trainable = total // 20 if row["strategy"] == "soft-frozen" else total
    cell = {k: row[k] for k in CELL_FIELDS}
    cell["shots"] = cell["shots"] if cell["shots"] == "all" else int(cell["shots"])
    summary = {
        "cell": cell,
        "parameters": {"trainable": trainable, "total": total,
                       "share": trainable / total if total else 0.0},
        "train_seconds": 100.0 * (1 + row["seed"]) * (2 if trainable == total else 1),
        "tokens_per_second": 5000.0, "peak_memory_mb": total / 1e4, "padding_waste": 0.1,
        "best_epoch": 1, "epochs_run": 2,
    }  # fmt: skip
    path = Cell.from_record(row).folder(root) / "metrics" / f"{test}.json"
    write_metrics(report, summary, test, 1.5, path)
    return path


def write_cells(root: Path, grid: pd.DataFrame, bootstrap: int = 50) -> list[Path]:
    """The metrics file of every cell of `grid` at every test institution of its dataset."""
    return [
        write_cell(root, row, test, bootstrap)
        for row in grid.to_dict("records")
        for test in institutions_of(row["dataset"])
    ]


def study_grid() -> pd.DataFrame:
    """main (both datasets, SDoH trained at both institutions), few_shot, prompt_length."""
    rows = []
    for model in MODELS:
        for strategy, plen in (("finetune", 0), ("hard", 0), ("soft", 4), ("soft-frozen", 4)):
            for seed in (1, 2):
                for dataset, train in (("drug_ade", "MIMIC"), ("sdoh", "MIMIC"), ("sdoh", "UW")):
                    names = "main,few_shot" if dataset == "drug_ade" else "main"
                    rows.append(cell_row(dataset, model, strategy, plen, "all", train, seed, names))
                if strategy in ("finetune", "soft-frozen"):
                    rows.append(cell_row("drug_ade", model, strategy, plen, "2", "MIMIC", seed,
                                         "few_shot"))  # fmt: skip
                if strategy == "soft":
                    rows.append(cell_row("drug_ade", model, strategy, 8, "all", "MIMIC", seed,
                                         "prompt_length"))  # fmt: skip
    frame = pd.DataFrame(rows)
    main_soft = (frame["strategy"].isin(["soft", "soft-frozen"])) & (frame["shots"] == "all")
    frame.loc[main_soft & (frame["dataset"] == "drug_ade"), "experiments"] += ",prompt_length"
    return frame


def study_grid_with_dictionary() -> pd.DataFrame:
    """`study_grid` and the dictionary baseline's rows, as the workflow's grid table has them."""
    grid = study_grid()
    return pd.concat([grid, dictionary_cells({}, grid)], ignore_index=True)


def institutions_of(dataset: str) -> list[str]:
    return ["MIMIC"] if dataset == "drug_ade" else ["MIMIC", "UW"]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[pd.DataFrame, list[Path], Path]:
    """The grid, every metrics file of it, and the grid Parquet."""
    root = tmp_path_factory.mktemp("study")
    grid = study_grid()
    paths = write_cells(root / "results", grid)
    write_grid(grid.to_dict("records"), root / "grid.parquet")
    return grid, paths, root / "grid.parquet"


@pytest.fixture(scope="module")
def scores(study):
    grid, paths, _ = study
    return read_scores(paths, grid)


def test_tidy_shape_and_values_equal_the_json(study):
    grid, paths, _ = study
    tidy = tidy_metrics(paths, grid)
    sdoh_files = sum(1 for p in paths if "/sdoh/" in str(p))
    # 2 targets x 2 modes (+ SDoH events) x 3 metrics per file
    assert len(tidy) == 12 * len(paths) + 3 * sdoh_files
    assert set(tidy["task"]) == {"concepts", "relations", "events"}
    assert set(tidy[tidy["task"] == "events"]["mode"]) == {"challenge"}
    assert tidy["prompt_length"].dtype == "int64" and tidy["shots"].map(type).eq(str).all()
    report = json.loads(paths[5].read_text())
    cell = report["cell"]
    row = tidy[
        (tidy["model"] == cell["model"]) & (tidy["strategy"] == cell["strategy"])
        & (tidy["prompt_length"] == cell["prompt_length"]) & (tidy["seed"] == cell["seed"])
        & (tidy["shots"] == str(cell["shots"])) & (tidy["dataset"] == cell["dataset"])
        & (tidy["train_institution"] == cell["train_institution"])
        & (tidy["test_institution"] == cell["test_institution"])
        & (tidy["task"] == "relations") & (tidy["mode"] == "lenient") & (tidy["metric"] == "f1")
    ]  # fmt: skip
    micro = report["relations"]["lenient"]["micro"]
    assert len(row) == 1
    assert row["value"].item() == micro["f1"]
    assert [row["ci_low"].item(), row["ci_high"].item()] == micro["ci"]["f1"]
    assert row["trainable"].item() == report["cost"]["parameters"]["trainable"]
    assert row["train_seconds"].item() == report["cost"]["train_seconds"]
    key = tuple(row[list(CELL_FIELDS)].iloc[0])
    expected = grid.set_index(list(CELL_FIELDS)).loc[key, "experiments"]
    assert row["experiments"].item() == expected


def test_metrics_json_keeps_per_document_counts(study):
    _, paths, _ = study
    report = json.loads(paths[0].read_text())
    block = report["per_document"]
    assert block["documents"] == report["documents"] == 8 and len(block["digest"]) == 16
    tp = np.array(block["entities"]["strict"]["tp"].split(), dtype=int)
    assert len(tp) == 8 and tp.sum() == report["entities"]["strict"]["micro"]["tp"]
    assert "MIMIC/test" not in json.dumps(block)
    sdoh = json.loads(next(p for p in paths if "/sdoh/" in str(p)).read_text())
    events = sdoh["per_document"]["events"]["challenge"]
    assert sum(map(int, events["fn"].split())) == sdoh["events"]["micro"]["fn"]


def test_seed_mean_and_sd(scores):
    summary = experiment_summary(scores, "main", resamples=200)
    tidy = tidy_frame(scores)
    f1 = tidy[(tidy["metric"] == "f1") & (tidy["dataset"] == "drug_ade")
              & (tidy["model"] == "tiny-bert") & (tidy["strategy"] == "hard")
              & (tidy["shots"] == "all") & (tidy["task"] == "concepts")
              & (tidy["mode"] == "strict")]["value"]  # fmt: skip
    row = summary[(summary["dataset"] == "drug_ade") & (summary["model"] == "tiny-bert")
                  & (summary["strategy"] == "hard") & (summary["task"] == "concepts")
                  & (summary["mode"] == "strict")]  # fmt: skip
    assert len(f1) == 2 and row["seeds"].item() == 2
    assert row["mean"].item() == pytest.approx(f1.mean())
    assert row["sd"].item() == pytest.approx(np.std(f1, ddof=1))
    assert row["ci_low"].item() <= row["mean"].item() <= row["ci_high"].item()


def test_significance_marks_a_better_strategy_not_an_identical_one(scores):
    summary = experiment_summary(scores, "main", resamples=200)
    strict = summary[summary["mode"] == "strict"].set_index(["model", "strategy"])
    drug = strict[strict["dataset"] == "drug_ade"]
    concepts = drug[drug["task"] == "concepts"]
    assert concepts.loc[("tiny-bert", "soft"), "mean"] == 1.0
    assert concepts.loc[("tiny-bert", "soft"), "p_value"] < 0.05
    assert concepts.loc[("tiny-bert", "soft-frozen"), "p_value"] == 1.0
    assert not concepts.loc[("tiny-bert", "soft-frozen"), "significant"]
    assert np.isnan(concepts.loc[("tiny-bert", "finetune"), "p_value"])  # not against itself
    main = paper_tables(scores)[0]
    cell = main.display.loc[("tiny-bert", "soft", 4), ("drug_ade", "concepts", "strict")]
    assert cell == f"1.0000 ± 0.0000{DAGGER}"
    frozen = main.display.loc[("tiny-bert", "soft-frozen", 4), ("drug_ade", "concepts", "strict")]
    assert DAGGER not in frozen and " ± " in frozen


def test_one_seed_interval_is_the_scorers_own(study):
    """One seed, the scorer's resamples and draw seed: the pooled interval is its interval."""
    grid, paths, _ = study
    one = [p for p in paths if "/drug_ade/tiny-bert/hard/p0/kall/MIMIC/seed1/" in str(p)]
    report = json.loads(one[0].read_text())
    summary = experiment_summary(read_scores(one, grid), "main", resamples=50, seed=1)
    for task, target in (("concepts", "entities"), ("relations", "relations")):
        row = summary[(summary["task"] == task) & (summary["mode"] == "lenient")]
        micro = report[target]["lenient"]["micro"]
        assert row["seeds"].item() == 1 and row["mean"].item() == micro["f1"]
        assert [row["ci_low"].item(), row["ci_high"].item()] == pytest.approx(micro["ci"]["f1"])
    events = summary[summary["task"] == "events"]
    assert events.empty  # drug-ADE has no events


def test_tables_written_with_placeholders(study, tmp_path):
    grid, paths, _ = study
    no_few_shot = grid[grid["experiments"] != "few_shot"].copy()
    no_few_shot["experiments"] = no_few_shot["experiments"].str.replace(",few_shot", "")
    kept = [p for p in paths if "/k2/" not in str(p)]
    write_grid(no_few_shot.to_dict("records"), tmp_path / "grid.parquet")
    written = write_paper_tables(kept, tmp_path / "grid.parquet", tmp_path / "tables")
    assert sorted(p.name for p in written) == sorted(
        f"{name}.{ext}" for name in TABLES for ext in ("parquet", "html", "tex")
    )
    few_shot = pd.read_parquet(tmp_path / "tables/few_shot.parquet")
    assert list(few_shot.columns) == ["note"] and "few_shot" in few_shot["note"].item()
    assert "no cells of experiment" in (tmp_path / "tables/few_shot.html").read_text()
    main = pd.read_parquet(tmp_path / "tables/main.parquet")
    assert {"mean", "sd", "seeds", "ci_low", "ci_high", "p_value", "significant"} <= set(main)
    html = (tmp_path / "tables/main.html").read_text()
    assert "<caption>" in html and DAGGER in html and "sdoh (UW)" in html
    tex = (tmp_path / "tables/main.tex").read_text()
    assert "\\begin{table}" in tex and "soft-frozen" in tex and "drug\\_ade" in tex
    cross = pd.read_parquet(tmp_path / "tables/cross_institution.parquet")
    assert set(cross["dataset"]) == {"sdoh"} and len(set(cross["transfer"])) == 4
    cost = pd.read_parquet(tmp_path / "tables/cost.parquet")
    frozen = cost[cost["strategy"] == "soft-frozen"]
    assert (frozen["share"] == 0.05).all() and (cost["seeds"] == 2).all()


def test_every_table_placeholder_for_an_empty_grid(study):
    grid, _, _ = study
    tables = paper_tables(read_scores([], grid))
    assert [t.name for t in tables] == list(TABLES)
    assert all(list(t.numbers.columns) == ["note"] for t in tables)


def test_cross_institution_placeholder_without_a_second_institution(study):
    grid, paths, _ = study
    drug_ade = read_scores([p for p in paths if "/drug_ade/" in str(p)], grid)
    tables = {t.name: t for t in paper_tables(drug_ade)}
    assert "several institutions" in tables["cross_institution"].display["note"].item()
    assert "note" not in tables["main"].display.columns


def test_malformed_or_missing_metrics_file_is_one_line(study, tmp_path):
    grid, paths, _ = study
    broken = tmp_path / "broken.json"
    broken.write_text('{"cell": {"dataset": "drug_ade"}}')
    with pytest.raises(InvalidInputError, match=r"broken\.json: not a cell's metrics file"):
        tidy_metrics([broken], grid)
    broken.write_text("{not json")
    with pytest.raises(InvalidInputError, match=r"broken\.json:1: not valid JSON"):
        tidy_metrics([broken], grid)
    with pytest.raises(InvalidInputError, match=r"absent\.json: metrics file not found"):
        tidy_metrics([tmp_path / "absent.json"], grid)
    with pytest.raises(InvalidInputError, match="not in the grid"):
        tidy_metrics(paths[:1], grid.iloc[1:])
    with pytest.raises(InvalidInputError, match="same cell and test institution"):
        tidy_metrics([paths[0], paths[0]], grid)


def test_other_documents_are_refused(study, tmp_path):
    grid, paths, _ = study
    report = json.loads(paths[0].read_text())
    report["per_document"]["digest"] = "0" * 16
    report["cell"]["seed"] = 2
    other = tmp_path / "other.json"
    other.write_text(json.dumps(report))
    with pytest.raises(InvalidInputError, match="scored on other documents"):
        experiment_summary(read_scores([paths[0], other], grid), "main", resamples=10)


def test_tidy_script_function_and_cli(study, tmp_path):
    _, paths, grid_path = study
    tidy = write_tidy_metrics(paths, grid_path, tmp_path / "metrics.parquet")
    assert pd.read_parquet(tmp_path / "metrics.parquet").equals(tidy)
    sample = [str(p) for p in paths if "/drug_ade/tiny-bert/" in str(p)]
    assert main(["aggregate", *sample, "--grid", str(grid_path), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "tables/metrics.parquet").stat().st_size > 0
    assert all((tmp_path / f"tables/{name}.html").is_file() for name in TABLES)
    assert (tmp_path / "figures/strategies.png").stat().st_size > 0
    assert main(["aggregate", str(tmp_path / "x.json"), "--grid", str(grid_path),
                 "--out", str(tmp_path)]) == 2  # fmt: skip


@pytest.fixture(scope="module")
def with_dictionary(tmp_path_factory) -> list:
    """Scores of the study grid with the dictionary baseline's cells."""
    root = tmp_path_factory.mktemp("dictionary")
    grid = study_grid_with_dictionary()
    paths = write_cells(root, grid, 20)
    return read_scores(paths, grid)


def test_dictionary_is_a_row_of_the_main_few_shot_and_cost_tables(with_dictionary):
    tables = {table.name: table for table in paper_tables(with_dictionary)}
    main = tables["main"]
    assert main.display.index[0] == (NO_MODEL, DICTIONARY, 0)  # the smallest "model" first
    rows = main.numbers[main.numbers["strategy"] == DICTIONARY]
    assert set(rows["dataset"]) == {"drug_ade", "sdoh"} and (rows["seeds"] == 2).all()
    assert rows["p_value"].isna().all() and not rows["significant"].any()  # no reference
    cell = main.display.loc[(NO_MODEL, DICTIONARY, 0), ("drug_ade", "concepts", "strict")]
    assert DAGGER not in cell and cell.startswith("0.")
    assert main.display.loc[(NO_MODEL, DICTIONARY, 0), ("drug_ade", "relations", "strict")] == "–"
    assert (
        main.display.loc[("tiny-bert", "finetune", 0), ("drug_ade", "relations", "strict")][0]
        == "0"
    )
    finetune = main.numbers[main.numbers["strategy"] == "finetune"]
    assert finetune["p_value"].isna().all()  # still the reference
    assert (main.numbers.loc[main.numbers["strategy"] == "soft", "p_value"].notna()).all()
    few_shot = tables["few_shot"].numbers
    assert set(few_shot.loc[few_shot["strategy"] == DICTIONARY, "shots"]) == {"2", "all"}
    assert DICTIONARY not in set(tables["prompt_length"].numbers["strategy"])
    cross = tables["cross_institution"].numbers
    assert len(set(cross.loc[cross["strategy"] == DICTIONARY, "transfer"])) == 4
    cost = tables["cost"].numbers
    assert (cost.loc[cost["strategy"] == DICTIONARY, ["trainable", "share"]] == 0).all().all()


def test_dictionary_rows_of_the_tidy_table(with_dictionary):
    tidy = tidy_frame(with_dictionary)
    rows = tidy[tidy["strategy"] == DICTIONARY]
    assert set(rows["model"]) == {NO_MODEL} and set(rows["prompt_length"]) == {0}
    assert set(rows["experiments"]) == {"main,few_shot", "main", "few_shot"}
    assert set(rows["task"]) == {"concepts", "relations", "events"}


def test_cell_card_shows_per_type_scores_learning_curve_and_diagnostics(study):
    _, paths, _ = study
    sdoh = [p for p in paths if "/sdoh/tiny-bert/hard/p0/kall/MIMIC/seed1/" in str(p)]
    metrics = [json.loads(path.read_text()) for path in sdoh]
    metrics[0]["diagnostics"] = {"spans_dropped": 3, "thresholds": {"start": 0.25, "end": 0.5},
                                 "answered_share": {"predicted": 0.125, "gold": 0.5},
                                 "note": "<b>&"}  # fmt: skip
    summary = {
        "parameters": {"trainable": 10, "total": 20, "share": 0.5}, "train_documents": 4,
        "best_epoch": 2, "epochs_run": 2, "train_seconds": 3.0, "tokens_per_second": 100.0,
        "peak_memory_mb": 50.0, "examples": {"overlapping_dropped": 1, "rows": 1234},
        "history": [{"epoch": e, "loss": 1.0 / e, "dev_score": 0.1 * e,
                     "dev_concepts_f1": 0.2 * e, "dev_relations_f1": 0.0} for e in (1, 2)],
    }  # fmt: skip
    html = cell_summary_html(summary, metrics)
    per_type = metrics[0]["entities"]["strict"]["per_type"]
    kind = next(k for k, row in per_type.items() if row["tp"] > 0)
    row = per_type[kind]
    assert row["predicted"] == row["tp"] + row["fp"] and row["gold"] == row["tp"] + row["fn"]
    cells = f"<td>{kind}</td><td>{row['predicted']:,}</td><td>{row['gold']:,}</td>"
    assert cells + f"<td>{row['precision']:.4f}</td>" in html
    assert "Concepts per type, tested at UW" in html
    assert "Relations per type, tested at MIMIC" in html
    assert html.count("data:image/png;base64,") == 1
    for text in ("<td>training examples</td><td>rows</td><td>1,234</td>",
                 "<td>test MIMIC</td><td>thresholds.start</td><td>0.25</td>",
                 "<td>answered_share.gold</td><td>0.5</td>", "&lt;b&gt;&amp;"):  # fmt: skip
        assert text in html, text
    assert html.index("thresholds.end") < html.index("thresholds.start")  # keys sorted
    assert "No epochs recorded" in cell_summary_html({**summary, "history": []}, metrics)
