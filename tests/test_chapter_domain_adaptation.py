"""Chapter 4: source matching, the runs it trains, the gain decomposition and its interval-based verdict.

Pure functions on small hand-made inputs (no training): per-text outcomes are
built nested (a model right on the first ``n`` of 1,000 test texts), so every
difference and share is known in closed form; the notebook itself runs end to
end on the tiny profile in tests/test_notebooks.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from textembed_utils.chapters import domain_adaptation as da
from textembed_utils.corpora import Corpus
from textembed_utils.errors import TextembedError
from textembed_utils import experiments as ex
from textembed_utils.experiments import Run
from textembed_utils.results.verdicts import Verdict

from scored import evaluated

TRAINING_NONE = dict.fromkeys(("batch_size", "lr", "temperature", "n_sentences", "epochs", "steps", "eval_every",
                               "seed", "device", "precision"))
SENTENCE = "This sentence is long enough to be kept by the crop rule because it has well over one hundred characters"
N_TEST = 1000
METRICS = ("knn_euclidean", "knn_cosine")


def croppable(i: int) -> str:
    return f"{SENTENCE} ({i}). {SENTENCE} [{i}]."


def settings(**values):
    return da.validate({"profile": "tiny", "starts": None, "sources": None, **TRAINING_NONE, **values})


# ----------------------------------------------------------------- the corpora
def test_only_texts_with_two_crops_are_croppable():
    texts = [croppable(0), "Too short. Also short.", SENTENCE + "."]
    assert da.croppable_texts(texts, n_sentences=1, splitter="naive") == [croppable(0)]


def test_source_is_matched_to_the_targets_croppable_count_reproducibly():
    source = Corpus("src", [croppable(i) for i in range(50)] + ["short."] * 10, ["a"] * 30 + ["b"] * 30)
    matched = da.matched_source(source, size=20, n_sentences=1, splitter="naive", seed=42)
    assert len(matched) == 20 and len(set(matched.texts)) == 20
    assert all(t.startswith(SENTENCE) for t in matched.texts)
    assert matched.texts == da.matched_source(source, 20, 1, "naive", seed=42).texts
    assert matched.texts != da.matched_source(source, 20, 1, "naive", seed=7).texts
    assert matched.info == {"matched_to": 20, "texts_in_source": 60, "croppable_in_source": 50,
                            "classes_in_source": 2}


def test_a_small_source_is_used_whole_and_an_uncroppable_one_is_refused():
    source = Corpus("src", [croppable(i) for i in range(5)])
    assert len(da.matched_source(source, size=20, n_sentences=1, splitter="naive", seed=0)) == 5
    with pytest.raises(TextembedError, match="No text of 'flat'"):
        da.matched_source(Corpus("flat", ["short."] * 3), 20, 1, "naive", 0)


def test_sources_load_from_any_corpus_name_including_a_users_file(tmp_path):
    path = tmp_path / "other_domain.txt"
    path.write_text("\n".join(croppable(i) for i in range(30)) + "\n")
    chosen = da.validate({"profile": "tiny", "starts": "bare", "sources": str(path), **TRAINING_NONE})
    target = Corpus("t", [croppable(i) for i in range(12)] + ["short."] * 5, ["x"] * 17)
    sources = da.load_sources(chosen, target)
    assert [len(c) for c in sources.values()] == [12]
    table = da.corpora_table(chosen, target, sources)
    assert table["training texts"].tolist() == [12, 12]
    assert table["texts"].tolist() == [17, 30]


def test_validate_takes_the_profiles_domain_section_and_rejects_the_target_as_source():
    chosen = settings()
    assert chosen["starts"] == ["bare", "scratch"] and chosen["sources"] == ["docstrings"]
    assert chosen["target"] == "wiki"
    with pytest.raises(TextembedError, match="also listed as a source"):
        settings(sources="docstrings,wiki")
    with pytest.raises(TextembedError, match="Unknown start 'huge'"):
        settings(starts="huge")


# ----------------------------------------------------------------- the runs, as values
def test_the_in_domain_run_is_chapter_1s_run_and_the_source_run_matches_its_batches():
    assert da.in_domain_run(settings(), "bare") == Run("bare", "crops")  # same value → same cached model
    in_domain = da.in_domain_run(settings(lr=0.1), "bare")
    assert in_domain == Run.of("bare", "crops", lr=0.1)
    on_docs = da.source_run(in_domain, "docstrings", steps=12)
    assert on_docs == Run.of("bare", "crops", "docstrings", lr=0.1, steps=12)
    assert on_docs.trained_on == "docstrings" and dict(on_docs.overrides) == {"lr": 0.1, "steps": 12}


def test_only_trained_runs_with_an_eval_every_record_curves():
    profile = settings()["profile_settings"]
    assert ex.records_curve(profile, Run("bare", "crops"))            # tiny's bare start sets eval_every
    assert not ex.records_curve(profile, Run("pretrained", "crops"))  # tiny's pretrained start does not
    assert ex.records_curve(profile, Run.of("pretrained", "crops", eval_every=2))
    assert not ex.records_curve(profile, Run("bare"))


# ----------------------------------------------------------------- decomposition, findings, verdict
def first_right(n: int, also: range = range(0)) -> np.ndarray:
    """Outcomes on N_TEST texts: right on the first ``n`` and on ``also``."""
    correct = np.zeros(N_TEST, dtype=bool)
    correct[:n] = True
    correct[list(also)] = True
    return correct


def domain_results(untrained: np.ndarray, source: np.ndarray, target: np.ndarray, start: str = "bare") -> dict:
    runs = (Run(start), Run(start, "crops"), Run(start, "crops", "docs"))
    return {run: evaluated(run, correct, metrics=METRICS) for run, correct in zip(runs, (untrained, target, source))}


def test_decomposition_splits_the_in_domain_gain():
    table = da.decomposition(domain_results(first_right(500), first_right(620), first_right(700)), "wiki")
    row = table.loc[("bare", "docs")]
    assert row["total_gain_pp"] == pytest.approx(20.0)
    assert row["sentence_gain_pp"] == pytest.approx(12.0)
    assert row["domain_gain_pp"] == pytest.approx(8.0)
    assert row["sentence_share"] == pytest.approx(0.6)
    assert row["sentence_gain_pp"] + row["domain_gain_pp"] == pytest.approx(row["total_gain_pp"])
    readable = da.decomposition_table(table).loc[("bare", "docs")]
    assert readable["share from source (%)"] == pytest.approx(60.0)
    assert readable["total gain (p.p.)"] == pytest.approx(20.0) and readable["untrained (%)"] == pytest.approx(50.0)


def test_no_in_domain_gain_has_no_share():
    row = da.decomposition(domain_results(first_right(500), first_right(550), first_right(480)), "wiki")
    assert math.isnan(row.loc[("bare", "docs"), "sentence_share"])


def test_findings_test_each_part_of_the_decomposition_on_the_same_texts():
    found = da.findings(domain_results(first_right(500), first_right(620), first_right(700)), "wiki")
    assert [f.claim for f in found] == ["training on wiki improves on the untrained model",
                                        "training on docs improves on the untrained model",
                                        "training on wiki adds to training on docs",
                                        "training on docs gives most of the in-domain gain"]
    # source − (untrained + target) / 2 = 0.62 − 0.60: the share is above one half by 2 p.p.
    assert [f.difference for f in found] == pytest.approx([0.20, 0.12, 0.08, 0.02])
    assert all(f.low < f.difference < f.high and f.n_test == N_TEST for f in found)
    assert all(f.verdict is Verdict.HOLDS for f in found)
    assert found[1].first == "bare/crops on docs" and found[1].second == "bare/untrained"


@pytest.mark.parametrize("source, target, status", [
    (first_right(620), first_right(700), Verdict.HOLDS),  # 60 % of a 20 p.p. gain from the other domain
    (first_right(520), first_right(700), Verdict.OPPOSITE),    # 10 %: clearly less than half
    # +1 p.p. in-domain, from 40 texts gained and 30 lost: within noise, so nothing to split
    (first_right(520), first_right(470, range(500, 540)), Verdict.WITHIN_NOISE),
])
def test_verdict_on_the_sentence_adaptation_claim(source, target, status):
    verdict, evidence = da.verdict(domain_results(first_right(500), source, target), "wiki")
    assert verdict is status
    assert "bare/crops on docs" in evidence and "gives most of the in-domain gain" in evidence


def test_starts_that_disagree_give_a_mixed_verdict():
    results = {**domain_results(first_right(500), first_right(620), first_right(700)),
               **domain_results(first_right(500), first_right(450), first_right(700), start="scratch")}
    verdict, evidence = da.verdict(results, "wiki")
    assert verdict is Verdict.MIXED
    assert "scratch/crops on docs − halfway from scratch/untrained to scratch/crops: -15.0 p.p." in evidence


def test_curves_are_grouped_by_start_and_training_corpus_and_the_table_names_it():
    results = domain_results(first_right(500), first_right(620), first_right(700))
    results[Run("bare", "crops")].result.curve = [{"step": 0, "knn_euclidean": 0.5}]
    assert da.curves_by_start(results, "wiki") == {"bare": {"trained on wiki": [{"step": 0, "knn_euclidean": 0.5}]}}
    table = da.results_table(results, "wiki")
    assert table["trained on"].tolist() == ["–", "wiki", "docs"]
    assert table.loc["bare/crops on docs", "kNN Euclidean (%)"].startswith("62.0 (")
    assert table["test texts"].tolist() == [N_TEST] * 3


def test_early_gain_gives_a_share_only_when_both_gains_are_positive():
    rising = [{"step": 0, "knn_euclidean": 0.50}, {"step": 100, "knn_euclidean": 0.59},
              {"step": 200, "knn_euclidean": 0.60}]
    assert da.early_gain("bare on wiki", rising) == (
        "bare on wiki: +9.0 p.p. by batch 100 (90 % of the final gain), +10.0 p.p. by the last batch (200); "
        "one curve, no interval.")
    dipping = [{"step": 0, "knn_euclidean": 0.50}, {"step": 100, "knn_euclidean": 0.49},
               {"step": 200, "knn_euclidean": 0.52}]
    sentence = da.early_gain("bare on wiki", dipping)
    assert "% of the final gain" not in sentence and "-1.0 p.p. by batch 100" in sentence
