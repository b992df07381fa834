"""One cell's MRC training step: the study-style baseline and the project's path side by side.

Per case it reports real (unpadded) tokens/s, useful TFLOP/s, the median step time, peak
memory, the span-match head's share of the step and, on the realistic length mix, padding.
- Baseline, the study's code style: transformers' `MegatronBertModel` (eager attention),
  fp32, every row padded to L, BERT-MRC heads whose span-match MLP (2H -> hidden -> 1) runs
  on all L x L pairs, BCE losses 1/1/0.1, AdamW (torch default, not fused). Its soft prompts
  are input vectors (transformers' MegatronBert takes no per-layer prefix).
- Project: `clinprompt.model.encoder.Encoder` (SDPA attention) in
  `clinprompt.model.extraction.ExtractionModel`
  (deep prompts for `soft`/`soft-frozen`), bf16 autocast on GPU, fused AdamW on CUDA with the
  model's parameter groups, length-bucketed dynamic padding (`clinprompt.train.batching`),
  candidate-only span matching (`SpanHead`), gradient checkpointing where the registry's size
  defaults ask for it (unfrozen), and with `--compile` one more row with each layer compiled.
Both paths take the same rows, clip gradients to 1.0 and count tokens the same way. Shapes are
GatorTron's (random init, nothing downloaded): 345M (24/1024/16/4096) and 3.9B
(48/2560/40/10240), vocab 50,176; `--tiny` runs a 2-layer shape on CPU in seconds. The length
mix comes from `bench_padding` (the synthetic corpora's MRC training rows). On CUDA it also
measures the card's bf16 matmul rate and the largest 3.9B frozen batch that fits 80 GB, and
prints the issue's targets as pass/fail.

    python benchmarks/bench_train.py [--tiny] [--compile] [--out DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from bench_padding import TINY_DOCUMENTS, measure_padding, worst_bucketed_waste
from render_docs import RESULTS, environment, render_result, table, write_result
from torch import Tensor, nn
from transformers import MegatronBertConfig, MegatronBertModel

from clinprompt.corpus.schema import load_schema
from clinprompt.examples.settings import bio_label_names, prompt_types
from clinprompt.model.encoder import Encoder
from clinprompt.model.encoder_config import EncoderConfig
from clinprompt.model.extraction import ExtractionModel, ModelSettings, autocast
from clinprompt.model.heads import SpanHead, masked_bce
from clinprompt.model.prompts import InputPrompt
from clinprompt.registry import BUILTIN_MODELS, ModelSpec, model_spec
from clinprompt.train.batching import POOL_BATCHES, bucketed_batches, collate, to_device

STRATEGIES = ("hard", "soft", "soft-frozen")
STEP_COLUMNS = (
    "shape|rows|strategy|path|batch|tokens/s|TFLOP/s|step ms|peak GiB|span head|padding|vs baseline"
)
PATHS = ("baseline", "project")
PROMPT_LENGTH = 16
QUERY_TOKENS = 16  # a `hard` row's query: [CLS] query [SEP] context [SEP]
PAD_ID = 0
SEED = 1
LR = 2e-5
FIT_LIMIT_GIB = 78.0  # what an 80 GB card leaves to PyTorch after the CUDA context
FIT_BATCHES = (8, 16, 32, 64)
FLOPS_NOTE = (
    "Useful FLOPs per row of L real tokens: layers x (24 L H^2 + 4 L^2 H) forward, x3 when "
    "the encoder trains, x2 when it is frozen; prompts, padding, heads and embeddings are not "
    "counted."
)


@dataclass(frozen=True)
class Shape:
    """An encoder shape (Megatron-BERT, GatorTron's vocabulary) and the batches it runs."""

    name: str
    layers: int
    hidden: int
    heads: int
    intermediate: int
    batch: int  # the project's batch (the registry's size default for GatorTron shapes)
    baseline_batch: int  # the full L x L head needs a small micro-batch
    match_hidden: int = 2048
    vocab: int = 50176
    positions: int = 512
    registry_model: str | None = None

    def config(self) -> dict:
        """The `config.json` mapping of a random Megatron-BERT of this shape."""
        return {
            "model_type": "megatron-bert",
            "vocab_size": self.vocab,
            "hidden_size": self.hidden,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "intermediate_size": self.intermediate,
            "max_position_embeddings": self.positions,
            "type_vocab_size": 2,
            "pad_token_id": PAD_ID,
        }

    def gradient_checkpointing(self, strategy: str) -> bool:
        """The registry's checkpointing default, for cells that train the encoder."""
        if self.registry_model is None or strategy == "soft-frozen":
            return False
        return _spec(self.registry_model).gradient_checkpointing


def _spec(name: str) -> ModelSpec:
    """A built-in registry entry (the others may need checkpoints this machine lacks)."""
    return model_spec(name, BUILTIN_MODELS[name])


SHAPES = {
    "345m": Shape(
        "345m",
        layers=24,
        hidden=1024,
        heads=16,
        intermediate=4096,
        batch=_spec("gatortron-base").batch_size,
        baseline_batch=4,
        registry_model="gatortron-base",
    ),
    "3.9b": Shape(
        "3.9b",
        layers=48,
        hidden=2560,
        heads=40,
        intermediate=10240,
        batch=_spec("gatortron-medium").batch_size,
        baseline_batch=2,
        registry_model="gatortron-medium",
    ),
    "tiny": Shape(
        "tiny",
        layers=2,
        hidden=64,
        heads=4,
        intermediate=256,
        batch=8,
        baseline_batch=4,
        match_hidden=64,
    ),
}


@dataclass(frozen=True)
class Case:
    """One measured training step configuration."""

    shape: Shape
    path: str  # baseline | project
    strategy: str
    length: int  # L: every row's length, or (mix) the baseline's padded length
    mix: bool = False  # rows drawn from the synthetic corpora's length mix
    batch: int = 0  # 0: the shape's batch for the path
    compile: bool = False
    warmup: int = 3
    steps: int = 8

    @property
    def batch_size(self) -> int:
        """The batch given, else the shape's batch for the path."""
        if self.batch:
            return self.batch
        return self.shape.baseline_batch if self.path == "baseline" else self.shape.batch

    @property
    def max_row(self) -> int:
        """Longest row: soft prompts share the positions (prompt + tokens <= L in the study)."""
        return self.length - (PROMPT_LENGTH if self.strategy != "hard" else 0)


# --------------------------------------------------------------------------- rows and batches


def mrc_rows(lengths: Sequence[int], strategy: str, vocab: int, seed: int) -> pd.DataFrame:
    """Example-table rows of the given lengths: random ids, a query segment for `hard`, two
    gold answers of 1-4 tokens in the context, a random prompt type."""
    rng = np.random.default_rng(seed)
    n_types = len(prompt_types(load_schema("n2c2-2018")))
    records = []
    for n in lengths:
        query = min(QUERY_TOKENS, n // 4) if strategy == "hard" else 0
        first = 1 + query + (1 if query else 0)
        context = n - 1 - first
        offsets = [-1] * first + [5 * k for k in range(context)] + [-1]
        starts = np.sort(rng.integers(first, first + context, 2))
        ends = np.minimum(starts + rng.integers(0, 4, 2), first + context - 1)
        records.append(
            {
                "input_ids": rng.integers(1000, vocab, n).tolist(),
                "token_type_ids": [0] * first + [1] * (n - first),
                "token_starts": offsets,
                "token_ends": [o + 4 if o >= 0 else -1 for o in offsets],
                "answer_starts": starts.tolist(),
                "answer_ends": ends.tolist(),
                "prompt_index": int(rng.integers(0, n_types)),
                "query_type": "Drug",
            }
        )
    return pd.DataFrame(records)


def case_rows(case: Case, mix: dict[str, list[int]]) -> pd.DataFrame:
    """The rows a case trains on: L-long rows, or rows drawn from the mix of its strategy's
    example lengths (`hard`, `soft`), cut to the case's longest row."""
    needed = case.batch_size * (case.warmup + case.steps)
    if case.mix:
        rng = np.random.default_rng(SEED)
        lengths_of = mix["hard" if case.strategy == "hard" else "soft"]
        drawn = rng.choice(np.asarray(lengths_of), max(needed, POOL_BATCHES * case.batch_size))
        lengths = np.minimum(drawn, case.max_row)
    else:
        lengths = np.full(needed, case.max_row)
    return mrc_rows(lengths.tolist(), case.strategy, case.shape.vocab, SEED)


def row_batches(frame: pd.DataFrame, case: Case) -> list[list[int]]:
    """Row positions per step: bucketed (project) or shuffled and padded to L (baseline)."""
    count = case.warmup + case.steps
    if case.path == "project":
        return [rows for _, rows in bucketed_batches(frame, case.batch_size, SEED)][:count]
    order = np.random.default_rng(SEED).permutation(len(frame)).tolist()
    size = case.batch_size
    return [order[i * size : (i + 1) * size] for i in range(count)]


def baseline_batch(frame: pd.DataFrame, rows: list[int], length: int) -> dict:
    """A project batch padded to `length` (soft prompts add their positions in front), with
    the full L x L gold grid of the match loss."""
    batch = collate(frame, "span", rows, PAD_ID)
    pad = length - batch["input_ids"].shape[1]
    gold = batch.pop("span_gold")
    grid = torch.zeros(len(rows), length, length)
    grid[gold.pairs[:, 0], gold.pairs[:, 1], gold.pairs[:, 2]] = 1.0
    lengths = torch.tensor(frame["input_ids"].iloc[rows].map(len).tolist())
    return {
        "input_ids": F.pad(batch["input_ids"], (0, pad), value=PAD_ID),
        "token_type_ids": F.pad(batch["token_type_ids"], (0, pad)),
        "attention_mask": (torch.arange(length)[None] < lengths[:, None]).long(),
        "context_mask": F.pad(batch["context_mask"], (0, pad), value=False),
        "starts": F.pad(gold.starts, (0, pad)),
        "ends": F.pad(gold.ends, (0, pad)),
        "match": grid,
        "prompt_index": batch["prompt_index"],
    }


# --------------------------------------------------------------------------- models


class StudyBaseline(nn.Module):
    """transformers' MegatronBert (eager) + BERT-MRC heads evaluated on every (i, j) pair."""

    def __init__(self, shape: Shape, strategy: str) -> None:
        super().__init__()
        config = MegatronBertConfig(**shape.config(), attn_implementation="eager")
        self.bert = MegatronBertModel(config, add_pooling_layer=False)
        # The project's head module, so both paths hold the same parameters; here the
        # span-match MLP runs on the full grid.
        self.head = SpanHead(shape.hidden, shape.match_hidden)
        n_types = len(prompt_types(load_schema("n2c2-2018")))
        soft = strategy != "hard"
        self.prompt = InputPrompt(n_types, PROMPT_LENGTH, shape.hidden) if soft else None
        if strategy == "soft-frozen":
            self.bert.requires_grad_(False)

    def encode(self, batch: dict) -> Tensor:
        """Last hidden states of the real positions (input prompts removed)."""
        ids, types, mask = batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]
        if self.prompt is None:
            return self.bert(input_ids=ids, token_type_ids=types, attention_mask=mask)[0]
        prompts = self.prompt(batch["prompt_index"])
        n = prompts.shape[1]
        embeds = torch.cat([prompts, self.bert.embeddings.word_embeddings(ids)], dim=1)
        hidden = self.bert(
            inputs_embeds=embeds,
            token_type_ids=F.pad(types, (n, 0)),
            attention_mask=F.pad(mask, (n, 0), value=1),
        )[0]
        return hidden[:, n:]

    def head_loss(self, hidden: Tensor, batch: dict) -> Tensor:
        """Start/end BCE over context tokens, match BCE over every context pair i <= j."""
        head, length = self.head, hidden.shape[1]
        start = head.start(hidden).squeeze(-1)
        end = head.end(hidden).squeeze(-1)
        pairs = torch.cat(
            [
                hidden.unsqueeze(2).expand(-1, -1, length, -1),
                hidden.unsqueeze(1).expand(-1, length, -1, -1),
            ],
            dim=-1,
        )
        match = head.span_match(pairs).squeeze(-1)
        context = batch["context_mask"]
        upper = torch.ones(length, length, dtype=torch.bool, device=hidden.device).triu()
        grid = context[:, :, None] & context[:, None, :] & upper
        w_start, w_end, w_match = head.loss_weights
        return (
            w_start * masked_bce(start, batch["starts"], context)
            + w_end * masked_bce(end, batch["ends"], context)
            + w_match * masked_bce(match, batch["match"], grid)
        )

    def loss(self, batch: dict) -> Tensor:
        """The training loss of a padded batch."""
        return self.head_loss(self.encode(batch), batch)


def project_model(case: Case) -> ExtractionModel:
    """The project's model for the case, random init, on the current default device."""
    shape, schema = case.shape, load_schema("n2c2-2018")
    encoder_config = EncoderConfig.from_pretrained_config(shape.config())
    encoder = Encoder(encoder_config, shape.gradient_checkpointing(case.strategy))
    soft = case.strategy != "hard"
    settings = ModelSettings(
        case.strategy, PROMPT_LENGTH if soft else 0, match_hidden=shape.match_hidden
    )
    model = ExtractionModel(
        encoder,
        settings,
        n_prompt_types=len(prompt_types(schema)),
        n_bio_labels=len(bio_label_names(schema)),
        n_relation_types=len(schema.relation_types),
    )
    if case.compile:
        for layer in encoder.encoder.layer:
            layer.compile()
    return model


def build(case: Case, device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The case's model on `device` (random weights drawn from SEED) and its optimizer."""
    torch.manual_seed(SEED)
    with torch.device(device):
        if case.path == "baseline":
            model = StudyBaseline(case.shape, case.strategy)
            trainable = [p for p in model.parameters() if p.requires_grad]
            return model, torch.optim.AdamW(trainable, lr=LR, weight_decay=0.01)
        model = project_model(case)
    groups = model.parameter_groups(LR, 5e-3, 1e-3, weight_decay=0.01)
    fused = device.type == "cuda"
    return model, torch.optim.AdamW(groups, fused=fused)


# --------------------------------------------------------------------------- measuring


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step: Callable[[int], object], warmup: int, steps: int, device: torch.device) -> list:
    """Seconds of each step after `warmup` untimed ones."""
    seconds = []
    for index in range(warmup + steps):
        _sync(device)
        started = time.perf_counter()
        step(index)
        _sync(device)
        if index >= warmup:
            seconds.append(time.perf_counter() - started)
    return seconds


def useful_flops(lengths: Sequence[int], shape: Shape, frozen: bool) -> float:
    """Encoder FLOPs of rows of `lengths` real tokens (see FLOPS_NOTE)."""
    h = shape.hidden
    forward = sum(shape.layers * (24 * n * h * h + 4 * n * n * h) for n in lengths)
    return forward * (2 if frozen else 3)


def _fresh_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory(device: torch.device) -> dict:
    if device.type == "cuda":
        return {
            "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30,
            "reserved_gib": torch.cuda.max_memory_reserved(device) / 2**30,
            "memory_source": "torch.cuda.max_memory_allocated",
        }
    return {
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "reserved_gib": None,
        "memory_source": "process max RSS so far (CPU)",
    }


def state_gib(model: nn.Module, optimizer: torch.optim.Optimizer) -> float:
    """Weights, gradients of trainable weights and optimizer moments, in GiB."""
    parameters = list(model.parameters())
    weights = sum(p.numel() * p.element_size() for p in parameters)
    grads = sum(p.numel() * p.element_size() for p in parameters if p.requires_grad)
    moments = sum(
        v.numel() * v.element_size()
        for s in optimizer.state.values()
        for v in s.values()
        if isinstance(v, Tensor) and v.dim()
    )
    return (weights + grads + moments) / 2**30


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, batch: dict, mixed: AbstractContextManager
) -> None:
    """Forward, loss, backward, clipping and the optimizer step, as the training loop does."""
    with mixed:
        loss = model.loss(batch)
    loss.backward()
    trainable = [p for group in optimizer.param_groups for p in group["params"]]
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def head_step(
    case: Case, model: nn.Module, batch: dict, device: torch.device
) -> tuple[Callable[[int], object], float]:
    """The span head alone (forward, loss, backward) on random states of the step's shape,
    and its candidate pairs per row."""
    width = batch["input_ids"].shape[1]
    hidden = torch.randn(
        len(batch["input_ids"]), width, case.shape.hidden, device=device, requires_grad=True
    )
    if case.path == "baseline":
        grid = batch["context_mask"][:, :, None] & batch["context_mask"][:, None, :]
        pairs = int(grid.triu().sum()) / len(hidden)
        return lambda _: model.head_loss(hidden, batch).backward(), pairs
    gold = batch["span_gold"]

    def step(_: int) -> int:
        with autocast(device):
            outputs = model.span_head(hidden, batch["context_mask"], gold)
            model.span_head.loss(outputs, gold).total.backward()
        return len(outputs.pairs)

    return step, step(0) / len(hidden)


