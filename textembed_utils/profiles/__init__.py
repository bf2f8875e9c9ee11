"""Profiles: named parameter sets stored as JSON data, selectable and overridable.

- ``tiny``: seconds-long runs for the tests;
- ``embedded``: the offline CPU default behind ``make book``;
- ``paper``: the paper's exact setup (GPU + internet).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..errors import TextembedError

PROFILE_DIR = Path(__file__).parent
DEFAULT_PROFILE = "embedded"


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def _read(name: str) -> dict:
    path = PROFILE_DIR / f"{name}.json"
    if not path.exists():
        raise TextembedError(f"Unknown profile '{name}'.", f"use one of: {', '.join(profile_names())}.")
    return json.loads(path.read_text())


def start_settings() -> set[str]:
    """Every setting some start of some stored profile uses; each may be overridden in any start.

    Starts differ in what they store (one trains for ``steps``, another for
    ``epochs``), so overriding ``starts.bare.steps`` must work even where the bare
    start of this profile only names ``epochs``.
    """
    return {key for name in profile_names() for start in _read(name)["starts"].values() for key in start}


def _merge(base: dict, overrides: dict, where: str = "", also_allowed: frozenset[str] = frozenset()) -> dict:
    """Deep-merge ``overrides`` into ``base``; unknown keys are errors, not silent additions."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        path = f"{where}{key}"
        if key not in merged and key not in also_allowed:
            choices = sorted(set(base) | also_allowed)
            raise TextembedError(
                f"Unknown profile setting '{path}'.", f"use one of: {', '.join(choices)} (under '{where or 'top'}')."
            )
        nested = isinstance(merged.get(key), dict) and isinstance(value, dict)
        if nested and key not in ("config_overrides", "source_size"):
            allowed = frozenset(start_settings()) if where == "starts." else frozenset()
            merged[key] = _merge(merged[key], value, f"{path}.", allowed)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_profile(name: str = DEFAULT_PROFILE, overrides: dict[str, Any] | None = None) -> dict:
    """The profile ``name`` as a dict, with ``overrides`` (nested dicts allowed) applied."""
    profile = _read(name)
    return _merge(profile, overrides) if overrides else profile


__all__ = ["DEFAULT_PROFILE", "load_profile", "profile_names", "start_settings"]
