"""Chapter 3 — kNN accuracy on in-domain data (paper §3.3, Table 2, Table S3, Fig. 2).

For each start of the profile: the untrained model, dropout and crops (the
models of chapter 1, from the cache), plus the profile's off-the-shelf
references and a TF-IDF baseline, all scored on the same held-out split by kNN
accuracy (Euclidean and cosine) and a linear probe; openTSNE maps coloured by class.

Record ``03_knn``: ``metrics["<start>/<augmentation>"]`` and
``metrics["reference/<model>"]`` = ``{"knn_euclidean", "knn_cosine", "linear_probe",
"eval_texts"}``; ``metrics["tfidf/<eval texts>"]`` = ``{"knn_cosine", "eval_texts"}``
(accuracies in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import experiments as ex
from ..evaluation.baselines import tfidf_knn_accuracy
from ..evaluation.tsne import tsne_map
from ..models import load_encoder
from ..params import Param
from .common import PROFILE, PROFILE_WIDE
from .common import validate as _validate

SPEC: dict[str, Param] = {
    **PROFILE,
    "models": Param(str, optional=True, expected="start:augmentation pairs"),
    "references": Param(str, optional=True, expected="comma-separated model names"),
    "tsne_models": Param(str, optional=True, expected="start:augmentation pairs"),
    **PROFILE_WIDE,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings; None → the profile's ``knn`` section and ``references``."""
    settings = _validate(namespace, SPEC)
    profile = settings["profile_settings"]
    defaults = profile["knn"]
    settings["models"] = ex.parse_runs(settings["models"] or defaults["models"], profile)
    settings["tsne_models"] = ex.parse_runs(settings["tsne_models"] or defaults["tsne_models"], profile)
    references = settings["references"]
    settings["references"] = references.split(",") if references else list(profile["references"])
    return settings


def _is_start_model(profile: dict, name: str) -> str | None:
    """The start whose untrained model *is* reference ``name`` (all-MiniLM-L6-v2 on the embedded default)."""
    for start, spec in profile["starts"].items():
        if spec["model"] == name and spec.get("init", "pretrained") == "pretrained":
            return start
    return None


def evaluate_all(settings: Mapping[str, Any]) -> dict[str, dict]:
    """Every model, reference and TF-IDF baseline on its start's eval set: metrics and embeddings."""
    profile = settings["profile_settings"]
    corpus = ex.profile_corpus(profile)
    results: dict[str, dict] = {}
    for start, augmentation in settings["models"]:
        data = ex.start_eval_set(profile, corpus, start)
        run = ex.evaluated_run(profile, start, augmentation, corpus, data)
        results[f"{start}/{augmentation}"] = {"metrics": {**run.metrics, "eval_texts": len(data.texts)},
                                              "vectors": run.vectors, "labels": data.labels}
    reference_data = ex.eval_set(profile, corpus, min(_start_sizes(profile, corpus, settings)))
    for name in settings["references"]:
        start = _is_start_model(profile, name)
        if start and f"{start}/{ex.UNTRAINED}" in results:
            print(f"reference {name} is the untrained '{start}' start: see the row {start}/{ex.UNTRAINED}")
            continue
        vectors = ex.cached_embeddings(profile, load_encoder(name), reference_data.texts, f"reference-{name.replace('/', '_')}")
        results[f"reference/{name}"] = {
            "metrics": {**ex.embedding_metrics(vectors, reference_data.labels, profile),
                        "eval_texts": len(reference_data.texts)},
            "vectors": vectors, "labels": reference_data.labels,
        }
    ev = profile["eval"]
    for size in sorted(set(_start_sizes(profile, corpus, settings))):
        data = ex.eval_set(profile, corpus, size)
        accuracy = tfidf_knn_accuracy(data.texts, data.labels, k=ev["k"], seed=profile["seed"], stratify=ev["stratify"])
        results[f"tfidf/{len(data.texts)}"] = {"metrics": {"knn_cosine": accuracy, "eval_texts": len(data.texts)}}
    return results


def _start_sizes(profile: dict, corpus, settings: Mapping[str, Any]) -> list[int]:
    """Number of eval texts of each start in ``models``."""
    return [len(ex.start_eval_set(profile, corpus, start).texts) for start in dict.fromkeys(s for s, _ in settings["models"])]


def metrics_table(results: Mapping[str, dict]) -> pd.DataFrame:
    """One row per model: kNN (Euclidean, cosine), linear probe, number of eval texts."""
    frame = pd.DataFrame({name: r["metrics"] for name, r in results.items()}).T
    frame["eval_texts"] = frame["eval_texts"].astype(int)
    return frame[["knn_euclidean", "knn_cosine", "linear_probe", "eval_texts"]]


def tsne_maps(results: Mapping[str, dict], runs: list[tuple[str, str]], seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """openTSNE coordinates and labels for each of ``runs`` that was evaluated."""
    names = [f"{start}/{aug}" for start, aug in runs if f"{start}/{aug}" in results]
    return {name: (tsne_map(results[name]["vectors"], seed=seed), results[name]["labels"]) for name in names}


def record(settings: Mapping[str, Any], results: Mapping[str, dict], seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    config = {k: v for k, v in settings.items() if k != "profile_settings"}
    return write_record(profile["name"], "03_knn", config=config,
                        metrics={name: r["metrics"] for name, r in results.items()}, wall_time_s=seconds,
                        device=profile["device"], data_fingerprint=ex.profile_corpus(profile).fingerprint())
