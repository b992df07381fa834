"""One grid cell end to end: corpus tables in, a trained model, BRAT predictions and metrics out.

A cell is (dataset, model, strategy, prompt length, shots, training institution, seed); the
training institution may pool several (`MIMIC+UW`: the union of their training and dev notes).
`train_cell` draws the few-shot training documents (k from each pooled institution), builds the
strategy's examples, trains with model selection on the dev documents of the training
institution(s) (scored end to end, as test will be), and saves the best trainable weights with
a summary. `predict_cell` loads them (`load_trained`: only the frozen encoder's tensors may be
absent; any other mismatch is an error naming the key and file), predicts every test document
of one test institution from its text alone, writes one `.ann` per document (empty when
nothing is found) and the metrics JSON: the scorer's output with bootstrap intervals, events
for event corpora, trainable parameters, training time, peak memory and tokens/s.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd
import torch

from clinprompt.atomic import atomic_directory, atomic_write_text
from clinprompt.cell_score import score_predictions, write_metrics
from clinprompt.corpus import CorpusTables, pooled_institutions, table_documents
from clinprompt.distributed import needs_sharding, process_count, run_in_processes, world
from clinprompt.encoder import encoder_dtype, load_encoder
from clinprompt.errors import ConfigError
from clinprompt.events import ValueVocabulary
from clinprompt.examples import (
    ExampleSettings,
    add_marker_tokens,
    bio_label_names,
    build_examples,
    draw_shots,
    prompt_types,
)
from clinprompt.models import ExtractionModel, ModelSettings, seeded_model
from clinprompt.predict import Predictor, write_predictions
from clinprompt.registry import STRATEGY_BUDGETS, ModelSpec, model_registry, resolve_model_path
from clinprompt.schema import DatasetSchema, load_schema
from clinprompt.thresholds import calibrate, none_bias, span_thresholds
from clinprompt.train import CHECKPOINT, Trainer, TrainSettings, atomic_save

log = logging.getLogger(__name__)

BEST = "best.pt"


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

    def folder(self, root: str | Path = "results") -> Path:
        """The cell's readable output folder."""
        return Path(root, self.dataset, self.model, self.strategy, f"p{self.prompt_length}",
                    f"k{self.shots}", self.train_institution, f"seed{self.seed}")  # fmt: skip


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


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def example_settings(cell: Cell, settings: CellSettings, training: bool) -> ExampleSettings:
    input_prompt = settings.prompt_mode == "input" and cell.strategy.startswith("soft")
    return ExampleSettings(
        cell.strategy,
        max_length=settings.max_length,
        context_length=settings.context_length,
        trigger_markers=settings.trigger_markers,
        stride=settings.stride,
        prompt_tokens=cell.prompt_length if input_prompt else 0,
        negative_ratio=settings.negative_ratio if training else None,
        seed=cell.seed,
        max_span_width=settings.max_span_width,
    )


def build_model(
    cell: Cell, spec: ModelSpec, schema: DatasetSchema, settings: CellSettings
) -> tuple[ExtractionModel, object]:
    """The cell's model and tokenizer, initialised from the checkpoint and the seed.

    A frozen encoder's pretrained weights load in bf16 on GPU (`encoder_dtype`); prompts,
    heads and marker embeddings, which train, are fp32 always.
    """
    device, frozen = _device(settings.device), cell.strategy == "soft-frozen"
    # Recomputing layers in backward trades time for the activation memory of a trained encoder.
    checkpointing = spec.gradient_checkpointing and not frozen
    encoder, tokenizer = load_encoder(
        resolve_model_path(spec),
        dtype=encoder_dtype(device, frozen),
        gradient_checkpointing=checkpointing,
    )
    if settings.max_length > encoder.config.max_tokens:
        raise ConfigError(
            f"max_length {settings.max_length} exceeds the {encoder.config.max_tokens} "
            f"positions of model '{cell.model}'"
        )
    first_added = len(tokenizer)
    added = add_marker_tokens(tokenizer, example_settings(cell, settings, False))
    model_settings = ModelSettings(
        cell.strategy, cell.prompt_length, settings.prompt_mode, settings.reparameterize,
        settings.max_span_width, settings.match_hidden, settings.positive_weight,
    )  # fmt: skip
    torch.manual_seed(cell.seed)
    if added:
        encoder.embeddings.add_tokens(first_added, len(added))
    model = seeded_model(
        encoder, model_settings, cell.seed,
        n_prompt_types=len(prompt_types(schema)),
        n_bio_labels=len(bio_label_names(schema)),
        n_relation_types=len(schema.relation_types),
        n_values=len(ValueVocabulary.of(schema).names),
    )  # fmt: skip
    return model.to(device), tokenizer


