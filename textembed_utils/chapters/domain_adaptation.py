"""Chapter 4 — sentence vs domain adaptation (paper §3.3.3, Fig. 3).

The same start is trained with crops on another domain (a *source* corpus) and
on the target corpus itself, and every model is scored on the target's labelled
texts (kNN accuracy, every ``eval_every`` batches: learning curves like Fig. 3).
The gain from training on the other domain approximates *sentence adaptation*;
the extra gain from training in-domain approximates *domain adaptation*.

Training on the two domains is matched in batches: the source is subsampled to
as many croppable texts as the target has (the paper subsampled its sources to
ICLR's size), and it trains for exactly as many batches as the target run.
The notebook fits the runs with ``experiments.fit`` and scores them with
``evaluation.scoring.score`` in its own cells; this module says which runs those
are, and holds the tables, the findings and the record.

Record ``04_domain_adaptation``:
- ``rows`` = one row per run × metric (``run``, ``start``, ``augmentation``, ``trained_on``
  (None = the target), ``overrides``, ``metric``, ``value``, ``low``, ``high``, ``n_test``;
  accuracies in [0, 1], always on the target's test texts);
- ``findings`` = per start and source: the in-domain gain, the gain from the source, the
  extra gain in-domain, and "the source gives most of the in-domain gain" (source minus
  halfway between untrained and in-domain), each with a paired 95 % interval and a verdict;
- ``metrics["decomposition"][<start>][<source>]`` = ``{"total_gain_pp", "sentence_gain_pp",
  "domain_gain_pp", "sentence_share"}`` (Euclidean kNN, percentage points; share of the
  in-domain gain reached by training on the source, NaN when there is no gain to share);
- ``metrics["verdict"]`` (a ``results.verdicts.Verdict`` value) on the paper's claim that
  out-of-domain training gives most of the in-domain gain; ``notes`` says why;
- ``curves[<run name>]`` = ``[{"step", "knn_euclidean", "knn_cosine"}, ...]`` on the target's texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import experiments as ex
from ..augment import crop_windows
from ..corpora import Corpus, load_corpus
from ..errors import TextembedError
from ..evaluation.intervals import paired_difference
from ..experiments import Evaluated, Run
from ..params import Param
from ..results import tables
from ..results.findings import Finding, compare
from ..results.verdicts import Verdict, combine, verdict as verdict_of
from .common import PROFILE, TRAINING, training_overrides
from .common import validate as _validate

AUGMENTATION = "crops"

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


def in_domain_run(settings: Mapping[str, Any], start: str) -> Run:
    """Crops on the target, with the reader's training overrides (and the profile's ``domain.eval_every``)."""
    profile = settings["profile_settings"]
    every = settings["eval_every"] or profile["domain"].get("eval_every")
    trained_on = None if settings["target"] == profile["corpus"] else settings["target"]
    return Run.of(start, AUGMENTATION, trained_on, **{**training_overrides(settings), "eval_every": every})


def source_run(in_domain: Run, source: str, steps: int) -> Run:
    """``in_domain``'s run trained on ``source`` instead, for exactly ``steps`` batches (the in-domain run's)."""
    return Run.of(in_domain.start, in_domain.augmentation, source, **{**dict(in_domain.overrides), "steps": steps})


@dataclass
class StartRuns:
    """One start's models, as scored on the target: untrained, trained in-domain, trained on each source."""

    untrained: Evaluated
    in_domain: Evaluated
    sources: dict[str, Evaluated] = field(default_factory=dict)


def by_start(results: Mapping[Run, Evaluated], target: str) -> dict[str, StartRuns]:
    """The runs of ``results`` grouped by start, by what each was trained on (``trained_on``, never the name)."""
    grouped: dict[str, StartRuns] = {}
    for start in dict.fromkeys(run.start for run in results):
        runs = [run for run in results if run.start == start]
        in_domain = next(run for run in runs if run.trained and run.trained_on in (None, target))
        grouped[start] = StartRuns(results[Run(start)], results[in_domain],
                                   {run.trained_on: results[run] for run in runs
                                    if run.trained and run.trained_on not in (None, target)})
    return grouped


