"""Training in several processes (torchrun, gloo on CPU) against one, tiny random BERT.

Tolerance. With every dropout off, 2 processes take the same optimiser steps as 1 on the same
examples, but not bit for bit: each rank pads its half of a batch to its own longest row and
the gradient is the average of two half-batch gradients (another summation order). Measured
on this fine-tuning cell: losses agree to 1e-7 (relative), weights to 5e-5, F1 exactly. The
test asks for losses within 1e-4 (relative), weights within 1e-3 and dev and test strict micro
F1 within 0.02 (one mention of the ~60 test mentions). MRC cells differ a little more, since
the span-match loss averages over each half's candidate pairs (`distributed.loss_units`):
losses to 3e-3, weights to 2e-3 on a soft-prompt cell of this corpus. With dropout on,
ranks draw other masks than one process would, so there only the launch itself is checked.
"""

from __future__ import annotations

import json
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml

from clinprompt.cell import calibrated_summary, predict_and_score, train_cell
from clinprompt.cli import main
from clinprompt.corpus.tables import Dataset
from clinprompt.errors import ConfigError
from clinprompt.registry import model_registry
from clinprompt.settings import CellSettings, TrainSettings
from clinprompt.study import Cell
from clinprompt.train import loop as train_module
from clinprompt.train.distributed import (
    World,
    loss_units,
    needs_sharding,
    process_count,
    run_in_processes,
    shard,
    world,
)
from clinprompt.train.loop import CHECKPOINT, Preempted

REPO = Path(__file__).resolve().parents[1]
# Fine-tuning learns fastest: two epochs give a dev and test F1 well above zero to compare.
SETTINGS = CellSettings(
    train=TrainSettings(epochs=2, batch_size=8, seed=3, lr_encoder=3e-3, lr_head=3e-3),
    max_length=96, stride=16, match_hidden=32, bootstrap=0, device="cpu",
)  # fmt: skip
CELL = Cell("drug_ade", "tiny-bert", "finetune", 0, "all", "MIMIC", 3)
LOSS_RTOL, WEIGHT_ATOL, F1_TOL = 1e-4, 1e-3, 0.02


# ----------------------------------------------------------------------- rank-side helpers


@contextmanager
def no_dropout():
    """Every dropout (F.dropout, nn.Dropout, attention dropout) off while the block runs."""
    dropout, attention = F.dropout, F.scaled_dot_product_attention
    F.dropout = lambda x, p=0.5, training=True, inplace=False: x
    F.scaled_dot_product_attention = lambda *a, dropout_p=0.0, **k: attention(*a, **k)
    try:
        yield
    finally:
        F.dropout, F.scaled_dot_product_attention = dropout, attention


def train_without_dropout(*args) -> dict:
    """`train_cell` with dropout off; torchrun ranks import it from this module."""
    with no_dropout():
        return train_cell(*args)


def train_until_sigterm_on_rank_one(*args) -> dict:
    """As above, but SIGTERM reaches rank 1 alone, after its third optimiser step."""
    step = train_module.Trainer._step
    calls = []

    def step_then_sigterm(self) -> None:
        step(self)
        calls.append(1)
        if world().rank == 1 and len(calls) == 3:
            signal.raise_signal(signal.SIGTERM)

    train_module.Trainer._step = step_then_sigterm
    return train_without_dropout(*args)


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def ranks_import_this_module(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))


def spec(**overrides):
    return model_registry({"tiny": {"path": "tiny:bert", **overrides}})["tiny"]


def strict_f1(tables: Path, folder: Path) -> dict:
    with no_dropout():
        data = Dataset.read(tables, "n2c2-2018")
        report = predict_and_score(CELL, data, spec(), SETTINGS, folder, ["MIMIC"])["MIMIC"]
    return {kind: report[kind]["strict"]["micro"]["f1"] for kind in ("entities", "relations")}


@pytest.fixture(scope="module")
def one_process(tables, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("one")
    train_without_dropout(CELL, Dataset.read(tables, "n2c2-2018"), spec(), SETTINGS, folder)
    return folder


def assert_close_runs(reference: Path, other: Path, tables: Path, resumed: bool = False) -> None:
    """Same epochs, losses, dev scores, best weights and test F1 within the tolerances. The
    loss logged for a resumed epoch covers only its batches after the restart."""

    def history(folder: Path) -> pd.DataFrame:
        return pd.read_json(folder / "train_log.jsonl", lines=True)

    ours, theirs = history(reference), history(other)
    assert list(theirs["epoch"]) == list(ours["epoch"])
    whole = slice(1 if resumed else 0, None)
    np.testing.assert_allclose(theirs["loss"][whole], ours["loss"][whole], rtol=LOSS_RTOL)
    np.testing.assert_allclose(theirs["dev_score"], ours["dev_score"], atol=F1_TOL)
    a, b = torch.load(reference / "best.pt"), torch.load(other / "best.pt")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], atol=WEIGHT_ATOL, rtol=0, msg=name)
    f1, other_f1 = strict_f1(tables, reference), strict_f1(tables, other)
    for kind in f1:
        assert abs(other_f1[kind] - f1[kind]) <= F1_TOL, (kind, f1, other_f1)


# ---------------------------------------------------------------------- several processes


