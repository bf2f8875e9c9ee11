"""Periodic training checkpoints, written atomically and loaded with ``weights_only``.

A checkpoint holds the model, optimizer and schedule states, the step, the RNG
states and the history so far, so a killed run resumed from it reaches the same
final weights as an uninterrupted one.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch

from ..atomic import atomic_path

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(folder: str | Path, state: dict) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``folder/checkpoint.pt``."""
    target = Path(folder) / CHECKPOINT_FILE
    with atomic_path(target) as staged:
        torch.save(state, staged)
    return target


def load_checkpoint(folder: str | Path | None, fingerprint: str) -> dict | None:
    """The checkpoint in ``folder`` if it belongs to a run with this config ``fingerprint``.

    ``weights_only=True`` refuses anything but tensors and plain containers, so a
    tampered checkpoint cannot run code.
    """
    if folder is None:
        return None
    path = Path(folder) / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as exc:
        # Atomic writes rule out a half-written checkpoint, not later damage: start over.
        warnings.warn(f"Ignoring the unreadable checkpoint {path} ({exc}); training from the start.",
                      stacklevel=2)
        return None
    return state if state.get("fingerprint") == fingerprint else None