def measure(case: Case, frame: pd.DataFrame, device: torch.device, head: bool = True) -> dict:
    """Build, warm up and time one case; its figures (with the head's share unless `head`
    is false or the rows are a length mix)."""
    _fresh_memory(device)
    batches_rows = row_batches(frame, case)
    lengths = frame["input_ids"].map(len).to_numpy()
    if case.path == "baseline":
        batches = [to_device(baseline_batch(frame, r, case.max_row), device) for r in batches_rows]
    else:
        batches = [to_device(collate(frame, "span", r, PAD_ID), device) for r in batches_rows]
    model, optimizer = build(case, device)
    model.train()
    mixed = autocast(device) if case.path == "project" else nullcontext()
    seconds = timed(
        lambda i: train_step(model, optimizer, batches[i], mixed), case.warmup, case.steps, device
    )
    memory = _peak_memory(device)
    timed_rows = [lengths[r] for r in batches_rows[case.warmup :]]
    real = sum(int(r.sum()) for r in timed_rows)
    padded = sum(int(batches[i]["input_ids"].numel()) for i in range(case.warmup, len(batches)))
    flops = sum(
        useful_flops(r.tolist(), case.shape, case.strategy == "soft-frozen") for r in timed_rows
    )
    result = {
        "tokens_per_s": real / sum(seconds),
        "tflops": flops / sum(seconds) / 1e12,
        "step_s": statistics.median(seconds),
        "real_tokens_per_step": real / case.steps,
        "padding_waste": (padded - real) / real,
        **memory,
        "state_gib": state_gib(model, optimizer),
        "trainable_share": sum(p.numel() for p in model.parameters() if p.requires_grad)
        / sum(p.numel() for p in model.parameters()),
        "head_s": None,
        "head_share": None,
        "candidate_pairs_per_row": None,
    }
    if head and not case.mix:
        model.zero_grad(set_to_none=True)
        step, pairs = head_step(case, model, batches[0], device)
        seconds = statistics.median(timed(step, 1, case.steps, device))
        result.update(
            head_s=seconds, head_share=seconds / result["step_s"], candidate_pairs_per_row=pairs
        )
    return result


