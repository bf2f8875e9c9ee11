"""Validation of papermill-injected notebook parameters."""

from __future__ import annotations

import math

import pytest

from textembed_utils.errors import TextembedError
from textembed_utils.params import Param, validate_parameters

SPEC = {
    "profile": Param(str, choices=("tiny", "embedded", "paper")),
    "lr": Param(float, optional=True, check=lambda v: v > 0, expected="a positive learning rate, e.g. 2e-5"),
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


# --- ranges: written once, enforced identically by the API, the notebooks and the CLI (issue 14) -----

import dataclasses  # noqa: E402
import importlib  # noqa: E402
import pkgutil  # noqa: E402
import typing  # noqa: E402

from textembed_utils.ranges import OTHER_RANGES, Range, out_of_range, range_for  # noqa: E402
from textembed_utils.training import TrainConfig  # noqa: E402
from textembed_utils.training.config import config_ranges  # noqa: E402


def test_range_contains_and_describes_its_ends():
    half_open = Range(0, 1, high_open=True)
    assert [v in half_open for v in (-0.1, 0, 0.5, 1, math.nan, math.inf, True, "0.5")] == [
        False, True, True, False, False, False, False, False]
    assert half_open.describe() == "in [0, 1)"
    assert Range(0, low_open=True).describe() == "> 0" and Range(2, why="pairs").describe() == "≥ 2 (pairs)"
    assert Range(0, 2**32 - 1).describe() == "in [0, 4294967295]"
    assert half_open.outside(float)[:3] == [-1e-3, 1.0, math.inf] and Range(1).outside(int) == [0]


def test_every_numeric_training_field_has_a_range_and_its_default_is_in_it():
    hints = typing.get_type_hints(TrainConfig)
    for item in dataclasses.fields(TrainConfig):
        kinds = set(typing.get_args(hints[item.name]) or (hints[item.name],)) - {type(None)}
        if kinds & {int, float}:
            assert "range" in item.metadata, f"TrainConfig.{item.name} is numeric: give it metadata={{'range': ...}}"
            assert item.default is None or item.default in item.metadata["range"]


TRAINING_CASES = [(name, value) for name, (kind, allowed) in config_ranges().items()
                  for value in allowed.outside(kind)]


@pytest.mark.parametrize(("name", "value"), TRAINING_CASES)
def test_api_and_notebook_refuse_the_same_values_with_the_same_words(name, value):
    kind, allowed = range_for(name)
    words = out_of_range(name, value, allowed)
    with pytest.raises(TextembedError) as api:
        TrainConfig(**{name: value})
    assert words in api.value.problem and f"set {name} to" in api.value.fix
    with pytest.raises(TextembedError) as notebook:
        validate_parameters({name: value}, {name: Param(kind, optional=True)})
    assert f"Parameter {words}." in notebook.value.problem


def numeric_chapter_parameters() -> list[tuple[str, str, Param]]:
    """(module, name, Param) of every int/float parameter of every notebook's SPEC (textembed_utils/chapters)."""
    from textembed_utils import chapters

    found = []
    for info in pkgutil.iter_modules(chapters.__path__):
        module = importlib.import_module(f"{chapters.__name__}.{info.name}")
        for name, param in getattr(module, "SPEC", {}).items():
            kinds = param.types if isinstance(param.types, tuple) else (param.types,)
            if {int, float} & set(kinds):
                found.append((info.name, name, param))
    return found


def test_every_numeric_notebook_parameter_has_a_range_and_refuses_values_outside():
    params = numeric_chapter_parameters()
    assert {"batch_size", "lr", "seed", "size", "freeze_steps"} <= {name for _, name, _ in params}
    for module, name, param in params:
        allowed = param.range or (range_for(name) or (None, None))[1]
        assert allowed is not None, (f"chapters/{module}.py parameter '{name}' has no range: name it like a "
                                     "TrainConfig field or an entry of ranges.OTHER_RANGES, or pass Param(range=...)")
        kind = float if param.types is float else int
        for value in allowed.outside(kind):
            with pytest.raises(TextembedError, match="is out of range"):
                validate_parameters({name: value}, {name: param})


def test_settings_outside_training_have_their_ranges_in_one_table():
    assert set(OTHER_RANGES).isdisjoint(f.name for f in dataclasses.fields(TrainConfig))
    assert range_for("threads") == (int, Range(1)) and range_for("no_such_setting") is None
