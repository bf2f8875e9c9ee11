"""The runs that test_distributed.py makes in two processes (distributed_worker.py) and in one."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from conftest import TINY_CONFIG
from textembed_utils.models import TextEncoder, load_encoder
from textembed_utils.training import TrainConfig

NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
GATHER_SHAPE = (8, 4)  # pairs × dimensions of the gathered-loss check


@dataclass(frozen=True)
class Case:
    config: TrainConfig
    texts: int  # toy-corpus size
    dropout: bool  # the model's own dropout on (the dropout augmentation needs it)
    model: str = "transformer"  # or "bare": the token-embedding layer, whose rows DDP syncs as one tensor


def _config(**changes) -> TrainConfig:
    settings = dict(n_sentences=1, steps=3, lr=1e-3, max_length=48, device="cpu", precision="fp32", log_every=1)
    return TrainConfig(**{**settings, **changes})


CASES = {
    # 64 pairs: each rank forwards 64 texts in two length groups, one process 128 in four.
    "crops": Case(_config(augmentation="crops", batch_size=64), texts=128, dropout=False),
    "dropout": Case(_config(augmentation="dropout", batch_size=16), texts=64, dropout=True),
    # The crops run again, each rank's 32 pairs embedded in cached mini-batches of 8.
    "cached": Case(_config(augmentation="crops", batch_size=64, mini_batch_size=8), texts=128, dropout=False),
    "resume": Case(_config(augmentation="dropout", batch_size=16, steps=6, eval_every=2, checkpoint_every=2),
                   texts=64, dropout=True),
    # The bare start with its dropout off: with it on, its ranks draw other masks than one
    # process does (per-rank streams, distributed.dropout_seed), so only "off" can match.
    "bare": Case(_config(augmentation="crops", batch_size=32), texts=64, dropout=False, model="bare"),
}


def fresh_model(case: Case) -> TextEncoder:
    if case.model == "bare":
        return load_encoder("bare", config_overrides={"hidden_size": 32}, max_length=48, seed=0,
                            dropout=0.1 if case.dropout else 0.0)
    overrides = TINY_CONFIG if case.dropout else {**TINY_CONFIG, **NO_DROPOUT}
    return load_encoder(init="random", config_overrides=overrides, max_length=48, seed=0)


def weights(encoder: TextEncoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in encoder.state_dict().items()}


def gather_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """The global batch of the gathered-loss check: the same on every rank."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(GATHER_SHAPE, generator=gen), torch.randn(GATHER_SHAPE, generator=gen)
