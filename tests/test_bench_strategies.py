"""The strategies benchmark script runs (quick mode); it measures, it does not assert speed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_bench_strategies_quick(tmp_path):
    out = tmp_path / "table.md"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_strategies.py"), "--quick",
         "--work", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0] for r in rows[1:]] == [
        "| dictionary", "| finetune", "| hard", "| soft", "| soft-frozen",
    ]  # fmt: skip
    for row in rows[1:]:
        scores = [float(x) for x in row.split(" | ")[1:5]]
        assert all(0.0 <= s <= 1.0 for s in scores)
