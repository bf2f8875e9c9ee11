"""Chapter 4 — sentence vs domain adaptation (paper §3.3.3, Fig. 3).

The same start is trained with crops on another domain (a *source* corpus) and
on the target corpus itself, and both are scored on the target's labelled texts
(kNN accuracy, every ``eval_every`` batches: learning curves like Fig. 3). The
gain from training on the other domain approximates *sentence adaptation*; the
extra gain from training in-domain approximates *domain adaptation*.

Training on the two domains is matched in batches: the source is subsampled to
as many croppable texts as the target has (the paper subsampled its sources to
ICLR's size), and it trains for exactly as many batches as the target run.

Record ``04_domain_adaptation``:
- ``metrics["<start>/untrained"]``, ``metrics["<start>/crops"]`` (trained on the target) and
  ``metrics["<start>/crops on <source>"]`` = ``{"knn_euclidean", "knn_cosine", "linear_probe"}``
  on the target's eval texts (accuracies in [0, 1]);
- ``metrics["decomposition/<start>/<source>"]`` = ``{"total_gain_pp", "sentence_gain_pp",
  "domain_gain_pp", "sentence_share"}`` (Euclidean kNN, percentage points; share of the
  in-domain gain reached by training on the source, NaN when there is no gain to share);
- ``metrics["verdict"]``: "reproduced" / "not reproduced" / "mixed" (starts disagree) /
  "inconclusive" (no measurable in-domain gain) for the paper's claim that out-of-domain
  training gives most of the in-domain gain; ``notes`` says why;
- ``curves["<start>/crops"]``, ``curves["<start>/crops on <source>"]`` = ``[{"step", "knn_euclidean",
  "knn_cosine"}, ...]`` on the target's eval texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import experiments as ex
from ..augment import crop_windows
from ..corpora import Corpus, load_corpus
from ..errors import TextembedError
from ..params import Param
from .augmentations import curves
from .common import PROFILE, TRAINING, training_overrides
from .common import validate as _validate

AUGMENTATION = "crops"
# Below this in-domain gain (p.p. of kNN accuracy) a share of it is noise, not a finding.
MIN_MEASURABLE_GAIN_PP = 2.0
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, MIXED = "reproduced", "not reproduced", "inconclusive", "mixed"

SPEC: dict[str, Param] = {
    **PROFILE,
    "starts": Param(str, optional=True, expected="comma-separated starts, e.g. 'bare,scratch'"),
    "sources": Param(str, optional=True, expected="comma-separated corpus names, e.g. 'docstrings'"),
    **TRAINING,
}


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings; ``starts``/``sources``/``eval_every`` None → the profile's ``domain`` section."""
    settings = _validate(namespace, SPEC)
    profile = settings["profile_settings"]
    domain = profile["domain"]
    starts = settings["starts"].split(",") if settings["starts"] else domain.get("starts", ["pretrained"])
    settings["starts"] = [s.strip() for s in starts]
    for start in settings["starts"]:
        ex.start_spec(profile, start)
    sources = settings["sources"].split(",") if settings["sources"] else domain["sources"]
    settings["sources"] = [s.strip() for s in sources]
    settings["target"] = domain["target"]
    if settings["target"] in settings["sources"]:
        raise TextembedError(f"The target corpus '{settings['target']}' is also listed as a source.",
                             "list only other domains in `sources`.")
    return settings


def target_corpus(settings: Mapping[str, Any]) -> Corpus:
    """The corpus the models are evaluated on (and trained on, for the in-domain run)."""
    return ex.profile_corpus(settings["profile_settings"], settings["target"])


def corpora_table(settings: Mapping[str, Any], target: Corpus, sources: Mapping[str, Corpus]) -> pd.DataFrame:
    """What each domain contributes: texts, croppable texts used for training, classes, mean length."""
    profile = settings["profile_settings"]
    n_sentences = settings["n_sentences"] or profile["crops"]["n_sentences"]
    croppable = len(croppable_texts(target.texts, n_sentences, profile["crops"]["splitter"]))
    rows = {f"{settings['target']} (target)": {"texts": len(target), "training texts": croppable,
                                               "classes": len(target.class_counts()),
                                               "mean characters": target.summary()["mean_chars"]}}
    for name, corpus in sources.items():
        rows[f"{name} (source)"] = {"texts": corpus.info["texts_in_source"], "training texts": len(corpus),
                                    "classes": corpus.info["classes_in_source"],
                                    "mean characters": corpus.summary()["mean_chars"]}
    return pd.DataFrame.from_dict(rows, orient="index").round(0)


