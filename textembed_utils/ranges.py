"""Allowed values of settings, written once and enforced identically everywhere: numeric ranges and devices.

A ``Range`` is an interval. Each numeric ``TrainConfig`` field carries its range
in its dataclass metadata (``training/config.py``); the few numeric settings that
are not training knobs (encoding batch size, threads, evaluation size, ...) are in
``OTHER_RANGES`` below. ``range_for(name)`` finds either, and the Python API
(``TrainConfig.validate``), the notebooks' parameter validation
(``params.validate_parameters``) and the command line (``cli``: ``ranged_type``)
all check a value against that one ``Range``, with the same wording.

Zero is outside every range where it means nothing (a batch of zero texts, zero
steps, zero sentences per crop, zero threads, ...).

The device a run asks for is checked the same way everywhere too: ``is_device``
for ``TrainConfig`` and the notebooks, ``device_type`` for the command line.
"""

from __future__ import annotations

import argparse
import math
import numbers
import re
from dataclasses import dataclass

from .errors import TextembedError


def _number(value: float | None) -> str:
    """A bound as written: whole numbers without a decimal point or exponent."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Range:
    """Finite numbers from ``low`` to ``high`` (None: unbounded); ``*_open`` excludes that end itself."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    why: str = ""  # why the bound exists, when it is not obvious

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def outside(self, kind: type) -> list:
        """Values of ``kind`` just outside: past each end, zero where zero is out, non-finite floats.

        What a test feeds every interface of a setting to see it refused.
        """
        step = 1 if kind is int else 1e-3
        values = []
        if self.low is not None:
            values.append(kind(self.low) if self.low_open else kind(self.low - step))
        if self.high is not None:
            values.append(kind(self.high) if self.high_open else kind(self.high + step))
        if 0 not in self:
            values.append(kind(0))
        if kind is float:
            values += [math.inf, math.nan]
        return list(dict.fromkeys(values))

    def describe(self) -> str:
        """The range in words: ``≥ 2``, ``> 0``, ``in [0, 1)``; with its reason when it has one."""
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            text = f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        elif self.low is not None:
            text = f"{'>' if self.low_open else '≥'} {low}"
        elif self.high is not None:
            text = f"{'<' if self.high_open else '≤'} {high}"
        else:
            text = "any number"
        return f"{text} ({self.why})" if self.why else text


# Numeric settings that are not TrainConfig fields: kind and range.
OTHER_RANGES: dict[str, tuple[type, Range]] = {
    "encode_batch_size": (int, Range(1)),
    "threads": (int, Range(1)),
    "eval_size": (int, Range(2, why="a split needs a training and a test text")),
    "curve_size": (int, Range(2, why="a split needs a training and a test text")),
    "k": (int, Range(1)),
    "test_size": (float, Range(0, 1, low_open=True, high_open=True, why="a share of the labelled texts")),
    "corpus_size": (int, Range(2)),
    "freeze_steps": (int, Range(1)),
    "size": (int, Range(20, why="texts per MTEB task: enough for its clustering and retrieval splits")),
}


def range_for(name: str) -> tuple[type, Range] | None:
    """The kind (int or float) and range of the setting ``name``: a TrainConfig field or ``OTHER_RANGES``."""
    from .training.config import config_ranges

    return config_ranges().get(name) or OTHER_RANGES.get(name)


def outside_range(value: object, allowed: Range) -> str:
    """The one wording of a value outside ``allowed``, for every interface: ``is out of range: expected ≥ 2``."""
    finite = "" if not isinstance(value, float) or math.isfinite(value) else "a finite number "
    return f"is out of range: expected {finite}{allowed.describe()}"


def out_of_range(name: str, value: object, allowed: Range) -> str:
    """``batch_size=1 is out of range: expected ≥ 2 (...)``: the setting, its value and ``outside_range``."""
    return f"{name}={value!r} {outside_range(value, allowed)}"


DEVICES = "auto (CUDA when available), cpu, cuda, cuda:N (the GPU numbered N) or mps"


def is_device(value: object) -> bool:
    """True for a device a run can ask for: one of ``DEVICES``."""
    if not isinstance(value, str):
        return False
    return value in ("auto", "cpu", "cuda", "mps") or re.fullmatch(r"cuda:\d+", value) is not None


def device_type(text: str) -> str:
    """An argparse ``type`` for ``--device``: one of ``DEVICES`` (``gpu`` is refused here, not deep in torch)."""
    if not is_device(text):
        raise argparse.ArgumentTypeError(str(TextembedError(f"'{text}' is not a device.", f"pass --device {DEVICES}.")))
    return text


def ranged_type(name: str, alternatives: dict[str, object] | None = None):
    """An argparse ``type`` for the setting ``name``: its kind and its one range.

    ``alternatives`` maps words to values (``{"all": None}``). An out-of-range
    value is an argparse error (exit 2) worded like the API's.
    """
    kind, allowed = range_for(name)
    words = alternatives or {}

    def parse(text: str):
        if text.lower() in words:
            return words[text.lower()]
        try:
            value = kind(text)
        except ValueError:
            also = "".join(f" or '{word}'" for word in words)
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}{also}, got '{text}'") from None
        if value not in allowed:
            option = "--" + name.replace("_", "-")
            raise argparse.ArgumentTypeError(str(TextembedError(
                f"{out_of_range(name, value, allowed)}.", f"pass {option} {allowed.describe()}.")))
        return value

    parse.__name__ = kind.__name__
    parse.setting, parse.kind, parse.range = name, kind, allowed
    return parse
