"""The training loop of one cell: examples in, the best model on dev out.

In: an `ExtractionModel`, the training example table and a dev scorer (a function from the model
to dev metrics). Out: the model holding its best-on-dev weights, a `TrainResult`, a JSON-lines
log (one line per epoch) and checkpoints. The loop is plain: AdamW with one learning rate per
parameter group (encoder, prompts, heads) and weight decay on the encoder's and heads' weight
matrices only (`ExtractionModel.parameter_groups`), linear warm-up then linear decay, gradient
clipping and accumulation, bf16 autocast on GPU (fp32 on CPU), length-bucketed batches whose
order depends on the seed and epoch only. A checkpoint is written after every epoch and when
SIGTERM arrives (SLURM preemption) — the run then stops with `Preempted` — and a restarted run
resumes from it, mid-epoch included, to the same final weights (the CPU and CUDA random states
travel with it, so dropout draws on as it would have).

Under torchrun (see `distributed`) every rank computes the same batch list and trains on its
shard of each batch, so N processes take the optimiser steps of one (batch_size is the global
batch); the model is wrapped in DDP, or FSDP when `sharded`. Only rank 0 scores dev (every rank
under FSDP, which needs all of them in each forward pass), logs and writes checkpoints, which
hold the full trainable state in one format whatever the number of processes. Optional:
`compile` (torch.compile of each encoder layer). Inside a step nothing waits for the device:
losses add up on it and are read once per epoch.
"""

from __future__ import annotations

import json
import logging
import math
import resource
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from clinprompt.atomic import atomic_file
from clinprompt.errors import ClinpromptError
from clinprompt.model.extraction import ExtractionModel, autocast
from clinprompt.settings import TrainSettings
from clinprompt.train.batching import bucketed_batches, collate, padding_waste, to_device
from clinprompt.train.distributed import (
    any_rank,
    from_main,
    gather_full,
    gradient_sync,
    load_trainable_state,
    loss_units,
    shard,
    shard_optimizer_state,
    sum_over_ranks,
    training_loss,
    world,
    wrap_for_training,
)

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


class Preempted(ClinpromptError):
    """SIGTERM arrived: a checkpoint was written and the run stopped; rerun to resume."""


@dataclass
class TrainResult:
    """What training achieved and what it cost."""

    best_epoch: int = 0
    best_score: float = -1.0
    epochs_run: int = 0
    train_seconds: float = 0.0
    tokens: int = 0
    padding_waste: float = 0.0
    peak_memory_mb: float = 0.0
    history: list[dict] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        """Real (unpadded) training tokens per second of training time."""
        return self.tokens / self.train_seconds if self.train_seconds else 0.0


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def trainable_state(model: ExtractionModel, keep: bool = True) -> dict[str, torch.Tensor]:
    """The parameters that training changes, full and on the CPU (frozen encoder weights come
    from the checkpoint). Collective under FSDP; with `keep` false it returns nothing."""
    state = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            full = gather_full(parameter.detach(), keep)
            if keep:
                state[name] = full.cpu().clone()
    return state


def compile_layers(model: ExtractionModel) -> None:
    """torch.compile each encoder layer in place: one graph serves every layer, parameter names
    stay, and FSDP's per-layer hooks and gradient checkpointing stay outside compiled code."""
    for layer in model.encoder.encoder.layer:
        layer.compile()


def atomic_save(obj: object, path: Path) -> None:
    """`torch.save` that never leaves a half-written file behind."""
    with atomic_file(path) as tmp:
        torch.save(obj, tmp)


class _Sigterm:
    """Turns SIGTERM into a flag the loop checks between optimiser steps."""

    def __init__(self) -> None:
        self.received = False

    def __enter__(self) -> _Sigterm:
        self.previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.received = True

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self.previous)


def adamw(
    model: ExtractionModel, settings: TrainSettings, device: torch.device
) -> torch.optim.AdamW:
    """AdamW over the model's parameter groups (encoder, prompts, heads; decay on weight
    matrices only), fused on CUDA."""
    groups = model.parameter_groups(
        settings.lr_encoder, settings.lr_prompt, settings.lr_head, settings.weight_decay
    )
    return torch.optim.AdamW(groups, fused=device.type == "cuda")