def dev_documents(documents: pd.DataFrame, institution: str) -> pd.DataFrame:
    """The dev documents of the training institution (every institution of a pool), on which a
    cell selects and calibrates."""
    dev = documents[
        (documents["split"] == "dev")
        & documents["institution"].isin(pooled_institutions(institution))
    ]
    if dev.empty:
        raise ConfigError(f"no dev documents from {institution} to select the model on")
    return dev


def trained_predictor(
    cell: Cell, spec: ModelSpec, schema: DatasetSchema, settings: CellSettings, folder: Path
) -> Predictor:
    """The cell's trained model as a `Predictor`, with the thresholds chosen on dev."""
    model, tokenizer = build_model(cell, spec, schema, settings)
    load_trained(model, folder / BEST)
    summary = folder / "train.json"
    chosen = json.loads(summary.read_text(encoding="utf-8")) if summary.is_file() else {}
    return Predictor(
        model, tokenizer, schema, example_settings(cell, settings, False),
        settings.eval_batch_size, span_thresholds(chosen.get("thresholds")),
        none_bias(chosen.get("thresholds")),
    )  # fmt: skip


def load_trained(model: ExtractionModel, path: Path) -> None:
    """Load the trained weights `path` (`best.pt`) into a freshly built model.

    The file holds the trainable tensors only, so the frozen encoder's (those that need no
    gradient) may be missing; any other missing key, an unexpected key or another shape means
    the weights come from another strategy, model or settings: an error naming key and file.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: trained weights not found (run training first)")
    state = torch.load(path, weights_only=True)
    expected = model.state_dict()
    for key, tensor in state.items():
        if key not in expected:
            raise ConfigError(f"{path}: unexpected weight '{key}' for this cell's model")
        if tensor.shape != expected[key].shape:
            raise ConfigError(
                f"{path}: weight '{key}' has shape {tuple(tensor.shape)}, this cell's model "
                f"{tuple(expected[key].shape)}"
            )
    frozen = {name for name, parameter in model.named_parameters() if not parameter.requires_grad}
    missing = [key for key in expected if key not in state and key not in frozen]
    if missing:
        raise ConfigError(f"{path}: weight '{missing[0]}' is missing")
    model.load_state_dict(state, strict=False)


def select_documents(tables: CorpusTables, keys: list[str]) -> CorpusTables:
    """The tables restricted to the documents `keys`."""
    return CorpusTables(
        **{kind: frame[frame["document"].isin(keys)].reset_index(drop=True)
           for kind, frame in vars(tables).items()}
    )  # fmt: skip


class DevScorer:
    """Scores a model on the dev documents, end to end, at decision thresholds chosen on those
    documents for it (`calibrate`): an MRC model whose boundary logits are still below 0 after
    an epoch is judged by what it finds at its own thresholds, not by an empty answer at 0, so
    model selection and early stopping compare epochs as prediction will use them. Without
    `calibrated` (sharded training, where the thresholds come from `best.pt` afterwards) it
    scores at the thresholds the predictor holds."""

    def __init__(
        self, predictor: Predictor, tables: CorpusTables, frame: pd.DataFrame,
        calibrated: bool = True,
    ) -> None:  # fmt: skip
        self.predictor, self.tables, self.frame = predictor, tables, frame
        self.calibrated = calibrated
        self.gold = table_documents(tables)

    def thresholds(self, model: ExtractionModel) -> dict[str, dict]:
        """The model's decision thresholds chosen on the dev rows."""
        batch_size, pad_id = self.predictor.batch_size, self.predictor.pad_id
        return calibrate(model, self.frame, self.tables, batch_size, pad_id)

    def __call__(self, model: ExtractionModel) -> dict:
        if self.calibrated:
            chosen = self.thresholds(model)
            self.predictor.thresholds = span_thresholds(chosen)
            self.predictor.none_bias = none_bias(chosen)
        predicted = self.predictor.predict(self.tables.documents)
        report = score_predictions(self.gold, predicted, self.predictor.schema)
        concepts = report["entities"]["strict"]["micro"]["f1"]
        relations = report["relations"]["strict"]["micro"]["f1"]
        return {"score": (concepts + relations) / 2, "concepts_f1": concepts,
                "relations_f1": relations}  # fmt: skip


def dev_scorer(
    cell: Cell, settings: CellSettings, schema: DatasetSchema, model: ExtractionModel, tokenizer,
    dev: CorpusTables, calibrated: bool = True,
) -> DevScorer:  # fmt: skip
    """The cell's `DevScorer` on the dev documents `dev`."""
    example = example_settings(cell, settings, False)
    predictor = Predictor(model, tokenizer, schema, example, settings.eval_batch_size)
    frame = build_examples(dev, schema, tokenizer, example).frame
    return DevScorer(predictor, dev, frame, calibrated)