def trained_on(run: Run, target: str) -> str:
    """The corpus ``run`` was trained on ("–" when untrained)."""
    return (run.trained_on or target) if run.trained else "–"


def results_table(results: Mapping[Run, Evaluated], target: str) -> pd.DataFrame:
    """One row per run: what it trained on, batches, training texts, target accuracies (%, 95 % interval)."""
    rows = {}
    for run, evaluated in results.items():
        fitted = evaluated.result
        rows[run.name] = {
            "trained on": trained_on(run, target),
            "batches": fitted.total_steps if fitted else 0,
            "training texts": fitted.crop_stats.get("usable", "–") if fitted else "–",
            **tables.accuracy_columns(evaluated.scores.accuracies),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def curves_by_start(results: Mapping[Run, Evaluated], target: str) -> dict[str, dict[str, list[dict]]]:
    """``{start: {"trained on <corpus>": learning curve on the target}}`` for the figure."""
    grouped: dict[str, dict[str, list[dict]]] = {}
    for run, evaluated in results.items():
        if evaluated.result is not None and evaluated.result.curve:
            grouped.setdefault(run.start, {})[f"trained on {trained_on(run, target)}"] = evaluated.result.curve
    return grouped


def early_gain(label: str, curve: list[dict], by_step: int = 100, metric: str = "knn_euclidean") -> str:
    """How much of a learning curve's gain came by batch ``by_step`` (Fig. 3's point), in p.p. of ``metric``.

    The share of the final gain is given only when both gains are positive: a curve that first
    dips or ends below its start has no meaningful share (it would print "−50 % of the final gain").
    """
    first, last = curve[0][metric], curve[-1][metric]
    early = next((point for point in curve if point["step"] >= by_step), curve[-1])
    early_gain, final_gain = 100 * (early[metric] - first), 100 * (last - first)
    share = (f" ({100 * early_gain / final_gain:.0f} % of the final gain)"
             if early_gain > 0 and final_gain > 0 else "")
    return (f"{label}: {early_gain:+.1f} p.p. by batch {early['step']}{share}, {final_gain:+.1f} p.p. by the last "
            f"batch ({curve[-1]['step']}); one curve, no interval.")


def decomposition(results: Mapping[Run, Evaluated], target: str, metric: str = "knn_euclidean") -> pd.DataFrame:
    """The paper's split of the in-domain gain, per start and source (accuracies in %, gains in p.p.).

    total = target-trained − untrained; sentence ≈ source-trained − untrained;
    domain ≈ target-trained − source-trained; share = sentence / total.
    """
    rows = []
    for start, runs in by_start(results, target).items():
        base, in_domain = 100 * runs.untrained.scores[metric], 100 * runs.in_domain.scores[metric]
        for source, evaluated in runs.sources.items():
            other = 100 * evaluated.scores[metric]
            total = in_domain - base
            rows.append({
                "start": start, "source": source, "untrained": base, "trained on source": other,
                "trained on target": in_domain, "total_gain_pp": total, "sentence_gain_pp": other - base,
                "domain_gain_pp": in_domain - other,
                "sentence_share": (other - base) / total if total > 0 else float("nan"),
            })
    return pd.DataFrame(rows).set_index(["start", "source"]).round(3)



def decomposition_table(decomposition: pd.DataFrame) -> pd.DataFrame:
    """``decomposition`` as people read it: named columns, accuracies and gains with one decimal, share in %."""
    return (decomposition.assign(sentence_share=100 * decomposition["sentence_share"])
            .rename(columns={"untrained": "untrained (%)", "trained on source": "trained on source (%)",
                             "trained on target": "trained on target (%)", "total_gain_pp": "total gain (p.p.)",
                             "sentence_gain_pp": "sentence (p.p.)", "domain_gain_pp": "domain (p.p.)",
                             "sentence_share": "share from source (%)"})
            .round(1))

MOST_OF_THE_GAIN = "gives most of the in-domain gain"


def _most_of_the_gain(source: Evaluated, runs: StartRuns, name: str, metric: str) -> Finding:
    """Source-trained minus halfway between untrained and in-domain: > 0 ⟺ the source gives > 50 % of the gain.

    One paired bootstrap over the target's test texts of the contrast
    ``source − (untrained + in-domain) / 2`` (``intervals.paired_difference``).
    """
    correct = {key: ev.scores.correct[metric].astype(float)
               for key, ev in (("source", source), ("untrained", runs.untrained), ("in", runs.in_domain))}
    diff = paired_difference(correct["source"], (correct["untrained"] + correct["in"]) / 2)
    halfway = f"halfway from {runs.untrained.run.name} to {runs.in_domain.run.name}"
    return Finding(f"training on {name} {MOST_OF_THE_GAIN}", source.run.name, halfway, metric,
                   diff.delta, diff.low, diff.high, diff.n_test, verdict_of(diff))


def findings(results: Mapping[Run, Evaluated], target: str, metric: str = "knn_euclidean") -> list[Finding]:
    """Per start and source, with paired intervals on the target's test texts: the decomposition, tested.

    The in-domain gain (target-trained vs untrained), sentence adaptation
    (source-trained vs untrained), domain adaptation (target- vs source-trained)
    and whether the source gives most of the in-domain gain.
    """
    found = []
    for runs in by_start(results, target).values():
        found.append(compare(runs.in_domain, runs.untrained, metric,
                             claim=f"training on {target} improves on the untrained model"))
        for source, evaluated in runs.sources.items():
            found += [compare(evaluated, runs.untrained, metric,
                              claim=f"training on {source} improves on the untrained model"),
                      compare(runs.in_domain, evaluated, metric,
                              claim=f"training on {target} adds to training on {source}"),
                      _most_of_the_gain(evaluated, runs, source, metric)]
    return found


def verdict(results: Mapping[Run, Evaluated], target: str, metric: str = "knn_euclidean") -> tuple[Verdict, str]:
    """The paper's claim "out-of-domain training gives most of the in-domain gain" on this run, with the evidence.

    Judged only for starts whose in-domain gain is beyond the noise (else there is
    no gain to split); the verdicts of those starts' sources combine
    (``verdicts.combine``: disagreeing ones give "mixed").
    """
    judged, evidence = [], []
    for runs in by_start(results, target).values():
        gain = compare(runs.in_domain, runs.untrained, metric, claim="in-domain gain")
        for source, evaluated in runs.sources.items():
            share = _most_of_the_gain(evaluated, runs, source, metric)
            evidence.append(share.sentence())
            if gain.verdict is Verdict.HOLDS:
                judged.append(share.verdict)
    if not judged:
        return Verdict.WITHIN_NOISE, ("no start gained beyond the noise in-domain, nothing to split ("
                                      + "; ".join(evidence) + ")")
    return combine(judged), "; ".join(evidence)


def record(settings: Mapping[str, Any], results: Mapping[Run, Evaluated], found: list[Finding],
           sources: Mapping[str, Corpus], seconds: float):
    """Write the chapter's results record."""
    from ..results import write_record

    profile = settings["profile_settings"]
    target = settings["target"]
    status, notes = verdict(results, target)
    table = decomposition(results, target)
    split: dict[str, dict] = {}
    for (start, source), row in table.iterrows():
        split.setdefault(start, {})[source] = {
            k: float(row[k]) for k in ("total_gain_pp", "sentence_gain_pp", "domain_gain_pp", "sentence_share")}
    config = {k: v for k, v in settings.items() if k != "profile_settings"}
    config["runs"] = [run.fields() for run in results]
    config["train_configs"] = {run.name: ev.result.config for run, ev in results.items() if ev.result}
    config["source_corpora"] = {name: {"texts": len(c), **c.info} for name, c in sources.items()}
    curves = {run.name: ev.result.curve for run, ev in results.items() if ev.result and ev.result.curve}
    return write_record(
        profile["name"], "04_domain_adaptation", config=config, rows=tables.tidy_rows(results),
        findings=[f.to_dict() for f in found], metrics={"decomposition": split, "verdict": status.value},
        curves=curves, wall_time_s=seconds, device=profile["device"], notes=notes,
        data_fingerprint=ex.profile_corpus(profile, target).fingerprint(),
    )