def warmup_then_linear_decay(
    optimizer: torch.optim.Optimizer, total: int, warmup_share: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over `warmup_share` of the `total` steps, then linear decay to 0."""
    warmup = int(warmup_share * total)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(
            (step + 1) / max(1, warmup), max(0.0, (total - step) / max(1, total - warmup))
        ),
    )


class Trainer:
    """Trains one model; `run` returns when training ends, raises `Preempted` on SIGTERM.

    `sharded` (FSDP) applies only among several processes; the model then ends with its last
    weights, the best ones being on rank 0 only (`best_state`).
    """

    def __init__(
        self,
        model: ExtractionModel,
        examples: pd.DataFrame,
        score_dev: Callable[[ExtractionModel], dict],
        settings: TrainSettings,
        folder: Path,
        pad_id: int,
        sharded: bool = False,
    ) -> None:
        self.model, self.examples, self.score_dev = model, examples, score_dev
        self.settings, self.folder, self.pad_id = settings, Path(folder), pad_id
        self.world = world()
        self.sharded = sharded and self.world.distributed
        self.units = loss_units(examples)
        self.result = TrainResult()
        self.best_state: dict[str, torch.Tensor] | None = None
        # Setup, in the order it must happen (the model arrives frozen where its strategy says):
        # compile layers before wrapping, so FSDP's hooks stay outside compiled code; wrap for
        # DDP/FSDP (as is in one process); AdamW over the model's parameter groups; the schedule.
        if settings.compile:
            compile_layers(model)
        self.wrapped = wrap_for_training(model, self.world, self.sharded)
        self.device = next(model.parameters()).device
        self.optimizer = adamw(model, settings, self.device)
        steps_per_epoch = math.ceil(len(self._batches(0)) / max(1, settings.grad_accumulation))
        self.scheduler = warmup_then_linear_decay(
            self.optimizer, max(1, steps_per_epoch * settings.epochs), settings.warmup
        )

    def _batches(self, epoch: int) -> list[tuple[str, list[int]]]:
        return bucketed_batches(self.examples, self.settings.batch_size, self.settings.seed + epoch)

    # ------------------------------------------------------------------ checkpoints

    def _save(self, epoch: int, step: int) -> None:
        """Every rank calls it (FSDP gathers shards); rank 0 writes."""
        keep = self.world.is_main
        state = {
            "epoch": epoch,
            "step": step,
            "model": trainable_state(self.model, keep),
            "optimizer": gather_full(self.optimizer.state_dict(), keep),
            "scheduler": self.scheduler.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "result": asdict(self.result),
            "best_state": self.best_state,
        }
        if keep:
            atomic_save(state, self.folder / CHECKPOINT)

    def _resume(self) -> tuple[int, int]:
        path = self.folder / CHECKPOINT
        if not path.is_file():
            return 0, 0
        state = torch.load(path, map_location="cpu", weights_only=False)
        load_trainable_state(self.model, state["model"])
        self.optimizer.load_state_dict(shard_optimizer_state(state["optimizer"], self.optimizer))
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        # Checkpoints written before CUDA states were kept, or on a CPU, have none.
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"][: torch.cuda.device_count()])
        self.result = TrainResult(**state["result"])
        if self.world.is_main or not self.sharded:
            self.best_state = state["best_state"]
        log.info("resumed from %s at epoch %d, batch %d", path, state["epoch"] + 1, state["step"])
        return state["epoch"], state["step"]

    # ------------------------------------------------------------------ loop

    def run(self) -> TrainResult:
        """Train to the end (or to early stopping) and load the best weights: resume from the
        checkpoint if there is one, then one `_epoch` after another, each ending in a dev score
        (`_end_epoch`) and a checkpoint."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.device.type == "cpu":
            # Some CPU backward kernels accumulate in an order that depends on thread timing
            # (seen on a loaded machine); the deterministic ones make a cell bit-reproducible.
            torch.use_deterministic_algorithms(True, warn_only=True)
        epoch, skip = self._resume()
        with _Sigterm() as sigterm:
            while epoch < self.settings.epochs and not self._stopped_early():
                self._epoch(epoch, skip, sigterm)
                skip = 0
                epoch += 1
                self._save(epoch, 0)
        if self.best_state is not None and not self.sharded:
            load_trainable_state(self.model, self.best_state)
        self.result.peak_memory_mb = max(self.result.peak_memory_mb, _peak_memory_mb(self.device))
        return self.result

    def _stopped_early(self) -> bool:
        patience = self.settings.patience
        return patience is not None and self.result.epochs_run - self.result.best_epoch >= patience

    def _epoch(self, epoch: int, skip: int, sigterm: _Sigterm) -> None:
        settings = self.settings
        batches = self._batches(epoch)
        self.model.train()
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        tokens = 0
        # The stderr of the moment: a workflow job's is its log file (`scripting.logging_to`).
        bar = tqdm(
            total=len(batches),
            initial=skip,
            desc=f"epoch {epoch + 1}/{settings.epochs}",
            file=sys.stderr,
            mininterval=10,
            leave=False,
            disable=not self.world.is_main,
        )
        for index in range(skip, len(batches)):
            kind, rows = batches[index]
            rows, weight = shard(rows, self.units, self.world)
            batch = to_device(collate(self.examples, kind, rows, self.pad_id), self.device)
            if weight:
                tokens += sum(len(ids) for ids in self.examples["input_ids"].iloc[rows])
            last = (index + 1) % settings.grad_accumulation == 0 or index + 1 == len(batches)
            with gradient_sync(self.wrapped, last):
                with autocast(self.device):
                    loss = training_loss(self.model, self.wrapped, batch)
                    loss = loss * weight / settings.grad_accumulation
                loss.backward()
            loss_sum += loss.detach()
            if last:
                self._step()
                if any_rank(sigterm.received, self.world):
                    self._save(epoch, index + 1)
                    bar.close()
                    raise Preempted(
                        f"SIGTERM at epoch {epoch + 1}, batch {index + 1}: checkpoint written to "
                        f"{self.folder / CHECKPOINT}; run again to resume"
                    )
            bar.update()
        bar.close()
        seconds = time.perf_counter() - started
        self._end_epoch(epoch, loss_sum, len(batches) - skip, tokens, seconds, batches)

    def _step(self) -> None:
        trainable = [p for g in self.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(trainable, self.settings.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _end_epoch(
        self,
        epoch: int,
        loss_sum: torch.Tensor,
        n_batches: int,
        tokens: int,
        seconds: float,
        batches: list[tuple[str, list[int]]],
    ) -> None:
        # FSDP needs every rank in each forward pass; with DDP rank 0 scores alone.
        scores_here = self.world.is_main or self.sharded
        dev = from_main(self.score_dev(self.model) if scores_here else None, self.world)
        self.model.train()
        # Each rank's loss carries its share of the batch times the world size.
        loss_total, tokens = sum_over_ranks([float(loss_sum), tokens], self.world)
        tokens = int(tokens)
        result = self.result
        result.epochs_run = epoch + 1
        result.train_seconds += seconds
        result.tokens += tokens
        result.padding_waste = padding_waste(self.examples, batches)
        if dev["score"] > result.best_score:
            result.best_score, result.best_epoch = dev["score"], epoch + 1
            self.best_state = trainable_state(self.model, self.world.is_main or not self.sharded)
        loss = loss_total / self.world.size / max(1, n_batches) * self.settings.grad_accumulation
        line = {
            "epoch": epoch + 1,
            "steps": self.scheduler.last_epoch,
            "loss": loss,
            **{f"dev_{k}": v for k, v in dev.items()},
            "tokens_per_second": tokens / seconds if seconds else 0.0,
            "seconds": seconds,
        }
        result.history.append(line)
        if not self.world.is_main:
            return
        with open(self.folder / "train_log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        log.info(
            "epoch %d/%d loss %.4f dev strict F1 concepts %.4f relations %.4f tokens/s %.0f",
            epoch + 1,
            self.settings.epochs,
            line["loss"],
            dev.get("concepts_f1", 0.0),
            dev.get("relations_f1", 0.0),
            line["tokens_per_second"],
        )
