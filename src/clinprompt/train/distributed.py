"""Several processes training one cell: torchrun launch, batch shards, DDP or FSDP, full state.

In: a cell whose model asks for several GPUs (or a forced process count), a function to run on
every rank and its arguments. Out: that function's result from rank 0, after
`python -m torch.distributed.run --standalone` (torchrun on a free port) ran it in N processes
— nccl on GPUs, one per device, gloo on CPU. Inside the ranks: `World` (rank, size), the
shard of each global batch a rank computes and the weight that makes N ranks take the same
optimiser step as one process, the model wrapped for training — DDP, or FSDP when the
encoder's fp32 weights, gradients and AdamW moments do not fit one GPU (`needs_sharding`) —
and full (unsharded) state gathered for rank 0's checkpoint or sharded back when resuming, so
checkpoints move freely between 1 and N processes. Small agreements (SIGTERM seen anywhere,
token counts, rank 0's dev score) travel over a gloo group on the host, never through a device
sync. A user error on a rank comes back to the parent as the same one-line error.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.distributed.tensor import DTensor, distribute_tensor

from clinprompt.errors import ClinpromptError, ConfigError
from clinprompt.registry import ModelSpec
from clinprompt.train.batching import row_kind

log = logging.getLogger(__name__)

# fp32 weight + gradient + AdamW's two moments: what one trained parameter costs on the GPU.
BYTES_PER_TRAINED_PARAMETER = 16
# Dev scoring of a large model keeps the other ranks waiting at the next agreement.
CONTROL_TIMEOUT = timedelta(hours=4)


class ProcessesFailed(ClinpromptError):
    """A training process crashed; its traceback is in the log above this line."""


# ---------------------------------------------------------------------------------- ranks


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 when alone)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes logs, checkpoints and results."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether other processes train along."""
        return self.size > 1


def world() -> World:
    """The current `World`; ranks exist once `init_processes` ran (torchrun workers)."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(
            "WORLD_SIZE > 1 but no process group: launch through clinprompt "
            "(training.processes or --processes), not torchrun directly"
        )
    return World()


def init_processes(device_type: str) -> World:
    """Join torchrun's process group: nccl with one GPU per rank, gloo on CPU."""
    if device_type == "cuda":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo", timeout=CONTROL_TIMEOUT)
    return world()


@cache
def _control_group() -> dist.ProcessGroup | None:
    """A gloo group for host-side agreements (None: the default group is gloo already)."""
    if dist.get_backend() == "gloo":
        return None
    return dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)


