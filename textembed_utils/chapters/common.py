"""Parameter specs and helpers shared by the chapter modules.

Every notebook takes ``profile``; the training knobs below default to None,
meaning "the profile's value for each start" (a learning rate that suits the bare
embedding layer would wreck a pretrained transformer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..experiments import notebook_settings
from ..params import Param
from ..profiles import profile_names
from ..ranges import DEVICES, is_device
from ..training.precision import PRECISIONS

PROFILE = {"profile": Param(str, choices=tuple(profile_names()))}

# Set for the whole profile (every start, every run), not per start like the TRAINING knobs; chapters
# that only evaluate take these too, since the trained models they load depend on them.
PROFILE_WIDE = {
    "seed": Param(int, optional=True),
    "device": Param(str, optional=True, check=is_device, expected=DEVICES),
    "precision": Param(str, optional=True, choices=PRECISIONS),
}

# Per start: None keeps the profile's value for each start. Each one's range is the TrainConfig field's of
# the same name (``ranges.range_for``), so a notebook refuses exactly what the Python API and the CLI refuse.
TRAINING = {
    "batch_size": Param(int, optional=True),
    "lr": Param(float, optional=True),
    "temperature": Param(float, optional=True),
    "n_sentences": Param(int, optional=True),
    "epochs": Param(float, optional=True),
    "steps": Param(int, optional=True),
    "eval_every": Param(int, optional=True),
    **PROFILE_WIDE,
}


def validate(namespace: Mapping[str, Any], spec: Mapping[str, Param]) -> dict[str, Any]:
    """Validate the notebook's parameters; apply ``PROFILE_WIDE`` ones to the profile; return the settings."""
    settings = notebook_settings(dict(namespace), spec)
    profile = settings["profile_settings"]
    for key in PROFILE_WIDE:
        if settings.get(key) is not None:
            profile[key] = settings[key]
    return settings


def training_overrides(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The training parameters the reader set (not None), as ``Run`` overrides."""
    return {k: settings[k] for k in TRAINING if k not in PROFILE_WIDE and settings.get(k) is not None}


def _setting_text(value: Any) -> str:
    """One start setting as a table cell: ``a=1, b=2`` for a dict, ``2e-5`` for a float, "–" when unset."""
    from ..notebook_page import MISSING, readable_number

    if value is None:
        return MISSING
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_setting_text(item)}" for key, item in value.items())
    if isinstance(value, float):
        return readable_number(value)
    return str(value)


def starts_table(profile: Mapping[str, Any], starts: Iterable[str]) -> pd.DataFrame:
    """The settings each of ``starts`` trains with on ``profile``: one column per start, one row per setting
    (a page has room for a few starts side by side, not for a dozen settings); settings no start sets are
    left out, and "–" marks one a start leaves to its default."""
    settings = {start: profile["starts"][start] for start in starts}
    keys = [key for key in dict.fromkeys(k for values in settings.values() for k in values)
            if any(values.get(key) is not None for values in settings.values())]
    return pd.DataFrame({start: [_setting_text(values.get(key)) for key in keys] for start, values in settings.items()},
                        index=pd.Index(keys, name="setting"))
