"""DAG construction time of the paper's grid: a dry run of `config/paper.yaml`.

Points every `null` path of `config/paper.yaml` at a fake data folder (empty BRAT files, empty
checkpoint folders; the grid needs only their names), then times `snakemake -n --quiet rules`
in a fresh working folder, `--repeats` times, and records the job counts of the dry run. The
target of issue 5 is under 30 s on a 2-core machine.

    python benchmarks/bench_dag.py [--repeats 3] [--out benchmarks/measured/dag.json]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from render_docs import REPO, RESULTS, environment, table, write_result

sys.path.insert(0, str(REPO))
# The fake data folder and the job-stats parser that the tests use too.
from tests.conftest import job_counts
from tests.test_grid import fake_paper_config

TARGET_SECONDS = 30


def dry_run(config: Path, workdir: Path) -> tuple[float, dict[str, int]]:
    """Wall seconds of one dry run and its job counts per rule."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--quiet",
        "rules",
        "--cores",
        "1",
        "--configfile",
        str(config),
        "-d",
        str(workdir),
        "-s",
        str(REPO / "Snakefile"),
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"dry run failed:\n{result.stderr[-2000:]}")
    return seconds, job_counts(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "dag.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = root / "paper.yaml"
        config.write_text(yaml.safe_dump(fake_paper_config(root / "data")), encoding="utf-8")
        runs = [dry_run(config, root / "work") for _ in range(args.repeats)]
    seconds = [run[0] for run in runs]
    counts = runs[-1][1]
    median = statistics.median(seconds)
    print(f"paper.yaml dry run: median {median:.1f} s of {args.repeats}", file=sys.stderr)
    rows = [[rule, f"{count:,}"] for rule, count in counts.items()]
    write_result(
        args.out,
        {
            "benchmark": "dag",
            "title": "DAG construction of the paper's grid (config/paper.yaml, dry run)",
            "environment": environment(torch.device("cpu")),
            "notes": [
                f"median {median:.1f} s (runs: {', '.join(f'{s:.1f}' for s in seconds)} s) for "
                f"`snakemake -n` of {counts.get('total', 0):,} jobs; target < {TARGET_SECONDS} s: "
                f"{'met' if median < TARGET_SECONDS else 'NOT met'}",
                "fake data folder: every null path of config/paper.yaml set to an empty folder or "
                "empty files (tests/test_grid.py `fake_paper_config`)",
            ],
            "tables": [table("Jobs of the dry run", ["rule", "jobs"], rows)],
            "data": {"seconds": seconds, "counts": counts},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
