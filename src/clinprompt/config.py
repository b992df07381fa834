"""Workflow configuration: validation with defaults, and the corpus parts it names.

In: the config mapping Snakemake loaded and `workflow/schemas/config.schema.yaml`.
Out: the same mapping with schema defaults filled in, or a `ConfigError` whose one line
names the offending key; and, per dataset, the BRAT folders (`CorpusPart`s) to read and the
seeded train/test draw (`SplitDraw`) of a corpus that comes as one unsplit folder.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import yaml

from clinprompt.corpus.tables import CorpusPart, SplitDraw
from clinprompt.errors import ConfigError
from clinprompt.synth.corpora import planned_parts

SYNTHETIC_ROOT = "results/corpora"
T = TypeVar("T")


def _key_path(path: Any) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _one_line(error: jsonschema.ValidationError) -> str:
    """A jsonschema error as `config key: what is wrong`."""
    key = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        name = ".".join(filter(None, [key if error.absolute_path else "", extra[0]]))
        return f"config key '{name}' is not known (allowed here: {', '.join(allowed)})"
    if error.validator == "oneOf" and "synthetic" in error.instance and "parts" in error.instance:
        return f"config key '{key}': give either 'synthetic' or 'parts', not both"
    if error.validator == "oneOf":
        return (
            f"config key '{key}': needs 'synthetic' (generate a corpus) or 'parts' (BRAT folders)"
        )
    return f"config key '{key}': {error.message}"


def _fill_defaults(instance: Any, schema: dict) -> None:
    """Insert `default` values of the schema's object properties, recursively, in place."""
    if not isinstance(instance, dict):
        if isinstance(instance, list) and "items" in schema:
            for item in instance:
                _fill_defaults(item, schema["items"])
        return
    for name, sub in schema.get("properties", {}).items():
        if name not in instance and "default" in sub:
            instance[name] = yaml.safe_load(yaml.safe_dump(sub["default"]))
        if name in instance:
            _fill_defaults(instance[name], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for name, value in instance.items():
            if name not in schema.get("properties", {}):
                _fill_defaults(value, extra)


def validate_config(config: dict, schema_path: Path) -> dict:
    """Check `config` against the schema (first error as one line) and fill defaults in place."""
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(_one_line(error))
    _fill_defaults(config, schema)
    for name, dataset in config["datasets"].items():
        _check_split(name, dataset)
    unset = unset_paths(config)
    if unset:
        raise ConfigError(f"config leaves {len(unset)} path(s) unset; set: {', '.join(unset)}")
    for name, dataset in config["datasets"].items():
        for index, part in enumerate(dataset.get("parts", [])):
            if not Path(part["path"]).is_dir():
                raise ConfigError(
                    f"config key 'datasets.{name}.parts[{index}].path': "
                    f"BRAT folder {part['path']} not found"
                )
    return config


def _check_split(name: str, dataset: dict) -> None:
    """Every part gives its split, or the dataset draws them (`split`), never both."""
    if "split" in dataset and "synthetic" in dataset:
        raise ConfigError(
            f"config key 'datasets.{name}.split': a synthetic corpus comes split; "
            "draw a split only for parts"
        )
    for index, part in enumerate(dataset.get("parts", [])):
        key = f"datasets.{name}.parts[{index}].split"
        if "split" in dataset and "split" in part:
            raise ConfigError(
                f"config key '{key}': datasets.{name}.split draws the splits; leave this out"
            )
        if "split" not in dataset and "split" not in part:
            raise ConfigError(
                f"config key '{key}': missing (train, dev or test), or draw the splits with "
                f"datasets.{name}.split: {{test: 0.2, seed: 7}}"
            )


def unset_paths(config: dict) -> list[str]:
    """The config keys of data and checkpoint paths left null for the user to fill in."""
    keys = [
        f"datasets.{name}.parts[{index}].path "
        f"({part.get('split', 'unsplit')} {part['institution']})"
        for name, dataset in config["datasets"].items()
        for index, part in enumerate(dataset.get("parts", []))
        if part["path"] is None
    ]
    keys += [
        f"models.{name}.path"
        for name, entry in (config.get("models") or {}).items()
        if entry.get("path") is None
    ]
    return keys


def dataset_parts(config: dict, dataset: str) -> list[CorpusPart]:
    """The BRAT folders of a dataset: the user's `parts`, or where the synthesiser writes."""
    settings = config["datasets"][dataset]
    if "parts" in settings:
        return [
            CorpusPart(p.get("split"), p["institution"], Path(p["path"])) for p in settings["parts"]
        ]
    synthetic = settings["synthetic"]
    root = Path(SYNTHETIC_ROOT) / dataset / "brat"
    planned = planned_parts(
        synthetic["kind"], synthetic.get("documents"), synthetic.get("institutions")
    )
    return [
        CorpusPart(split, institution, root / split / institution)
        for split, institution, _ in planned
    ]


def split_draw(settings: dict) -> SplitDraw | None:
    """The seeded train/test draw of a dataset's unsplit folders (its `split` block), if any."""
    return SplitDraw(**settings["split"]) if "split" in settings else None


def config_or_exit(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` for the Snakefile: a `ConfigError` ends the run with its one line."""
    try:
        return function(*args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None


def validate_or_exit(config: dict, schema_path: Path) -> dict:
    """`validate_config` for the Snakefile: a bad config ends the run with its one line."""
    return config_or_exit(validate_config, config, schema_path)