def train_cell(
    cell: Cell, tables_dir: Path, schema_name: str, spec: ModelSpec,
    settings: CellSettings, folder: Path,
) -> dict:  # fmt: skip
    """Train the cell; write `best.pt` and `train.json` into `folder`; return the summary.

    Trains in several processes (torchrun, see `distributed`) when the model asks for several
    GPUs and the allocation has them, or when `training.processes` says so.
    """
    folder = Path(folder)
    device = _device(settings.device)
    processes = process_count(spec, settings.train.processes, device)
    if processes > 1 and not world().distributed:
        # Find or build the checkpoint once, here: ranks building tiny models would race.
        resolve_model_path(spec)
        arguments = (cell, tables_dir, schema_name, spec, settings, folder)
        run_in_processes(train_cell, arguments, processes, device.type)
        # Sharded ranks end with their last weights: thresholds come from best.pt, here.
        return calibrated_summary(cell, tables_dir, schema_name, spec, settings, folder)
    tables = CorpusTables.read(tables_dir)
    schema = load_schema(schema_name)
    documents = tables.documents
    known = set(documents["institution"])
    for institution in pooled_institutions(cell.train_institution):
        if institution not in known:
            raise ConfigError(
                f"training institution '{institution}' not in dataset {cell.dataset} "
                f"(has {', '.join(sorted(known))})"
            )
    train_keys = draw_shots(documents, cell.shots, cell.seed, cell.train_institution)
    dev = dev_documents(documents, cell.train_institution)
    model, tokenizer = build_model(cell, spec, schema, settings)
    train_tables = select_documents(tables, train_keys)
    train_set = build_examples(
        train_tables, schema, tokenizer, example_settings(cell, settings, True)
    )
    dev_tables = select_documents(tables, list(dev["document"]))
    sharded = needs_sharding(spec, model.settings.frozen)
    score_dev = dev_scorer(cell, settings, schema, model, tokenizer, dev_tables, not sharded)
    trainer = Trainer(
        model, train_set.frame, score_dev, settings.train, folder, tokenizer.pad_token_id, sharded
    )
    started = time.perf_counter()
    result = trainer.run()
    thresholds = {} if sharded else score_dev.thresholds(model)
    summary = {
        "cell": asdict(cell),
        "train_documents": len(train_keys),
        "dev_documents": len(dev),
        "examples": train_set.counts,
        "parameters": model.trainable(),
        "best_epoch": result.best_epoch,
        "best_dev_score": result.best_score,
        "epochs_run": result.epochs_run,
        "train_seconds": result.train_seconds,
        "wall_seconds": time.perf_counter() - started,
        "tokens_per_second": result.tokens_per_second,
        "padding_waste": result.padding_waste,
        "peak_memory_mb": result.peak_memory_mb,
        "history": result.history,
        "thresholds": thresholds,
    }
    if world().is_main:
        atomic_save(trainer.best_state, folder / BEST)
        atomic_write_text(folder / "train.json", json.dumps(summary, indent=1) + "\n")
    return summary


def calibrated_summary(
    cell: Cell, tables_dir: Path, schema_name: str, spec: ModelSpec, settings: CellSettings,
    folder: Path,
) -> dict:  # fmt: skip
    """`train.json` with the thresholds chosen on dev from `best.pt` when training (sharded
    over several processes) could not choose them; rewritten atomically."""
    path = Path(folder) / "train.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    if summary.get("thresholds"):
        return summary
    tables, schema = CorpusTables.read(tables_dir), load_schema(schema_name)
    model, tokenizer = build_model(cell, spec, schema, settings)
    load_trained(model, Path(folder) / BEST)
    dev = dev_documents(tables.documents, cell.train_institution)
    dev_tables = select_documents(tables, list(dev["document"]))
    scorer = dev_scorer(cell, settings, schema, model, tokenizer, dev_tables)
    summary["thresholds"] = scorer.thresholds(model)
    atomic_write_text(path, json.dumps(summary, indent=1) + "\n")
    return summary


def predict_cell(
    cell: Cell, tables_dir: Path, schema_name: str, spec: ModelSpec, settings: CellSettings,
    folder: Path, test_institution: str, predictions_dir: Path, metrics_path: Path,
) -> dict:  # fmt: skip
    """Predict and score the test documents of one institution; return the metrics."""
    folder = Path(folder)
    tables = CorpusTables.read(tables_dir)
    schema = load_schema(schema_name)
    docs = tables.documents
    test = docs[(docs["split"] == "test") & (docs["institution"] == test_institution)]
    if test.empty:
        raise ConfigError(f"no test documents from institution '{test_institution}'")
    predictor = trained_predictor(cell, spec, schema, settings, folder)
    started = time.perf_counter()
    predicted = predictor.predict(test.reset_index(drop=True))
    predict_seconds = time.perf_counter() - started
    with atomic_directory(predictions_dir) as tmp:
        write_predictions(predicted, tmp)
    gold = table_documents(select_documents(tables, list(test["document"])))
    report = score_predictions(gold, predicted, schema, settings.bootstrap, cell.seed)
    report["diagnostics"] = {"decoding": dict(sorted(predictor.counts.items()))}
    training = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    return write_metrics(report, training, test_institution, predict_seconds, metrics_path)


