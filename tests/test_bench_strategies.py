"""The strategies benchmark script runs (quick mode); it measures, it does not assert speed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_bench_strategies_quick(tmp_path):
    out, figure = tmp_path / "table.md", tmp_path / "curves.png"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_strategies.py"), "--quick",
         "--work", str(tmp_path / "work"), "--out", str(out), "--figure", str(figure)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| ")]
    body = [(r[0].removeprefix("| "), r[1], r[2]) for r in rows[1:] if not r[0].startswith("|-")]
    systems = ["dictionary", "finetune", "hard", "soft", "soft-frozen"]
    assert [s for d, t, s in body if d == "drug_ade"] == systems
    # SDoH: trained at MIMIC, tested in domain and across institutions
    assert {(t, s) for d, t, s in body if d == "sdoh"} == {
        (where, s) for where in ("MIMIC (in domain)", "UW (cross)") for s in systems
    }
    for row in rows[2:]:
        assert 0.0 <= float(row[3].split()[0]) <= 1.0 and 0.0 <= float(row[5].split()[0]) <= 1.0
    assert "Targets (in domain):" in out.read_text() and figure.stat().st_size > 0
