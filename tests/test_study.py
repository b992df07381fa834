"""The study's vocabulary: strategies, cells, their folders, and a DAG built without torch."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from clinprompt.errors import ConfigError
from clinprompt.study import (
    SOFT_STRATEGIES,
    STRATEGY_NAMES,
    Cell,
    Strategy,
    cell_path,
    parse_shots,
)

REPO = Path(__file__).resolve().parents[1]


def test_each_strategy_says_what_it_is():
    kinds = {name: Strategy.named(name) for name in STRATEGY_NAMES}
    assert {n: (k.soft, k.frozen, k.entity_markers, k.hard_prompt) for n, k in kinds.items()} == {
        "finetune": (False, False, True, False),
        "hard": (False, False, False, True),
        "soft": (True, False, False, False),
        "soft-frozen": (True, True, False, False),
    }
    assert SOFT_STRATEGIES == ("soft", "soft-frozen")
    assert [n for n, k in kinds.items() if k.mrc] == ["hard", "soft", "soft-frozen"]


def test_unknown_strategy_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match=r"strategy 'lora' unknown \(use finetune, hard, soft"):
        Strategy.named("lora")


def test_cell_folder_wildcards_and_records_agree():
    cell = Cell("sdoh", "minilm", "soft", 8, 2, "MIMIC+UW", 3)
    assert cell.folder() == Path("results/sdoh/minilm/soft/p8/k2/MIMIC+UW/seed3")
    assert cell.folder("/x") == Path("/x", cell_path(**cell.wildcards()))
    assert Cell.from_wildcards(cell.wildcards()) == cell
    record = {
        "dataset": "sdoh",
        "model": "minilm",
        "strategy": "soft",
        "prompt_length": "8",
        "shots": "2",
        "train_institution": "MIMIC+UW",
        "seed": "3",
        "experiments": "main",
    }
    assert Cell.from_record(record) == cell
    assert Cell.from_record(record | {"shots": "all"}).shots == "all"


def test_cell_path_leaves_unfixed_wildcards():
    assert cell_path(model="none", strategy="dictionary", plen="0") == (
        "{dataset}/none/dictionary/p0/k{shots}/{train_inst}/seed{seed}"
    )


@pytest.mark.parametrize("value", [0, -1, "x", "1.5", True, 2.0, None])
def test_impossible_shots_name_the_key(value):
    with pytest.raises(ConfigError, match=r"config key 'grid.shots': shots must be a whole"):
        parse_shots(value, "grid.shots")


def test_shots_parse_from_config_values_and_path_parts():
    assert [parse_shots(v) for v in (3, "3", "all")] == [3, 3, "all"]


def test_building_the_dag_imports_no_torch():
    """Every module `common.smk` imports loads without torch or transformers."""
    source = (REPO / "workflow/rules/common.smk").read_text(encoding="utf-8")
    modules = re.findall(r"^from (clinprompt[\w.]*) import", source, flags=re.M)
    assert {"clinprompt.study", "clinprompt.registry", "clinprompt.settings"} <= set(modules)
    check = "; ".join(
        [f"import {m}" for m in modules]
        + ["import sys", "print(sorted({'torch', 'transformers'} & set(sys.modules)))"]
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
