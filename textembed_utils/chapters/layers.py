"""Chapter 6 — what fine-tuning changes, layer by layer (paper §4, Fig. 4).

(b/c) The pooled output of every hidden state (layer 0 = the embedding output)
is scored by kNN accuracy before and after training with each augmentation, for
every start in ``starts``; the same vectors give how much each layer's
representation moved (1 − linear CKA between before and after).
(a) The start ``freeze_start`` is fine-tuned with crops with its embeddings and
first k layers frozen, for each k of ``freeze_depths`` (default: every k = 0 …
num_layers − 1; the claim's k = 0 and k = num_layers − 2 are always among them);
k = num_layers leaves nothing to train, so it *is* the untrained model.

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
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from .. import experiments as ex
from ..augment import AUGMENTATIONS
from ..errors import TextembedError
from ..evaluation.intervals import Share, paired_difference, paired_share
from ..evaluation.layers import layer_scores, linear_cka
from ..evaluation.scoring import KNN_METRICS
from ..experiments import Evaluated, Run
from ..params import Param
from ..results import tables
from ..results.findings import Finding, compare
from ..results.verdicts import Verdict, verdict as verdict_of
from .common import PROFILE, TRAINING, training_overrides
from .common import validate as _validate

SPEC: dict[str, Param] = {
    **PROFILE,
    "starts": Param(str, optional=True, expected="comma-separated starts, e.g. 'pretrained,scratch'"),
    "augmentations": Param(str, expected="comma-separated augmentations, e.g. 'crops,dropout'"),
    "freeze_start": Param(str, choices=ex.STARTS),
    "freeze_depths": Param(str, optional=True, expected="comma-separated numbers of frozen layers, e.g. '0,4'"),
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
    depths = settings["freeze_depths"]
    depths = [_depth(d) for d in depths.split(",")] if depths else section.get("freeze_depths")
    settings["freeze_depths"] = sorted(set(depths)) if depths is not None else None
    settings["freeze_steps"] = settings["freeze_steps"] or section.get("freeze_steps") or settings["steps"]
    settings["freeze_overrides"] = {**overrides, "steps": settings["freeze_steps"]}
    settings["eval_max_length"] = section.get("max_length") or profile["eval"]["max_length"]
    settings["eval_size"] = section.get("eval_size")
    return settings


def eval_set(settings: Mapping[str, Any], corpus, start: str) -> ex.EvalSet:
    """The texts this chapter scores ``start`` on: the profile's ``layers.eval_size`` seeded subset, else the
    start's own eval set. Every layer of every model, and each freezing run, is encoded on them."""
    profile = settings["profile_settings"]
    size = settings["eval_size"]
    return ex.eval_set(profile, corpus, size) if size else ex.start_eval_set(profile, corpus, start)