TRAIN_KEYS = {f.name for f in fields(TrainSettings)}
CELL_KEYS = {f.name for f in fields(CellSettings)} - {"train"}
SPEC_DEFAULTS = ("batch_size", "lr_encoder", "lr_prompt", "lr_head")


def strategy_training(training: dict, spec: ModelSpec, strategy: str) -> dict:
    """The optimisation keys of one strategy: the model's size defaults, the `training`
    block, the strategy's budget (`STRATEGY_BUDGETS`) and `training.strategies.<strategy>`."""
    values = {key: getattr(spec, key) for key in SPEC_DEFAULTS}
    values |= {k: v for k, v in training.items() if k in TRAIN_KEYS}
    budget = STRATEGY_BUDGETS[strategy]
    epochs = values.get("epochs", TrainSettings.epochs)
    values["epochs"] = max(1, round(epochs * budget.epochs_factor))
    values["lr_prompt"] *= budget.lr_prompt_factor
    values["lr_head"] *= budget.lr_head_factor
    values.setdefault("patience", budget.patience)
    own = (training.get("strategies") or {}).get(strategy) or {}
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
    train = strategy_training(training, spec, cell.strategy) | {"seed": cell.seed}
    own = training["strategies"].get(cell.strategy) or {}
    example = {k: v for k, v in (training | own).items() if k in CELL_KEYS}
    return CellSettings(train=TrainSettings(**train), **example)


def cell_setup(config: dict, cell: Cell) -> tuple[ModelSpec, CellSettings]:
    """The registry entry of the cell's model and the cell's settings under `config`."""
    registry = model_registry(config.get("models"))
    if cell.model not in registry:
        raise ConfigError(f"model '{cell.model}' not in the registry ({', '.join(registry)})")
    spec = registry[cell.model]
    return spec, cell_settings(config, spec, cell)


def predict_institutions(
    cell: Cell, tables_dir: Path, schema_name: str, spec: ModelSpec, settings: CellSettings,
    folder: Path, test_institutions: list[str], predictions_dir: Path,
) -> dict[str, float]:  # fmt: skip
    """Predict the test documents of every institution into `predictions_dir/{institution}/`.

    Writes the whole folder atomically, with `seconds.json` (prediction time per institution)
    and `diagnostics.json` (decoding counts per institution); returns the seconds.
    """
    tables = CorpusTables.read(tables_dir)
    schema = load_schema(schema_name)
    predictor = trained_predictor(cell, spec, schema, settings, Path(folder))
    docs = tables.documents
    seconds, diagnostics = {}, {}
    with atomic_directory(predictions_dir) as tmp:
        for institution in test_institutions:
            test = docs[(docs["split"] == "test") & (docs["institution"] == institution)]
            if test.empty:
                raise ConfigError(f"no test documents from institution '{institution}'")
            started = time.perf_counter()
            predicted = predictor.predict(test.reset_index(drop=True))
            seconds[institution] = time.perf_counter() - started
            diagnostics[institution] = dict(sorted(predictor.counts.items()))
            write_predictions(predicted, tmp / institution)
        atomic_write_text(tmp / "seconds.json", json.dumps(seconds, indent=1) + "\n")
        atomic_write_text(tmp / "diagnostics.json", json.dumps(diagnostics, indent=1) + "\n")
    return seconds


def train_and_predict(
    cell: Cell, tables_dir: Path, schema_name: str, spec: ModelSpec, settings: CellSettings,
    folder: Path, test_institutions: list[str], keep_weights: bool = True,
) -> dict:  # fmt: skip
    """The workflow's cell job: train, predict every test institution, prune the weights.

    Training resumes from the folder's checkpoint, so a job killed while predicting reruns
    cheaply; the weights go only once the predictions are complete (unless kept).
    """
    folder = Path(folder)
    summary = train_cell(cell, tables_dir, schema_name, spec, settings, folder)
    predict_institutions(cell, tables_dir, schema_name, spec, settings, folder,
                         test_institutions, folder / "predictions")  # fmt: skip
    if not keep_weights:
        for name in (BEST, CHECKPOINT):
            (folder / name).unlink(missing_ok=True)
    return summary
