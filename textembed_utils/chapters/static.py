"""Chapter 7 — beyond the paper: static embeddings, crops on the corpus vs model2vec distillation.

A static model is the paper's bare embedding layer (§3.4): a text's vector is the
mean of its tokens' rows, so encoding is a table look-up. model2vec builds one
without data, by distilling a sentence transformer; the paper's recipe builds one
from the corpus alone, with crops. This chapter puts them side by side on the same
corpus, split and test texts:

- ``bare_model2vec:untrained`` — model2vec's distillation of the profile's
  ``static.distil_from`` model, laid onto its vocabulary (before any training its
  vectors are model2vec's own, unnormalised; ``models.distill``);
- ``bare:crops`` — the bare layer trained with crops from a random init (chapter 1's run);
- ``bare_model2vec:crops`` / ``:dropout`` — the distillation trained further on the
  corpus with crops, and with dropout as the control;
- references: the transformer itself and TF-IDF.

Each is scored by ``evaluation.scoring.score`` (kNN Euclidean and cosine, linear
probe, 95 % intervals), and its encoding throughput (texts/s, same texts, same
threads) and size on disk are measured here.

Record ``07_static``: ``rows`` = one row per model × metric (tidy, as every chapter);
``metrics`` = ``{"texts_per_second": {name: …}, "size_mb": {name: …}, "threads": …,
"distilled_from": …}``; ``findings`` = paired comparisons with verdicts.
"""

from __future__ import annotations

import pickle
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import experiments as ex
from ..errors import TextembedError
from ..evaluation.baselines import tfidf_vectorizer
from ..evaluation.scoring import EvalSpec
from ..experiments import EvalSet, Evaluated, Reference, Run
from ..models import TextEncoder, load_encoder
from ..models.distill import DistillSettings, distilled_folder, load_distilled
from ..models.loading import resolve_model_source
from ..params import Param
from ..paths import cache_dir
from ..results import tables
from ..results.findings import Finding, compare
from .common import PROFILE, TRAINING, starts_table, training_overrides
from .common import validate as _validate
from .knn import TFIDF, score_reference  # noqa: F401  (score_reference: the notebook scores its references with it)

REQUIRED = ("runs", "distil_from", "references", "transformer_eval_size", "speed_texts", "transformer_speed_texts")
SPEED_REPEATS = 3  # median of this many timed passes (the first, untimed, warms caches up)