def describe(case: Case, device: torch.device) -> dict:
    """The case's settings as JSON-ready fields."""
    project = case.path == "project"
    mixed = project and device.type == "cuda"
    return {
        "shape": case.shape.name,
        "path": case.path,
        "strategy": case.strategy,
        "rows": "mix" if case.mix else f"L={case.max_row}",
        "length": case.length,
        "batch": case.batch_size,
        "compile": case.compile,
        "precision": "bf16 autocast" if mixed else "fp32",
        "optimizer": "AdamW fused" if mixed else "AdamW (torch default)",
        "attention": "sdpa" if project else "eager",
        "span_match": "candidates" if project else "all L x L pairs",
        "gradient_checkpointing": project and case.shape.gradient_checkpointing(case.strategy),
    }


def run_case(case: Case, mix: dict[str, list[int]], device: torch.device) -> dict:
    """Measure a case; on out-of-memory halve the batch until it fits (or record `oom`)."""
    frame = case_rows(case, mix)
    tried = []
    while True:
        try:
            figures = measure(case, frame, device)
            status = "ok"
        except torch.OutOfMemoryError:
            figures, status = {}, "oom"
        except Exception as error:  # torch.compile needs a toolchain the machine may lack
            if not case.compile:
                raise
            figures, status = {}, f"error: {type(error).__name__}: {error}"[:200]
        _fresh_memory(device)
        if status == "ok" or case.batch_size == 1:
            break
        tried.append(case.batch_size)
        case = replace(case, batch=case.batch_size // 2)
    row = {**describe(case, device), "status": status, "oom_batches": tried, **figures}
    print(
        f"{row['shape']} {row['rows']} {case.strategy} {case.path}: {status} "
        f"{figures.get('tokens_per_s', 0):,.0f} tokens/s",
        file=sys.stderr,
        flush=True,
    )
    return row


def largest_fitting_batch(case: Case, device: torch.device, limit_gib: float) -> dict:
    """The largest of FIT_BATCHES whose step stays under `limit_gib` of GPU memory."""
    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, limit_gib * 2**30 / total), device)
    fits, peaks = 0, {}
    try:
        for batch in FIT_BATCHES:
            trial = replace(case, batch=batch, warmup=1, steps=1)
            try:
                peaks[batch] = measure(trial, case_rows(trial, {}), device, False)["reserved_gib"]
            except torch.OutOfMemoryError:
                break
            finally:
                _fresh_memory(device)
            fits = batch
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
    return {"limit_gib": limit_gib, "largest_batch": fits, "reserved_gib": peaks}