def croppable_texts(texts: list[str], n_sentences: int, splitter: str) -> list[str]:
    """The texts that give at least two crops (the only ones that make training pairs)."""
    return [t for t in texts if len(crop_windows(t, n_sentences, splitter=splitter)) >= 2]


def matched_source(source: Corpus, size: int, n_sentences: int, splitter: str, seed: int) -> Corpus:
    """``size`` croppable texts of ``source`` (seeded), so an epoch on it has the target's number of batches.

    When the source has fewer croppable texts, all of them are used; the runs
    still train for the same number of batches (more epochs on the source).
    """
    usable = croppable_texts(source.texts, n_sentences, splitter)
    if not usable:
        raise TextembedError(f"No text of '{source.name}' gives two crops of {n_sentences} sentence(s).",
                             "lower n_sentences, or use another source corpus.")
    texts = usable
    if len(usable) > size:
        picked = np.sort(np.random.default_rng(seed).choice(len(usable), size, replace=False))
        texts = [usable[i] for i in picked]
    info = {"matched_to": size, "texts_in_source": len(source), "croppable_in_source": len(usable),
            "classes_in_source": len(source.class_counts())}
    return Corpus(name=f"{source.name}[{len(texts)} croppable]", texts=texts, source=source.source, info=info)


def load_sources(settings: Mapping[str, Any], target: Corpus) -> dict[str, Corpus]:
    """Every source corpus, matched to the target's number of croppable texts.

    ``profile["domain"]["source_options"][name]`` holds keyword arguments for
    ``load_corpus`` (e.g. fewer packages of docstrings on the tiny profile).
    """
    profile = settings["profile_settings"]
    options = profile["domain"].get("source_options", {})
    n_sentences = settings["n_sentences"] or profile["crops"]["n_sentences"]
    splitter = profile["crops"]["splitter"]
    size = len(croppable_texts(target.texts, n_sentences, splitter))
    return {name: matched_source(load_corpus(name, **options.get(name, {})), size, n_sentences, splitter,
                                 profile["seed"])
            for name in settings["sources"]}


def _eval_every(settings: Mapping[str, Any], start: str) -> int | None:
    profile = settings["profile_settings"]
    return (settings["eval_every"] or profile["domain"].get("eval_every")
            or ex.start_spec(profile, start).get("eval_every"))


def train_domains(settings: Mapping[str, Any], target: Corpus, sources: Mapping[str, Corpus]) -> dict[str, dict]:
    """Per start: untrained, crops on the target, crops on each source — all scored on the target's texts."""
    profile = settings["profile_settings"]
    results = {}
    for start in settings["starts"]:
        data = ex.start_eval_set(profile, target, start)
        every = _eval_every(settings, start)
        overrides = {**training_overrides(settings), "eval_every": every}
        curve_data = data if every else None
        for augmentation in (ex.UNTRAINED, AUGMENTATION):
            run = ex.evaluated_run(profile, start, augmentation, target, data, curve_data=curve_data, **overrides)
            name = f"{start}/{augmentation}"
            results[name] = _entry(name, run, len(data.texts), settings["target"])
        matched_steps = results[f"{start}/{AUGMENTATION}"]["summary"]["total_steps"]
        for source, corpus in sources.items():
            run = ex.evaluated_run(profile, start, AUGMENTATION, corpus, data, curve_data=curve_data,
                                   **{**overrides, "steps": matched_steps})
            name = f"{start}/{AUGMENTATION} on {source}"
            results[name] = _entry(name, run, len(data.texts), source)
    return results


def _entry(name: str, run: ex.EvaluatedRun, eval_texts: int, trained_on: str) -> dict:
    """One run's row of results; prints what it scored so a long run shows progress."""
    summary = run.summary
    how = "untrained" if not summary else (
        f"{'cached' if summary.get('cached') else 'trained'}, {summary['total_steps']} batches on {trained_on}")
    print(f"{name}: target kNN {run.metrics['knn_euclidean']:.3f} ({how})")
    return {"metrics": run.metrics, "summary": summary, "eval_texts": eval_texts, "trained on": trained_on}


