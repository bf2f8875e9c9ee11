"""Chapter 6 — what fine-tuning changes, layer by layer (paper §4, Fig. 4).

(b/c) The pooled output of every hidden state (layer 0 = the embedding output)
is scored by kNN accuracy before and after training with each augmentation, for
every start in ``starts``; the same vectors give how much each layer's
representation moved (1 − linear CKA between before and after).
(a) The start ``freeze_start`` is fine-tuned with crops with its embeddings and
first k layers frozen, for every k = 0 … num_layers; k = num_layers leaves
nothing to train, so it *is* the untrained model.

Both parts encode at the profile's ``layers.max_length`` (else its eval length)
and score on the start's eval texts. The trained models of (b/c) are those of
chapters 1 and 5 (same settings, from the model cache).

Record ``06_layers``: ``rows`` = the freezing runs × metrics (``overrides`` holds
``freeze_layers``; the untrained model is k = num_layers); ``metrics["layers"]`` =
``{<run name>: [{"layer", "knn_euclidean", "knn_cosine", "change"}, ...]}`` (``change``
= 1 − linear CKA to the same layer of the untrained model, in [0, 1]);
``findings`` = full fine-tuning vs untrained and last-two-layers vs full, with
paired intervals; ``metrics["verdict"]`` and ``notes``: the verdict on the claim
that training only the last two layers almost matches full fine-tuning and the last
layers change most.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import experiments as ex
from ..augment import AUGMENTATIONS
from ..errors import TextembedError
from ..evaluation.layers import layer_scores, linear_cka
from ..evaluation.scoring import KNN_METRICS
from ..experiments import Evaluated, Run
from ..params import Param
from ..results import tables
from ..results.findings import Finding, compare
from ..results.verdicts import Verdict
from .common import PROFILE, TRAINING, training_overrides
from .common import validate as _validate

SPEC: dict[str, Param] = {
    **PROFILE,
    "starts": Param(str, optional=True, expected="comma-separated starts, e.g. 'pretrained,scratch'"),
    "augmentations": Param(str, expected="comma-separated augmentations, e.g. 'crops,dropout'"),
    "freeze_start": Param(str, choices=ex.STARTS),
    "freeze_steps": Param(int, optional=True),  # its range: ranges.OTHER_RANGES
    **TRAINING,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings: ``layer_runs`` (per start: untrained, then each augmentation) and the freezing runs.

    None → the profile's ``layers`` section, then the start's own settings.
    """
    settings = _validate(namespace, SPEC)
    profile = settings["profile_settings"]
    section = profile.get("layers", {})
    starts = settings["starts"].split(",") if settings["starts"] else section.get("starts", ["pretrained", "scratch"])
    augmentations = [a.strip() for a in settings["augmentations"].split(",")]
    unknown = [a for a in augmentations if a not in AUGMENTATIONS]
    if unknown:
        raise TextembedError(f"Unknown augmentation(s) {unknown} in `augmentations`.",
                             f"use some of: {', '.join(AUGMENTATIONS)}.")
    starts = [s.strip() for s in starts]
    for start in starts:
        ex.start_spec(profile, start)
    overrides = training_overrides(settings)
    settings["layer_runs"] = [run for start in starts for run in
                              (Run(start), *(Run.of(start, a, **overrides) for a in augmentations))]
    settings["freeze_steps"] = settings["freeze_steps"] or section.get("freeze_steps") or settings["steps"]
    settings["freeze_overrides"] = {**overrides, "steps": settings["freeze_steps"]}
    settings["eval_max_length"] = section.get("max_length") or profile["eval"]["max_length"]
    return settings


def freeze_runs(settings: Mapping[str, Any], num_layers: int) -> list[Run]:
    """``freeze_start`` with crops and the embeddings + first k layers frozen, k = 0 … num_layers − 1; then untrained.

    k = 0 trains every transformer layer (the reference, as in the paper, whose sweep
    always froze the embeddings); k = num_layers trains nothing: the untrained model.
    """
    start = settings["freeze_start"]
    trained = [Run.of(start, "crops", freeze_layers=k, **settings["freeze_overrides"]) for k in range(num_layers)]
    return [*trained, Run(start)]


def frozen_layers(run: Run, num_layers: int) -> int:
    """k of a freezing run: its ``freeze_layers`` override, or ``num_layers`` for the untrained model."""
    return dict(run.overrides).get("freeze_layers", num_layers) if run.trained else num_layers


def layer_table(per_layer_vectors: Mapping[Run, np.ndarray], labels: Mapping[str, np.ndarray],
                spec) -> dict[Run, list[dict[str, float]]]:
    """Per run: every layer's kNN accuracy and its change (1 − linear CKA) from the start's untrained model."""
    results = {}
    for run, vectors in per_layer_vectors.items():
        before = per_layer_vectors[run.untrained()]
        scores = layer_scores(vectors, labels[run.start], spec)
        results[run] = [{"layer": i, "knn_euclidean": s["knn_euclidean"], "knn_cosine": s["knn_cosine"],
                         "change": 1.0 - linear_cka(base, layer)}
                        for i, (s, layer, base) in enumerate(zip(scores, vectors, before))]
    return results


