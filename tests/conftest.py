"""Shared fixtures: the repository root and a runner for Snakemake in a temporary folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    """The repository root."""
    return REPO


def run_snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """Run the workflow with `config` in `workdir` (targets first, then options)."""
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [
        sys.executable, "-m", "snakemake", *args,
        "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(config_path), "--cores", "2",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, check=False)