def results_table(results: Mapping[str, dict]) -> pd.DataFrame:
    """One row per run: what it trained on, batches, croppable training texts, target accuracies."""
    rows = {}
    for name, run in results.items():
        summary = run["summary"]
        rows[name] = {
            "trained on": run["trained on"] if summary else "—",
            "batches": summary.get("total_steps", 0),
            "training texts": summary.get("crop_stats", {}).get("usable"),
            **run["metrics"],
            "eval texts": run["eval_texts"],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def curves_by_start(results: Mapping[str, dict]) -> dict[str, dict[str, list[dict]]]:
    """``{start: {"trained on <corpus>": learning curve on the target}}`` for the figure."""
    grouped: dict[str, dict[str, list[dict]]] = {}
    for name, run in results.items():
        if run["summary"].get("curve"):
            grouped.setdefault(name.split("/")[0], {})[f"trained on {run['trained on']}"] = run["summary"]["curve"]
    return grouped


def decomposition(results: Mapping[str, dict], sources: list[str], metric: str = "knn_euclidean") -> pd.DataFrame:
    """The paper's split of the in-domain gain, per start and source (percentage points).

    total = target-trained − untrained; sentence ≈ source-trained − untrained;
    domain ≈ target-trained − source-trained; share = sentence / total.
    """
    rows = []
    starts = dict.fromkeys(name.split("/")[0] for name in results)
    for start in starts:
        base = 100 * results[f"{start}/{ex.UNTRAINED}"]["metrics"][metric]
        in_domain = 100 * results[f"{start}/{AUGMENTATION}"]["metrics"][metric]
        for source in sources:
            other = 100 * results[f"{start}/{AUGMENTATION} on {source}"]["metrics"][metric]
            total = in_domain - base
            rows.append({
                "start": start, "source": source, "untrained": base, "trained on source": other,
                "trained on target": in_domain, "total_gain_pp": total, "sentence_gain_pp": other - base,
                "domain_gain_pp": in_domain - other,
                "sentence_share": (other - base) / total if total > 0 else float("nan"),
            })
    return pd.DataFrame(rows).set_index(["start", "source"]).round(3)


def verdict(table: pd.DataFrame) -> tuple[str, str]:
    """Does out-of-domain training give most (≥ 50 %) of the in-domain gain? With the evidence, in words."""
    measurable = table[table["total_gain_pp"] >= MIN_MEASURABLE_GAIN_PP]
    parts = [f"{start} trained on {source}: {row['sentence_gain_pp']:+.1f} of {row['total_gain_pp']:+.1f} p.p."
             for (start, source), row in table.iterrows()]
    evidence = "; ".join(parts)
    if measurable.empty:
        return INCONCLUSIVE, f"no start gained ≥ {MIN_MEASURABLE_GAIN_PP:g} p.p. in-domain ({evidence})"
    most = measurable["sentence_share"] >= 0.5
    status = REPRODUCED if most.all() else NOT_REPRODUCED if not most.any() else MIXED
    return status, f"out-of-domain share of the in-domain kNN gain — {evidence}"


def record(settings: Mapping[str, Any], results: Mapping[str, dict], table: pd.DataFrame,
           sources: Mapping[str, Corpus], seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    status, notes = verdict(table)
    metrics: dict[str, Any] = {name: run["metrics"] for name, run in results.items()}
    for (start, source), row in table.iterrows():
        metrics[f"decomposition/{start}/{source}"] = {
            k: float(row[k]) for k in ("total_gain_pp", "sentence_gain_pp", "domain_gain_pp", "sentence_share")}
    metrics["verdict"] = status
    config = {k: v for k, v in settings.items() if k != "profile_settings"}
    config["train_configs"] = {name: run["summary"].get("config") for name, run in results.items()}
    config["source_corpora"] = {name: {"texts": len(c), **c.info} for name, c in sources.items()}
    return write_record(
        profile["name"], "04_domain_adaptation", config=config, metrics=metrics, curves=curves(results),
        wall_time_s=seconds, device=profile["device"], notes=notes,
        data_fingerprint=ex.profile_corpus(profile, settings["target"]).fingerprint(),
    )
