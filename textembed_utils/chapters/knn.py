"""Chapter 3 — kNN accuracy on in-domain data (paper §3.3, Table 2, Table S3, Fig. 2).

For each start of the profile: the untrained model, dropout and crops (the
models of chapter 1, from the cache), plus the profile's off-the-shelf
references and a TF-IDF baseline, all scored on the same held-out split by kNN
accuracy (Euclidean and cosine) and a linear probe; openTSNE maps coloured by
class; and, for a few test texts, the neighbours whose vote kNN accuracy counts.

Record ``03_knn``: ``rows`` = one row per model × metric (``run``, ``start``,
``augmentation``, ``reference``, ``metric``, ``value``, ``low``, ``high``, ``n_test``;
accuracies in [0, 1]; references have ``reference`` = the model name, TF-IDF has
``reference`` = "tfidf" and only cosine kNN); ``findings`` = crops vs dropout and
the best model of each start vs TF-IDF, with paired intervals and verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import experiments as ex
from ..evaluation.baselines import tfidf_knn_correct
from ..evaluation.intervals import accuracy_with_interval
from ..evaluation.scoring import EvalSpec, Scores, score
from ..evaluation.tsne import tsne_map
from ..experiments import EvalSet, Evaluated, Reference, Run
from ..models import load_encoder
from ..params import Param
from ..results import tables
from ..results.findings import Finding, compare
from .common import PROFILE, PROFILE_WIDE
from .common import validate as _validate

TFIDF = "tfidf"

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
    names = references.split(",") if references else list(profile["references"])
    settings["references"] = [Reference(name.strip()) for name in names if not _is_start_model(profile, name.strip())]
    return settings


def _is_start_model(profile: Mapping, name: str) -> str | None:
    """The start whose untrained model *is* reference ``name`` (all-MiniLM-L6-v2 on the embedded default)."""
    for start, spec in profile["starts"].items():
        if spec["model"] == name and spec.get("init", "pretrained") == "pretrained":
            return start
    return None


def score_reference(reference: Reference, profile: Mapping, data: EvalSet, spec: EvalSpec) -> Evaluated:
    """A reference scored on ``data``: TF-IDF (``score_tfidf``) or an off-the-shelf encoder (embeddings cached)."""
    if reference.model == TFIDF:
        return score_tfidf(data, spec, reference)
    key = f"reference-{reference.model.replace('/', '_')}"
    max_length = profile["eval"]["max_length"]
    vectors = ex.cached_embeddings(profile, load_encoder(reference.model), data.texts, key, max_length)
    return Evaluated(reference, score(vectors, data.labels, spec), vectors, evaluation=data.evaluation(max_length))


def score_tfidf(data: EvalSet, spec: EvalSpec, reference: Reference | None = None) -> Evaluated:
    """TF-IDF vectors' cosine kNN on ``data`` (the only metric the sparse baseline gets); no token limit."""
    hits = tfidf_knn_correct(data.texts, data.labels, spec.k, spec.seed, spec.stratify, spec.test_size)
    return Evaluated(reference or Reference(TFIDF, len(data.texts)),
                     Scores({"knn_cosine": accuracy_with_interval(hits)}, {"knn_cosine": hits}),
                     evaluation=f"{data.name}, whole texts")


def metrics_table(results: Mapping[Run | Reference, Evaluated]) -> pd.DataFrame:
    """One row per model: kNN (Euclidean, cosine), linear probe, in % with 95 % intervals, and test texts."""
    return pd.DataFrame.from_dict({m.name: tables.accuracy_columns(ev.scores.accuracies)
                                   for m, ev in results.items()}, orient="index").fillna("–")


def example_queries(before: Evaluated, after: Evaluated, count: int = 3, metric: str = "knn_euclidean") -> list[int]:
    """Test texts (positions in the test split) to show: first those training fixed, then ones both get right."""
    was, now = before.scores.correct[metric], after.scores.correct[metric]
    fixed = np.flatnonzero(~was & now).tolist()
    kept = np.flatnonzero(was & now).tolist()
    return (fixed + kept)[:count]


