"""The one training loop: contrastive fine-tuning with any augmentation.

Adam with linear warm-up over 10% of one epoch's batches and linear decay to 0
(the paper's schedule), anchors and positives of a batch forwarded together in
length-sorted groups each padded only to its own longest text (the same loss as
one padded forward pass, with far fewer padding tokens: benchmarks/bench_train.py),
bf16 autocast where the hardware has it (precision.py), no host synchronisation inside the loop except at logging
steps, evaluation callbacks for learning curves, periodic checkpoints and exact
resume. Under ``torchrun`` the same loop is data-parallel (distributed.py: each
rank embeds its slice of the global batch, the vectors are gathered with their
gradients, DDP averages the gradients); with ``mini_batch_size`` the batch is
embedded in cached mini-batches (cached_loss.py).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from transformers import get_linear_schedule_with_warmup

from ..augment import CropStats, PairSampler, mask_tokens
from ..errors import TextembedError
from ..models import TextEncoder, freeze_prefix
from . import distributed
from .cached_loss import cached_backward
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .loss import info_nce
from .precision import autocast, resolve_precision
from .rng import rng_state, set_rng_state

EvalFn = Callable[[TextEncoder, int], dict]

# Texts per length group in a training forward pass: large enough to keep matrix products
# efficient, small enough that a group's longest text is close to its shortest.
MIN_GROUP_TEXTS = 32


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy to ``device`` without blocking the host: from pinned memory when it is a GPU."""
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


