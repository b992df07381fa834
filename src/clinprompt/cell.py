"""One grid cell end to end: corpus tables in, a trained model, BRAT predictions and metrics out.

A cell is (dataset, model, strategy, prompt length, shots, training institution, seed); the
training institution may pool several (`MIMIC+UW`: the union of their training and dev notes).
`train_cell` draws the few-shot training documents (k from each pooled institution), builds the
strategy's examples, trains with model selection on the dev documents of the training
institution(s) (scored end to end, as test will be), and saves the best trainable weights with
a summary. `predict_institutions` loads them (`load_trained`: only the frozen encoder's
tensors may be absent; any other mismatch is an error naming the key and file) and predicts
every test document of each test institution from its text alone, one `.ann` per document
(empty when nothing is found); `cell_score` turns each institution's predictions into the
metrics JSON. The workflow runs the two in separate jobs, the CLI and benchmarks in one call
(`predict_and_score`); the dataset (`Dataset`: tables and schema) is read once per job.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from clinprompt.atomic import atomic_directory, atomic_write_text
from clinprompt.corpus.events import ValueVocabulary
from clinprompt.corpus.schema import DatasetSchema
from clinprompt.corpus.tables import CorpusTables, Dataset, pooled_institutions, table_documents
from clinprompt.errors import ConfigError
from clinprompt.examples.settings import (
    ExampleSettings,
    add_marker_tokens,
    bio_label_names,
    prompt_types,
)
from clinprompt.examples.shots import draw_shots
from clinprompt.examples.tables import build_examples
from clinprompt.model.checkpoint import encoder_dtype, load_encoder
from clinprompt.model.extraction import ExtractionModel, ModelSettings, seeded_model
from clinprompt.predict.predictor import Predictor, write_predictions
from clinprompt.predict.thresholds import calibrate, none_bias, span_thresholds
from clinprompt.registry import ModelSpec, resolve_model_path
from clinprompt.score.cell import documents_tested_at, score_institution, score_predictions
from clinprompt.score.n2c2 import MicroScore
from clinprompt.settings import CellSettings
from clinprompt.study import Cell
from clinprompt.train.distributed import needs_sharding, process_count, run_in_processes, world
from clinprompt.train.loop import CHECKPOINT, Trainer, atomic_save

log = logging.getLogger(__name__)

BEST = "best.pt"
PREDICTIONS = "predictions"


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def example_settings(cell: Cell, settings: CellSettings, training: bool) -> ExampleSettings:
    input_prompt = settings.prompt_mode == "input" and cell.kind.soft
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
    device, frozen = _device(settings.device), cell.kind.frozen
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
        cell.strategy,
        cell.prompt_length,
        settings.prompt_mode,
        settings.reparameterize,
        settings.max_span_width,
        settings.match_hidden,
        settings.positive_weight,
    )
    torch.manual_seed(cell.seed)
    if added:
        encoder.embeddings.add_tokens(first_added, len(added))
    model = seeded_model(
        encoder,
        model_settings,
        cell.seed,
        n_prompt_types=len(prompt_types(schema)),
        n_bio_labels=len(bio_label_names(schema)),
        n_relation_types=len(schema.relation_types),
        n_values=len(ValueVocabulary.of(schema).names),
    )
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
        model,
        tokenizer,
        schema,
        example_settings(cell, settings, False),
        settings.eval_batch_size,
        span_thresholds(chosen.get("thresholds")),
        none_bias(chosen.get("thresholds")),
    )


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
        **{
            kind: frame[frame["document"].isin(keys)].reset_index(drop=True)
            for kind, frame in vars(tables).items()
        }
    )


class DevScorer:
    """Scores a model on the dev documents, end to end, at decision thresholds chosen on those
    documents for it (`calibrate`): an MRC model whose boundary logits are still below 0 after
    an epoch is judged by what it finds at its own thresholds, not by an empty answer at 0, so
    model selection and early stopping compare epochs as prediction will use them. Without
    `calibrated` (sharded training, where the thresholds come from `best.pt` afterwards) it
    scores at the thresholds the predictor holds."""

    def __init__(
        self,
        predictor: Predictor,
        tables: CorpusTables,
        frame: pd.DataFrame,
        calibrated: bool = True,
    ) -> None:
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
        concepts = MicroScore.read(report, "entities").f1
        relations = MicroScore.read(report, "relations").f1
        return {
            "score": (concepts + relations) / 2,
            "concepts_f1": concepts,
            "relations_f1": relations,
        }


def dev_scorer(
    cell: Cell,
    settings: CellSettings,
    schema: DatasetSchema,
    model: ExtractionModel,
    tokenizer,
    dev: CorpusTables,
    calibrated: bool = True,
) -> DevScorer:
    """The cell's `DevScorer` on the dev documents `dev`."""
    example = example_settings(cell, settings, False)
    predictor = Predictor(model, tokenizer, schema, example, settings.eval_batch_size)
    frame = build_examples(dev, schema, tokenizer, example).frame
    return DevScorer(predictor, dev, frame, calibrated)