def neighbours_side_by_side(views: Mapping[str, pd.DataFrame]):
    """Neighbour tables of one test text (``{"untrained": ..., "after crops": ...}``) as one narrow table.

    Each model's column holds the neighbour's label marked ✓ (the test text's own)
    or ✗, with the start of its text below it; the caption is the test text, its
    label and each model's vote, so the table reads on its own.
    """
    first = next(iter(views.values()))
    asked = first.attrs["query"]
    cells = {label: [f"{'✓' if same else '✗'} {lab}<br><small>{text}</small>" for lab, same, text
                     in zip(view["label"], view["same label"], view["text"])]
             for label, view in views.items()}
    votes = "; ".join(f"{label} → {view.attrs['vote']} ({'right' if view.attrs['vote'] == asked['label'] else 'wrong'})"
                      for label, view in views.items())
    frame = pd.DataFrame(cells, index=first.index)
    return frame.style.set_caption(f"Test text [{asked['label']}]: {asked['text']}<br>Vote: {votes}")


def findings(results: Mapping[Run | Reference, Evaluated], metric: str = "knn_euclidean") -> list[Finding]:
    """Per start: crops vs dropout; and the start's best model vs TF-IDF on the same texts (cosine kNN)."""
    found = []
    baselines = {ev.scores.n_test: ev for m, ev in results.items() if isinstance(m, Reference) and m.model == TFIDF}
    for start in dict.fromkeys(m.start for m in results if isinstance(m, Run)):
        crops, dropout = Run(start, "crops"), Run(start, "dropout")
        if crops in results and dropout in results:
            found.append(compare(results[crops], results[dropout], metric, claim="crops beat dropout"))
        runs = [m for m in results if isinstance(m, Run) and m.start == start]
        best = max(runs, key=lambda m: results[m].scores["knn_cosine"])
        if results[best].scores.n_test in baselines:
            found.append(compare(results[best], baselines[results[best].scores.n_test], "knn_cosine",
                                 claim="beats TF-IDF"))
    return found


def tsne_maps(results: Mapping[Run | Reference, Evaluated], runs: list[Run], seed: int,
              labels: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """openTSNE coordinates and labels (of the run's start's eval set) for each of ``runs`` that was scored."""
    return {run.name: (tsne_map(results[run].vectors, seed=seed), labels[run.start])
            for run in runs if run in results}


def linked_maps_html(maps: Mapping[str, tuple[np.ndarray, np.ndarray]], runs: list[Run],
                     eval_sets: Mapping[str, EvalSet]):
    """The crops and dropout maps of ``tsne_maps`` as linked interactive maps (``IPython.display.HTML`` for the page).

    Both maps show the same texts (the first mapped start's eval set), so selecting in one selects in the
    other; None when the profile maps no crops or dropout run.
    """
    from IPython.display import HTML

    from ..interactive_map import linked_maps, page_html

    shown = [run for run in runs if run.name in maps and run.augmentation in ("crops", "dropout")]
    shown = [run for run in shown if run.start == shown[0].start] if shown else []
    if not shown:
        return None
    data = eval_sets[shown[0].start]
    layout = linked_maps({run.name: maps[run.name][0] for run in shown}, data.texts, list(data.labels),
                         width=330, height=330, legend=False)  # two side by side fit a 752 px column
    return HTML(page_html(layout))


def record(settings: Mapping[str, Any], results: Mapping[Run | Reference, Evaluated], found: list[Finding],
           seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    config = {k: v for k, v in settings.items() if k not in ("profile_settings", "models", "tsne_models", "references")}
    config["models"] = [m.fields() for m in results]
    return write_record(profile["name"], "03_knn", config=config, rows=tables.tidy_rows(results),
                        findings=[f.to_dict() for f in found], wall_time_s=seconds, device=profile["device"],
                        data_fingerprint=ex.profile_corpus(profile).fingerprint())