def matmul_tflops(device: torch.device, size: int, repeats: int = 10) -> float:
    """Measured bf16 matrix-product rate (TFLOP/s) of `size` x `size` matrices."""
    a, b = (torch.randn(size, size, device=device, dtype=torch.bfloat16) for _ in range(2))
    seconds = timed(lambda _: [a @ b for _ in range(repeats)], 2, 1, device)[0]
    return 2 * size**3 * repeats / seconds / 1e12


# --------------------------------------------------------------------------- plan and report


def main_case(tiny: bool, path: str, strategy: str, **options) -> Case:
    """A case of the main shape: tiny at L=128, or GatorTron-345M at L=512."""
    shape, length = (SHAPES["tiny"], 128) if tiny else (SHAPES["345m"], 512)
    return Case(shape, path, strategy, length, **options)


def plan(tiny: bool, warmup: int, steps: int) -> list[Case]:
    """Every strategy for both paths at L, the length mix for hard and soft-frozen, and (GPU)
    the 3.9B shape's frozen and unfrozen soft-prompt cells."""
    cases = [main_case(tiny, path, s) for s in STRATEGIES for path in PATHS]
    cases += [main_case(tiny, path, s, mix=True) for s in ("hard", "soft-frozen") for path in PATHS]
    if not tiny:
        big = SHAPES["3.9b"]
        cases += [
            Case(big, "baseline", "soft-frozen", 512),
            Case(big, "project", "soft", 512),
            Case(big, "project", "soft-frozen", 512),
        ]
    return [replace(case, warmup=warmup, steps=steps) for case in cases]


