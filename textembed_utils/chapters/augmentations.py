"""Chapter 1 — crops vs dropout vs masking (paper §3.1–3.2, Fig. 1, Fig. S1).

The notebook fits every run of ``runs`` (and the untrained start each began
from) with ``experiments.fit`` and scores it with ``evaluation.scoring.score``
in its own cells; this module holds what it varies (the runs, the sweep), the
tables, the findings and the record.

Record ``01_augmentations``: ``rows`` = one row per run × metric (``run``,
``start``, ``augmentation``, ``overrides``, ``part`` = "runs" or "sweep", ``metric``,
``value``, ``low``, ``high``, ``n_test``; accuracies in [0, 1]); ``findings`` = the
crops-vs-dropout and gain-over-untrained comparisons with paired 95 % intervals
and verdicts; ``curves[<run>]`` = ``[{"step", "knn_euclidean", "knn_cosine"}, ...]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import experiments as ex
from ..experiments import Evaluated, Run
from ..params import Param
from ..results import tables
from ..evaluation.intervals import seed_spread
from ..results.findings import Finding, compare
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
    """The notebook's settings: ``runs`` (trained runs, the reader's overrides applied) and ``sweep_runs``.

    ``runs`` and ``sweep_*`` left at None take the profile's ``augmentations`` section.
    """
    settings = _validate(namespace, SPEC)
    profile = settings["profile_settings"]
    defaults = profile.get("augmentations", {})
    overrides = training_overrides(settings)
    parsed = ex.parse_runs(settings["runs"] or defaults["runs"], profile)
    settings["runs"] = [run.with_overrides(**overrides) for run in parsed if run.trained]
    parameter = settings["sweep_parameter"] or defaults.get("sweep_parameter")
    values = settings["sweep_values"]
    values = [float(v) for v in values.split(",")] if values else defaults.get("sweep_values", [])
    if parameter in ("n_sentences", "batch_size"):
        values = [int(v) for v in values]
    settings["seed_runs"] = [Run.of(start, augmentation, **overrides, seed=None if seed == profile["seed"] else seed)
                             for start in defaults.get("seed_starts", []) for seed in defaults.get("seeds", [])
                             for augmentation in ("crops", "dropout")]
    base = Run.of(settings["sweep_start"], "crops", **overrides)
    settings.update(sweep_parameter=parameter,
                    sweep_runs=[base.with_overrides(**{parameter: v}) for v in values] if parameter else [])
    return settings


def starts(runs: list[Run]) -> list[str]:
    """The starts the runs use, in order of first appearance."""
    return list(dict.fromkeys(run.start for run in runs))


def results_table(results: Mapping[Run, Evaluated]) -> pd.DataFrame:
    """One row per run: accuracies in %, each with its 95 % interval, and the number of test texts."""
    return pd.DataFrame.from_dict({run.name: tables.accuracy_columns(ev.scores.accuracies)
                                   for run, ev in results.items()}, orient="index")


def training_table(results: Mapping[Run, Evaluated]) -> pd.DataFrame:
    """One row per trained run: batches (and epochs), training seconds, arithmetic, texts that gave pairs."""
    rows = {}
    for run, evaluated in results.items():
        fitted = evaluated.result
        if run.trained:
            rows[run.name] = {"batches": fitted.total_steps,
                              "epochs": round(fitted.total_steps / fitted.batches_per_epoch, 2),
                              "train s": round(fitted.train_seconds), "precision": fitted.precision,
                              "training texts": fitted.crop_stats.get("usable")}
    return pd.DataFrame.from_dict(rows, orient="index")


def curves(results: Mapping[Run, Evaluated]) -> dict[str, list[dict]]:
    """The learning curves of the runs that recorded one, by run name."""
    return {run.name: ev.result.curve for run, ev in results.items() if ev.result.curve}


def losses(results: Mapping[Run, Evaluated]) -> dict[str, list[float]]:
    """Per-batch InfoNCE losses of the trained runs, by run name."""
    return {run.name: ev.result.losses for run, ev in results.items() if ev.result.losses}


def findings(results: Mapping[Run, Evaluated], metric: str = "knn_euclidean") -> list[Finding]:
    """Per start: crops vs dropout, crops vs crops with masking (Fig. S1c), and each augmentation vs the untrained
    model, with paired intervals."""
    found = []
    for start in starts(list(results)):
        crops, dropout = Run(start, "crops"), Run(start, "dropout")
        if crops in results and dropout in results:
            found.append(compare(results[crops], results[dropout], metric, claim="crops beat dropout"))
        if crops in results and (with_masking := Run(start, "crops+masking")) in results:
            found.append(compare(results[crops], results[with_masking], metric,
                                 claim="crops beat crops with masking"))
        for run in results:
            if run.start == start and run.trained and not run.overrides:
                found.append(compare(results[run], results[Run(start)], metric,
                                     claim=f"{run.augmentation} improves on untrained"))
    return found


def seed_study(results: Mapping[Run, Evaluated], metric: str = "knn_euclidean") -> tuple[pd.DataFrame, dict]:
    """Crops vs dropout at each training seed of ``results`` (one row per start × seed) and its spread over seeds.

    Each row is the paired comparison on the same test texts (the test-text noise);
    the spread of the differences over seeds is the training noise, summarised per
    start by ``seed_spread`` (mean, sd and a t interval over the seeds).
    """
    rows, spreads = [], {}
    for start in starts(list(results)):
        pairs = {}
        for run in results:
            if run.start == start and run.augmentation in ("crops", "dropout"):
                pairs.setdefault(dict(run.overrides).get("seed"), {})[run.augmentation] = results[run]
        found = {seed: compare(pair["crops"], pair["dropout"], metric, claim="crops beat dropout")
                 for seed, pair in pairs.items() if len(pair) == 2}
        for seed, finding in found.items():
            row = {k: v for k, v in finding.row().items() if k not in ("claim", "comparison")}
            rows.append({"start": start, "seed": "profile's" if seed is None else seed, **row})
        if len(found) > 1:
            spreads[start] = seed_spread([finding.difference for finding in found.values()])
    return pd.DataFrame(rows), spreads


def record(settings: Mapping[str, Any], results: Mapping[Run, Evaluated], swept: Mapping[Run, Evaluated],
           seeded: Mapping[Run, Evaluated], found: list[Finding], spreads: Mapping[str, Any], seconds: float):
    """Write the chapter's results record (``seeded``: the seed study's runs; ``spreads``: its spread per start)."""
    from ..results import write_record

    profile = settings["profile_settings"]
    config = {k: v for k, v in settings.items() if k not in ("profile_settings", "runs", "sweep_runs", "seed_runs")}
    config["runs"] = [run.fields() for run in results]
    config["train_configs"] = {run.name: ev.result.config for run, ev in {**results, **swept, **seeded}.items()}
    rows = (tables.tidy_rows(results, part="runs") + tables.tidy_rows(swept, part="sweep")
            + tables.tidy_rows(seeded, part="seeds"))
    return write_record(
        profile["name"], "01_augmentations", config=config, rows=rows, findings=[f.to_dict() for f in found],
        metrics={"seed_spread": {start: spread.to_dict() for start, spread in spreads.items()}},
        curves=curves(results), wall_time_s=seconds, device=profile["device"],
        data_fingerprint=ex.profile_corpus(profile).fingerprint(),
    )
