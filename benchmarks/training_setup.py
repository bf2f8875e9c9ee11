"""The training workload shared by bench_train.py, bench_paper_estimate.py and bench_gpu.py.

One place decides which crop pairs a benchmark trains on, how its tokens are
counted, what "non-embedding parameters" means and which corpora of the paper an
epoch estimate is made for, so that the benchmarks' pairs/s, GFLOP/s and hours
are computed the same way.
"""

from __future__ import annotations

import math

from textembed_utils.augment import PairSampler
from textembed_utils.corpora import load_corpus
from textembed_utils.models import TextEncoder
from textembed_utils.training import TrainConfig

SEED = 42
# The paper's runs that a measured per-token cost is turned into (texts, one pair each, and the batch size).
PAPER_RUNS = {
    # The paper's "100 batches of fine-tuning took only 1 min on a single GPU (RTX A6000)".
    "paper_100_batches": {"texts": 100 * 64, "batch_size": 64},
    "iclr_epoch": {"texts": 24_347, "batch_size": 64},
    "arxiv_epoch": {"texts": 733_000, "batch_size": 32},
}


def wiki_texts() -> list[str]:
    return list(load_corpus("wiki").texts)


def first_pairs(texts: list[str], n_sentences: int, batch_size: int, steps: int) -> list[tuple[str, str]]:
    """The crop pairs ``train()`` sees in its first ``steps`` batches (seed 42), into later epochs if need be."""
    sampler = PairSampler(texts, "crops", n_sentences, SEED)
    per_epoch = sampler.batches_per_epoch(batch_size)
    pairs = []
    for epoch in range(math.ceil(steps / per_epoch)):
        pairs += sampler.epoch(epoch)[: per_epoch * batch_size]  # an epoch's last, partial batch is not trained on
    return pairs[: batch_size * steps]


def batch_texts(pairs: list[tuple[str, str]]) -> list[str]:
    return [a for a, _ in pairs] + [p for _, p in pairs]


def real_tokens(encoder: TextEncoder, pairs: list[tuple[str, str]], max_length: int) -> int:
    """Tokens of the pairs' texts, special tokens included, padding excluded."""
    lengths = encoder.tokenizer(batch_texts(pairs), truncation=True, max_length=max_length,
                                return_length=True)["length"]
    return int(sum(lengths))


def non_embedding_params(encoder: TextEncoder) -> int:
    """Parameters outside the embedding tables: the ones every token pays 6 FLOPs each for in training."""
    return sum(p.numel() for name, p in encoder.backbone.named_parameters() if "embeddings." not in name)


def train_config(n_sentences: int, batch_size: int, steps: int, max_length: int,
                 precision: str = "fp32", device: str = "cpu") -> TrainConfig:
    """Ours, as a user would run it: crops, the paper's optimiser settings, no logging; on the CPU by default."""
    return TrainConfig(augmentation="crops", n_sentences=n_sentences, batch_size=batch_size, steps=steps,
                       max_length=max_length, seed=SEED, device=device, precision=precision, log_every=10**9)


def gflops(params: int, tokens: int, seconds: float) -> float:
    """Achieved training GFLOP/s by the 6 × parameters × tokens rule."""
    return 6.0 * params * tokens / seconds / 1e9



def paper_run_estimates(seconds_per_token: float, tokens_per_crop: float) -> dict[str, dict]:
    """Steps, tokens and hours of each of ``PAPER_RUNS`` at a measured cost per token and tokens per crop."""
    estimates = {}
    for name, run in PAPER_RUNS.items():
        tokens = run["texts"] * 2 * tokens_per_crop
        estimates[name] = {**run, "steps": run["texts"] // run["batch_size"], "tokens": tokens,
                           "hours": tokens * seconds_per_token / 3600}
    return estimates