def find(rows: list[dict], shape: str, path: str, strategy: str, mix: bool = False) -> dict:
    """The measured row of a case (empty when missing or out of memory)."""
    for row in rows:
        key = (row["shape"], row["path"], row["strategy"], row["rows"] == "mix")
        if key == (shape, path, strategy, mix) and not row["compile"] and row["status"] == "ok":
            return row
    return {}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(
    rows: list[dict], main: str, matmul: float, waste: float, fit: dict | None, judge: bool
) -> list[dict]:
    """Issue 7's targets with their measured values; `pass` is None unless `judge`."""
    base, hard = find(rows, main, "baseline", "hard"), find(rows, main, "project", "hard")
    soft, frozen = find(rows, main, "project", "soft"), find(rows, main, "project", "soft-frozen")
    checks = [
        (
            "unfrozen (hard) tokens/s vs baseline at L",
            _ratio(hard.get("tokens_per_s"), base.get("tokens_per_s")),
            ">=",
            8.0,
        ),
        (
            "unfrozen (hard) useful TFLOP/s vs bf16 matmul",
            _ratio(hard.get("tflops"), matmul),
            ">=",
            0.45,
        ),
        (
            "frozen vs unfrozen soft tokens/s",
            _ratio(frozen.get("tokens_per_s"), soft.get("tokens_per_s")),
            ">=",
            1.35,
        ),
        (
            "frozen vs unfrozen soft peak memory",
            _ratio(frozen.get("peak_gib"), soft.get("peak_gib")),
            "<=",
            0.6,
        ),
        ("span-match head share of the step (hard)", hard.get("head_share"), "<=", 0.10),
        ("padding waste of bucketed batches", waste, "<=", 0.10),
    ]
    if fit is not None:
        checks.append(
            (
                f"3.9B frozen batch within {fit['limit_gib']:.0f} GiB (80 GB card)",
                float(fit["largest_batch"]),
                ">=",
                8.0,
            )
        )
    out = []
    for name, value, op, threshold in checks:
        ok = None
        if judge and value is not None:
            ok = value >= threshold if op == ">=" else value <= threshold
        out.append({"target": name, "value": value, "threshold": f"{op} {threshold:g}", "pass": ok})
    return out


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def step_table(rows: list[dict]) -> dict:
    """Markdown rows of the measured cases."""
    lines = []
    for row in rows:
        base = find(rows, row["shape"], "baseline", row["strategy"], row["rows"] == "mix")
        speedup = _ratio(row.get("tokens_per_s"), base.get("tokens_per_s"))
        name = row["path"] + (" + compile" if row["compile"] else "")
        lines.append(
            [
                row["shape"],
                row["rows"],
                row["strategy"],
                name,
                str(row["batch"]),
                _fmt(row.get("tokens_per_s"), ",.0f") if row["status"] == "ok" else row["status"],
                _fmt(row.get("tflops"), ".3g"),
                _fmt(row.get("step_s") and row["step_s"] * 1e3, ".1f"),
                _fmt(row.get("peak_gib"), ".2f"),
                _fmt(row.get("head_share"), ".1%"),
                _fmt(row.get("padding_waste"), ".1%"),
                "-" if row["path"] == "baseline" else _fmt(speedup, ".2f") + "x",
            ]
        )
    return table(
        "Training step (median of timed steps; tokens are real, unpadded)",
        STEP_COLUMNS.split("|"),
        lines,
    )


