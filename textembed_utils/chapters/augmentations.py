"""Chapter 1 — crops vs dropout vs masking (paper §3.1–3.2, Fig. 1, Fig. S1).

Trains every ``start:augmentation`` run of the notebook's ``runs`` on the
profile's corpus (cached, so chapters 2, 3 and 6 reuse the models), records
learning curves (kNN accuracy every ``eval_every`` batches) for starts that set
``eval_every``, and sweeps one hyperparameter of the crops run.

Record ``01_augmentations``:
- ``metrics["<start>/<augmentation>"]`` = ``{"knn_euclidean", "knn_cosine", "linear_probe"}``
  (accuracies in [0, 1]; ``augmentation`` may be ``untrained``);
- ``metrics["sweep/<parameter>=<value>"]`` = the same, for the sweep runs;
- ``curves["<start>/<augmentation>"]`` = ``[{"step", "knn_euclidean", "knn_cosine"}, ...]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import experiments as ex
from ..params import Param
from .common import PROFILE, TRAINING, training_overrides
from .common import validate as _validate

SWEEPABLE = ("temperature", "n_sentences", "lr", "batch_size")

SPEC: dict[str, Param] = {
    **PROFILE,
    "runs": Param(str, optional=True, expected="start:augmentation pairs"),
    "sweep_start": Param(str, choices=ex.STARTS),
    "sweep_parameter": Param(str, optional=True, choices=SWEEPABLE),
    "sweep_values": Param(str, optional=True, expected="comma-separated numbers"),
    **TRAINING,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings; ``runs`` and ``sweep_*`` None → the profile's ``augmentations`` section."""
    settings = _validate(namespace, SPEC)
    profile = settings["profile_settings"]
    defaults = profile.get("augmentations", {})
    settings["runs"] = ex.parse_runs(settings["runs"] or defaults["runs"], profile)
    parameter = settings["sweep_parameter"] or defaults.get("sweep_parameter")
    values = settings["sweep_values"]
    values = [float(v) for v in values.split(",")] if values else defaults.get("sweep_values", [])
    if parameter in ("n_sentences", "batch_size"):
        values = [int(v) for v in values]
    settings.update(sweep_parameter=parameter, sweep_values=values if parameter else [])
    return settings


def train_runs(settings: Mapping[str, Any]) -> dict[str, dict]:
    """Train (or load) every run and the untrained start it began from; metrics and summaries per run."""
    profile = settings["profile_settings"]
    corpus = ex.profile_corpus(profile)
    overrides = training_overrides(settings)
    results = {}
    starts = dict.fromkeys(start for start, _ in settings["runs"])
    for start in starts:
        data = ex.start_eval_set(profile, corpus, start)
        runs = [(start, ex.UNTRAINED)] + [r for r in settings["runs"] if r[0] == start and r[1] != ex.UNTRAINED]
        curve_data = data if ex.start_spec(profile, start).get("eval_every") else None
        for _, augmentation in runs:
            run = ex.evaluated_run(profile, start, augmentation, corpus, data, curve_data=curve_data, **overrides)
            metrics, summary = run.metrics, run.summary
            results[f"{start}/{augmentation}"] = {"metrics": metrics, "summary": summary, "eval_texts": len(data.texts)}
            print(f"{start}/{augmentation}: kNN {metrics['knn_euclidean']:.3f} "
                  f"({'cached' if summary.get('cached') else 'trained'} ; {summary.get('train_seconds', 0):.0f} s)")
    return results


def sweep(settings: Mapping[str, Any]) -> dict[str, dict]:
    """The crops run of ``sweep_start`` with each value of ``sweep_parameter``; metrics per value."""
    parameter = settings["sweep_parameter"]
    if not parameter:
        return {}
    profile = settings["profile_settings"]
    corpus = ex.profile_corpus(profile)
    start = settings["sweep_start"]
    data = ex.start_eval_set(profile, corpus, start)
    results = {}
    for value in settings["sweep_values"]:
        overrides = {**training_overrides(settings), parameter: value}
        run = ex.evaluated_run(profile, start, "crops", corpus, data, **overrides)
        results[f"sweep/{parameter}={value:g}"] = {"metrics": run.metrics, "summary": run.summary, "value": value}
    return results


def results_table(results: Mapping[str, dict]) -> pd.DataFrame:
    """One row per run: accuracies, training batches, seconds and arithmetic, texts used for training."""
    rows = {}
    for name, run in results.items():
        summary = run["summary"]
        rows[name] = {
            **run["metrics"],
            "batches": summary.get("total_steps", 0),
            "train seconds": round(summary.get("train_seconds", 0.0), 1),
            "precision": summary.get("precision", "–"),
            "training texts": summary.get("crop_stats", {}).get("usable"),
            "eval texts": run.get("eval_texts"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def curves(results: Mapping[str, dict]) -> dict[str, list[dict]]:
    """The learning curves of the runs that recorded one."""
    return {name: run["summary"]["curve"] for name, run in results.items() if run["summary"].get("curve")}


def losses(results: Mapping[str, dict]) -> dict[str, list[float]]:
    """Per-batch InfoNCE losses of the trained runs."""
    return {name: run["summary"]["losses"] for name, run in results.items() if run["summary"].get("losses")}


def gains(table: pd.DataFrame) -> pd.DataFrame:
    """For each start: kNN accuracy gained over the untrained model by each augmentation."""
    rows = []
    for name, row in table.iterrows():
        start, augmentation = name.split("/", 1)
        base = f"{start}/{ex.UNTRAINED}"
        if augmentation != ex.UNTRAINED and base in table.index:
            rows.append({"start": start, "augmentation": augmentation,
                         "kNN gain (Euclidean)": row["knn_euclidean"] - table.loc[base, "knn_euclidean"],
                         "kNN gain (cosine)": row["knn_cosine"] - table.loc[base, "knn_cosine"]})
    return pd.DataFrame(rows)


def record(settings: Mapping[str, Any], runs: Mapping[str, dict], swept: Mapping[str, dict], seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    every = {**runs, **swept}
    config = {k: v for k, v in settings.items() if k != "profile_settings"}
    config["train_configs"] = {name: run["summary"].get("config") for name, run in every.items()}
    return write_record(
        profile["name"], "01_augmentations", config=config,
        metrics={name: run["metrics"] for name, run in every.items()},
        curves=curves(runs), wall_time_s=seconds, device=profile["device"],
        data_fingerprint=ex.profile_corpus(profile).fingerprint(),
    )
