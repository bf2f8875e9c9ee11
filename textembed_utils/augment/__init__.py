"""Positive pairs for contrastive training: cropping and the other augmentations."""

from .cropping import CropStats, crop_windows, split_sentences
from .masking import mask_tokens
from .pairs import AUGMENTATIONS, PairSampler

__all__ = [
    "AUGMENTATIONS",
    "CropStats",
    "PairSampler",
    "crop_windows",
    "mask_tokens",
    "split_sentences",
]
