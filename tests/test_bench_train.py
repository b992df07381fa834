"""The training benchmark, its padding section and the docs renderer, on tiny CPU shapes.

The script's figures are measured, never asserted against a speed: tests check the result's
structure, that both paths and every strategy were measured, and the quantities that do not
depend on timing (FLOP formula, padding, candidate pairs, batches, rendering).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from tests.conftest import REPO


@pytest.fixture
def bench(monkeypatch):
    """The benchmark scripts as modules (they import each other as siblings)."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    return {name: importlib.import_module(name) for name in ("bench_train", "bench_padding",
                                                             "render_docs")}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_train.py"), "--tiny", "--steps", "2",
         "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| tiny | mix | hard | project |" in result.stdout
    return json.loads((out / "train-cpu-tiny.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_tiny_run_measures_both_paths_for_every_strategy(tiny_result):
    env = tiny_result["environment"]
    assert tiny_result["benchmark"] == "train"
    assert env["device"] == "cpu" and env["torch"] == torch.__version__ and env["transformers"]
    cases = tiny_result["data"]["cases"]
    fixed = {(c["path"], c["strategy"]) for c in cases if c["rows"] != "mix"}
    mixed = {(c["path"], c["strategy"]) for c in cases if c["rows"] == "mix"}
    assert fixed == {
        (p, s) for p in ("baseline", "project") for s in ("hard", "soft", "soft-frozen")
    }
    assert mixed == {(p, s) for p in ("baseline", "project") for s in ("hard", "soft-frozen")}
    for case in cases:
        assert case["status"] == "ok"
        for key in ("tokens_per_s", "tflops", "step_s", "peak_gib", "state_gib"):
            assert case[key] > 0, (key, case)
        assert "reserved_gib" in case and case["memory_source"]
    by = {(c["path"], c["strategy"], c["rows"]): c for c in cases}
    assert by["project", "hard", "L=128"]["attention"] == "sdpa"
    assert by["baseline", "hard", "L=128"]["span_match"] == "all L x L pairs"
    assert by["project", "soft", "L=112"]["rows"] == "L=112"  # 16 prompt positions kept free


@pytest.mark.slow
def test_tiny_run_figures_that_do_not_depend_on_timing(tiny_result):
    by = {(c["path"], c["strategy"], c["rows"]): c for c in tiny_result["data"]["cases"]}
    for strategy in ("hard", "soft-frozen"):
        project, baseline = by["project", strategy, "mix"], by["baseline", strategy, "mix"]
        assert 0 <= project["padding_waste"] < baseline["padding_waste"]
    for strategy, row in (("hard", "L=128"), ("soft", "L=112"), ("soft-frozen", "L=112")):
        project, baseline = by["project", strategy, row], by["baseline", strategy, row]
        assert 0 < project["candidate_pairs_per_row"] < baseline["candidate_pairs_per_row"]
        assert project["head_share"] > 0 and baseline["head_share"] > 0
    assert by["project", "hard", "L=128"]["trainable_share"] == 1.0
    assert by["project", "soft-frozen", "L=112"]["trainable_share"] < 0.5
    assert by["baseline", "soft-frozen", "L=112"]["trainable_share"] < 0.5
    data = tiny_result["data"]
    assert 0 <= data["padding_waste"] < 1 and data["matmul_tflops"] > 0
    assert len(data["targets"]) == 6 and all(t["pass"] is None for t in data["targets"])


def test_useful_flops_formula(bench):
    train = bench["bench_train"]
    shape = train.SHAPES["345m"]
    per_layer = 24 * 512 * 1024**2 + 4 * 512**2 * 1024
    assert train.useful_flops([512], shape, frozen=False) == 3 * 24 * per_layer
    assert train.useful_flops([512, 512], shape, frozen=True) == 2 * 2 * 24 * per_layer


def test_rows_and_baseline_batch(bench):
    train = bench["bench_train"]
    frame = train.mrc_rows([80, 24], "hard", 50176, seed=3)
    first = frame.iloc[0]
    assert first["token_type_ids"][:18] == [0] * 18 and first["token_type_ids"][-1] == 1
    for _, row in frame.iterrows():
        for start, end in zip(row["answer_starts"], row["answer_ends"], strict=True):
            assert row["token_starts"][start] >= 0 and row["token_starts"][end] >= 0
    batch = train.baseline_batch(frame, [0, 1], 96)
    assert batch["input_ids"].shape == (2, 96) and batch["match"].shape == (2, 96, 96)
    assert batch["attention_mask"].sum(1).tolist() == [80, 24]
    assert batch["match"].sum() == sum(len(a) for a in frame["answer_starts"])
    soft = train.mrc_rows([30], "soft", 50176, seed=3)
    assert soft.iloc[0]["token_type_ids"] == [0] + [1] * 29


def test_padding_waste_against_padding_to_max_length(bench):
    frame = pd.DataFrame({"input_ids": [[1] * 2, [1] * 4], "query_type": ["Drug", "Drug"]})
    waste = bench["bench_padding"].waste(frame, batch_size=2, max_length=8)
    assert waste == {"batch_size": 2, "bucketed": pytest.approx(2 / 6),
                     "pad_to_max": pytest.approx(10 / 6)}  # fmt: skip


def test_docs_say_when_the_gpu_was_not_measured(bench, tmp_path):
    docs = bench["render_docs"]
    env = {"date": "2026-01-01", "device": "cpu", "card": "test CPU", "torch": "2"}
    cpu = {"benchmark": "train", "title": "CPU run", "environment": env, "notes": ["a note"],
           "tables": [docs.table("t", ["a", "b"], [["1", "2"]])], "data": {}}  # fmt: skip
    page = docs.render([cpu])
    assert "## GPU: not measured in this session; run `bash benchmarks/gpu_check.sh`" in page
    assert "| a | b |\n|---|---|\n| 1 | 2 |" in page and "- a note" in page
    gpu = {**cpu, "title": "GPU run", "environment": {**env, "device": "cuda", "card": "H200"}}
    docs.write_result(tmp_path / "a-cpu.json", cpu)
    docs.write_result(tmp_path / "b-gpu.json", gpu)
    page = docs.render(docs.read_results([tmp_path]))
    assert "not measured" not in page
    assert page.index("## GPU run") < page.index("## CPU run")


def test_write_result_refuses_an_incomplete_result(bench, tmp_path):
    with pytest.raises(ValueError, match="lacks environment"):
        bench["render_docs"].write_result(tmp_path / "r.json", {"benchmark": "x", "title": "t"})
