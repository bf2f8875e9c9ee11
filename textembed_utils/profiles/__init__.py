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


def _merge(base: dict, overrides: dict, where: str = "") -> dict:
    """Deep-merge ``overrides`` into ``base``; unknown keys are errors, not silent additions."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        path = f"{where}{key}"
        if key not in merged:
            raise TextembedError(
                f"Unknown profile setting '{path}'.", f"use one of: {', '.join(sorted(base))} (under '{where or 'top'}')."
            )
        if isinstance(merged[key], dict) and isinstance(value, dict) and key not in ("config_overrides", "source_size"):
            merged[key] = _merge(merged[key], value, f"{path}.")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_profile(name: str = DEFAULT_PROFILE, overrides: dict[str, Any] | None = None) -> dict:
    """The profile ``name`` as a dict, with ``overrides`` (nested dicts allowed) applied."""
    path = PROFILE_DIR / f"{name}.json"
    if not path.exists():
        raise TextembedError(f"Unknown profile '{name}'.", f"use one of: {', '.join(profile_names())}.")
    profile = json.loads(path.read_text())
    return _merge(profile, overrides or {}) if overrides else profile


__all__ = ["DEFAULT_PROFILE", "load_profile", "profile_names"]
