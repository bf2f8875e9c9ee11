"""Chapter 7's helpers on the tiny profile: the distillation source, the texts both encoders see whole,
throughput and size measurements, and the comparisons it draws (the notebook itself runs in test_notebooks)."""

from __future__ import annotations

import numpy as np
import pytest

from textembed_utils import experiments as ex
from textembed_utils.chapters import static as chapter
from textembed_utils.experiments import Reference, Run


@pytest.fixture
def settings(fresh_storage):
    return chapter.validate({"profile": "tiny", **dict.fromkeys(set(chapter.SPEC) - {"profile"})})


def test_validate_reads_the_static_section_and_wires_the_distillation_source(settings):
    profile = settings["profile_settings"]
    assert [run.name for run in settings["runs"]] == [
        "bare_model2vec/untrained", "bare/crops", "bare_model2vec/crops", "bare_model2vec/dropout"]
    assert [ref.model for ref in settings["references"]] == ["tfidf"]
    # tiny distils its random-init 'pretrained' start, saved once under the cache
    assert profile["starts"]["bare_model2vec"]["tokenizer_from"] == settings["distilled_from"]
    assert (ex.cache_dir() / "models" / "tiny").is_dir() and settings["distilled_from"].startswith(str(ex.cache_dir()))
    assert chapter.model2vec_start(settings["runs"], profile) == "bare_model2vec"


def test_untrained_model2vec_start_gives_model2vecs_own_vectors(settings):
    profile = settings["profile_settings"]
    encoder = ex.fit(Run("bare_model2vec"), profile).encoder
    texts = ex.profile_corpus(profile).texts[:60]
    kept = chapter.comparable_texts(encoder, texts, 48)
    assert 0 < len(kept) < len(texts)
    assert all(len(encoder.tokenizer.tokenize(t)) <= 48 and "[UNK]" not in encoder.tokenizer.tokenize(t) for t in kept)
    gap, compared = chapter.model2vec_agreement(encoder, profile, "bare_model2vec", texts)
    assert gap < 1e-6 and compared == len(chapter.comparable_texts(encoder, texts, profile["eval"]["max_length"]))


def test_texts_per_second_is_texts_over_the_median_pass(monkeypatch):
    clock = {"now": 0.0, "passes": []}
    monkeypatch.setattr(chapter.time, "perf_counter", lambda: clock["now"])

    def encode_all(texts):  # the timed passes take 1, 3 and 2 ms per text: the median is 2 ms
        clock["passes"].append(len(texts))
        clock["now"] += len(texts) * (0.001, 0.003, 0.002)[(len(clock["passes"]) - 2) % 3]

    assert chapter.texts_per_second(encode_all, ["a"] * 50) == pytest.approx(500)
    assert clock["passes"] == [5, 50, 50, 50]  # one short warm-up pass, then three timed ones


def test_speed_and_size_of_tfidf_and_of_a_static_run(settings):
    profile = settings["profile_settings"]
    texts = list(ex.profile_corpus(profile).texts[:100])
    rate, size = chapter.speed_and_size(Reference("tfidf"), None, profile, texts, "bare_model2vec")
    assert rate > 0 and 0 < size < 5
    fitted = ex.fit(Run("bare"), profile)
    rate, size = chapter.speed_and_size(Run("bare"), ex.Evaluated(Run("bare"), None, None, fitted), profile, texts,
                                        "bare_model2vec")
    vocabulary_mb = len(fitted.encoder.tokenizer) * fitted.encoder.hidden_size * 4 / 1e6
    assert rate > 0 and vocabulary_mb < size < vocabulary_mb + 2  # the float32 table plus the tokenizer


def test_findings_compare_the_runs_on_the_same_texts(settings):
    from textembed_utils.evaluation.scoring import EvalSpec, score

    profile = settings["profile_settings"]
    data = ex.eval_set(profile, ex.profile_corpus(profile))
    rng = np.random.default_rng(0)
    results = {run: ex.Evaluated(run, score(rng.normal(size=(len(data.texts), 8)), data.labels,
                                            EvalSpec.from_profile(profile), probe=False))
               for run in settings["runs"]}
    found = chapter.findings(results, "bare_model2vec")
    assert len(found) == 6  # three comparisons × two metrics; no transformer reference on tiny
    assert {f.first for f in found} == {"bare_model2vec/crops"}
    assert all(f.n_test == len(data.texts) // 10 for f in found)
