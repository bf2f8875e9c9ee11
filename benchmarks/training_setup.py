"""The training workload shared by bench_train.py and bench_paper_estimate.py.

One place decides which crop pairs a benchmark trains on, how its tokens are
counted and what "non-embedding parameters" means, so that the two benchmarks'
pairs/s and GFLOP/s figures are computed the same way.
"""

from __future__ import annotations

from textembed_utils.augment import PairSampler
from textembed_utils.corpora import load_corpus
from textembed_utils.models import TextEncoder
from textembed_utils.training import TrainConfig

SEED = 42


def wiki_texts() -> list[str]:
    return list(load_corpus("wiki").texts)


def first_pairs(texts: list[str], n_sentences: int, batch_size: int, steps: int) -> list[tuple[str, str]]:
    """The crop pairs ``train()`` sees in its first ``steps`` batches (epoch 0, seed 42)."""
    pairs = PairSampler(texts, "crops", n_sentences, SEED).epoch(0)
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
                 precision: str = "fp32") -> TrainConfig:
    """Ours, as a user would run it: crops, the paper's optimiser settings, CPU, no logging."""
    return TrainConfig(augmentation="crops", n_sentences=n_sentences, batch_size=batch_size, steps=steps,
                       max_length=max_length, seed=SEED, device="cpu", precision=precision, log_every=10**9)


def gflops(params: int, tokens: int, seconds: float) -> float:
    """Achieved training GFLOP/s by the 6 × parameters × tokens rule."""
    return 6.0 * params * tokens / seconds / 1e9

