"""The grid: experiments to cells, impossible cells refused, paper grid planned, cell paths."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from clinprompt.config import validate_config
from clinprompt.errors import ConfigError
from clinprompt.grid import cell_metrics_paths, gpu_hours, grid_frame, metrics_files
from clinprompt.registry import model_registry
from tests.conftest import REPO, job_counts

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8"))


def frame_of(config: dict):
    config = validate_config(copy.deepcopy(config), SCHEMA)
    return config, grid_frame(config, model_registry(config.get("models")))


@pytest.fixture(scope="module")
def embedded():
    return frame_of(load("config.yaml"))


def test_embedded_grid_has_every_axis_and_no_impossible_cell(embedded):
    config, frame = embedded
    assert set(frame["strategy"]) == {"finetune", "hard", "soft", "soft-frozen"}
    assert set(frame["seed"]) == {1}
    hard = frame[~frame["strategy"].isin(["soft", "soft-frozen"])]
    assert set(hard["prompt_length"]) == {0}
    soft = frame[frame["strategy"].isin(["soft", "soft-frozen"])]
    assert set(soft["prompt_length"]) == {8}
    few = frame[frame["experiments"].str.contains("few_shot")]
    assert set(few["shots"]) == {"1", "2", "all"}
    assert set(few["strategy"]) == {"finetune"}
    sdoh = frame[frame["dataset"] == "sdoh"]
    assert set(sdoh["train_institution"]) == {"MIMIC"}  # tested at MIMIC and UW
    assert not frame.duplicated(["dataset", "model", "strategy", "prompt_length", "shots",
                                 "train_institution", "seed"]).any()  # fmt: skip
    main = frame[frame["experiments"].str.split(",").map(lambda names: "main" in names)]
    assert len(main) == 4 + 4  # every strategy: drug_ade and sdoh, trained at MIMIC
    files = metrics_files(config, frame)
    assert len(files) == len(frame[frame["dataset"] == "drug_ade"]) + 2 * len(sdoh)
    assert "results/sdoh/minilm/soft/p8/kall/MIMIC/seed1/metrics/UW.json" in files


def test_select_restricts_the_grid(embedded):
    config, frame = embedded
    config = {**config, "select": {"strategy": ["soft"], "seed": [1], "shots": ["all"]}}
    selected = grid_frame(config, model_registry(config.get("models")))
    assert 0 < len(selected) < len(frame)
    assert set(selected["strategy"]) == {"soft"} and set(selected["seed"]) == {1}
    with pytest.raises(ConfigError, match=r"config key 'select.colour' is not known"):
        validate_config({**copy.deepcopy(config), "select": {"colour": ["red"]}}, SCHEMA)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shots": [9]}, r"grid.experiments.few_shot.shots': 9 shots is impossible"),
        ({"datasets": ["nope"]}, r"grid.experiments.few_shot.datasets': dataset 'nope'"),
        ({"models": ["bert-huge"]}, r"grid.experiments.few_shot.models': model 'bert-huge'"),
        ({"train_institutions": ["Mayo"]}, r"few_shot.train_institutions': institution 'Mayo'"),
        (
            {"train_institutions": ["MIMIC+Mayo"]},
            r"few_shot.train_institutions': institution 'Mayo' of 'MIMIC\+Mayo' is not defined",
        ),
        ({"train_institutions": ["UW+UW"]}, r"'UW\+UW' names an institution twice"),
        ({"train_institutions": ["UW+MIMIC"]}, r"'UW\+MIMIC' in sorted order, 'MIMIC\+UW'"),
        (
            {"datasets": ["sdoh"], "train_institutions": ["MIMIC+UW"], "shots": [10]},
            r"few_shot.shots': 10 shots is impossible for sdoh/MIMIC, which has 9 training",
        ),
    ],
)
def test_impossible_experiments_name_the_key(embedded, change, message):
    config = copy.deepcopy(embedded[0])
    config["grid"]["experiments"]["few_shot"].update(change)
    with pytest.raises(ConfigError, match=message):
        grid_frame(config, model_registry(config.get("models")))


def test_pooled_institutions_train_once_and_test_everywhere(embedded):
    config = copy.deepcopy(embedded[0])
    config["grid"]["experiments"] = {
        "pooled": {"strategies": ["hard"], "shots": [2], "train_institutions": ["MIMIC+UW"]}
    }
    frame = grid_frame(config, model_registry(config.get("models")))
    # drug_ade has no UW notes, so only sdoh trains pooled; tested at both institutions.
    assert frame[["dataset", "train_institution", "shots"]].values.tolist() == [
        ["sdoh", "MIMIC+UW", "2"]
    ]
    assert metrics_files(config, frame) == [
        "results/sdoh/minilm/hard/p0/k2/MIMIC+UW/seed1/metrics/MIMIC.json",
        "results/sdoh/minilm/hard/p0/k2/MIMIC+UW/seed1/metrics/UW.json",
    ]
    with pytest.raises(ConfigError, match=r"train_institutions.0': 'MIMIC\+' does not match"):
        validate_config({**config, "grid": {**config["grid"], "experiments": {
            "pooled": {"train_institutions": ["MIMIC+"]}}}}, SCHEMA)  # fmt: skip


def test_a_drawn_split_plans_cells_from_its_file_names(tmp_path):
    for index in range(20):
        for suffix in (".txt", ".ann"):
            (tmp_path / f"{index}{suffix}").touch()
    few = {"strategies": ["finetune"], "shots": [14]}
    config = {
        "datasets": {"pgx": {"schema": "pgxcorpus", "split": {"test": 0.2, "seed": 7},
                             "parts": [{"institution": "PubMed", "path": str(tmp_path)}]}},
        "grid": {"models": ["minilm"], "seeds": [1], "experiments": {"few": few}},
    }  # fmt: skip
    config, frame = frame_of(config)
    assert metrics_files(config, frame) == [
        "results/pgx/minilm/finetune/p0/k14/PubMed/seed1/metrics/PubMed.json"
    ]
    # 20 documents: 4 drawn as test, 2 of the other 16 carved as dev, 14 left to draw shots from
    config["grid"]["experiments"]["few"]["shots"] = [15]
    with pytest.raises(ConfigError, match="15 shots is impossible for pgx/PubMed, which has 14"):
        grid_frame(config, model_registry())


def test_soft_strategies_need_a_prompt_length(embedded):
    config = copy.deepcopy(embedded[0])
    del config["grid"]["prompt_lengths"]
    with pytest.raises(ConfigError, match=r"experiments.main.prompt_lengths': soft strategies"):
        grid_frame(config, model_registry(config.get("models")))


def fake_paper_config(root: Path) -> dict:
    """config/paper.yaml with every null path pointing at a fake folder under `root`."""
    config = load("paper.yaml")
    for name, dataset in config["datasets"].items():
        for part in dataset["parts"]:
            folder = root / name / part["split"] / part["institution"]
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(130 if part["split"] == "train" else 3):
                (folder / f"{index}.txt").touch()
            part["path"] = str(folder)
    for name, entry in config["models"].items():
        (root / "models" / name).mkdir(parents=True, exist_ok=True)
        entry["path"] = str(root / "models" / name)
    return config


def test_paper_grid_unset_paths_are_listed():
    with pytest.raises(ConfigError) as error:
        validate_config(load("paper.yaml"), SCHEMA)
    message = str(error.value)
    assert "set: datasets.drug_ade.parts[0].path (train MIMIC)" in message
    assert "models.gatortron-large.path" in message and message.count(".path") == 15


def test_paper_grid_plans_the_study(tmp_path):
    config, frame = frame_of(fake_paper_config(tmp_path))
    assert frame["model"].nunique() == 7 and set(frame["seed"]) == {1, 2, 3}
    soft = frame[frame["strategy"] == "soft"]
    assert set(soft["prompt_length"]) == {8, 16, 32, 64, 128}
    assert set(frame["shots"]) == {"5", "10", "20", "50", "100", "all"}
    sdoh_main = frame[(frame["dataset"] == "sdoh") & frame["experiments"].str.contains("main")]
    assert set(sdoh_main["train_institution"]) == {"MIMIC", "UW", "MIMIC+UW"}  # subtask C
    # main 7 x 4 x 3 per training institution (4 of them: drug_ade MIMIC, sdoh MIMIC, UW and
    # MIMIC+UW); prompt length and few-shot add their cells at MIMIC for both datasets, minus
    # the cells they share with main.
    assert len(frame) == 336 + (2 * 5 - 2) * 2 * 7 * 3 + (4 * 6 - 4) * 2 * 7 * 3
    assert len(metrics_files(config, frame)) == len(frame) + len(frame[frame["dataset"] == "sdoh"])


def test_paper_config_dry_run_lists_every_job(tmp_path):
    config_path = tmp_path / "paper.yaml"
    config_path.write_text(yaml.safe_dump(fake_paper_config(tmp_path / "data")))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores", "1",
         "--configfile", str(config_path), "-d", str(tmp_path / "work"), "-s",
         str(REPO / "Snakefile")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts["train_cell"] == 1512 and counts["score_cell"] == 2352
    assert "synthesise_corpus" not in counts


def test_cell_paths_check_the_cell(embedded):
    config, _ = embedded
    models = model_registry(config.get("models"))
    cell = {"dataset": "sdoh", "model": "minilm", "strategy": "soft", "prompt_length": 8,
            "shots": "all", "train_institution": "UW", "seed": 1}  # fmt: skip
    assert cell_metrics_paths(config, models, cell) == [
        "results/sdoh/minilm/soft/p8/kall/UW/seed1/metrics/MIMIC.json",
        "results/sdoh/minilm/soft/p8/kall/UW/seed1/metrics/UW.json",
    ]
    assert cell_metrics_paths(config, models, {**cell, "shots": 3}, "UW") == [
        "results/sdoh/minilm/soft/p8/k3/UW/seed1/metrics/UW.json"
    ]
    with pytest.raises(ConfigError, match="strategy hard needs prompt length 0"):
        cell_metrics_paths(config, models, {**cell, "strategy": "hard"})
    with pytest.raises(ConfigError, match="institution 'Mayo' is not defined"):
        cell_metrics_paths(config, models, {**cell, "train_institution": "Mayo"})
    assert cell_metrics_paths(config, models, {**cell, "train_institution": "MIMIC+UW"}, "UW") == [
        "results/sdoh/minilm/soft/p8/kall/MIMIC+UW/seed1/metrics/UW.json"
    ]
    with pytest.raises(ConfigError, match="institution 'Mayo' of 'UW\\+Mayo' is not defined"):
        cell_metrics_paths(config, models, {**cell, "train_institution": "UW+Mayo"})


def test_cell_command_prints_the_metrics_path(capsys, monkeypatch):
    from clinprompt.cli import main

    monkeypatch.chdir(REPO)
    status = main(["cell", "--dataset", "drug_ade", "--model", "minilm", "--strategy", "finetune",
                   "--shots", "2", "--train-institution", "MIMIC", "--seed", "1"])  # fmt: skip
    assert status == 0
    assert capsys.readouterr().out == (
        "results/drug_ade/minilm/finetune/p0/k2/MIMIC/seed1/metrics/MIMIC.json\n"
    )
    status = main(["cell", "--dataset", "drug_ade", "--model", "minilm", "--strategy", "soft",
                   "--train-institution", "MIMIC"])  # fmt: skip
    assert status == 2
    assert "strategy soft needs a prompt length >= 1" in capsys.readouterr().err


def test_plan_counts_gpu_hours_per_model(tmp_path, capsys):
    from clinprompt.cli import main

    config, frame = frame_of(fake_paper_config(tmp_path))
    models = model_registry(config["models"])
    plan = gpu_hours(frame, models).set_index("model")
    assert plan["cells"].sum() == len(frame) and set(plan.index) == set(frame["model"])
    assert (frame["train_institution"] == "MIMIC+UW").sum() == 7 * 4 * 3  # subtask C counted
    large = frame[frame["model"] == "gatortron-large"]
    frozen = (large["strategy"] == "soft-frozen").sum()
    assert plan.loc["gatortron-large", "gpu_hours"] == 24 * (2 * (len(large) - frozen) + frozen)
    assert plan.loc["gatortron-large", ["min_gpus", "max_gpus"]].tolist() == [1, 2]
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["plan", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"total: {len(frame):,} cells, at most {plan['gpu_hours'].sum():,.0f} GPU hours" in out
