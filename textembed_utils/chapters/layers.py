"""Chapter 6 — what fine-tuning changes, layer by layer (paper §4, Fig. 4).

(b/c) The pooled output of every hidden state (layer 0 = the embedding output)
is scored by kNN accuracy before and after training with each augmentation, for
every start in ``starts``; the same vectors give how much each layer's
representation moved (1 − linear CKA between before and after).
(a) The start ``freeze_start`` is fine-tuned with crops with its embeddings and
first k layers frozen, for every k = 0 … num_layers; k = num_layers leaves
nothing to train, so it *is* the untrained model.

Both parts encode at the profile's ``layers.max_length`` (else its eval length)
and score on the start's eval texts.

The trained models of (b/c) are those of chapters 1 and 5 (same settings, from
the model cache).

Record ``06_layers``:
- ``metrics["layers/<start>/<augmentation>"]`` = ``{"<layer>": {"layer", "knn_euclidean", "knn_cosine",
  "change"}}`` for layer 0 … num_layers (``augmentation`` includes ``untrained``; ``change`` =
  1 − linear CKA to the same layer of the untrained model, in [0, 1]);
- ``metrics["freeze/<start>/k=<k>"]`` = ``{"knn_euclidean", "knn_cosine", "linear_probe"}`` for
  k = 0 … num_layers (k = 0: every transformer layer trained; k = num_layers: untrained);
- ``metrics["verdict"]``: "reproduced" / "not reproduced" / "inconclusive" for the claim that
  training only the last two layers almost matches full fine-tuning and the last layers change
  most; ``notes`` gives the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import experiments as ex
from ..augment import AUGMENTATIONS
from ..errors import TextembedError
from ..evaluation.encode import encode
from ..evaluation.knn import knn_accuracy
from ..params import Param, positive
from ..training import TrainConfig
from .common import PROFILE, TRAINING, training_overrides
from .common import validate as _validate
from .domain_adaptation import INCONCLUSIVE, MIN_MEASURABLE_GAIN_PP, NOT_REPRODUCED, REPRODUCED

# Within this many p.p. of full fine-tuning counts as "almost the same" (the paper's Fig. 4a reading).
ALMOST_PP = 1.0

SPEC: dict[str, Param] = {
    **PROFILE,
    "starts": Param(str, optional=True, expected="comma-separated starts, e.g. 'pretrained,scratch'"),
    "augmentations": Param(str, expected="comma-separated augmentations, e.g. 'crops,dropout'"),
    "freeze_start": Param(str, choices=ex.STARTS),
    "freeze_steps": Param(int, optional=True, **positive("a number of batches ≥ 1")),
    **TRAINING,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings; None → the profile's ``layers`` section, then the start's own settings."""
    settings = _validate(namespace, SPEC)
    profile = settings["profile_settings"]
    section = profile.get("layers", {})
    starts = settings["starts"].split(",") if settings["starts"] else section.get("starts", ["pretrained", "scratch"])
    settings["starts"] = [s.strip() for s in starts]
    settings["augmentations"] = [a.strip() for a in settings["augmentations"].split(",")]
    unknown = [a for a in settings["augmentations"] if a not in AUGMENTATIONS]
    if unknown:
        raise TextembedError(f"Unknown augmentation(s) {unknown} in `augmentations`.",
                             f"use some of: {', '.join(AUGMENTATIONS)}.")
    for start in settings["starts"]:
        ex.start_spec(profile, start)
    settings["freeze_steps"] = settings["freeze_steps"] or section.get("freeze_steps") or settings["steps"]
    settings["eval_max_length"] = section.get("max_length") or profile["eval"]["max_length"]
    return settings


def _eval_data(settings: Mapping[str, Any], corpus, start: str) -> ex.EvalSet:
    return ex.start_eval_set(settings["profile_settings"], corpus, start)


