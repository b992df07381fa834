"""The scorer benchmark runs (its wall time is reported, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_quick_benchmark_runs_and_prints_a_time():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_scorer.py"), "--quick"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^wall time: \d+\.\d+ s$", result.stdout, re.MULTILINE)
    assert "20 documents x 10 entities x 5 relations" in result.stdout
