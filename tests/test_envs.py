"""The conda envs mirror the pip pins of pyproject.toml, so both installs give one stack."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.conftest import REPO

PINS = dict(
    re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", dep).groups()
    for dep in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
)


def env_pins(name: str) -> dict[str, str]:
    env = yaml.safe_load((REPO / "envs" / name).read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return dict(p.split("==") for p in pip if "==" in p)


def test_every_dependency_is_pinned_exactly():
    assert {"torch", "transformers", "pandas", "pyarrow", "snakemake", "seqeval"} <= set(PINS)


@pytest.mark.parametrize("env", sorted(p.name for p in (REPO / "envs").glob("*.yaml")))
def test_env_pins_match_pyproject(env):
    pins = env_pins(env)
    assert pins, f"{env} pins nothing"
    for name, version in pins.items():
        assert PINS.get(name) == version, (
            f"{env}: {name}=={version}, pyproject has {PINS.get(name)}"
        )


def test_every_rule_env_exists():
    rules = "\n".join(p.read_text() for p in (REPO / "workflow/rules").glob("*.smk"))
    for env in set(re.findall(r'"\.\./\.\./envs/([\w.-]+)"', rules)):
        assert (REPO / "envs" / env).is_file(), env
