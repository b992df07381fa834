"""Benchmark results as JSON, and `docs/benchmarks.md` regenerated from them.

A benchmark writes one JSON result with `write_result`: its name, a title, the environment it
ran in (`environment`: date, device, card, threads, torch/transformers/CUDA versions), notes,
Markdown-ready tables (`columns` + `rows` of strings) and its raw figures under `data`. This
script renders every result found (by default `benchmarks/measured/*.json`) into one Markdown
page, GPU results before CPU ones; when no GPU training benchmark is among them, the page says
so and names the script that measures it.

    python benchmarks/render_docs.py [--results FILE_OR_DIR ...] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch
import transformers

from clinprompt.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks/measured"
DOCS = REPO / "docs/benchmarks.md"
# Benchmarks in page order; any other result follows in name order.
ORDER = ("train", "padding", "pipeline", "dag", "gpu-anchors")
GPU_SCRIPT = "bash benchmarks/gpu_check.sh"
RESULT_KEYS = ("benchmark", "title", "environment", "notes", "tables", "data")


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    """Where a benchmark ran: date, device kind, card or CPU, threads and library versions."""
    cuda = device.type == "cuda"
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "device": device.type,
        "card": torch.cuda.get_device_name(device) if cuda else _cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "python": platform.python_version(),
    }


def write_result(path: Path, result: dict) -> None:
    """Write one benchmark result (the keys of RESULT_KEYS, see the module docstring)."""
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        raise ValueError(f"benchmark result lacks {', '.join(missing)}")
    atomic_write_text(Path(path), json.dumps(result, indent=1) + "\n")


def table(title: str, columns: list[str], rows: list[list[str]]) -> dict:
    """A Markdown-ready table of a result."""
    return {"title": title, "columns": columns, "rows": rows}


def read_results(sources: list[Path]) -> list[dict]:
    """Every result JSON of the given files and folders, in page order."""
    files = []
    for source in sources:
        files.extend(sorted(source.glob("*.json")) if source.is_dir() else [source])
    results = [json.loads(f.read_text(encoding="utf-8")) for f in files]

    def key(result: dict) -> tuple:
        name = result["benchmark"]
        rank = ORDER.index(name) if name in ORDER else len(ORDER)
        return rank, name, result["environment"]["device"] != "cuda"

    return sorted(results, key=key)


def _environment_line(env: dict) -> str:
    """Date, device and versions; fields a result does not know are left out."""
    parts = [f"{env['date']}, {env['device'].upper()}: {env['card']}"]
    if env.get("cpu_threads"):
        parts.append(f" ({env['cpu_threads']} torch threads of {env['cpus']} CPUs)")
    for key, name in (
        ("torch", "torch"),
        ("transformers", "transformers"),
        ("cuda", "CUDA"),
        ("python", "Python"),
    ):
        if env.get(key):
            parts.append(f", {name} {env[key]}")
    return "".join(parts) + "."


def _markdown_table(spec: dict) -> list[str]:
    lines = [
        f"**{spec['title']}**",
        "",
        "| " + " | ".join(spec["columns"]) + " |",
        "|" + "---|" * len(spec["columns"]),
    ]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in spec["rows"])
    return [*lines, ""]


def render_result(result: dict) -> list[str]:
    """The Markdown section of one result."""
    lines = [f"## {result['title']}", "", _environment_line(result["environment"]), ""]
    for spec in result["tables"]:
        lines.extend(_markdown_table(spec))
    lines.extend(f"- {note}" for note in result["notes"])
    return [*lines, ""] if result["notes"] else lines


def _gpu_missing() -> list[str]:
    return [
        f"## GPU: not measured in this session; run `{GPU_SCRIPT}`",
        "",
        f"No GPU training benchmark is among the results. On one H100 or H200, run "
        f"`{GPU_SCRIPT}` (one run: the study-style baseline and the project's path side by "
        "side, GatorTron-345M and 3.9B shapes, the pass/fail targets of issue 7); copy the "
        "`train-cuda.json` it writes into `benchmarks/measured/` and rerun "
        "`python benchmarks/render_docs.py`.",
        "",
    ]


def render(results: list[dict]) -> str:
    """The whole `docs/benchmarks.md` page."""
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/render_docs.py` from the JSON results in "
        "`benchmarks/measured/`; edit the benchmarks, not this page. Scripts measure and "
        "report; no test asserts a speed. A benchmark adds its section by writing a result "
        "with `render_docs.write_result` into that folder.",
        "",
        "- `python benchmarks/bench_padding.py`: padding waste and MRC row lengths of the "
        "synthetic corpora (CPU, about a minute).",
        "- `python benchmarks/bench_train.py --tiny --out benchmarks/measured`: the training-step "
        "benchmark on tiny shapes (CPU, under a minute).",
        "- `python benchmarks/bench_dag.py`: DAG construction (dry run) of `config/paper.yaml` "
        "against a fake data folder.",
        "- `python benchmarks/bench_pipeline.py --cores 2`: the embedded default end to end "
        "(`make run` after install).",
        f"- `{GPU_SCRIPT}`: the GPU measurements, baseline and project path in one run.",
        "",
    ]
    gpu_train = any(
        r["benchmark"] == "train" and r["environment"]["device"] == "cuda" for r in results
    )
    if not gpu_train:
        lines.extend(_gpu_missing())
    for result in results:
        lines.extend(render_result(result))
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results",
        type=Path,
        nargs="+",
        default=[RESULTS],
        help="result JSON files or folders of them",
    )
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args()
    atomic_write_text(args.out, render(read_results(args.results)))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
