"""Token masking: replace a random fraction of (non-special) tokens by [MASK]."""

from __future__ import annotations

import torch


def mask_tokens(
    input_ids: torch.Tensor,
    maskable: torch.Tensor,
    fraction: float,
    mask_token_id: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A copy of ``input_ids`` with about ``fraction`` of the maskable tokens masked.

    ``maskable`` is a boolean tensor, True for real (non-padding, non-special)
    tokens. Each such token is masked independently with probability ``fraction``,
    as in the paper's masking augmentation (Fig. S1c).
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"mask fraction must be in [0, 1), got {fraction}")
    draws = torch.rand(input_ids.shape, generator=generator, device="cpu").to(input_ids.device)
    hit = (draws < fraction) & maskable
    return torch.where(hit, torch.full_like(input_ids, mask_token_id), input_ids)
