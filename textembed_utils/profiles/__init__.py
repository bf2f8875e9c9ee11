"""Profiles: named parameter sets stored as JSON data, validated against one schema, overridable.

- ``embedded``: the offline CPU default behind ``make book`` — the base profile;
- ``tiny``: seconds-long runs for the tests, written as the changes it makes to ``embedded``;
- ``paper``: the paper's exact setup (GPU + internet), likewise written over ``embedded``.

A file that names a ``"base"`` holds only what differs from that base (an explicit
``null`` clears a setting). Every loaded profile is checked by ``schema.validate``
and comes back with every default filled in.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..errors import TextembedError
from .schema import OPAQUE, Profile, as_dict, validate

PROFILE_DIR = Path(__file__).parent
DEFAULT_PROFILE = "embedded"


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def _path(name: str) -> Path:
    path = PROFILE_DIR / f"{name}.json"
    if not path.exists():
        raise TextembedError(f"Unknown profile '{name}'.", f"use one of: {', '.join(profile_names())}.")
    return path


def _merge(base: dict, changes: dict, where: str = "", strict: bool = True) -> dict:
    """Deep-merge ``changes`` into ``base``; with ``strict``, a key ``base`` lacks is an error, not an addition.

    Mappings merge key by key, except the opaque ones (``OPAQUE``) which are replaced whole.
    """
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        path = f"{where}{key}"
        if strict and key not in merged:
            raise TextembedError(f"Unknown profile setting '{path}'.",
                                 f"use one of: {', '.join(sorted(base))} (under '{where.rstrip('.') or 'top'}').")
        if isinstance(merged.get(key), dict) and isinstance(value, dict) and key not in OPAQUE:
            merged[key] = _merge(merged[key], value, f"{path}.", strict)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _resolved(name: str, seen: tuple[str, ...] = ()) -> dict:
    """The stored profile ``name`` with its base chain applied (files may add settings and starts)."""
    if name in seen:
        raise TextembedError(f"Profiles {' → '.join((*seen, name))} name each other as base.",
                             "give one of them no 'base'.")
    raw = json.loads(_path(name).read_text())
    base = raw.pop("base", None)
    return _merge(_resolved(base, (*seen, name)), raw, strict=False) if base else raw


def load_typed_profile(name: str = DEFAULT_PROFILE, overrides: dict[str, Any] | None = None) -> Profile:
    """The validated profile ``name`` with ``overrides`` (nested dicts; only settings the schema knows)."""
    source = f"profile '{name}' ({_path(name).name})"
    full = as_dict(validate(_resolved(name), source))
    if not overrides:
        return validate(full, source)
    return validate(_merge(full, overrides), f"{source} with overrides")


def load_profile(name: str = DEFAULT_PROFILE, overrides: dict[str, Any] | None = None) -> dict:
    """The profile ``name`` as plain data (every default filled in), with ``overrides`` applied."""
    return as_dict(load_typed_profile(name, overrides))


__all__ = ["DEFAULT_PROFILE", "Profile", "load_profile", "load_typed_profile", "profile_names"]
