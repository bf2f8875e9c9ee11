"""Contrastive training: InfoNCE loss, configuration, the loop, checkpoints."""

from .checkpoint import load_checkpoint, save_checkpoint
from .config import DEFAULT_CHECKPOINT_EVERY, TrainConfig
from .loss import info_nce, row_losses
from .trainer import TrainResult, resolve_device, seed_everything, train

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "TrainConfig",
    "TrainResult",
    "info_nce",
    "row_losses",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "train",
]