def any_rank(flag: bool, current: World) -> bool:
    """True on every rank when `flag` is true on one (SIGTERM reaches ranks at different times)."""
    if not current.distributed:
        return flag
    value = torch.tensor([int(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=_control_group())
    return bool(value[0])


def sum_over_ranks(values: list[float], current: World) -> list[float]:
    """Element-wise sums over ranks of host-side numbers."""
    if not current.distributed:
        return values
    total = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(total, group=_control_group())
    return total.tolist()


def from_main(value: Any, current: World) -> Any:
    """Rank 0's `value` on every rank (so every rank makes rank 0's decisions)."""
    if not current.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, group=_control_group())
    return box[0]


# -------------------------------------------------------------------------------- batches


def loss_units(examples: pd.DataFrame) -> np.ndarray:
    """What each row adds to its batch's loss denominator.

    The span loss is a mean over context tokens, the BIO loss over labelled tokens (a word's
    first piece), the pair loss a mean over rows. The span-match term averages over candidate
    pairs, known only after the forward pass; it is the one term N processes weight slightly
    differently from one.
    """
    context = examples["token_starts"].map(lambda starts: int((np.asarray(starts) >= 0).sum()))
    kind = examples["query_type"].map(row_kind).to_numpy()
    labelled = examples["labels"].map(
        lambda labels: 0 if labels is None else int((np.asarray(labels) >= 0).sum())
    )
    return np.where(kind == "pair", 1, np.where(kind == "bio", labelled, context))


def shard(rows: list[int], units: np.ndarray, current: World) -> tuple[list[int], float]:
    """This rank's rows of a global batch and the factor for its mean loss.

    Rows are dealt round-robin (batches are sorted by length, so ranks get similar widths).
    The factor `size * own units / batch units` makes DDP's gradient average equal the
    gradient of the whole batch's mean. A rank left without rows runs the first row with
    factor 0, since every rank must take part in every gradient reduction.
    """
    own = rows[current.rank :: current.size]
    if not own:
        return rows[:1], 0.0
    return own, current.size * float(units[own].sum()) / max(float(units[rows].sum()), 1.0)


# --------------------------------------------------------------------------- wrapping


def needs_sharding(spec: ModelSpec, frozen: bool) -> bool:
    """FSDP rather than DDP: the encoder trains and its fp32 weights, gradients and AdamW
    moments (16 bytes a parameter, activations not counted) exceed the model's GPU memory.

    With the registry's defaults: GatorTron-8.9B unfrozen (142 GB > 80 GiB) shards;
    GatorTron-3.9B (62 GB) and every frozen model replicate.
    """
    return not frozen and spec.parameters * BYTES_PER_TRAINED_PARAMETER > spec.gpu_memory_gb * 2**30


class _Loss(nn.Module):
    """The model's training loss as `forward`, the call DDP synchronises gradients around."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict) -> Tensor:
        return self.model.loss(batch)


# Methods rank-synchronous code calls on an FSDP model: each gathers the shards it needs.
FSDP_METHODS = ("loss", "forward_spans", "forward_tags", "forward_pairs", "forward_values")


def wrap_for_training(model: nn.Module, current: World, sharded: bool) -> nn.Module | None:
    """DDP around the loss, or FSDP over each encoder layer and the rest (model changed in
    place); None when training alone. Call before the optimiser is built (FSDP swaps the
    parameters for shards)."""
    if not current.distributed:
        return None
    if not sharded:
        # No device_ids: batches arrive on the rank's device already.
        return nn.parallel.DistributedDataParallel(
            _Loss(model),
            # Fine-tuning batches use either the tag head or the pair head, never both.
            find_unused_parameters=model.settings.kind.entity_markers,
        )
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    for layer in model.encoder.encoder.layer:
        fully_shard(layer)
    fully_shard(model)
    for name in FSDP_METHODS:
        register_fsdp_forward_method(model, name)
    return model


def training_loss(model: nn.Module, wrapped: nn.Module | None, batch: dict) -> Tensor:
    """The batch loss through the wrapper that synchronises gradients."""
    if isinstance(wrapped, nn.parallel.DistributedDataParallel):
        return wrapped(batch)
    return model.loss(batch)


def gradient_sync(wrapped: nn.Module | None, enabled: bool):
    """Context for one backward: skip the gradient reduction of accumulation micro-batches."""
    if wrapped is None or enabled:
        return nullcontext()
    if isinstance(wrapped, nn.parallel.DistributedDataParallel):
        return wrapped.no_sync()
    return _fsdp_no_sync(wrapped)


@contextmanager
def _fsdp_no_sync(model: nn.Module) -> Iterator[None]:
    model.set_requires_gradient_sync(False)
    try:
        yield
    finally:
        model.set_requires_gradient_sync(True)


# ------------------------------------------------------------------------------ state


def gather_full(value: Any, keep: bool = True) -> Any:
    """`value` (tensors, dicts, lists) with every FSDP shard gathered into a full CPU tensor.

    Every rank must call it on the same structure (gathering is collective); with `keep`
    false the gathered tensors are dropped, so only rank 0 holds a full copy.
    """
    if isinstance(value, DTensor):
        full = value.full_tensor()
        return full.detach().cpu() if keep else None
    if isinstance(value, dict):
        return {key: gather_full(item, keep) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(gather_full(item, keep) for item in value)
    return value


def shard_like(value: Tensor, parameter: Tensor) -> Tensor:
    """A full tensor sharded as `parameter` when that is an FSDP shard of the same shape."""
    if isinstance(parameter, DTensor) and value.shape == parameter.shape:
        mesh = parameter.device_mesh
        return distribute_tensor(value.to(mesh.device_type), mesh, parameter.placements)
    return value


def load_trainable_state(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Load full trainable tensors into a plain or FSDP-sharded model."""
    parameters = dict(model.named_parameters())
    model.load_state_dict(
        {name: shard_like(tensor, parameters[name]) for name, tensor in state.items()},
        strict=False,
    )


def shard_optimizer_state(state: dict, optimizer: torch.optim.Optimizer) -> dict:
    """A full `optimizer.state_dict()` with each moment sharded like its parameter."""
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    per_parameter = {
        index: {
            key: shard_like(value, parameters[index]) if torch.is_tensor(value) else value
            for key, value in entry.items()
        }
        for index, entry in state["state"].items()
    }
    return {**state, "state": per_parameter}


# ------------------------------------------------------------------------------ launch


def process_count(spec: ModelSpec, requested: int | None, device: torch.device) -> int:
    """How many processes train a cell: `requested` when given (the `training.processes` /
    `--processes` knob), else every GPU of the allocation when the registry entry asks for
    more than one and CUDA devices are present, else 1."""
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    if requested is not None:
        if device.type == "cuda" and requested > gpus:
            raise ConfigError(f"training.processes {requested} exceeds the {gpus} visible GPUs")
        return requested
    if spec.gpus > 1 and gpus > 1:
        return gpus
    return 1


def run_in_processes(
    function: Callable[..., Any], args: tuple, processes: int, device_type: str
) -> Any:
    """Run `function(*args)` on `processes` torchrun ranks; return rank 0's result.

    The ranks' output comes through this process's log. SIGTERM is passed on to torchrun,
    which passes it to the ranks (and kills them 30 s later). A user error raised on a rank
    is raised here as is; a crash becomes `ProcessesFailed` with torchrun's exit status.
    """
    with tempfile.TemporaryDirectory(prefix="clinprompt-ranks-") as folder:
        call = Path(folder) / "call.pkl"
        call.write_bytes(pickle.dumps((function, args, device_type)))
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={processes}",
            "-m",
            "clinprompt.train.distributed",
            str(call),
        ]
        cpus = len(os.sched_getaffinity(0))
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cpus // processes))}
        backend = "nccl" if device_type == "cuda" else "gloo"
        log.info("training in %d processes (%s)", processes, backend)
        status = _run_forwarding_output(command, env)
        errors = sorted(Path(folder).glob("error*.pkl"))
        if errors:
            raise pickle.loads(errors[0].read_bytes())
        if status != 0:
            raise ProcessesFailed(f"training processes failed (torchrun exit status {status})")
        return pickle.loads((Path(folder) / "result.pkl").read_bytes())


def _run_forwarding_output(command: list[str], env: dict[str, str]) -> int:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: process.send_signal(signum))
    try:
        for line in process.stdout:
            # Progress bars redraw with carriage returns; the last drawing is the news.
            text = line.rstrip().rsplit("\r", 1)[-1]
            if text.strip():
                log.info("%s", text)
        return process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_worker(call: Path) -> int:
    """One torchrun rank: join the group, run the call; rank 0 leaves the result beside it.

    A user error is left for the parent as a file and the rank exits cleanly, so that torchrun
    does not kill the ranks still finishing (rank 0 writing its checkpoint on SIGTERM).
    """
    function, args, device_type = pickle.loads(call.read_bytes())
    rank = int(os.environ["RANK"])
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"rank {rank} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    current = init_processes(device_type)
    try:
        result = function(*args)
    except ClinpromptError as error:
        (call.parent / f"error{rank}.pkl").write_bytes(pickle.dumps(error))
        return 0
    finally:
        dist.destroy_process_group()
    if current.is_main:
        (call.parent / "result.pkl").write_bytes(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    # Run from the imported module, so its state is the one the package code sees.
    from clinprompt.train.distributed import run_worker as _run_worker

    sys.exit(_run_worker(Path(sys.argv[1])))