def target_table(checks: list[dict]) -> dict:
    """Markdown rows of the targets: measured value, threshold, verdict."""
    verdict = {True: "pass", False: "FAIL", None: "n/a (not judged on this device/shape)"}
    return table(
        "Targets of issue 7",
        ["target", "measured", "threshold", "verdict"],
        [
            [c["target"], _fmt(c["value"], ".3g"), c["threshold"], verdict[c["pass"]]]
            for c in checks
        ],
    )


def notes(tiny: bool, matmul: float, mix: dict[str, list[int]], fit: dict | None) -> list[str]:
    """What the figures mean and how they were taken."""
    lines = [
        FLOPS_NOTE,
        f"Measured bf16 matmul rate on this device: {matmul:.3g} TFLOP/s.",
        f"Length mix: the MRC training rows of the synthetic corpora (bench_padding), "
        f"{len(mix['hard'])} hard rows of mean {np.mean(mix['hard']):.0f} tokens, "
        f"{len(mix['soft'])} soft rows of mean {np.mean(mix['soft']):.0f}; soft rows are cut "
        f"to L - {PROMPT_LENGTH} so a prompt fits the positions in both paths.",
        "Span head: forward + loss + backward of the head alone on random states of the "
        "step's shape, over the full step's median. The project's random-init start/end "
        "classifiers mark about half the tokens, so its candidate pairs (and share) are an "
        "upper bound for a trained model.",
        "Baseline micro-batches are small because its L x L head materialises "
        "B x L x L x 2H activations; tokens/s normalises for the batch.",
    ]
    if tiny:
        lines.append(
            "Tiny CPU shapes (2 layers, hidden 64, L=128, fp32 on both paths, one thread): "
            "these check the script and say nothing about GPU speed; timings on a shared "
            "CPU are noisy (a head share can exceed 100%)."
        )
    if fit is not None:
        lines.append(
            f"3.9B soft-frozen batches tried under a {fit['limit_gib']:.0f} GiB cap: "
            f"peak reserved GiB {fit['reserved_gib']}."
        )
    return lines


