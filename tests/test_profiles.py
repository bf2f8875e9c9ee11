"""Profiles: named parameter sets stored as data, selectable and overridable."""

from __future__ import annotations

import json

import pytest

from textembed_utils.errors import TextembedError
from textembed_utils.profiles import DEFAULT_PROFILE, PROFILE_DIR, load_profile, profile_names
from textembed_utils.profiles.schema import StartSection, validate
from textembed_utils.training import TrainConfig

REQUIRED = {"name", "seed", "device", "precision", "corpus", "corpus_size", "eval", "crops", "starts"}


def test_the_three_profiles_exist_and_embedded_is_the_default():
    assert {"tiny", "embedded", "paper"} <= set(profile_names())
    assert DEFAULT_PROFILE == "embedded" and load_profile()["name"] == "embedded"


@pytest.mark.parametrize("name", ["tiny", "embedded", "paper"])
def test_profiles_are_complete_and_their_training_settings_are_valid(name):
    profile = load_profile(name)
    assert REQUIRED <= set(profile) and profile["name"] == name
    assert {"pretrained", "scratch", "bare"} <= set(profile["starts"])
    for start in profile["starts"].values():
        settings = {k: start[k] for k in ("lr", "batch_size", "steps", "epochs", "max_length") if start[k] is not None}
        TrainConfig(n_sentences=profile["crops"]["n_sentences"], **settings)  # raises when out of range
    assert profile["eval"]["k"] == 10 and profile["eval"]["test_size"] == 0.1 and profile["seed"] == 42


def test_paper_and_embedded_crop_sizes():
    assert load_profile("paper")["crops"]["n_sentences"] == 2  # the paper's default
    assert load_profile("embedded")["crops"]["n_sentences"] == 1  # wiki summaries are short
    paper = load_profile("paper")["starts"]["pretrained"]
    assert (paper["model"], paper["lr"], paper["batch_size"]) == ("microsoft/mpnet-base", 2e-5, 64)


def test_nested_overrides_change_only_what_they_name():
    base = load_profile("tiny")
    changed = load_profile("tiny", {"seed": 7, "eval": {"k": 5}, "starts": {"bare": {"lr": 0.1}}})
    assert (changed["seed"], changed["eval"]["k"], changed["starts"]["bare"]["lr"]) == (7, 5, 0.1)
    assert changed["eval"]["test_size"] == base["eval"]["test_size"]
    assert changed["starts"]["scratch"] == base["starts"]["scratch"]
    assert load_profile("tiny") == base  # the stored profile is not mutated


def test_config_overrides_are_replaced_whole():
    changed = load_profile("tiny", {"starts": {"scratch": {"config_overrides": {"num_hidden_layers": 1}}}})
    assert changed["starts"]["scratch"]["config_overrides"] == {"num_hidden_layers": 1}


def test_a_setting_any_start_uses_may_be_overridden_in_every_start():
    assert {"lr", "batch_size", "max_length", "model"} <= set(StartSection.__dataclass_fields__)
    for name in ("tiny", "embedded", "paper"):
        for start in ("pretrained", "scratch", "bare"):
            changed = load_profile(name, {"starts": {start: {"steps": 3, "epochs": 1}}})
            assert (changed["starts"][start]["steps"], changed["starts"][start]["epochs"]) == (3, 1)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(TextembedError) as err:
        load_profile("huge")
    assert "huge" in err.value.problem and "embedded" in err.value.fix and "tiny" in err.value.fix


@pytest.mark.parametrize(
    ("overrides", "where"),
    [({"sed": 1}, "sed"), ({"eval": {"kk": 3}}, "eval.kk"), ({"starts": {"giant": {}}}, "starts.giant"),
     ({"starts": {"bare": {"learning_rate": 1}}}, "starts.bare.learning_rate")],
)
def test_unknown_setting_names_its_path(overrides, where):
    with pytest.raises(TextembedError, match=f"Unknown profile setting '{where}'"):
        load_profile("tiny", overrides)


def test_tiny_and_paper_are_written_as_changes_to_the_embedded_base():
    for name in ("tiny", "paper"):
        stored = json.loads((PROFILE_DIR / f"{name}.json").read_text())
        assert stored["base"] == "embedded"
        assert "k" not in stored.get("eval", {})  # what equals the base is not written again
    assert load_profile("tiny")["eval"]["k"] == load_profile("embedded")["eval"]["k"] == 10
    # An explicit null clears the base's value: the paper's MPNet trains for an epoch, not embedded's 40 steps.
    assert load_profile("paper")["starts"]["pretrained"]["steps"] is None


def test_lists_are_json_lists_and_every_default_is_filled_in():
    profile = load_profile("embedded")
    assert profile["augmentations"]["runs"] == ["bare:crops", "bare:dropout", "bare:masking", "bare:crops+masking",
                                                  "pretrained:crops", "pretrained:dropout"]
    assert profile["starts"]["bare"]["steps"] is None and profile["starts"]["bare"]["init"] == "pretrained"


@pytest.mark.parametrize(("raw_change", "message"), [
    ({"eval": {"kk": 3}}, "Unknown profile setting 'profile.eval.kk' in broken"),
    ({"seed": "42"}, "Profile setting 'profile.seed' = '42' in broken has type str"),
    ({"eval": {"k": 0}}, "Profile setting 'profile.eval.k' = 0 in broken is out of range: expected ≥ 1"),
    ({"eval": {"test_size": 1.5}}, "Profile setting 'profile.eval.test_size' = 1.5 in broken is out of range"),
    ({"eval": {"batch_size": 0}}, "Profile setting 'profile.eval.batch_size' = 0 in broken is out of range"),
    ({"starts": {"bare": {"model": "bare", "lr": -1.0}}}, "Profile setting 'starts.bare.lr' = -1.0 in broken is out of range"),
    ({"starts": {"bare": {"lr": 0.5}}}, "Profile setting 'starts.bare.model' is missing in broken"),
])
def test_a_broken_profile_file_names_the_key_and_the_file(raw_change, message):
    raw = {"name": "x", "description": "", "corpus": "wiki", "starts": {"bare": {"model": "bare"}}, **raw_change}
    with pytest.raises(TextembedError) as err:
        validate(raw, "broken")
    assert message in err.value.problem
