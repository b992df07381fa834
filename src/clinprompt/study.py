"""The study's vocabulary: its four strategies and the cell, the point of its grid.

Torch-free, so that the workflow builds its DAG (`common.smk`) without importing model code.
A `Strategy` says what the other modules ask of one: whether it learns a soft prompt instead
of reading a query text, whether its encoder stays frozen, and whether it tags BIO labels and
classifies entity-marker pairs (`finetune`) instead of answering MRC queries. A `Cell` names
one run of the grid and the folder its outputs live in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clinprompt.errors import ConfigError

ALL_SHOTS = "all"


@dataclass(frozen=True)
class Strategy:
    """One way of adapting the encoder to extraction."""

    name: str
    soft: bool = False
    frozen: bool = False
    entity_markers: bool = False

    @staticmethod
    def named(name: str) -> Strategy:
        """The strategy called `name`; an unknown name is a `ConfigError` listing the known ones."""
        if name not in STRATEGIES:
            raise ConfigError(f"strategy '{name}' unknown (use {', '.join(STRATEGY_NAMES)})")
        return STRATEGIES[name]

    @property
    def mrc(self) -> bool:
        """Whether it answers machine-reading queries (every strategy but plain fine-tuning)."""
        return not self.entity_markers

    @property
    def hard_prompt(self) -> bool:
        """Whether its inputs carry the query as text beside the context."""
        return self.mrc and not self.soft


STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Strategy("finetune", entity_markers=True),
        Strategy("hard"),
        Strategy("soft", soft=True),
        Strategy("soft-frozen", soft=True, frozen=True),
    )
}
STRATEGY_NAMES = tuple(STRATEGIES)
SOFT_STRATEGIES = tuple(name for name, strategy in STRATEGIES.items() if strategy.soft)


def parse_shots(value: object, key: str = "shots") -> int | str:
    """`all` or a positive number of training documents, from a config value or a path part."""
    if value == ALL_SHOTS:
        return ALL_SHOTS
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"config key '{key}': shots must be a whole number >= 1 or 'all'")
    return value


# A cell's fields in grid order, and its output folder under the results root with the
# workflow's wildcard names.
CELL_FIELDS = (
    "dataset",
    "model",
    "strategy",
    "prompt_length",
    "shots",
    "train_institution",
    "seed",
)
CELL_PATH = "{dataset}/{model}/{strategy}/p{plen}/k{shots}/{train_inst}/seed{seed}"
WILDCARDS = ("dataset", "model", "strategy", "plen", "shots", "train_inst", "seed")


def cell_path(**fixed: str) -> str:
    """`CELL_PATH` with the `fixed` wildcards filled in, the others left as wildcards."""
    return CELL_PATH.format(**{name: fixed.get(name, f"{{{name}}}") for name in WILDCARDS})


@dataclass(frozen=True)
class Cell:
    """One point of the study's grid; `train_institution` may be a pool (`MIMIC+UW`)."""

    dataset: str
    model: str
    strategy: str
    prompt_length: int
    shots: int | str
    train_institution: str
    seed: int

    @property
    def kind(self) -> Strategy:
        """The cell's strategy (checked)."""
        return Strategy.named(self.strategy)

    def folder(self, root: str | Path = "results") -> Path:
        """The cell's readable output folder."""
        return Path(root, CELL_PATH.format(**self.wildcards()))

    def wildcards(self) -> dict[str, str]:
        """The cell as the workflow's wildcards."""
        return {
            "dataset": self.dataset,
            "model": self.model,
            "strategy": self.strategy,
            "plen": str(self.prompt_length),
            "shots": str(self.shots),
            "train_inst": self.train_institution,
            "seed": str(self.seed),
        }

    @classmethod
    def from_wildcards(cls, wildcards: Mapping[str, str]) -> Cell:
        """The cell a rule's wildcards name."""
        return cls(
            wildcards["dataset"],
            wildcards["model"],
            wildcards["strategy"],
            int(wildcards["plen"]),
            parse_shots(wildcards["shots"]),
            wildcards["train_inst"],
            int(wildcards["seed"]),
        )

    @classmethod
    def from_record(cls, record: Mapping) -> Cell:
        """The cell of a grid row or a mapping with the `CELL_FIELDS` keys."""
        values = {name: record[name] for name in CELL_FIELDS}
        return cls(
            **values
            | {
                "prompt_length": int(values["prompt_length"]),
                "shots": parse_shots(values["shots"]),
                "seed": int(values["seed"]),
            }
        )