def forward_by_length(
    encoder: TextEncoder, ids: torch.Tensor, mask: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """Pooled vectors of a tokenized batch (on the CPU), in the batch's order.

    The texts are sorted by length and forwarded in groups of at least
    ``MIN_GROUP_TEXTS``, each cut to its own longest text, so a short crop never
    pays for the longest one in the batch. Padding is masked inside the encoder
    and in the pooling, so the vectors equal those of one padded pass. The
    grouping is decided on the CPU: no host-device synchronisation.
    """
    lengths = mask.sum(dim=1)
    groups = max(1, len(lengths) // MIN_GROUP_TEXTS)
    if groups == 1:
        return encoder(_to_device(ids, device), _to_device(mask, device))
    order = torch.argsort(lengths, descending=True, stable=True)
    vectors = []
    for rows in torch.tensor_split(order, groups):
        width = int(lengths[rows[0]])
        vectors.append(encoder(_to_device(ids[rows, :width], device), _to_device(mask[rows, :width], device)))
    return torch.cat(vectors)[_to_device(torch.argsort(order), device)]


class _BatchForward(nn.Module):
    """``forward_by_length`` as one module call: DDP expects one forward per backward, not one per group."""

    def __init__(self, encoder: TextEncoder, device: torch.device):
        super().__init__()
        self.encoder, self.device = encoder, device

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return forward_by_length(self.encoder, ids, mask, self.device)


@dataclass
class TrainResult:
    """What a run produced besides the trained weights (which stay in the encoder)."""

    config: dict
    crop_stats: CropStats
    total_steps: int
    batches_per_epoch: int
    losses: list[float] = field(default_factory=list)
    curve: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    device: str = "cpu"
    precision: str = "fp32"
    resumed_from: int = 0

    @property
    def seconds_per_step(self) -> float:
        done = self.total_steps - self.resumed_from
        return self.train_seconds / done if done else float("nan")


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TextembedError("device='cuda' was asked for but no CUDA GPU is visible.", "use device='cpu' or 'auto'.")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _Run:
    """State of one training run; ``train()`` below is its public face."""

    def __init__(self, encoder: TextEncoder, texts: Sequence[str], config: TrainConfig):
        self.encoder, self.config = encoder, config
        self.world = distributed.join_process_group()
        self.device = distributed.rank_device(resolve_device(config.device), self.world)
        seed_everything(config.seed)
        if self.world.distributed:
            distributed.check_divisible(config.batch_size, self.world)
            torch.manual_seed(distributed.dropout_seed(config.seed, self.world.rank))
        self.sampler = PairSampler(texts, config.augmentation, config.n_sentences, config.seed, config.splitter)
        # The last, partial batch of an epoch is kept (the authors' drop_last=False); in several
        # processes it is cut to a multiple of their number, as each embeds an equal share.
        self.per_epoch = self.sampler.batches_per_epoch(config.batch_size, smallest_last=self.world.size)
        if len(self.sampler) < config.batch_size:
            raise TextembedError(
                f"Only {len(self.sampler)} texts give a training pair, fewer than one batch of "
                f"{config.batch_size}.",
                f"lower batch_size to at most {len(self.sampler)} (≥ 2), or add texts.",
            )
        self.total = config.steps or max(1, math.ceil(config.epochs * self.per_epoch))
        if config.freeze_layers is not None:
            freeze_prefix(encoder.backbone, config.freeze_layers)
        encoder.to(self.device)
        self.model: nn.Module = _BatchForward(encoder, self.device)
        if self.world.distributed:
            # DDP averages the gradients over the ranks, overlapped with the backward pass. Some
            # parameters get no gradient (a BERT pooler under mean pooling), hence the unused search.
            self.model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True)
        params = [p for p in encoder.parameters() if p.requires_grad]
        # The fused kernel updates all parameters in one pass: on a 2-core CPU ~10x faster than
        # the per-tensor loop (MiniLM's 23M parameters: 0.05 s instead of 0.8 s a step).
        self.optimizer = torch.optim.Adam(params, lr=config.lr, fused=self.device.type in ("cpu", "cuda"))
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, config.warmup_steps(self.per_epoch, self.total), self.total)
        self.precision = resolve_precision(config.precision, self.device)
        self._epoch_pairs: tuple[int, list] | None = None

    def batch(self, step: int) -> list[tuple[str, str]]:
        epoch, index = divmod(step, self.per_epoch)
        if self._epoch_pairs is None or self._epoch_pairs[0] != epoch:
            self._epoch_pairs = (epoch, self.sampler.epoch(epoch))
        size = self.config.batch_size
        return self._epoch_pairs[1][index * size : (index + 1) * size]

    def _mask_seed(self, step: int) -> int:
        """Seeded per step (and rank) so that a resumed run masks exactly the same tokens."""
        if not self.world.distributed:
            return self.config.seed * 1_000_003 + step
        return distributed.dropout_seed(self.config.seed * 1_000_003 + step, self.world.rank)

    def tokens(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask of this rank's pairs: its anchors, then its positives."""
        pairs = distributed.shard(self.batch(step), self.world)
        texts = [a for a, _ in pairs] + [p for _, p in pairs]
        ids, mask = self.encoder.pad(self.encoder.token_ids(texts, self.config.max_length))
        if self.sampler.uses_masking:
            gen = torch.Generator().manual_seed(self._mask_seed(step))
            special = torch.tensor(self.encoder.tokenizer.all_special_ids, dtype=ids.dtype)
            maskable = mask.bool() & ~torch.isin(ids, special)
            ids = mask_tokens(ids, maskable, self.config.mask_fraction, self.encoder.mask_token_id, gen)
        return ids, mask

    def embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with autocast(self.precision, self.device):
            vectors = self.model(ids, mask)
        return vectors.float()  # similarities / temperature in fp32: bf16 keeps only ~3 digits

    def pairs_loss(self, chunks: list[torch.Tensor]) -> torch.Tensor:
        """InfoNCE over the global batch, from this rank's vectors (chunks of anchors-then-positives)."""
        anchors = torch.cat([vectors[: len(vectors) // 2] for vectors in chunks])
        positives = torch.cat([vectors[len(vectors) // 2 :] for vectors in chunks])
        if self.world.distributed:
            anchors, positives = distributed.gather_with_grad(anchors), distributed.gather_with_grad(positives)
        return info_nce(anchors, positives, self.config.temperature, self.config.symmetric)

    def backward(self, step: int) -> torch.Tensor:
        """The loss of batch ``step`` (detached), its gradients accumulated in the parameters."""
        ids, mask = self.tokens(step)
        if self.config.mini_batch_size is None:
            loss = self.pairs_loss([self.embed(ids, mask)])
            loss.backward()
            return loss.detach()
        pairs, size = len(ids) // 2, self.config.mini_batch_size
        rows = [torch.cat([torch.arange(start, min(start + size, pairs)),
                           torch.arange(pairs + start, pairs + min(start + size, pairs))])
                for start in range(0, pairs, size)]

        def embed_chunk(chunk: int) -> torch.Tensor:
            chunk_mask = mask[rows[chunk]]
            width = int(chunk_mask.sum(dim=1).max())
            return self.embed(ids[rows[chunk], :width], chunk_mask[:, :width])

        no_sync = self.model.no_sync if self.world.distributed else contextlib.nullcontext
        return cached_backward(embed_chunk, len(rows), self.pairs_loss, no_sync)

    def state(self, step: int, result: TrainResult) -> dict:
        """The checkpoint of ``step``; in several processes it holds every rank's random state."""
        state = {
            "fingerprint": self.config.fingerprint(),
            "step": step,
            "model": {k: v.detach().cpu() for k, v in self.encoder.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(),
            "losses": list(result.losses),
            "curve": list(result.curve),
        }
        if self.world.distributed:
            state["rng"] = {"ranks": distributed.gather_objects(state["rng"])}
            state["world_size"] = self.world.size
        return state

    def save(self, folder: str | Path, step: int, result: TrainResult) -> None:
        """Rank 0 writes the checkpoint once every rank has finished ``step`` (a barrier)."""
        state = self.state(step, result)  # in several processes a collective: every rank gets here first
        if self.world.is_main:
            save_checkpoint(folder, state)
        distributed.barrier()

    def load(self, folder: str | Path | None) -> dict | None:
        """The checkpoint to resume from, read by rank 0 and sent to every rank."""
        state = load_checkpoint(folder, self.config.fingerprint()) if self.world.is_main else None
        if self.world.distributed:
            state = distributed.broadcast_from_main(state)
        if state is not None and state.get("world_size", 1) != self.world.size:
            raise TextembedError(
                f"The checkpoint in {folder} was written by a run in {state.get('world_size', 1)} processes; "
                f"this one has {self.world.size}, whose ranks draw other dropout masks.",
                f"resume with {state.get('world_size', 1)} processes, or delete {folder} to start over.",
            )
        return state

    def restore(self, state: dict, result: TrainResult) -> int:
        self.encoder.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"]["ranks"][self.world.rank] if self.world.distributed else state["rng"])
        result.losses[:] = state["losses"]
        result.curve[:] = state["curve"]
        return int(state["step"])


def train(
    encoder: TextEncoder,
    texts: Sequence[str],
    config: TrainConfig | None = None,
    *,
    eval_fn: EvalFn | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``encoder`` in place on ``texts`` with ``config``; return losses, curve and timings.

    ``eval_fn(encoder, step) -> dict`` runs before training (step 0), every
    ``config.eval_every`` steps and at the end: the learning curve. With
    ``checkpoint_dir``, a checkpoint is written every ``config.checkpoint_every``
    steps and on Ctrl-C, and a later call with the same config resumes from it.

    Under ``torchrun`` every rank calls ``train`` (and ``eval_fn``, which may
    therefore encode with ``distributed=True``); the ranks end with the same
    weights, losses and curve; only rank 0 shows progress and writes checkpoints.
    """
    config = config or TrainConfig()
    run = _Run(encoder, texts, config)
    result = TrainResult(
        config=config.to_dict(), crop_stats=run.sampler.stats, total_steps=run.total,
        batches_per_epoch=run.per_epoch, device=str(run.device), precision=run.precision,
    )
    start = 0
    saved = run.load(checkpoint_dir)
    if saved is not None:
        start = run.restore(saved, result)
        result.resumed_from = start

    def evaluate(step: int) -> None:
        if eval_fn is not None and not any(point["step"] == step for point in result.curve):
            encoder.eval()
            result.curve.append({"step": step, **eval_fn(encoder, step)})

    if config.eval_every and start == 0:
        evaluate(0)
    encoder.train()
    pending: list[torch.Tensor] = []

    def flush_losses() -> None:
        # One host sync per logging step instead of one per batch.
        if not pending:
            return
        new = torch.stack(pending).float().cpu().tolist()
        pending.clear()
        for step, value in enumerate(new, len(result.losses) + 1):
            if not math.isfinite(value):  # stop before a diverged model is checkpointed or saved
                raise TextembedError(f"The training loss became {value} at step {step}: the run diverged.",
                                     f"lower the learning rate (lr={config.lr:g}) or raise the temperature "
                                     f"({config.temperature:g}).")
        result.losses.extend(new)

    bar = tqdm(range(start, run.total), desc=f"Training ({config.augmentation})",
               disable=not (progress and run.world.is_main),
               initial=start, total=run.total)
    began = time.perf_counter()
    last_checkpoint = start
    try:
        for step in bar:
            loss = run.backward(step)
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
            pending.append(loss)
            done = step + 1
            if done % config.log_every == 0 or done == run.total:
                flush_losses()
                bar.set_postfix(loss=f"{result.losses[-1]:.3f}")
            if config.eval_every and done % config.eval_every == 0 and done < run.total:
                result.train_seconds += time.perf_counter() - began
                evaluate(done)
                encoder.train()
                began = time.perf_counter()
            if checkpoint_dir and config.checkpoint_every and done % config.checkpoint_every == 0:
                flush_losses()
                run.save(checkpoint_dir, done, result)
                last_checkpoint = done
    except KeyboardInterrupt:
        # No checkpoint of a half-done step: its RNG draws would break exact resume.
        where = (f"the last checkpoint (step {last_checkpoint}) is in {checkpoint_dir}; run the same "
                 "command again to resume from it" if checkpoint_dir and last_checkpoint else
                 "pass a checkpoint folder and checkpoint_every to make runs resumable")
        raise KeyboardInterrupt(f"Training interrupted; {where}.") from None
    finally:
        bar.close()
    result.train_seconds += time.perf_counter() - began
    encoder.eval()
    if eval_fn is not None:
        evaluate(run.total)
    return result