@pytest.mark.slow
@pytest.mark.parametrize("parameters", [None, "8.9B"], ids=["ddp", "fsdp"])
def test_two_processes_take_the_steps_of_one(tables, one_process, tmp_path, parameters):
    """DDP, and FSDP (the registry entry claims 8.9B parameters, which shards)."""
    model = spec(parameters=parameters) if parameters else spec()
    assert needs_sharding(model, frozen=False) == (parameters is not None)
    arguments = (CELL, Dataset.read(tables, "n2c2-2018"), model, SETTINGS, tmp_path)
    summary = run_in_processes(train_without_dropout, arguments, 2, "cpu")
    assert summary["epochs_run"] == 2
    assert len((tmp_path / "train_log.jsonl").read_text().splitlines()) == 2  # rank 0 alone
    # As `train_cell` does after its ranks: sharded ranks leave the thresholds to best.pt.
    assert bool(summary["thresholds"]) == (parameters is None)
    assert calibrated_summary(*arguments)["thresholds"]
    one = json.loads((one_process / "train.json").read_text())
    assert summary["parameters"] == one["parameters"]  # counted whole, not per shard
    assert_close_runs(one_process, tmp_path, tables)


@pytest.mark.slow
def test_sigterm_on_one_rank_stops_every_rank_and_resumes_in_one(tables, one_process, tmp_path):
    arguments = (CELL, Dataset.read(tables, "n2c2-2018"), spec(), SETTINGS, tmp_path)
    with pytest.raises(Preempted, match="batch 3: checkpoint written"):
        run_in_processes(train_until_sigterm_on_rank_one, arguments, 2, "cpu")
    state = torch.load(tmp_path / CHECKPOINT, weights_only=False)
    assert (state["epoch"], state["step"]) == (0, 3)
    assert not (tmp_path / "best.pt").exists()
    summary = train_without_dropout(*arguments)
    assert summary["epochs_run"] == 2
    assert_close_runs(one_process, tmp_path, tables, resumed=True)


CONFIG = {
    "datasets": {"drug_ade": {"schema": "n2c2-2018", "synthetic": {"kind": "drug_ade"}}},
    "training": {"epochs": 1, "batch_size": 8, "max_length": 96, "stride": 16,
                 "match_hidden": 32, "bootstrap": 0, "device": "cpu"},
}  # fmt: skip
CLI_CELL = ["--dataset", "drug_ade", "--model", "tiny-bert", "--strategy", "soft",
            "--prompt-length", "4", "--train-institution", "MIMIC", "--seed", "1",
            "--processes", "2"]  # fmt: skip


@pytest.fixture
def workdir(tables, tmp_path, monkeypatch) -> Path:
    (tmp_path / "results/corpora/drug_ade").mkdir(parents=True)
    (tmp_path / "results/corpora/drug_ade/tables").symlink_to(tables)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_cli_trains_in_two_processes(workdir, capsys):
    assert main(["train", "--config", "config.yaml", *CLI_CELL]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs_run"] == 1 and summary["cell"]["strategy"] == "soft"
    folder = workdir / "results/drug_ade/tiny-bert/soft/p4/kall/MIMIC/seed1"
    assert json.loads((folder / "train.json").read_text())["best_epoch"] == 1
    assert len((folder / "train_log.jsonl").read_text().splitlines()) == 1
    assert (folder / "best.pt").is_file()


@pytest.mark.slow
def test_rank_errors_come_back_in_one_line(workdir, capsys):
    assert main(["train", "--config", "config.yaml", *CLI_CELL, "--shots", "99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: shots: 99 exceeds the 4 training documents of MIMIC"), err
    assert not any("Traceback" in line for line in err)


# ------------------------------------------------------------------------------ the rules


def test_shards_deal_rows_and_weigh_them_to_the_whole_batch():
    units = np.array([3, 5, 2, 7, 1])
    rows = [0, 1, 2, 3, 4]
    shards = [shard(rows, units, World(rank, 2)) for rank in (0, 1)]
    assert [own for own, _ in shards] == [[0, 2, 4], [1, 3]]
    weights = [weight for _, weight in shards]
    assert weights == pytest.approx([2 * 6 / 18, 2 * 12 / 18])
    per_unit = np.array([0.3, 1.2, 0.7, 0.1, 2.0])  # each row's mean loss per unit

    def mean(own: list[int]) -> float:
        return float((units[own] * per_unit[own]).sum() / units[own].sum())

    # DDP averages the ranks' weighted gradients: that is the whole batch's mean
    assert sum(w * mean(own) for own, w in shards) / 2 == pytest.approx(mean(rows))
    assert shard(rows, units, World()) == (rows, 1.0)
    assert shard([4], units, World(1, 2)) == ([4], 0.0)  # nothing left: a zero-weight stand-in


def test_loss_units_count_context_tokens_labelled_words_or_pairs():
    frame = pd.DataFrame(
        {"token_starts": [[-1, 0, 4, -1], [-1, 2, 5, 7, -1], [-1, 0, 5, 9, -1]],
         "query_type": ["Drug", "BIO", "pair"],
         "labels": [None, [-100, 1, -100, 2, -100], None]}
    )  # fmt: skip
    assert loss_units(frame).tolist() == [2, 2, 1]  # BIO: a word's later pieces carry no loss


def test_gatortron_large_unfrozen_alone_is_sharded():
    registry = model_registry()
    assert needs_sharding(registry["gatortron-large"], frozen=False)
    assert not needs_sharding(registry["gatortron-large"], frozen=True)
    assert not needs_sharding(registry["gatortron-medium"], frozen=False)
    assert not needs_sharding(registry["gatortron-base"], frozen=False)


def test_process_count(monkeypatch):
    registry = model_registry()
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert process_count(registry["gatortron-large"], None, cpu) == 1
    assert process_count(registry["tiny-bert"], 2, cpu) == 2
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert process_count(registry["gatortron-large"], None, cuda) == 4
    assert process_count(registry["gatortron-base"], None, cuda) == 1
    with pytest.raises(ConfigError, match=r"training\.processes 8 exceeds the 4 visible GPUs"):
        process_count(registry["tiny-bert"], 8, cuda)
