"""The PGxCorpus benchmark script runs (quick mode) where the shared data is present; it
measures, it does not assert scores or speed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.test_real_corpus import PGX

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PGX.is_dir(), reason=f"PGxCorpus not found at {PGX} (shared data)"),
]


def test_bench_real_corpus_quick(tmp_path):
    out = tmp_path / "real-corpus.md"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_real_corpus.py"), "--quick",
         "--work", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    text = out.read_text()
    assert "Validation: 945 documents, 0 errors, 3423 warnings" in text
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ")]
    systems = ["dictionary", "finetune", "hard", "soft", "soft-frozen"]
    assert [row[0].removeprefix("| ") for row in rows[1:]] == systems
    for row in rows[1:]:
        assert all(0.0 <= float(cell.split()[0]) <= 1.0 for cell in row[1:5])
    margins = [line for line in text.splitlines() if line.startswith("- `")]
    assert [re.match(r"- `([a-z-]+)`: strict .* lenient ", m)[1] for m in margins] == systems[1:]
    assert "6 test sentences" in text and (tmp_path / "real-corpus.png").stat().st_size > 0
