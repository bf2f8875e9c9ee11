"""Validation of papermill-injected notebook parameters."""

from __future__ import annotations

import math

import pytest

from textembed_utils.errors import TextembedError
from textembed_utils.params import Param, positive, validate_parameters

SPEC = {
    "profile": Param(str, choices=("tiny", "embedded", "paper")),
    "lr": Param(float, optional=True, **positive("a positive learning rate, e.g. 2e-5")),
    "batch_size": Param(int, check=lambda v: v >= 2, expected="an integer ≥ 2"),
    "symmetric": Param(bool),
}
GOOD = {"profile": "tiny", "lr": 2e-5, "batch_size": 64, "symmetric": False}


def namespace(**changes):
    """A notebook's globals after the parameters cell: parameters plus imports and IPython names."""
    return {**GOOD, "math": math, "Param": Param, "In": [], "_": None, "__name__": "__main__", **changes}


def test_valid_parameters_are_returned_without_imports_or_ipython_names():
    assert validate_parameters(namespace(), SPEC) == GOOD


def test_int_is_accepted_for_float_and_converted():
    values = validate_parameters(namespace(lr=1), SPEC)
    assert values["lr"] == 1.0 and isinstance(values["lr"], float)


def test_none_only_where_optional():
    assert validate_parameters(namespace(lr=None), SPEC)["lr"] is None
    with pytest.raises(TextembedError, match="batch_size=None must not be None"):
        validate_parameters(namespace(batch_size=None), SPEC)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(TextembedError) as err:
        validate_parameters(namespace(learning_rate=0.1), SPEC)
    assert "learning_rate" in err.value.problem
    assert "batch_size, lr, profile, symmetric" in err.value.fix


def test_missing_parameter():
    values = namespace()
    del values["symmetric"]
    with pytest.raises(TextembedError, match="'symmetric' is missing"):
        validate_parameters(values, SPEC)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("batch_size", "64", "has type str, expected int"),
        ("batch_size", 64.0, "has type float, expected int"),
        ("batch_size", True, "has type bool, expected int"),  # bool is an int in Python, not here
        ("lr", True, "has type bool, expected float"),
        ("lr", "2e-5", "has type str, expected float"),
        ("symmetric", 1, "has type int, expected bool"),
        ("profile", "huge", "must be one of 'tiny', 'embedded', 'paper'"),
    ],
)
def test_wrong_types_and_choices_are_named(name, value, message):
    with pytest.raises(TextembedError) as err:
        validate_parameters(namespace(**{name: value}), SPEC)
    assert f"{name}={value!r} {message}" in err.value.problem
    assert f"-p {name}" in err.value.fix


@pytest.mark.parametrize(("name", "value"), [("lr", -1e-5), ("lr", 0), ("batch_size", 1), ("batch_size", -64)])
def test_out_of_range_states_what_is_expected(name, value):
    with pytest.raises(TextembedError, match="is out of range: expected"):
        validate_parameters(namespace(**{name: value}), SPEC)
