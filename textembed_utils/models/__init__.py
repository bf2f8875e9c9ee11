"""Encoders, pooling, freezing, random initialisation and the bare embedding layer."""

from .encoder import TextEncoder, bare_encoder
from .freezing import freeze_prefix, transformer_layers
from .loading import (
    BARE_MODEL,
    EMBEDDED_MODEL,
    MPNET_REFERENCE,
    embedded_model_path,
    load_encoder,
    load_tokenizer,
    mpnet_reference_path,
)
from .pooling import POOLINGS, pool

__all__ = [
    "BARE_MODEL",
    "EMBEDDED_MODEL",
    "MPNET_REFERENCE",
    "POOLINGS",
    "TextEncoder",
    "bare_encoder",
    "embedded_model_path",
    "freeze_prefix",
    "load_encoder",
    "load_tokenizer",
    "mpnet_reference_path",
    "pool",
    "transformer_layers",
]
