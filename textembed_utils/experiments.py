"""Experiment building blocks the notebooks call: profile → corpus, encoder, training, metrics.

Trained models are cached by everything that determines them (profile start,
training config, corpus fingerprint, package version), so the crops model that
notebook 1 trains is reused by notebooks 3 and 6 instead of being retrained.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .atomic import file_lock, tree_digest, write_json
from .corpora import Corpus, load_corpus
from .errors import TextembedError
from .evaluation.encode import encode
from .evaluation.knn import knn_accuracy
from .models import TextEncoder, load_encoder
from .paths import cache_dir
from .training import DEFAULT_CHECKPOINT_EVERY, TrainConfig, train

STARTS = ("pretrained", "scratch", "bare")
_TRAIN_KEYS = ("lr", "batch_size", "steps", "epochs", "max_length", "eval_every", "freeze_layers")


@dataclass
class EvalSet:
    """Labelled texts on which kNN accuracy is measured (croppable or not)."""

    texts: list[str]
    labels: np.ndarray


def profile_corpus(profile: dict, name: str | None = None, size: int | None = None) -> Corpus:
    """The profile's corpus (or ``name``), subsampled to ``size`` / the profile's ``corpus_size``."""
    corpus = load_corpus(name or profile["corpus"])
    return corpus.subset(size if size is not None else profile.get("corpus_size"), seed=profile["seed"])


def eval_set(profile: dict, corpus: Corpus, size: int | None = None) -> EvalSet:
    """The labelled texts of ``corpus``, subsampled to ``size`` / ``eval.eval_size`` (seeded) to fit the budget.

    Smaller sizes draw a subset of the larger ones' texts only approximately; pass
    the same size everywhere a comparison needs identical texts.
    """
    texts, labels = corpus.labelled()
    size = size if size is not None else profile["eval"].get("eval_size")
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
        precision=profile.get("precision", "auto"),
        checkpoint_every=DEFAULT_CHECKPOINT_EVERY,  # an interrupted notebook resumes where it stopped
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


_SUMMARY_FILE = "training.json"


def _intact_cache_entry(folder: Path) -> dict | None:
    """The stored summary of a trained model, or None when it is missing or damaged.

    A damaged entry (unreadable summary, or weights whose digest differs from the
    one recorded when they were written, e.g. a truncated model file) is reported
    with a warning and then trained again, never loaded.
    """
    summary_path = folder / _SUMMARY_FILE
    if not summary_path.exists():
        return None
    try:
        summary = json.loads(summary_path.read_text())
        intact = summary.get("weights_sha256") == tree_digest(folder, exclude=(_SUMMARY_FILE,))
    except (OSError, ValueError):
        intact = False
    if not intact:
        warnings.warn(f"The cached model {folder} is damaged (its files do not match their recorded "
                      "digest); training it again.", stacklevel=3)
        return None
    return summary


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
        summary_path = folder / _SUMMARY_FILE
        cached = _intact_cache_entry(folder)
        if cached is not None:
            encoder = load_encoder(str(folder), max_length=config.max_length, pooling=pooling)
            return encoder, {**cached, "cache_key": folder.name, "cached": True}
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
            "device": result.device, "precision": result.precision, "model": encoder.name,
            "parameters": encoder.parameter_count(),
            "cache_key": folder.name,
        }
        encoder.save(folder)
        summary["weights_sha256"] = tree_digest(folder, exclude=(_SUMMARY_FILE,))
        write_json(summary_path, summary)
        shutil.rmtree(folder.with_name(folder.name + ".ckpt"), ignore_errors=True)  # the run is complete
        return encoder, {**summary, "cached": False}


def notebook_settings(namespace: dict, spec: dict) -> dict:
    """Validate a notebook's parameters against ``spec`` and attach the loaded profile.

    Returns the parameter values plus ``"profile_settings"``: the profile as a dict.
    Parameters left at None mean "the profile's value"; chapters fill them in.
    """
    from .params import validate_parameters
    from .profiles import load_profile

    values = validate_parameters(namespace, spec)
    return {**values, "profile_settings": load_profile(values["profile"])}


def _intact_embeddings(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """Cached embeddings at ``path`` if readable and of ``shape``; else None (with a warning if present).

    A wrong width means the key named another model than the encoder at hand (e.g. a
    different hidden size): the vectors are recomputed rather than mixed with others.
    """
    if not path.exists():
        return None
    try:
        vectors = np.load(path)
    except (OSError, ValueError) as exc:
        problem = f"cannot be read ({exc})"
    else:
        if vectors.shape == shape:
            return vectors
        problem = f"has shape {vectors.shape}, expected {shape} (texts × hidden size of this encoder)"
    warnings.warn(f"The cached embeddings {path} {problem}; computing them again.", stacklevel=3)
    return None


def cached_embeddings(
    profile: dict, encoder: TextEncoder, texts: list[str], model_key: str, max_length: int | None = None
) -> np.ndarray:
    """Embeddings of ``texts`` by ``encoder``, cached on disk under ``model_key`` and the texts' hash.

    ``model_key`` must identify the weights (e.g. a trained model's ``cache_key``),
    so two chapters that embed the same texts with the same model encode only once.
    """
    ev = profile["eval"]
    max_length = max_length or ev["max_length"]
    digest = hashlib.sha256(json.dumps([__version__, model_key, max_length, texts]).encode()).hexdigest()[:16]
    path = cache_dir() / "embeddings" / profile["name"] / f"{model_key}-{digest}.npy"
    with file_lock(path.with_suffix(".lock")):
        cached = _intact_embeddings(path, (len(texts), encoder.hidden_size))
        if cached is not None:
            return cached
        vectors = encode(encoder, texts, batch_size=ev["batch_size"], max_length=max_length, progress=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
        return vectors


def base_model_key(profile: dict, start: str) -> str:
    """A cache key for the untrained encoder of ``start`` (its spec and the seed determine its weights)."""
    payload = json.dumps([start_spec(profile, start), profile["seed"]], sort_keys=True)
    return f"{start}-untrained-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def embedding_metrics(vectors: np.ndarray, labels: np.ndarray, profile: dict) -> dict[str, float]:
    """kNN accuracy (Euclidean, cosine) and linear-probe accuracy of ``vectors`` on the profile's split."""
    from .evaluation.probe import linear_probe_accuracy

    ev = profile["eval"]
    common = dict(test_size=ev["test_size"], seed=profile["seed"], stratify=ev["stratify"])
    return {
        "knn_euclidean": knn_accuracy(vectors, labels, metric="euclidean", k=ev["k"], **common),
        "knn_cosine": knn_accuracy(vectors, labels, metric="cosine", k=ev["k"], **common),
        "linear_probe": linear_probe_accuracy(vectors, labels, **common),
    }


UNTRAINED = "untrained"


def parse_runs(text: str, profile: dict) -> list[tuple[str, str]]:
    """``"bare:crops,pretrained:untrained"`` → ``[("bare", "crops"), ("pretrained", "untrained")]``, checked."""
    from .augment import AUGMENTATIONS

    runs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        start, _, augmentation = item.partition(":")
        start_spec(profile, start)
        if augmentation not in (*AUGMENTATIONS, UNTRAINED):
            raise TextembedError(
                f"Unknown augmentation '{augmentation}' in run '{item}'.",
                f"write start:augmentation with augmentation one of {', '.join((*AUGMENTATIONS, UNTRAINED))}.",
            )
        runs.append((start, augmentation))
    if not runs:
        raise TextembedError("No runs given.", "list runs as start:augmentation, e.g. 'bare:crops,bare:dropout'.")
    return runs


def start_eval_set(profile: dict, corpus: Corpus, start: str) -> EvalSet:
    """The eval set for ``start``: its own ``eval_size`` (slow encoders evaluate on fewer texts) or the profile's."""
    return eval_set(profile, corpus, start_spec(profile, start).get("eval_size"))


def run_model(
    profile: dict, start: str, augmentation: str, corpus: Corpus, *,
    curve_data: EvalSet | None = None, **overrides,
) -> tuple[TextEncoder, str, dict]:
    """``start`` trained with ``augmentation`` (cached) or untrained: the encoder, its cache key, its training summary.

    ``curve_data`` records a learning curve every ``eval_every`` batches while training;
    the summary is empty for ``"untrained"``.
    """
    if augmentation == UNTRAINED:
        return make_encoder(profile, start), base_model_key(profile, start), {}
    encoder, summary = trained_encoder(profile, start, augmentation, corpus, eval_data=curve_data,
                                       progress=False, **overrides)
    return encoder, summary["cache_key"], summary


@dataclass
class EvaluatedRun:
    """One model scored on one eval set: what the chapters tabulate and plot."""

    encoder: TextEncoder
    key: str
    summary: dict
    vectors: np.ndarray
    metrics: dict[str, float]


def evaluated_run(
    profile: dict, start: str, augmentation: str, corpus: Corpus, data: EvalSet,
    *, curve_data: EvalSet | None = None, **overrides,
) -> EvaluatedRun:
    """``run_model``, then its embeddings of ``data`` (cached) and their kNN / linear-probe accuracies."""
    encoder, key, summary = run_model(profile, start, augmentation, corpus, curve_data=curve_data, **overrides)
    vectors = cached_embeddings(profile, encoder, data.texts, key)
    return EvaluatedRun(encoder, key, summary, vectors, embedding_metrics(vectors, data.labels, profile))
