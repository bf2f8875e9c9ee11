"""The profile schema: every setting a profile may hold, its type and its default, written once.

A profile file is JSON; ``validate`` checks it against these dataclasses when it
loads (an unknown key, a wrong type or a number outside the range `ranges` writes for it is an
error naming the key and the file) and fills in every default, so the code that
reads a profile never needs a fallback of its own. Lists are JSON lists.
"""

from __future__ import annotations

import dataclasses
import numbers
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import TextembedError
from ..ranges import outside_range, range_for


@dataclass(frozen=True)
class EvalSection:
    """How accuracy is measured and how many labelled texts it is measured on."""

    k: int = 10
    test_size: float = 0.1
    stratify: bool = False  # the paper's split; the embedded profile stratifies (a stated deviation)
    batch_size: int = 128
    max_length: int = 128
    eval_size: int | None = None  # labelled texts scored (seeded subset); None = all
    curve_size: int | None = None  # of those, the ones a learning-curve point scores (seeded); None = all


@dataclass(frozen=True)
class CropsSection:
    """The crop rule: sentences per crop and how text is split into sentences."""

    n_sentences: int = 2
    splitter: str = "naive"


@dataclass(frozen=True)
class StartSection:
    """One start: the model it builds and the training settings it overrides (None = TrainConfig's default)."""

    model: str
    init: str = "pretrained"
    tokenizer_from: str | None = None
    config_overrides: dict | None = None
    pooling: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    steps: int | None = None
    epochs: float | None = None
    max_length: int | None = None
    eval_every: int | None = None
    eval_size: int | None = None  # this start's own number of labelled texts (slow encoders score fewer)
    freeze_layers: int | None = None


@dataclass(frozen=True)
class DomainSection:
    """Chapter 4: the target corpus, the other domains trained on, and which starts."""

    target: str = "wiki"
    sources: list = field(default_factory=list)
    source_size: int | dict | None = None
    starts: list = field(default_factory=lambda: ["pretrained"])
    source_options: dict = field(default_factory=dict)
    eval_every: int | None = None


@dataclass(frozen=True)
class MtebSection:
    """Chapter 2: local or the paper's MTEB tasks, their size and the models scored."""

    tasks: str = "local"
    size: int | None = None
    max_length: int = 128
    models: list = field(default_factory=list)


@dataclass(frozen=True)
class AugmentationsSection:
    """Chapter 1: the runs and the hyperparameter sweep."""

    runs: list = field(default_factory=list)
    sweep_parameter: str | None = None
    sweep_values: list = field(default_factory=list)
    seed_starts: list = field(default_factory=list)  # starts whose crops-vs-dropout comparison is repeated per seed
    seeds: list = field(default_factory=list)  # the training seeds of that repetition (the profile's seed among them)


@dataclass(frozen=True)
class KnnSection:
    """Chapter 3: the models scored and those drawn as t-SNE maps."""

    models: list = field(default_factory=list)
    tsne_models: list = field(default_factory=list)


@dataclass(frozen=True)
class LayersSection:
    """Chapter 6: the starts looked at layer by layer, the freezing runs (depths, length), the encoding length."""

    starts: list = field(default_factory=lambda: ["pretrained", "scratch"])
    freeze_depths: list | None = None  # the k trained with k layers frozen; None = every k (the claim's 0 and L − 2 always)
    freeze_steps: int | None = None
    max_length: int | None = None
    eval_size: int | None = None  # a seeded subset of labelled texts for the whole chapter; None = each start's


