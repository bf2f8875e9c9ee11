"""Encoders: loading, random init, the bare layer, layer states, saving as a SentenceTransformer folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from conftest import TINY_CONFIG
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import encode
from textembed_utils.models import load_encoder

TEXTS = [
    "The cat sat on the mat.",
    " ".join(f"word{i}" for i in range(80)),  # longer than max_length=48: truncated
    "Turbines convert the energy of a moving fluid into rotation of a shaft, which drives a generator.",
    "x",
    "Photosynthesis turns light into chemical energy. It happens in chloroplasts.",
]


def test_tiny_random_init_has_the_asked_architecture(tiny_encoder):
    assert (tiny_encoder.hidden_size, tiny_encoder.num_layers, tiny_encoder.kind) == (64, 2, "transformer")
    assert tiny_encoder.max_length == 48 and tiny_encoder.pooling == "mean"
    assert tiny_encoder.mask_token_id == tiny_encoder.tokenizer.mask_token_id
    assert not tiny_encoder.training  # loaded in eval mode


def test_random_init_is_seeded():
    one, two, other = (load_encoder(init="random", config_overrides=TINY_CONFIG, seed=s) for s in (1, 1, 2))
    weights = [dict(m.state_dict()) for m in (one, two, other)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_pretrained_minilm(minilm):
    assert (minilm.hidden_size, minilm.num_layers, minilm.pooling) == (384, 6, "mean")
    vectors = encode(minilm, TEXTS[:2], progress=False)
    assert vectors.shape == (2, 384) and np.isfinite(vectors).all()


def test_bare_model_has_no_special_tokens_and_one_hidden_state(tiny_bare):
    assert (tiny_bare.hidden_size, tiny_bare.num_layers, tiny_bare.kind) == (32, 0, "bare")
    tokens = tiny_bare.tokenize(["hello world"])
    assert tokens["input_ids"].shape == (1, 2) and not tokens["special_tokens_mask"].any()
    assert tiny_bare.backbone.embeddings.num_embeddings == len(tiny_bare.tokenizer)
    layers = encode(tiny_bare, TEXTS, all_layers=True, progress=False)
    assert layers.shape == (1, len(TEXTS), 32)


def test_layer_embeddings_stack_every_hidden_state_with_the_last_equal_to_the_output(tiny_encoder):
    layers = encode(tiny_encoder, TEXTS, all_layers=True, progress=False)
    assert layers.shape == (3, len(TEXTS), 64)
    np.testing.assert_allclose(layers[-1], encode(tiny_encoder, TEXTS, progress=False), atol=1e-5)
    assert not np.allclose(layers[0], layers[-1])


def test_token_ids_are_the_tokenizers_ids_without_padding(tiny_encoder, tiny_bare):
    for encoder in (tiny_encoder, tiny_bare):
        batch = encoder.tokenize(TEXTS, max_length=48)
        expected = [row[mask.bool()].tolist() for row, mask in zip(batch["input_ids"], batch["attention_mask"])]
        assert encoder.token_ids(TEXTS, max_length=48) == expected
        ids, mask = encoder.pad(expected)
        assert torch.equal(ids, batch["input_ids"]) and torch.equal(mask, batch["attention_mask"])
    ids, mask = tiny_bare.pad([[], [5, 6]])  # a text without tokens is all padding
    assert ids.tolist() == [[tiny_bare.tokenizer.pad_token_id or 0] * 2, [5, 6]] and mask.tolist() == [[0, 0], [1, 1]]


def test_encode_restores_order_and_is_batch_independent(tiny_encoder):
    whole = encode(tiny_encoder, TEXTS, batch_size=64, progress=False)
    one_by_one = np.stack([encode(tiny_encoder, [t], progress=False)[0] for t in TEXTS])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)
    normalised = encode(tiny_encoder, TEXTS, normalize=True, progress=False)
    np.testing.assert_allclose(np.linalg.norm(normalised, axis=1), 1.0, atol=1e-6)


def test_bf16_encoding_is_close_to_fp32_and_auto_is_fp32_where_bf16_is_emulated(tiny_encoder, monkeypatch):
    from textembed_utils.training import precision

    fp32 = encode(tiny_encoder, TEXTS, progress=False)
    bf16 = encode(tiny_encoder, TEXTS, progress=False, precision="bf16")
    deviation = np.linalg.norm(bf16 - fp32, axis=1) / np.linalg.norm(fp32, axis=1)
    assert 0 < deviation.max() < 0.02  # bf16 keeps ~3 significant digits: close, not equal
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    np.testing.assert_array_equal(encode(tiny_encoder, TEXTS, progress=False, precision="auto"), fp32)
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    np.testing.assert_array_equal(encode(tiny_encoder, TEXTS, progress=False, precision="auto"), bf16)


def test_encoding_no_texts_gives_empty_arrays_of_the_right_width(tiny_encoder):
    assert encode(tiny_encoder, [], progress=False).shape == (0, 64)
    assert encode(tiny_encoder, [], all_layers=True, progress=False).shape == (3, 0, 64)


@pytest.mark.parametrize("pooling", ["mean", "cls", "sep"])
def test_saved_transformer_loads_in_sentence_transformers_with_the_same_vectors(tmp_path, tiny_encoder, pooling):
    tiny_encoder.pooling = pooling
    ours = encode(tiny_encoder, TEXTS, progress=False)
    folder = tiny_encoder.save(tmp_path / "model")
    theirs = SentenceTransformer(str(folder), device="cpu").encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    reloaded = load_encoder(str(folder), max_length=48)
    assert reloaded.pooling == pooling
    np.testing.assert_allclose(encode(reloaded, TEXTS, progress=False), ours, atol=1e-5)
    assert list(tmp_path.iterdir()) == [folder]  # written atomically: no staging leftovers


def test_saved_bare_model_loads_in_sentence_transformers_with_the_same_vectors(tmp_path, tiny_bare):
    ours = encode(tiny_bare, TEXTS, progress=False)
    folder = tiny_bare.save(tmp_path / "bare")
    theirs = SentenceTransformer(str(folder), device="cpu").encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    reloaded = load_encoder(str(folder), max_length=48)
    assert reloaded.kind == "bare" and reloaded.mask_token_id == tiny_bare.mask_token_id
    np.testing.assert_allclose(encode(reloaded, TEXTS, progress=False), ours, atol=1e-6)


def test_saving_overwrites_an_existing_model_folder(tmp_path, tiny_encoder, tiny_bare):
    folder = tmp_path / "model"
    tiny_encoder.save(folder)
    tiny_bare.save(folder)
    assert load_encoder(str(folder)).kind == "bare"


def test_token_k_pooling_cannot_be_saved(tmp_path, tiny_encoder):
    tiny_encoder.pooling = "token7"
    with pytest.raises(TextembedError, match="pooling mean, cls or sep"):
        tiny_encoder.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_save_keeps_training_mode(tmp_path, tiny_encoder):
    tiny_encoder.train()
    tiny_encoder.save(tmp_path / "model")
    assert tiny_encoder.training


# --- errors --------------------------------------------------------------------------------


def test_unknown_hub_id_offline_is_a_clear_error():
    with pytest.raises(TextembedError) as err:
        load_encoder("no-such-org/no-such-model-xyz")
    assert "no-such-org/no-such-model-xyz" in err.value.problem
    assert "all-MiniLM-L6-v2" in err.value.fix


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TextembedError, match="neither config.json nor modules.json"):
        load_encoder(str(tmp_path))


def test_a_file_is_not_a_model_folder(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\0" * 10)
    with pytest.raises(TextembedError, match="is a file, not a model folder"):
        load_encoder(str(path))


def test_unknown_init_and_pooling():
    with pytest.raises(TextembedError, match="pretrained, random"):
        load_encoder(init="xavier")
    with pytest.raises(TextembedError, match="token<k>"):
        load_encoder("bare", pooling="max")
