"""Data parallelism on ``torch.distributed``: the process group, rank facts, the gather, the batch shards.

A run launched by ``torchrun --nproc_per_node N`` (one process per GPU, or per
CPU share with gloo) keeps the paper's batch: ``batch_size`` is the *global*
number of pairs per step, rank ``r`` of ``W`` embeds the contiguous slice
``r·B/W … (r+1)·B/W`` of it, and the pooled vectors are gathered across ranks
*with their gradients*, so that every anchor meets all ``B − 1`` in-batch
negatives, as in one process.

Why the update equals the single-process one without rescaling the loss: every
rank computes the same full-batch loss ``L`` from the gathered vectors, and the
backward of ``torch.distributed.nn.functional.all_gather`` *sums* the gradients
that the ``W`` copies of ``L`` send to each rank's slice, i.e. ``W · ∂L/∂v``;
DDP then *averages* the parameter gradients over the ``W`` ranks, dividing by
``W`` again: ``(1/W) Σ_r W · ∂L/∂θ_r = ∂L/∂θ``.

A plain ``python`` run (no ``WORLD_SIZE`` in the environment) has world size 1
and none of this code runs.
"""

from __future__ import annotations

import atexit
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn

from ..errors import TextembedError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """Where this process stands: its ``rank`` among ``size`` processes, its rank on its node, the group's backend."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "gloo" or "nccl" in a process group; None in a single process

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that shows progress and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def record(self, batch_size: int) -> dict:
        """How a run with the global ``batch_size`` was spread: processes, backend, pairs each one embeds per step.

        What a report needs so that its reader can tell a 2-process run from a 1-process one.
        """
        return {"count": self.size, "backend": self.backend, "pairs_per_process": batch_size // self.size}


def world() -> World:
    """The current process group's facts; ``World()`` (rank 0 of 1) when none is initialised."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), dist.get_backend())


def launched_by_torchrun() -> bool:
    """True in a process that ``torchrun`` started as one of several (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def launched_rank() -> int:
    """This process's rank as ``torchrun`` set it (0 outside ``torchrun``), without joining a group.

    The book runner reads it before any group exists (its notebooks' kernels join
    the group), and so do the writers that only rank 0 may run (results records).
    """
    return int(os.environ.get("RANK", "0"))


def join_process_group() -> World:
    """Join the process group ``torchrun`` set up, once per process (NCCL on CUDA, gloo on CPU).

    Outside ``torchrun`` (no ``WORLD_SIZE`` > 1), or when a group is initialised
    already (by a caller that manages its own), this only returns ``world()``.
    A rank's CUDA device is ``cuda:LOCAL_RANK``. The group is left at exit.
    """
    if not launched_by_torchrun() or dist.is_initialized():
        return world()
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if cuda else "gloo")
    atexit.register(_leave)
    return world()


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: torch.device, here: World) -> torch.device:
    """A rank's own GPU (``cuda:LOCAL_RANK``) when training on CUDA in several processes; else ``device``."""
    if here.distributed and device.type == "cuda":
        return torch.device("cuda", here.local_rank)
    return device


def check_divisible(batch_size: int, here: World) -> None:
    """Each rank embeds an equal slice of the global batch (the gather needs equal sizes)."""
    if batch_size % here.size:
        lower, upper = batch_size - batch_size % here.size, batch_size + here.size - batch_size % here.size
        raise TextembedError(
            f"batch_size={batch_size} pairs cannot be split evenly across {here.size} processes.",
            f"use a batch_size that is a multiple of {here.size} (e.g. {lower or upper} or {upper}), "
            "or another number of processes.",
        )


def shard(items: Sequence[T], here: World) -> Sequence[T]:
    """Rank ``here.rank``'s contiguous equal slice of a global batch (``check_divisible`` first).

    An epoch's last, partial batch may not split evenly: its last ``len % size``
    pairs (fewer than the number of ranks) are left out.
    """
    size = len(items) // here.size
    return items[here.rank * size : (here.rank + 1) * size]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` stacked in rank order along dim 0, differentiable w.r.t. the local one."""
    with warnings.catch_warnings():
        # Deprecated in favour of a private module (torch 2.13) that lacks a gloo backward; still the public API.
        warnings.filterwarnings("ignore", "torch.distributed.nn.functional.all_gather", FutureWarning)
        return torch.cat(dist_nn.all_gather(tensor))


def dropout_seed(seed: int, rank: int) -> int:
    """The torch seed of one rank in a multi-process run: its own dropout stream.

    Seeding every rank alike would give row ``i`` of each rank's slice the same
    dropout mask; distinct streams keep the masks of all pairs independent, as
    in one process. (A single-process run keeps ``seed`` itself.)
    """
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def gather_objects(obj: T) -> list[T]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_from_main(obj: T) -> T:
    """Rank 0's ``obj`` on every rank (the others pass anything, e.g. None)."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if world().distributed:
        dist.barrier()


def gather_rows(tensor: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """Every rank's rows (rank ``r`` has ``counts[r]``) in rank order, on every rank; no gradient.

    ``all_gather`` needs equal shapes, so each rank pads its rows to the largest count.
    """
    padded = tensor.new_zeros((max(counts), *tensor.shape[1:]))
    padded[: len(tensor)] = tensor
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded)
    return torch.cat([part[:count] for part, count in zip(parts, counts)])
