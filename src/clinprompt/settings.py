"""A cell's settings, resolved from the config: torch-free, so rules can carry them as params.

In: the validated workflow config and a `Cell`. Out: `CellSettings`, the optimisation
(`TrainSettings`) and example/model keys that shape the cell's run, resolved in this order:
the model's size defaults (registry), the `training` block, the strategy's budget
(`STRATEGY_BUDGETS`), `training.strategies.<strategy>`, then the same two levels under
`datasets.<dataset>.training`. `as_params`/`from_params` turn the settings into plain
mappings for a rule's `params:` and back, so Snakemake reruns exactly the cells a config
change touches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from clinprompt.errors import ConfigError
from clinprompt.registry import STRATEGY_BUDGETS, ModelSpec, model_registry
from clinprompt.study import Cell


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of a cell."""

    epochs: int = 5
    batch_size: int = 16
    grad_accumulation: int = 1
    lr_encoder: float = 3e-5
    lr_prompt: float = 5e-3
    lr_head: float = 1e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    patience: int | None = None
    seed: int = 0
    compile: bool = False
    # Read by the launcher (`cell.train_cell`), not by the loop: None = as the GPUs ask.
    processes: int | None = None


@dataclass(frozen=True)
class CellSettings:
    """Everything besides the cell itself that shapes its run."""

    train: TrainSettings = field(default_factory=TrainSettings)
    max_length: int = 512
    context_length: int | None = None
    trigger_markers: bool = True
    stride: int = 128
    negative_ratio: float | None = None
    prompt_mode: str = "deep"
    reparameterize: int | None = None
    max_span_width: int = 32
    match_hidden: int = 2048
    positive_weight: float = 1.0
    eval_batch_size: int = 64
    bootstrap: int = 1000
    device: str = "auto"


TRAIN_KEYS = {f.name for f in fields(TrainSettings)}
CELL_KEYS = {f.name for f in fields(CellSettings)} - {"train"}
SPEC_DEFAULTS = ("batch_size", "lr_encoder", "lr_prompt", "lr_head")


def strategy_training(training: dict, spec: ModelSpec, strategy: str, own: dict) -> dict:
    """The optimisation keys of one strategy: the model's size defaults, the `training`
    block, the strategy's budget (`STRATEGY_BUDGETS`) and its own block `own`
    (`training.strategies.<strategy>`)."""
    values = {key: getattr(spec, key) for key in SPEC_DEFAULTS}
    values |= {k: v for k, v in training.items() if k in TRAIN_KEYS}
    budget = STRATEGY_BUDGETS[strategy]
    epochs = values.get("epochs", TrainSettings.epochs)
    values["epochs"] = max(1, round(epochs * budget.epochs_factor))
    values["lr_prompt"] *= budget.lr_prompt_factor
    values["lr_head"] *= budget.lr_head_factor
    values.setdefault("patience", budget.patience)
    return values | {k: v for k, v in own.items() if k in TRAIN_KEYS}


def dataset_training(config: dict, dataset: str) -> dict:
    """The `training` block of a dataset's cells: `datasets.<dataset>.training` over the
    config's `training`, key by key and, under `strategies`, strategy by strategy."""
    training = config.get("training") or {}
    own = ((config.get("datasets") or {}).get(dataset) or {}).get("training") or {}
    strategies = {name: dict(values) for name, values in (training.get("strategies") or {}).items()}
    for name, values in (own.get("strategies") or {}).items():
        strategies[name] = strategies.get(name, {}) | values
    return training | own | {"strategies": strategies}


def cell_settings(config: dict, spec: ModelSpec, cell: Cell) -> CellSettings:
    """A cell's settings: its dataset's `training` block (`dataset_training`) over the model's
    size defaults, with the cell's strategy budget (`strategy_training`); example keys
    (`negative_ratio`, `positive_weight`) may be set per strategy too."""
    training = dataset_training(config, cell.dataset)
    own = training["strategies"].get(cell.strategy) or {}
    train = strategy_training(training, spec, cell.strategy, own) | {"seed": cell.seed}
    example = {k: v for k, v in (training | own).items() if k in CELL_KEYS}
    return CellSettings(train=TrainSettings(**train), **example)


def cell_setup(config: dict, cell: Cell) -> tuple[ModelSpec, CellSettings]:
    """The registry entry of the cell's model and the cell's settings under `config`."""
    registry = model_registry(config.get("models"))
    if cell.model not in registry:
        raise ConfigError(f"model '{cell.model}' not in the registry ({', '.join(registry)})")
    spec = registry[cell.model]
    return spec, cell_settings(config, spec, cell)


def as_params(settings: CellSettings) -> dict:
    """The settings as a plain mapping: a rule's `params:` entry that Snakemake compares."""
    return asdict(settings)


def from_params(values: dict) -> CellSettings:
    """The settings `as_params` made."""
    return CellSettings(**{**values, "train": TrainSettings(**values["train"])})