def _depth(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise TextembedError(f"`freeze_depths` holds {text.strip()!r}, not a whole number of frozen layers.",
                             "write comma-separated whole numbers, e.g. freeze_depths='0,4'.") from None


def freeze_depths(settings: Mapping[str, Any], num_layers: int) -> list[int]:
    """The k trained with k layers frozen: ``freeze_depths`` (else every k < num_layers), always with 0 and L − 2.

    Those two are the claim's (all layers trained vs only the last two), so a
    shorter sweep never loses them; each k must leave a layer to train.
    """
    chosen = settings.get("freeze_depths")
    depths = set(range(num_layers) if chosen is None else chosen) | {0, max(num_layers - 2, 0)}
    outside = sorted(k for k in depths if not 0 <= k < num_layers)
    if outside:
        raise TextembedError(f"`freeze_depths` {outside} is outside 0 … {num_layers - 1}: freezing k ≥ {num_layers} "
                             f"layers of {settings['freeze_start']} leaves nothing to train.",
                             f"choose depths from 0 to {num_layers - 1} (the untrained model is k = {num_layers}).")
    return sorted(depths)


def freeze_runs(settings: Mapping[str, Any], num_layers: int) -> list[Run]:
    """``freeze_start`` with crops and the embeddings + first k layers frozen, k of ``freeze_depths``; then untrained.

    k = 0 trains every transformer layer (the reference, as in the paper, whose sweep
    always froze the embeddings); k = num_layers trains nothing: the untrained model.
    """
    start = settings["freeze_start"]
    trained = [Run.of(start, "crops", freeze_layers=k, **settings["freeze_overrides"])
               for k in freeze_depths(settings, num_layers)]
    return [*trained, Run(start)]


def frozen_layers(run: Run, num_layers: int) -> int:
    """k of a freezing run: its ``freeze_layers`` override, or ``num_layers`` for the untrained model."""
    return dict(run.overrides).get("freeze_layers", num_layers) if run.trained else num_layers


def _with_intervals(scores) -> dict[str, float]:
    """``{metric: value, metric_low: …, metric_high: …}`` for each kNN metric of one layer's ``Scores``."""
    row = {}
    for metric in KNN_METRICS:
        accuracy = scores.accuracies[metric]
        row.update({metric: accuracy.value, f"{metric}_low": accuracy.low, f"{metric}_high": accuracy.high})
    return row


def layer_table(per_layer_vectors: Mapping[Run, np.ndarray], labels: Mapping[str, np.ndarray],
                spec) -> dict[Run, list[dict[str, float]]]:
    """Per run: every layer's kNN accuracy (with its 95 % interval) and its change (1 − linear CKA) from the
    start's untrained model."""
    results = {}
    for run, vectors in per_layer_vectors.items():
        before = per_layer_vectors[run.untrained()]
        scores = layer_scores(vectors, labels[run.start], spec)
        results[run] = [{"layer": i, **_with_intervals(s), "change": 1.0 - linear_cka(base, layer)}
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


def per_layer_intervals(results: Mapping[Run, list[dict]], start: str,
                        metric: str = "knn_euclidean") -> dict[str, list[tuple[float, float]]]:
    """``{augmentation: [(low, high) of layer 0, 1, …]}``: the 95 % intervals of ``per_layer``'s accuracies."""
    return {run.augmentation: [(s[f"{metric}_low"], s[f"{metric}_high"]) for s in layers]
            for run, layers in results.items() if run.start == start}


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


def freezing_intervals(results: Mapping[Run, Evaluated], num_layers: int,
                       metric: str = "knn_euclidean") -> list[tuple[float, float]]:
    """The 95 % interval of each of ``freezing_points``' accuracies, in the same order (by k)."""
    by_k = sorted(results.items(), key=lambda item: frozen_layers(item[0], num_layers))
    return [(ev.scores.accuracies[metric].low, ev.scores.accuracies[metric].high) for _, ev in by_k]


def _by_k(results: Mapping[Run, Evaluated], num_layers: int) -> dict[int, Evaluated]:
    return {frozen_layers(run, num_layers): ev for run, ev in results.items()}


def findings(freeze_results: Mapping[Run, Evaluated], num_layers: int,
             metric: str = "knn_euclidean") -> list[Finding]:
    """Full fine-tuning (k = 0) vs untrained; the last two layers only (k = L − 2) vs full fine-tuning."""
    by_k = _by_k(freeze_results, num_layers)
    last_two = by_k[max(num_layers - 2, 0)]
    return [compare(by_k[0], by_k[num_layers], metric, claim="fine-tuning improves on the untrained model"),
            compare(last_two, by_k[0], metric, claim="training only the last two layers vs all")]


def last_two_share(freeze_results: Mapping[Run, Evaluated], num_layers: int,
                   metric: str = "knn_euclidean") -> Share | None:
    """The share of full fine-tuning's gain that training only the last two layers reaches, with its interval.

    None when full fine-tuning (k = 0) gains nothing beyond the noise over the
    untrained model: then there is no gain to match, and no share to report.
    """
    by_k = _by_k(freeze_results, num_layers)
    untrained, full, last_two = (by_k[k].scores.correct[metric] for k in (num_layers, 0, max(num_layers - 2, 0)))
    if verdict_of(paired_difference(full, untrained)) is not Verdict.HOLDS:
        return None
    return paired_share(untrained, last_two, full)


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
    if gain.verdict is not Verdict.HOLDS:
        return Verdict.WITHIN_NOISE.value, f"training gave no gain outside the noise, nothing to split ({evidence})"
    suffices = last_two.high >= 0.0
    last_change_most = most_changed is not None and most_changed >= num_layers - 1
    holds = suffices + last_change_most
    return (Verdict.HOLDS if holds == 2 else Verdict.MIXED if holds == 1 else Verdict.OPPOSITE).value, evidence


def record(settings: Mapping[str, Any], layer_results: Mapping[Run, list[dict]],
           freeze_results: Mapping[Run, Evaluated], found: list[Finding], status: str, evidence: str,
           share: Share | None, seconds: float):
    """Write the chapter's results record (``share``: ``last_two_share``, None when there is no gain to share)."""
    from ..results import write_record

    profile = settings["profile_settings"]
    config = {k: v for k, v in settings.items() if k not in ("profile_settings", "layer_runs")}
    config["layer_runs"] = [run.fields() for run in layer_results]
    config["freeze_train_configs"] = {run.name: ev.result.config for run, ev in freeze_results.items()}
    metrics = {"layers": {run.name: layers for run, layers in layer_results.items()}, "verdict": status,
               "last_two_share": None if share is None else asdict(share)}
    return write_record(
        profile["name"], "06_layers", config=config, metrics=metrics, rows=tables.tidy_rows(freeze_results),
        findings=[f.to_dict() for f in found], wall_time_s=seconds, device=profile["device"], notes=evidence,
        data_fingerprint=ex.profile_corpus(profile).fingerprint(),
    )
