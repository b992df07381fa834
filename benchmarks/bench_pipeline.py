"""The embedded default end to end: `make run`'s workflow and report, timed on this machine.

Runs the repository's `config/config.yaml` (both synthetic corpora, the bundled MiniLM, the
whole embedded grid) in a fresh working folder with `--cores` (default: every core), then
`--report`, and records the wall time of each, the jobs per rule (from a dry run first) and
the training jobs' own times (their Snakemake benchmark files), with what the run measured:
strict micro F1 per corpus, task and test institution for every strategy and the dictionary
(full training sets), and the few-shot axis. Issue 11 asks for at most 12 minutes on 2 cores
(up to 20 where the report's comparisons need it).

    python benchmarks/bench_pipeline.py [--cores 2] [--workdir DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from render_docs import REPO, RESULTS, environment, table, write_result

sys.path.insert(0, str(REPO))
from tests.conftest import job_counts

TARGET_MINUTES = 12
STRATEGY_ORDER = ["dictionary", "finetune", "hard", "soft", "soft-frozen"]


def snakemake(workdir: Path, cores: int, *args: str) -> tuple[float, str]:
    """Wall seconds and stdout of one Snakemake call on the embedded default in `workdir`."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        str(cores),
        "--quiet",
        "rules",
        "-d",
        str(workdir),
        "-s",
        str(REPO / "Snakefile"),
        "--configfile",
        str(REPO / "config/config.yaml"),
        *args,
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start, result.stdout


def training_seconds(workdir: Path) -> pd.Series:
    """Wall seconds of every training job, from its benchmark file."""
    files = sorted((workdir / "results/benchmarks/train").rglob("*.tsv"))
    return pd.Series([pd.read_csv(path, sep="\t")["s"].iloc[0] for path in files], dtype=float)


def f1_tables(workdir: Path) -> list[dict]:
    """Strict micro F1 of the run: one row per corpus x task x test institution, a column per
    strategy (shots all); then the few-shot rows (F1 per shots)."""
    metrics = pd.read_parquet(workdir / "results/tables/metrics.parquet")
    strict = metrics[(metrics["mode"] == "strict") & (metrics["metric"] == "f1")]
    full = strict[strict["shots"].astype(str) == "all"]
    strategies = [s for s in STRATEGY_ORDER if s in set(full["strategy"])]
    rows = []
    keys = ["dataset", "task", "train_institution", "test_institution"]
    for (dataset, task, trained, tested), group in full.groupby(keys, sort=True):
        by = dict(zip(group["strategy"], group["value"], strict=True))
        where = f"{trained} -> {tested}"
        rows.append(
            [dataset, task, where, *(f"{by[s]:.3f}" if s in by else "" for s in strategies)]
        )
    few = strict[strict["experiments"].str.contains("few_shot", na=False)]
    few = few.assign(order=pd.to_numeric(few["shots"], errors="coerce").fillna(float("inf")))
    few = few.sort_values(["dataset", "strategy", "task", "order"])
    shots = [
        [r.dataset, r.strategy, r.task, str(r.shots), f"{r.value:.3f}"] for r in few.itertuples()
    ]
    return [
        table(
            "Strict micro F1 (shots all)",
            ["corpus", "task", "trained -> tested", *strategies],
            rows,
        ),
        table("Few-shot strict micro F1", ["corpus", "strategy", "task", "shots", "F1"], shots),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--workdir", type=Path, help="keep the run here (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=RESULTS / "pipeline.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = args.workdir or Path(folder)
        _, plan = snakemake(workdir, args.cores, "-n")
        run_seconds, _ = snakemake(workdir, args.cores)
        report_seconds, _ = snakemake(workdir, 1, "--report", str(workdir / "results/report.html"))
        training = training_seconds(workdir)
        measured = f1_tables(workdir)
    counts = job_counts(plan)
    minutes = (run_seconds + report_seconds) / 60
    print(f"embedded default: {minutes:.1f} min on {args.cores} cores", file=sys.stderr)
    write_result(
        args.out,
        {
            "benchmark": "pipeline",
            "title": "The embedded default end to end "
            f"(`make run` after install, {args.cores} cores)",
            "environment": environment(torch.device("cpu")),
            "notes": [
                f"workflow {run_seconds / 60:.1f} min + report {report_seconds:.0f} s = "
                f"{minutes:.1f} min; target about {TARGET_MINUTES} min",
                f"{len(training)} training jobs (train + predict): "
                f"median {training.median():.0f} s, "
                f"max {training.max():.0f} s, sum {training.sum() / 60:.1f} min",
            ],
            "tables": [
                table(
                    "Jobs", ["rule", "jobs"], [[rule, str(count)] for rule, count in counts.items()]
                ),
                *measured,
            ],
            "data": {
                "run_seconds": run_seconds,
                "report_seconds": report_seconds,
                "cores": args.cores,
                "counts": counts,
                "training_seconds": training.tolist(),
            },
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