def train_cell(
    cell: Cell, data: Dataset, spec: ModelSpec, settings: CellSettings, folder: Path
) -> dict:
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
        arguments = (cell, data, spec, settings, folder)
        run_in_processes(train_cell, arguments, processes, device.type)
        # Sharded ranks end with their last weights: thresholds come from best.pt, here.
        return calibrated_summary(cell, data, spec, settings, folder)
    tables, schema = data.tables, data.schema
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
    sharded = needs_sharding(spec, model.settings.kind.frozen)
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
    cell: Cell, data: Dataset, spec: ModelSpec, settings: CellSettings, folder: Path
) -> dict:
    """`train.json` with the thresholds chosen on dev from `best.pt` when training (sharded
    over several processes) could not choose them; rewritten atomically."""
    path = Path(folder) / "train.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    if summary.get("thresholds"):
        return summary
    tables, schema = data.tables, data.schema
    model, tokenizer = build_model(cell, spec, schema, settings)
    load_trained(model, Path(folder) / BEST)
    dev = dev_documents(tables.documents, cell.train_institution)
    dev_tables = select_documents(tables, list(dev["document"]))
    scorer = dev_scorer(cell, settings, schema, model, tokenizer, dev_tables)
    summary["thresholds"] = scorer.thresholds(model)
    atomic_write_text(path, json.dumps(summary, indent=1) + "\n")
    return summary


def predict_institutions(
    cell: Cell,
    data: Dataset,
    spec: ModelSpec,
    settings: CellSettings,
    folder: Path,
    test_institutions: list[str],
) -> dict[str, float]:
    """Predict the test documents of every institution into `folder/predictions/{institution}/`.

    Writes the whole folder atomically, with `seconds.json` (prediction time per institution)
    and `diagnostics.json` (decoding counts per institution); returns the seconds.
    """
    predictor = trained_predictor(cell, spec, data.schema, settings, Path(folder))
    seconds, diagnostics = {}, {}
    with atomic_directory(Path(folder) / PREDICTIONS) as tmp:
        for institution in test_institutions:
            test = documents_tested_at(data.tables, institution)
            started = time.perf_counter()
            predicted = predictor.predict(test)
            seconds[institution] = time.perf_counter() - started
            diagnostics[institution] = dict(sorted(predictor.counts.items()))
            write_predictions(predicted, tmp / institution)
        atomic_write_text(tmp / "seconds.json", json.dumps(seconds, indent=1) + "\n")
        atomic_write_text(tmp / "diagnostics.json", json.dumps(diagnostics, indent=1) + "\n")
    return seconds


def predict_and_score(
    cell: Cell,
    data: Dataset,
    spec: ModelSpec,
    settings: CellSettings,
    folder: Path,
    test_institutions: list[str],
) -> dict[str, dict]:
    """The workflow's predict and score steps in one call (the CLI's and the benchmarks'):
    `predictions/` and `metrics/{institution}.json` in the cell's folder; the metrics by
    institution."""
    folder = Path(folder)
    predict_institutions(cell, data, spec, settings, folder, test_institutions)
    summary = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    return {
        institution: score_institution(
            data,
            folder / PREDICTIONS,
            summary,
            institution,
            folder / "metrics" / f"{institution}.json",
            settings.bootstrap,
        )
        for institution in test_institutions
    }


def train_and_predict(
    cell: Cell,
    data: Dataset,
    spec: ModelSpec,
    settings: CellSettings,
    folder: Path,
    test_institutions: list[str],
    keep_weights: bool = True,
) -> dict:
    """The workflow's cell job: train, predict every test institution, prune the weights.

    Training resumes from the folder's checkpoint, so a job killed while predicting reruns
    cheaply; the weights go only once the predictions are complete (unless kept).
    """
    folder = Path(folder)
    summary = train_cell(cell, data, spec, settings, folder)
    predict_institutions(cell, data, spec, settings, folder, test_institutions)
    if not keep_weights:
        for name in (BEST, CHECKPOINT):
            (folder / name).unlink(missing_ok=True)
    return summary