@dataclass(frozen=True)
class SetupSection:
    """What the profile is, for judging the paper's claims (``results.claims.Setup``).

    ``paper``: the paper's own model and data; only then can a claim be *reproduced*,
    anything else is a proxy. ``has``: what a claim may need beyond that
    (``results.claims.NEEDS``), e.g. a token-level pre-trained base encoder.
    """

    paper: bool = False
    has: list = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    """A whole profile. ``starts`` maps a start's name to its ``StartSection``."""

    name: str
    description: str
    corpus: str
    starts: dict
    seed: int = 42
    device: str = "auto"
    precision: str = "auto"
    corpus_size: int | None = None
    eval: EvalSection = EvalSection()
    crops: CropsSection = CropsSection()
    references: list = field(default_factory=list)
    domain: DomainSection = DomainSection()
    mteb: MtebSection = MtebSection()
    augmentations: AugmentationsSection = AugmentationsSection()
    knn: KnnSection = KnnSection()
    layers: LayersSection = LayersSection()
    static: dict = field(default_factory=dict)  # chapter 7's settings, checked by its chapter module
    setup: SetupSection = SetupSection()


# Settings whose value is a mapping replaced whole by an override (not merged key by key).
OPAQUE = frozenset({"config_overrides", "source_size", "source_options", "static"})
# Profile settings whose range is written under another name (the eval batch encodes, it trains nothing).
RANGE_NAMES = {"profile.eval.batch_size": "encode_batch_size"}


def _accepts(value: object, hint: object) -> bool:
    """Whether ``value`` fits the type ``hint`` (ints are floats too; a bool is only a bool)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return True
        if option is bool and isinstance(value, bool):
            return True
        if isinstance(value, bool):
            continue
        if option is float and isinstance(value, (int, float)):
            return True
        if isinstance(option, type) and option is not type(None) and isinstance(value, option):
            return True
    return False


def _check_range(value: object, name: str, path: str, source: str) -> None:
    """A number within the one range written for the setting ``name`` (``ranges.range_for``), if it has one."""
    found = range_for(name)
    if found is None or not isinstance(value, numbers.Real) or isinstance(value, bool):
        return
    allowed = found[1]
    if value not in allowed:
        raise TextembedError(f"Profile setting '{path}' = {value!r} in {source} {outside_range(value, allowed)}.",
                             f"set '{path}' to a value {allowed.describe()}.")


def _section(kind: type, values: Mapping[str, Any], where: str, source: str) -> Any:
    """``kind`` built from ``values``: unknown keys, missing required keys and wrong types are errors."""
    if not isinstance(values, Mapping):
        raise TextembedError(f"Profile setting '{where}' in {source} is {type(values).__name__}, not a mapping.",
                             f"write '{where}' as a JSON object of settings.")
    hints = typing.get_type_hints(kind)
    known = {f.name: f for f in fields(kind)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise TextembedError(f"Unknown profile setting '{where}.{unknown[0]}' in {source}.",
                             f"use one of: {', '.join(known)} (under '{where}').")
    built = {}
    for name, spec in known.items():
        path = f"{where}.{name}"
        required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        if name not in values:
            if required:
                raise TextembedError(f"Profile setting '{path}' is missing in {source}.", f"set '{path}'.")
            continue
        value = values[name]
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            value = _section(hint, value, path, source)
        elif not _accepts(value, hint):
            raise TextembedError(f"Profile setting '{path}' = {value!r} in {source} has type {type(value).__name__}.",
                                 f"set '{path}' to a value of type {hint}.")
        else:
            _check_range(value, RANGE_NAMES.get(path, name), path, source)
        built[name] = value
    return kind(**built)


def validate(raw: Mapping[str, Any], source: str) -> Profile:
    """The typed profile of ``raw`` (a merged profile file); errors name the key and ``source``."""
    profile = _section(Profile, {k: v for k, v in raw.items() if k != "starts"} | {"starts": {}}, "profile", source)
    starts = raw.get("starts")
    if not isinstance(starts, Mapping) or not starts:
        raise TextembedError(f"Profile {source} defines no starts.", "add a 'starts' object with at least one start.")
    typed = {}
    for name, values in starts.items():
        typed[name] = _section(StartSection, values, f"starts.{name}", source)
    return dataclasses.replace(profile, starts=typed)


def as_dict(profile: Profile) -> dict:
    """The profile as plain data, every default filled in (what the chapters and the records read)."""
    return dataclasses.asdict(profile)
