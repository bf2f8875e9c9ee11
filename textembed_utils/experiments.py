"""Experiment building blocks the notebooks call: profile → corpus, encoder, training, metrics.

Trained models are cached by everything that determines them (profile start,
training config, corpus fingerprint, package version), so the crops model that
notebook 1 trains is reused by notebooks 3 and 6 instead of being retrained.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .atomic import file_lock, write_json
from .corpora import Corpus, load_corpus
from .errors import TextembedError
from .evaluation.encode import encode
from .evaluation.knn import knn_accuracy
from .models import TextEncoder, load_encoder
from .paths import cache_dir
from .training import TrainConfig, train

STARTS = ("pretrained", "scratch", "bare")
_TRAIN_KEYS = ("lr", "batch_size", "steps", "epochs", "max_length")


@dataclass
class EvalSet:
    """Labelled texts on which kNN accuracy is measured (croppable or not)."""

    texts: list[str]
    labels: np.ndarray


def profile_corpus(profile: dict, name: str | None = None, size: int | None = None) -> Corpus:
    """The profile's corpus (or ``name``), subsampled to ``size`` / the profile's ``corpus_size``."""
    corpus = load_corpus(name or profile["corpus"])
    return corpus.subset(size if size is not None else profile.get("corpus_size"), seed=profile["seed"])


def eval_set(profile: dict, corpus: Corpus) -> EvalSet:
    """The labelled texts of ``corpus``, subsampled to ``eval.eval_size`` (seeded) to fit the budget."""
    texts, labels = corpus.labelled()
    size = profile["eval"].get("eval_size")
    if size is not None and size < len(texts):
        idx = np.sort(np.random.default_rng(profile["seed"]).choice(len(texts), size, replace=False))
        texts, labels = [texts[i] for i in idx], labels[idx]
    return EvalSet(texts, labels)


def start_spec(profile: dict, start: str) -> dict:
    if start not in profile["starts"]:
        raise TextembedError(f"Unknown start '{start}'.", f"use one of: {', '.join(profile['starts'])}.")
    return profile["starts"][start]


def make_encoder(profile: dict, start: str, pooling: str | None = None) -> TextEncoder:
    """A fresh (untrained) encoder for one of the profile's starts."""
    spec = start_spec(profile, start)
    return load_encoder(
        spec["model"], init=spec.get("init", "pretrained"), pooling=pooling,
        max_length=spec.get("max_length", 128), config_overrides=spec.get("config_overrides"),
        tokenizer_from=spec.get("tokenizer_from", "all-MiniLM-L6-v2"), seed=profile["seed"],
    )


def train_config(profile: dict, start: str, augmentation: str, **overrides) -> TrainConfig:
    """The profile's training settings for ``start`` with ``augmentation`` and any overrides."""
    spec = start_spec(profile, start)
    settings = {k: spec[k] for k in _TRAIN_KEYS if k in spec}
    settings.update(
        augmentation=augmentation, n_sentences=profile["crops"]["n_sentences"],
        splitter=profile["crops"]["splitter"], seed=profile["seed"], device=profile["device"],
    )
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**settings)


def knn_metrics(encoder: TextEncoder, data: EvalSet, profile: dict, progress: bool = False) -> dict[str, float]:
    """kNN accuracy, Euclidean on raw embeddings and cosine, on ``data``."""
    ev = profile["eval"]
    vectors = encode(encoder, data.texts, batch_size=ev["batch_size"], max_length=ev["max_length"],
                     progress=progress)
    common = dict(k=ev["k"], test_size=ev["test_size"], seed=profile["seed"], stratify=ev["stratify"])
    return {
        "knn_euclidean": knn_accuracy(vectors, data.labels, metric="euclidean", **common),
        "knn_cosine": knn_accuracy(vectors, data.labels, metric="cosine", **common),
    }


def _cache_key(profile: dict, start: str, config: TrainConfig, corpus: Corpus, pooling: str | None) -> str:
    payload = json.dumps(
        [__version__, profile["name"], start_spec(profile, start), config.fingerprint(),
         corpus.fingerprint(), pooling], sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def trained_encoder(
    profile: dict,
    start: str,
    augmentation: str,
    corpus: Corpus,
    *,
    eval_data: EvalSet | None = None,
    pooling: str | None = None,
    progress: bool = True,
    **overrides,
) -> tuple[TextEncoder, dict]:
    """Train (or load from the cache) ``start`` with ``augmentation`` on ``corpus``.

    Returns the encoder and a summary: losses, learning curve (kNN accuracy every
    ``eval_every`` steps on ``eval_data``), crop statistics and timings. A cache
    hit returns the stored summary with ``"cached": True``.
    """
    config = train_config(profile, start, augmentation, **overrides)
    folder = cache_dir() / "models" / profile["name"] / f"{start}-{augmentation}-{_cache_key(profile, start, config, corpus, pooling)}"
    with file_lock(folder.with_suffix(".lock")):
        summary_path = folder / "training.json"
        if summary_path.exists():
            encoder = load_encoder(str(folder), max_length=config.max_length, pooling=pooling)
            return encoder, {**json.loads(summary_path.read_text()), "cached": True}
        encoder = make_encoder(profile, start, pooling)
        eval_fn = (lambda enc, step: knn_metrics(enc, eval_data, profile)) if eval_data else None
        began = time.perf_counter()
        result = train(encoder, corpus.texts, config, eval_fn=eval_fn,
                       checkpoint_dir=folder.with_name(folder.name + ".ckpt"), progress=progress)
        summary = {
            "start": start, "augmentation": augmentation, "config": result.config,
            "crop_stats": {"texts": result.crop_stats.texts, "usable": result.crop_stats.croppable,
                           "dropped": result.crop_stats.dropped},
            "total_steps": result.total_steps, "batches_per_epoch": result.batches_per_epoch,
            "losses": result.losses, "curve": result.curve, "train_seconds": result.train_seconds,
            "seconds_per_step": result.seconds_per_step, "wall_seconds": time.perf_counter() - began,
            "device": result.device, "model": encoder.name, "parameters": encoder.parameter_count(),
        }
        encoder.save(folder)
        write_json(summary_path, summary)
        return encoder, {**summary, "cached": False}