def layer_gaps(results: Mapping[Run, list[dict]]) -> pd.DataFrame:
    """After − before kNN accuracy (Euclidean, p.p.) per layer, one column per trained run (Fig. 4b–c's gap)."""
    # Starts differ in depth (6 layers against 2), so each column is a Series: shorter ones end in blanks.
    gaps = {run.name: pd.Series([100 * (s["knn_euclidean"] - b["knn_euclidean"])
                                 for s, b in zip(layers, results[run.untrained()])], dtype=float)
            for run, layers in results.items() if run.trained}
    frame = pd.DataFrame(gaps)
    frame.index.name = "layer"
    return frame.round(1)


def per_layer(results: Mapping[Run, list[dict]], start: str, metric: str = "knn_euclidean") -> dict[str, list[float]]:
    """``{augmentation: [metric of layer 0, 1, …]}`` for one start, as ``plotting.layer_curves`` takes it."""
    return {run.augmentation: [s[metric] for s in layers] for run, layers in results.items() if run.start == start}


def freezing_table(results: Mapping[Run, Evaluated], num_layers: int) -> pd.DataFrame:
    """One row per number of frozen layers: kNN accuracies (%, 95 % interval), batches (and warm-up ones), seconds."""
    rows = {}
    for run, evaluated in results.items():
        fitted = evaluated.result
        rows[f"k = {frozen_layers(run, num_layers)}"] = {
            **tables.accuracy_columns(evaluated.scores.accuracies, KNN_METRICS),
            "batches": fitted.total_steps, "warm-up batches": fitted.warmup_steps,
            "train s": round(fitted.train_seconds, 1)}
    return pd.DataFrame.from_dict(rows, orient="index")


def freezing_points(results: Mapping[Run, Evaluated], num_layers: int,
                    metric: str = "knn_euclidean") -> tuple[list[int], list[float]]:
    """Frozen layers k and the accuracy after training with them frozen (Fig. 4a), ordered by k."""
    points = sorted((frozen_layers(run, num_layers), ev.scores[metric]) for run, ev in results.items())
    return [k for k, _ in points], [accuracy for _, accuracy in points]


def _by_k(results: Mapping[Run, Evaluated], num_layers: int) -> dict[int, Evaluated]:
    return {frozen_layers(run, num_layers): ev for run, ev in results.items()}


def findings(freeze_results: Mapping[Run, Evaluated], num_layers: int,
             metric: str = "knn_euclidean") -> list[Finding]:
    """Full fine-tuning (k = 0) vs untrained; the last two layers only (k = L − 2) vs full fine-tuning."""
    by_k = _by_k(freeze_results, num_layers)
    last_two = by_k[max(num_layers - 2, 0)]
    return [compare(by_k[0], by_k[num_layers], metric, claim="fine-tuning improves on the untrained model"),
            compare(last_two, by_k[0], metric, claim="training only the last two layers vs all")]


def verdict(found: list[Finding], layer_results: Mapping[Run, list[dict]], start: str,
            num_layers: int) -> tuple[str, str]:
    """The paper's claim on this run: the last two layers suffice (Fig. 4a) and change most (Fig. 4b–c).

    "Suffice" is read with the interval: training only the last two layers is not
    measurably worse than training all (the paired interval of last two − all
    reaches up to zero or above). Without a measurable gain from training at all,
    there is nothing to split and the verdict is "within noise"; when only one of
    the two parts holds it is "mixed", when neither does "opposite".
    """
    gain, last_two = found
    crops_run = ex.find_run(layer_results, start, "crops")
    crops = layer_results[crops_run] if crops_run else []
    most_changed = max(crops, key=lambda s: s["change"])["layer"] if crops else None
    evidence = (f"{start}: {gain.sentence()}; {last_two.sentence()}; most changed hidden state with crops: "
                f"{most_changed} of 0–{num_layers}")
    if gain.verdict is not Verdict.REPRODUCED:
        return Verdict.WITHIN_NOISE.value, f"training gave no gain outside the noise, nothing to split ({evidence})"
    suffices = last_two.high >= 0.0
    last_change_most = most_changed is not None and most_changed >= num_layers - 1
    holds = suffices + last_change_most
    return (Verdict.REPRODUCED if holds == 2 else Verdict.MIXED if holds == 1 else Verdict.OPPOSITE).value, evidence


def record(settings: Mapping[str, Any], layer_results: Mapping[Run, list[dict]],
           freeze_results: Mapping[Run, Evaluated], found: list[Finding], status: str, evidence: str,
           seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    config = {k: v for k, v in settings.items() if k not in ("profile_settings", "layer_runs")}
    config["layer_runs"] = [run.fields() for run in layer_results]
    config["freeze_train_configs"] = {run.name: ev.result.config for run, ev in freeze_results.items()}
    metrics = {"layers": {run.name: layers for run, layers in layer_results.items()}, "verdict": status}
    return write_record(
        profile["name"], "06_layers", config=config, metrics=metrics, rows=tables.tidy_rows(freeze_results),
        findings=[f.to_dict() for f in found], wall_time_s=seconds, device=profile["device"], notes=evidence,
        data_fingerprint=ex.profile_corpus(profile).fingerprint(),
    )