def mix_source(args: argparse.Namespace) -> tuple[dict[str, list[int]], float]:
    """Row lengths per strategy (`hard`, `soft`) and the worst bucketed padding waste at the
    main shape's batch."""
    if args.tiny:
        padding = measure_padding(TINY_DOCUMENTS, 128, (SHAPES["tiny"].batch,))
        batch = SHAPES["tiny"].batch
    else:
        padding = json.loads(args.lengths.read_text(encoding="utf-8"))["data"]
        batch = SHAPES["345m"].batch
    mix = {
        s: [n for c in padding["corpora"].values() if c["strategy"] == s for n in c["lengths"]]
        for s in ("hard", "soft")
    }
    return mix, worst_bucketed_waste(padding, batch)


@dataclass(frozen=True)
class Report:
    """Writes the result JSON (after every case, so a cut-off run keeps what it measured)."""

    tiny: bool
    device: torch.device
    mix: dict[str, list[int]]
    waste: float
    matmul: float
    out: Path

    def write(self, rows: list[dict], fit: dict | None) -> dict:
        """The result so far, written to `out/train-<device>[-tiny].json`."""
        checks = targets(
            rows,
            "tiny" if self.tiny else "345m",
            self.matmul,
            self.waste,
            fit,
            judge=self.device.type == "cuda" and not self.tiny,
        )
        where = "tiny CPU check" if self.tiny else self.device.type.upper()
        result = {
            "benchmark": "train",
            "title": f"Training step: study-style baseline vs project path ({where})",
            "environment": environment(self.device),
            "tables": [step_table(rows), target_table(checks)],
            "notes": notes(self.tiny, self.matmul, self.mix, fit),
        }
        result["data"] = {
            "cases": rows,
            "targets": checks,
            "matmul_tflops": self.matmul,
            "padding_waste": self.waste,
            "fit_80gb": fit,
            "tf32": torch.backends.cuda.matmul.allow_tf32,
            "shapes": {k: asdict(v) for k, v in SHAPES.items()},
        }
        name = f"train-{self.device.type}{'-tiny' if self.tiny else ''}.json"
        write_result(self.out / name, result)
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="2-layer shape on CPU, L=128")
    parser.add_argument("--compile", action="store_true", help="add a torch.compile row, last")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--lengths",
        type=Path,
        default=RESULTS / "padding.json",
        help="bench_padding result with the MRC row lengths (not with --tiny)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads (default: torch's; tiny 1, which beats 2 on a busy box)",
    )
    parser.add_argument("--warmup", type=int, help="untimed steps (default 3; tiny 1)")
    parser.add_argument("--steps", type=int, help="timed steps (default 8; tiny 3)")
    parser.add_argument("--out", type=Path, default=RESULTS.parent / "out/train")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads or args.tiny:
        torch.set_num_threads(args.threads or 1)
    warmup = args.warmup or (1 if args.tiny else 3)
    steps = args.steps or (3 if args.tiny else 8)
    mix, waste = mix_source(args)
    matmul = matmul_tflops(device, 256 if args.tiny else 8192)
    report = Report(args.tiny, device, mix, waste, matmul, args.out)
    rows: list[dict] = []
    fit = None
    for case in plan(args.tiny, warmup, steps):
        rows.append(run_case(case, mix, device))
        report.write(rows, fit)
    if device.type == "cuda" and not args.tiny:
        fit = largest_fitting_batch(
            Case(SHAPES["3.9b"], "project", "soft-frozen", 512), device, FIT_LIMIT_GIB
        )
        report.write(rows, fit)
    if args.compile:
        case = main_case(args.tiny, "project", "hard", compile=True, warmup=warmup, steps=steps)
        rows.append(run_case(case, mix, device))
    print("\n".join(render_result(report.write(rows, fit))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
