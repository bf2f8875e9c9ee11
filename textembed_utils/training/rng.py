"""Save and restore the random-number state that dropout draws from (CPU and CUDA).

Checkpoints store it so that a resumed run draws the same dropout masks, and the
cached loss (cached_loss.py) replays a mini-batch under the state it was first
embedded with, so that the replay sees the same masks.
"""

from __future__ import annotations

import torch


def rng_state() -> dict:
    """The torch CPU generator's state and, where there is a GPU, every CUDA generator's."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore a state from ``rng_state`` (its CUDA part only where there is a GPU)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
