"""Pooling token states into one text vector (paper §A.1, Fig. S1a).

- ``mean``: masked mean over all real tokens, [CLS] and [SEP] included (default);
- ``cls``: the first token;
- ``sep``: the last real token ([SEP]/[EOS]);
- ``token<k>``: the k-th token, 1-based (``token7`` is the paper's "7th token"),
  falling back to the last real token for texts shorter than k.
"""

from __future__ import annotations

import re

import torch

from ..errors import TextembedError

POOLINGS = ("mean", "cls", "sep", "token<k>")
_KTH = re.compile(r"^token([1-9]\d*)$")  # 1-based: token0 does not exist

# How each pooling is written in a SentenceTransformer folder (1_Pooling/config.json).
ST_POOLING_MODES = {"mean": "mean", "cls": "cls", "sep": "lasttoken"}


def check_pooling(pooling: str) -> str:
    """Return ``pooling`` if valid, else raise a clear error listing the choices."""
    if pooling in ("mean", "cls", "sep") or _KTH.match(pooling):
        return pooling
    raise TextembedError(
        f"Unknown pooling '{pooling}'.", "use mean, cls, sep or token<k> (e.g. token7)."
    )


def pool(states: torch.Tensor, attention_mask: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """Pool ``states`` (batch, tokens, dim) under ``attention_mask`` (batch, tokens)."""
    mask = attention_mask.to(states.dtype)
    if pooling == "mean":
        summed = (states * mask.unsqueeze(-1)).sum(dim=1)
        return summed / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
    rows = torch.arange(states.shape[0], device=states.device)
    last = attention_mask.sum(dim=1).long().clamp(min=1) - 1
    if pooling == "cls":
        return states[:, 0]
    if pooling == "sep":
        return states[rows, last]
    match = _KTH.match(pooling)
    if match:
        k = int(match.group(1)) - 1
        return states[rows, torch.clamp(last, max=k)]
    check_pooling(pooling)
    raise AssertionError("unreachable")