def _layer_scores(vectors: np.ndarray, labels: np.ndarray, profile: dict) -> list[dict[str, float]]:
    """kNN accuracy (Euclidean, cosine) of every layer's pooled vectors on the profile's split."""
    ev = profile["eval"]
    common = dict(k=ev["k"], test_size=ev["test_size"], seed=profile["seed"], stratify=ev["stratify"])
    return [{"layer": i, "knn_euclidean": knn_accuracy(layer, labels, metric="euclidean", **common),
             "knn_cosine": knn_accuracy(layer, labels, metric="cosine", **common)}
            for i, layer in enumerate(vectors)]


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centered kernel alignment of two representations of the same texts (Kornblith et al., 2019).

    1 for representations equal up to rotation and isotropic scaling, near 0 for unrelated ones.
    """
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x, "fro") ** 2
    return float(cross / (np.linalg.norm(x.T @ x, "fro") * np.linalg.norm(y.T @ y, "fro")))


def layerwise(settings: Mapping[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Per ``<start>/<augmentation>``: every layer's kNN accuracy and its change from the untrained model."""
    profile = settings["profile_settings"]
    corpus = ex.profile_corpus(profile)
    overrides = training_overrides(settings)
    ev = profile["eval"]
    results = {}
    for start in settings["starts"]:
        data = _eval_data(settings, corpus, start)
        curve_data = data if ex.start_spec(profile, start).get("eval_every") else None
        before = None
        for augmentation in (ex.UNTRAINED, *settings["augmentations"]):
            encoder, _, summary = ex.run_model(profile, start, augmentation, corpus, curve_data=curve_data, **overrides)
            vectors = encode(encoder, data.texts, batch_size=ev["batch_size"], max_length=settings["eval_max_length"],
                             all_layers=True, progress=False)
            before = vectors if before is None else before
            scores = _layer_scores(vectors, data.labels, profile)
            for score, layer, base in zip(scores, vectors, before):
                score["change"] = 1.0 - linear_cka(base, layer)
            results[f"{start}/{augmentation}"] = {str(score["layer"]): score for score in scores}
            print(f"{start}/{augmentation}: {len(scores)} hidden states, last one kNN "
                  f"{scores[-1]['knn_euclidean']:.3f} ({len(data.texts)} texts)")
    return results


def layer_gaps(results: Mapping[str, dict]) -> pd.DataFrame:
    """After − before kNN accuracy (Euclidean, p.p.) per layer, one column per trained model (Fig. 4b–c's gap)."""
    gaps = {}
    for name, scores in results.items():
        start, augmentation = name.split("/", 1)
        if augmentation != ex.UNTRAINED:
            base = results[f"{start}/{ex.UNTRAINED}"]
            gaps[name] = {int(i): 100 * (s["knn_euclidean"] - base[i]["knn_euclidean"]) for i, s in scores.items()}
    frame = pd.DataFrame(gaps)
    frame.index.name = "layer"
    return frame.round(1)


def per_layer(results: Mapping[str, dict], start: str, metric: str = "knn_euclidean") -> dict[str, list[float]]:
    """``{training: [metric of layer 0, 1, …]}`` for one start, as ``plotting.layer_curves`` takes it."""
    return {name.split("/", 1)[1]: [scores[str(i)][metric] for i in range(len(scores))]
            for name, scores in results.items() if name.split("/", 1)[0] == start}


def freezing(settings: Mapping[str, Any]) -> dict[str, dict]:
    """``freeze_start`` fine-tuned with crops for ``freeze_steps`` batches, embeddings + first k layers frozen.

    k = 0 trains every transformer layer (the reference, as in the paper, whose sweep
    always froze the embeddings); k = num_layers trains nothing and is the untrained model.
    """
    profile = settings["profile_settings"]
    corpus = ex.profile_corpus(profile)
    start = settings["freeze_start"]
    data = _eval_data(settings, corpus, start)
    overrides = {**training_overrides(settings), "steps": settings["freeze_steps"]}
    untrained = ex.run_model(profile, start, ex.UNTRAINED, corpus)
    n_layers = untrained[0].num_layers
    results = {}
    for k in range(n_layers + 1):
        encoder, key, summary = (ex.run_model(profile, start, "crops", corpus, freeze_layers=k, **overrides)
                                 if k < n_layers else untrained)
        vectors = ex.cached_embeddings(profile, encoder, data.texts, key, settings["eval_max_length"])
        metrics = ex.embedding_metrics(vectors, data.labels, profile)
        results[f"k={k}"] = {"frozen": k, "metrics": metrics, "summary": summary}
        how = "nothing left to train" if not summary else (
            f"{summary['total_steps']} batches, {summary.get('train_seconds', 0):.0f} s"
            f"{', cached' if summary.get('cached') else ''}")
        print(f"{start}, embeddings + first {k} layers frozen: kNN {metrics['knn_euclidean']:.3f} ({how})")
    return results