SPEC: dict[str, Param] = {
    **PROFILE,
    "runs": Param(str, optional=True, expected="start:augmentation pairs, e.g. 'bare_model2vec:crops'"),
    **TRAINING,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings: ``runs`` (the reader's training overrides applied to trained runs),
    ``references`` and the profile's ``static`` section, checked; the distillation source wired into the
    profile's model2vec starts (``distillation_source``)."""
    settings = _validate(namespace, SPEC)
    profile = settings["profile_settings"]
    section = profile.get("static") or {}
    missing = [key for key in REQUIRED if key not in section]
    if missing:
        raise TextembedError(f"The profile '{profile['name']}' has no static.{missing[0]} (chapter 7's settings).",
                             f"add a 'static' section with {', '.join(REQUIRED)} to the profile.")
    overrides = training_overrides(settings)
    runs = ex.parse_runs(settings["runs"] or section["runs"], profile)
    settings["runs"] = [run.with_overrides(**overrides) if run.trained else run for run in runs]
    settings["references"] = [Reference(name) for name in section["references"]]
    settings["distilled_from"] = distillation_source(profile)
    return settings


def distillation_source(profile: dict) -> str:
    """Where model2vec distils from, also set as the ``tokenizer_from`` of every model2vec start.

    ``static.distil_from`` names a model, or a start of the profile: a pretrained
    start's model is used as it is; a random-init start (the tiny profile's small
    transformer) is saved once under the cache and distilled from there.
    """
    name = profile["static"]["distil_from"]
    source = name
    if name in profile["starts"]:
        spec = profile["starts"][name]
        source = spec["model"]
        if spec.get("init", "pretrained") != "pretrained":
            folder = cache_dir() / "models" / profile["name"] / ex.base_model_key(profile, name)
            if not (folder / "modules.json").is_file():
                ex.fit(Run(name), profile).encoder.save(folder)
            source = str(folder)
    for spec in profile["starts"].values():
        if spec.get("init") == "model2vec":
            spec["tokenizer_from"] = source
    return source


def model2vec_start(runs: list[Run], profile: Mapping) -> str:
    """The start of ``runs`` that is model2vec's distillation (its untrained run *is* model2vec)."""
    for run in runs:
        if profile["starts"][run.start].get("init") == "model2vec":
            return run.start
    raise TextembedError("No run starts from model2vec.", "add a run of a start with init 'model2vec'.")


# --- scoring -----------------------------------------------------------------------------------


def transformer_eval_set(profile: Mapping, corpus) -> EvalSet:
    """The labelled texts a transformer reference is scored on: ``static.transformer_eval_size`` of them (the
    same seeded subset as the other chapters' for that size, so its embeddings come from their cache), or the
    profile's eval set when None. Encoding all of them with a transformer on a CPU would dominate the build."""
    return ex.eval_set(profile, corpus, profile["static"]["transformer_eval_size"])




def comparable_texts(encoder: TextEncoder, texts: list[str], max_length: int) -> list[str]:
    """The ``texts`` that both encoders see whole: no [UNK] token (model2vec leaves it out of the mean) and at
    most ``max_length`` tokens (model2vec cuts texts by characters before tokenising, we by tokens)."""
    tokenizer = encoder.tokenizer
    lengths = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    return [t for t, ids in zip(texts, lengths) if len(ids) <= max_length and tokenizer.unk_token_id not in ids]


def model2vec_agreement(encoder: TextEncoder, profile: Mapping, start: str, texts: list[str]) -> tuple[float, int]:
    """Largest |``encoder`` − model2vec's own ``encode`` of ``start``| over the ``comparable_texts``, and their
    number."""
    kept = comparable_texts(encoder, texts, profile["eval"]["max_length"])
    theirs = own_model2vec(profile, start).encode(kept, normalize=False, max_length=None)
    return float(np.abs(ex.embed(profile, encoder, kept) - theirs).max()), len(kept)


def own_model2vec(profile: Mapping, start: str):
    """model2vec's own ``StaticModel`` of ``start`` (the cached distillation the start was built from)."""
    spec = profile["starts"][start]
    dims = (spec.get("config_overrides") or {}).get("hidden_size")
    settings = DistillSettings(pca_dims=dims) if dims else DistillSettings()
    source = spec["tokenizer_from"]
    return load_distilled(resolve_model_source(source), source, settings)


# --- speed and size -----------------------------------------------------------------------------


def texts_per_second(encode_all: Callable[[list[str]], object], texts: list[str], repeats: int = SPEED_REPEATS) -> float:
    """``len(texts)`` / the median wall time of ``encode_all(texts)`` over ``repeats`` passes after a warm-up."""
    encode_all(texts[: max(1, len(texts) // 10)])
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        encode_all(texts)
        seconds.append(time.perf_counter() - began)
    return len(texts) / statistics.median(seconds)


def folder_mb(folder: Path) -> float:
    """Size on disk of the files under ``folder``, in MB."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def speed_and_size(model: Run | Reference, evaluated: Evaluated | None, profile: Mapping, texts: list[str],
                   m2v_start: str) -> tuple[float, float]:
    """Texts/s on ``texts`` (the profile's threads) and MB on disk of one model, measured as a user would run it.

    Static runs: ``encode`` (the fast static path) and their saved SentenceTransformer folder; model2vec's own
    untrained distillation: its ``StaticModel.encode`` and its folder; a transformer reference: ``encode`` on the
    first ``transformer_speed_texts`` texts (extrapolated: its cost per text does not depend on how many) and its
    folder; TF-IDF: ``transform`` after fitting on the texts, and its pickled vectorizer.
    """
    section = profile["static"]
    if isinstance(model, Reference) and model.model == TFIDF:
        vectorizer = tfidf_vectorizer().fit(texts)
        return texts_per_second(vectorizer.transform, texts), len(pickle.dumps(vectorizer)) / 1e6
    if isinstance(model, Reference):
        encoder = load_encoder(model.model)
        sample = texts[: section["transformer_speed_texts"]]
        return (texts_per_second(lambda t: ex.embed(profile, encoder, t), sample, repeats=1),
                folder_mb(Path(resolve_model_source(model.model))))
    if model.start == m2v_start and not model.trained:
        static = own_model2vec(profile, m2v_start)
        spec = profile["starts"][m2v_start]
        rate = texts_per_second(lambda t: static.encode(t, normalize=False, max_length=profile["eval"]["max_length"],
                                                        use_multiprocessing=torch.get_num_threads() > 1), texts)
        dims = (spec.get("config_overrides") or {}).get("hidden_size")
        folder = distilled_folder(resolve_model_source(spec["tokenizer_from"]), spec["tokenizer_from"],
                                  DistillSettings(pca_dims=dims) if dims else DistillSettings())
        return rate, folder_mb(folder)
    encoder = evaluated.result.encoder
    with tempfile.TemporaryDirectory() as tmp:
        size = folder_mb(encoder.save(Path(tmp) / "model"))
    return texts_per_second(lambda t: ex.embed(profile, encoder, t), texts), size


# --- tables, plot, findings, record -------------------------------------------------------------


def describe(model: Run | Reference, profile: Mapping, m2v_start: str) -> str:
    """What a row is, in words."""
    if isinstance(model, Reference):
        return "TF-IDF (cosine kNN only)" if model.model == TFIDF else f"{model.model} (transformer)"
    if model.start == m2v_start:
        source = profile["static"]["distil_from"]
        return (f"model2vec distilled from {source}" if not model.trained
                else f"model2vec init + {model.augmentation}")
    spec = profile["starts"][model.start]
    init = "random init" if spec["model"] == "bare" else spec.get("init", "pretrained")
    return f"{model.start} ({init}) + {model.augmentation}" if model.trained else f"{model.start} ({init})"


def results_table(results: Mapping[Run | Reference, Evaluated], speed: Mapping[str, tuple[float, float]],
                  profile: Mapping, m2v_start: str) -> pd.DataFrame:
    """One row per model: what it is, accuracies (%, 95 % interval), test texts, texts/s, MB on disk."""
    rows = {}
    for model, evaluated in results.items():
        rate, size = speed[model.name]
        rows[model.name] = {"model": describe(model, profile, m2v_start),
                            **tables.accuracy_columns(evaluated.scores.accuracies),
                            "texts/s": f"{rate:,.0f}", "MB on disk": f"{size:,.1f}"}
    return pd.DataFrame.from_dict(rows, orient="index").fillna("–")


def quality_vs_speed(results: Mapping[Run | Reference, Evaluated], speed: Mapping[str, tuple[float, float]],
                     profile: Mapping, m2v_start: str, metric: str = "knn_cosine", ax=None):
    """Accuracy (with its 95 % interval) against encoding throughput (log scale), one point per model.

    Models sit close together, so each is named in the legend (colour by augmentation, marker by
    start, as in every figure), never by a label printed next to its point.
    """
    import matplotlib.pyplot as plt

    from ..plotting import run_style

    ax = ax or plt.subplots(figsize=(7.5, 4.5))[1]
    for model, evaluated in results.items():
        if metric not in evaluated.scores.accuracies:
            continue
        acc, rate = evaluated.scores.accuracies[metric], speed[model.name][0]
        style = run_style(model.name)
        ax.errorbar(rate, 100 * acc.value, yerr=[[100 * (acc.value - acc.low)], [100 * (acc.high - acc.value)]],
                    fmt=style.marker, color=style.color, capsize=3, markersize=7, linestyle="none",
                    label=describe(model, profile, m2v_start))
    ax.set_xscale("log")
    ax.set_xlabel(f"encoding throughput (texts/s, {torch.get_num_threads()} threads, log scale)")
    ax.set_ylabel(f"{tables.METRIC_LABELS[metric]}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
    return ax


def _find(results: Mapping, start: str, augmentation: str) -> Run | None:
    return next((m for m in results if isinstance(m, Run) and (m.start, m.augmentation) == (start, augmentation)),
                None)


def transformer_gap(results: Mapping[Run | Reference, Evaluated], profile: Mapping, data: EvalSet, spec: EvalSpec,
                    m2v_start: str) -> dict[Run | Reference, Evaluated]:
    """The model2vec-initialised crops model scored again on the transformer reference's texts ``data``, beside
    that reference: the pair the static-vs-transformer comparison needs (the same test texts)."""
    crops = _find(results, m2v_start, "crops")
    transformer = next((m for m in results if isinstance(m, Reference) and m.model != TFIDF), None)
    if crops is None or transformer is None:
        return {}
    return {crops: ex.evaluate(results[crops].result, profile, data, spec, probe=False),
            transformer: results[transformer]}


def findings(results: Mapping[Run | Reference, Evaluated], m2v_start: str,
             gap: Mapping[Run | Reference, Evaluated] | None = None,
             metrics: tuple[str, ...] = ("knn_euclidean", "knn_cosine")) -> list[Finding]:
    """Paired comparisons on the same test texts: does crop training add to the distillation, crops vs dropout
    from it, the distillation vs a random start, and (``gap``, from ``transformer_gap``) the crops model vs the
    transformer reference, which the paper's Table S6 puts a few points above a bare layer."""
    crops, dropout = _find(results, m2v_start, "crops"), _find(results, m2v_start, "dropout")
    distilled, random_crops = _find(results, m2v_start, "untrained"), _find(results, "bare", "crops")
    pairs = [
        (results, crops, distilled, "crops on the corpus add to the model2vec distillation", 1),
        (results, crops, dropout, "from the distillation, crops beat dropout", 1),
        (results, crops, random_crops, "the distillation is a better start for crops than random weights", 1),
    ]
    if gap:
        static, transformer = list(gap)
        pairs.append((gap, static, transformer, "the static model stays below the transformer it came from", -1))
    return [compare(scored[a], scored[b], metric, claim=claim, expected_sign=sign)
            for scored, a, b, claim, sign in pairs if a is not None and b is not None for metric in metrics]


def record(settings: Mapping[str, Any], results: Mapping[Run | Reference, Evaluated],
           speed: Mapping[str, tuple[float, float]], found: list[Finding], seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    config = {k: v for k, v in settings.items() if k not in ("profile_settings", "runs", "references")}
    config["runs"] = [model.fields() for model in results]
    config["static"] = profile["static"]
    config["train_configs"] = {m.name: ev.result.config for m, ev in results.items() if ev.result and ev.result.config}
    curves = {m.name: ev.result.curve for m, ev in results.items() if ev.result and ev.result.curve}
    metrics = {"texts_per_second": {name: rate for name, (rate, _) in speed.items()},
               "size_mb": {name: size for name, (_, size) in speed.items()},
               "threads": torch.get_num_threads(), "distilled_from": settings["distilled_from"]}
    return write_record(
        profile["name"], "07_static", config=config, metrics=metrics, rows=tables.tidy_rows(results),
        findings=[f.to_dict() for f in found], curves=curves, wall_time_s=seconds, device=profile["device"],
        data_fingerprint=ex.profile_corpus(profile).fingerprint(),
    )
