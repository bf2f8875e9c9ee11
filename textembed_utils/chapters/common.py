"""Parameter specs and helpers shared by the chapter modules.

Every notebook takes ``profile``; the training knobs below default to None,
meaning "the profile's value for each start" (a learning rate that suits the bare
embedding layer would wreck a pretrained transformer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