def _warmup_batches(summary: Mapping[str, Any]) -> int:
    """How many of a run's batches were learning-rate warm-up (0 for the untrained model)."""
    if not summary:
        return 0
    return TrainConfig(**summary["config"]).warmup_steps(summary["batches_per_epoch"], summary["total_steps"])


def freezing_table(results: Mapping[str, dict]) -> pd.DataFrame:
    """One row per number of frozen layers: accuracies, batches (and how many were warm-up), training time."""
    rows = {name: {"frozen layers": run["frozen"], **run["metrics"], "batches": run["summary"].get("total_steps", 0),
                   "warm-up batches": _warmup_batches(run["summary"]),
                   "train seconds": round(run["summary"].get("train_seconds", 0.0), 1)}
            for name, run in results.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def freezing_points(results: Mapping[str, dict], metric: str = "knn_euclidean") -> tuple[list[int], list[float]]:
    """Frozen layers k and the accuracy after training with them frozen (Fig. 4a)."""
    points = sorted((run["frozen"], run["metrics"][metric]) for run in results.values())
    return [k for k, _ in points], [acc for _, acc in points]


def verdict(freeze_results: Mapping[str, dict], layer_results: Mapping[str, dict], start: str) -> tuple[str, str]:
    """The paper's claim on this run: the last two layers suffice (Fig. 4a) and change most (Fig. 4b–c).

    "Full" is k = 0 (every transformer layer trained); "last two" is k = num_layers − 2.
    """
    n_layers = max(run["frozen"] for run in freeze_results.values())

    def accuracy(k: int) -> float:
        return 100 * freeze_results[f"k={k}"]["metrics"]["knn_euclidean"]

    full, last_two, untrained = accuracy(0), accuracy(max(n_layers - 2, 0)), accuracy(n_layers)
    crops = layer_results.get(f"{start}/crops", {})
    most_changed = max(crops.values(), key=lambda s: s["change"])["layer"] if crops else None
    evidence = (f"{start}: all {n_layers} layers trained {full:.1f} %, last two only {last_two:.1f} %, untrained "
                f"{untrained:.1f} %; most changed hidden state with crops: {most_changed} of 0–{n_layers}")
    if full - untrained < MIN_MEASURABLE_GAIN_PP:
        return INCONCLUSIVE, f"training gained < {MIN_MEASURABLE_GAIN_PP:g} p.p., nothing to split ({evidence})"
    suffices = full - last_two <= ALMOST_PP
    last_change_most = most_changed is not None and most_changed >= n_layers - 1
    return (REPRODUCED if suffices and last_change_most else NOT_REPRODUCED), evidence


def record(settings: Mapping[str, Any], layer_results: Mapping[str, dict], freeze_results: Mapping[str, dict],
           seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    status, notes = verdict(freeze_results, layer_results, settings["freeze_start"])
    metrics: dict[str, Any] = {f"layers/{name}": scores for name, scores in layer_results.items()}
    metrics.update({f"freeze/{settings['freeze_start']}/{name}": run["metrics"]
                    for name, run in freeze_results.items()})
    metrics["verdict"] = status
    config = {k: v for k, v in settings.items() if k != "profile_settings"}
    config["freeze_train_configs"] = {name: run["summary"].get("config") for name, run in freeze_results.items()}
    return write_record(
        profile["name"], "06_layers", config=config, metrics=metrics, wall_time_s=seconds,
        device=profile["device"], notes=notes, data_fingerprint=ex.profile_corpus(profile).fingerprint(),
    )
