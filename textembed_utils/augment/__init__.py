"""Positive pairs for contrastive training: cropping and the other augmentations."""

from .cropping import CropStats, crop_windows, split_sentences
from .anatomy import CropAnatomy, anatomy, example_text, windows_histogram
from .masking import mask_tokens, masked_view
from .pairs import AUGMENTATIONS, PairSampler

__all__ = [
    "AUGMENTATIONS",
    "CropAnatomy",
    "CropStats",
    "PairSampler",
    "crop_windows",
    "anatomy",
    "example_text",
    "mask_tokens",
    "masked_view",
    "split_sentences",
    "windows_histogram",
]
