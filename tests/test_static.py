"""Static models: the fast encoding path, the model2vec initialisation, and folders both libraries load.

Each check is against an independent computation: the padded forward pass and
sentence-transformers' StaticEmbedding for the fast path, model2vec's own
``StaticModel.encode`` for the initialisation and for reloading a saved folder.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model2vec import StaticModel
from sentence_transformers import SentenceTransformer

from conftest import TINY_CONFIG
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import encode
from textembed_utils.models import load_encoder
from textembed_utils.models import distill as distill_module
from textembed_utils.models.static import token_bags, truncating_tokenizer

TEXTS = [
    "The cat sat on the mat.",
    " ".join(f"word{i}" for i in range(80)),  # longer than max_length=48: truncated
    "",  # no tokens: the zero vector
    "Turbines convert the energy of a moving fluid into rotation of a shaft, which drives a generator.",
    "x",
    "Photosynthesis turns light into chemical energy. It happens in chloroplasts.",
]
UNK_TEXT = "A smile 🙂 here."  # the emoji is [UNK] in the MiniLM vocabulary
TOLERANCE = 1e-6  # float32 means of the same rows, summed in another order


def padded_vectors(encoder, texts):
    """The general path: pad per batch, masked mean over the token states."""
    with torch.inference_mode():
        tokens = encoder.tokenize(texts)
        return encoder(tokens["input_ids"], tokens["attention_mask"]).numpy()


# --- the fast path ---------------------------------------------------------------------------


def test_fast_static_path_equals_the_padded_forward_pass(tiny_bare):
    assert tiny_bare.is_static
    fast = encode(tiny_bare, TEXTS, progress=False)
    np.testing.assert_allclose(fast, padded_vectors(tiny_bare, TEXTS), atol=TOLERANCE)
    assert not fast[2].any()  # the empty text
    assert encode(tiny_bare, TEXTS, all_layers=True, progress=False).shape == (1, len(TEXTS), 32)
    normalised = encode(tiny_bare, TEXTS[:2], normalize=True, progress=False)
    np.testing.assert_allclose(np.linalg.norm(normalised, axis=1), 1.0, atol=1e-6)


def test_parallel_tokenisation_keeps_the_order_and_the_ids(tiny_bare):
    tokenizer = truncating_tokenizer(tiny_bare.tokenizer.backend_tokenizer, 48)
    texts = TEXTS * 7
    one = token_bags(tokenizer, texts, threads=1)
    three = token_bags(tokenizer, texts, threads=3)
    assert all(torch.equal(a, b) for a, b in zip(one, three))
    expected = tiny_bare.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=48)["input_ids"]
    assert one[0].tolist() == [i for ids in expected for i in ids]


def test_fast_path_is_not_for_transformers(tiny_encoder):
    assert not tiny_encoder.is_static
    with pytest.raises(TextembedError, match="not a static model"):
        tiny_encoder.encode_static(TEXTS)


# --- the model2vec initialisation --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory) -> str:
    """A saved 2-layer random transformer with the MiniLM vocabulary: model2vec distils it in seconds."""
    folder = tmp_path_factory.mktemp("source") / "tiny"
    load_encoder(init="random", config_overrides=TINY_CONFIG, seed=0).save(folder)
    return str(folder)


def model2vec_bare(source: str, dims: int = 16):
    return load_encoder("bare", init="model2vec", tokenizer_from=source, config_overrides={"hidden_size": dims},
                        max_length=48)


def test_model2vec_init_equals_model2vecs_own_vectors_before_training(tiny_source):
    bare = model2vec_bare(tiny_source)
    assert (bare.kind, bare.hidden_size, bare.is_static) == ("bare", 16, True)
    static = distill_module.load_distilled(tiny_source, tiny_source, distill_module.DistillSettings(pca_dims=16))
    ours = encode(bare, TEXTS, progress=False)
    theirs = static.encode(TEXTS, normalize=False, max_length=48)
    np.testing.assert_allclose(ours, theirs, atol=TOLERANCE)
    # model2vec drops [UNK] tokens before the mean; StaticEmbedding (and so the bare model) keeps them.
    assert not np.allclose(encode(bare, [UNK_TEXT], progress=False), static.encode([UNK_TEXT], normalize=False))


def test_vocabularies_line_up_and_only_dropped_tokens_are_zero(tiny_source):
    bare = model2vec_bare(tiny_source)
    static = distill_module.load_distilled(tiny_source, tiny_source, distill_module.DistillSettings(pca_dims=16))
    weights, missing = distill_module.vocabulary_weights(static, bare.tokenizer)
    assert {"[CLS]", "[SEP]", "[MASK]"} <= set(missing)
    assert all(t in ("[CLS]", "[SEP]", "[MASK]") or t.startswith("[unused") for t in missing)
    vocab = bare.tokenizer.get_vocab()
    zero_rows = {i for i in range(len(weights)) if not weights[i].any()}
    assert zero_rows == {vocab[t] for t in missing}
    for text in TEXTS + [UNK_TEXT]:  # the two tokenizers cut every text into the same tokens
        assert static.tokenizer.encode(text, add_special_tokens=False).tokens == bare.tokenizer.tokenize(text)


def test_distillation_is_cached_per_version_and_settings(tiny_source, monkeypatch):
    model2vec_bare(tiny_source, dims=16)
    monkeypatch.setattr(distill_module, "distill", lambda *a: pytest.fail("distilled again"))
    model2vec_bare(tiny_source, dims=16)  # from the cache
    folder = distill_module.distilled_folder(tiny_source, tiny_source, distill_module.DistillSettings(pca_dims=16))
    assert f"m2v{distill_module.model2vec_version()}-pca16-sif0.0001" in folder.name
    assert folder != distill_module.distilled_folder(tiny_source, tiny_source,
                                                     distill_module.DistillSettings(pca_dims=8))


def test_model2vec_init_is_for_the_bare_model_only():
    with pytest.raises(TextembedError, match="starts the bare model"):
        load_encoder(init="model2vec")


@pytest.mark.slow
def test_minilm_distillation_equals_model2vec_on_wiki_texts(wiki):
    """The real thing: all-MiniLM-L6-v2 distilled with model2vec's defaults (half a minute, once per cache)."""
    from textembed_utils.models.loading import resolve_model_source

    bare = load_encoder("bare", init="model2vec")
    static = distill_module.load_distilled(resolve_model_source("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2")
    texts = [t for t in wiki.subset(300, seed=0).texts if "[UNK]" not in bare.tokenizer.tokenize(t)]
    assert bare.hidden_size == 256 and len(texts) >= 290  # model2vec drops [UNK]: 1 of these 300 has one
    np.testing.assert_allclose(encode(bare, texts, progress=False),
                               static.encode(texts, normalize=False, max_length=128), atol=TOLERANCE)


# --- saved folders ----------------------------------------------------------------------------


def test_saved_folder_loads_in_sentence_transformers_and_model2vec_with_the_same_vectors(tmp_path, tiny_source):
    bare = model2vec_bare(tiny_source)
    with torch.no_grad():  # as after training: rows no longer model2vec's
        bare.backbone.embeddings.weight.add_(0.01 * torch.randn_like(bare.backbone.embeddings.weight))
    ours = encode(bare, TEXTS, progress=False)
    folder = bare.save(tmp_path / "model")
    st_model = SentenceTransformer(str(folder), device="cpu")
    assert type(st_model[0]).__name__ == "StaticEmbedding" and len(st_model) == 1
    np.testing.assert_allclose(st_model.encode(TEXTS, convert_to_numpy=True), ours, atol=TOLERANCE)
    m2v_model = StaticModel.from_pretrained(str(folder))
    assert (m2v_model.max_length, m2v_model.normalize) == (48, False)
    np.testing.assert_allclose(m2v_model.encode(TEXTS), ours, atol=TOLERANCE)
    np.testing.assert_allclose(encode(load_encoder(str(folder), max_length=48), TEXTS, progress=False), ours,
                               atol=TOLERANCE)


# --- the one-command workflow -----------------------------------------------------------------


def toy_csv(folder, corpus) -> str:
    """The toy corpus as a labelled CSV file, the way a user hands `textembed finetune` a corpus."""
    path = folder / "corpus.csv"
    path.write_text("text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in zip(corpus.texts, corpus.labels)))
    return str(path)


def test_finetune_bare_says_it_starts_from_a_random_init(tmp_path, toy_corpus, capsys):
    """The bare layer has no pretrained weights: the default init ('pretrained') means a random start there."""
    import json

    from textembed_utils.cli import main

    corpus = toy_csv(tmp_path, toy_corpus)
    out = tmp_path / "out"
    assert main(["finetune", corpus, "--label-column", "label", "--model", "bare", "--out", str(out),
                 "--steps", "2", "--batch-size", "8", "--no-tsne"]) == 0
    printed = capsys.readouterr()
    assert "Loading the model 'bare' (random)" in printed.err and "bare (random)" in printed.out
    assert json.loads((out / "report.json").read_text())["model"]["init"] == "random"


def test_finetune_bare_from_model2vec_writes_a_static_folder(tmp_path, tiny_source, toy_corpus, monkeypatch, capsys):
    """`textembed finetune CORPUS --model bare --init model2vec`: the tiny distillation stands in for MiniLM's."""
    import json

    from textembed_utils.cli import main
    from textembed_utils.models import loading

    tiny = distill_module.load_distilled(tiny_source, tiny_source, distill_module.DistillSettings(pca_dims=16))
    monkeypatch.setattr(loading, "load_distilled", lambda *a, **k: tiny)
    corpus = toy_csv(tmp_path, toy_corpus)
    out = tmp_path / "out"
    assert main(["finetune", corpus, "--label-column", "label", "--model", "bare", "--init", "model2vec",
                 "--out", str(out), "--steps", "3", "--batch-size", "8", "--lr", "1e-3", "--no-tsne", "--quiet"]) == 0
    assert "bare (model2vec)" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert (report["model"]["init"], report["model"]["hidden_size"]) == ("model2vec", 16)
    st_model = SentenceTransformer(str(out), device="cpu")
    assert type(st_model[0]).__name__ == "StaticEmbedding"
    np.testing.assert_allclose(st_model.encode(list(toy_corpus.texts)), np.load(out / "embeddings.npy"),
                               atol=TOLERANCE)


def test_a_model2vec_folder_loads_as_a_bare_model(tmp_path, tiny_source):
    static = distill_module.load_distilled(tiny_source, tiny_source, distill_module.DistillSettings(pca_dims=16))
    static.save_pretrained(tmp_path / "m2v")  # model2vec's own layout: "embeddings", config.json, Normalize
    bare = load_encoder(str(tmp_path / "m2v"), max_length=48)
    assert (bare.kind, bare.hidden_size) == ("bare", 16)
    np.testing.assert_allclose(encode(bare, TEXTS, progress=False), static.encode(TEXTS, normalize=False, max_length=48),
                               atol=TOLERANCE)
