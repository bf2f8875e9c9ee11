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


def masked_view(tokenizer, text: str, fraction: float, seed: int = 0, max_length: int = 128) -> str:
    """``text`` as the model sees it under masking: its word pieces with about ``fraction`` of them [MASK]ed.

    The same rule as the trainer (every real token masked independently), on one
    text, so a reader can see what a masked positive looks like.
    """
    ids = tokenizer([text], truncation=True, max_length=max_length, add_special_tokens=False,
                    return_tensors="pt")["input_ids"]
    masked = mask_tokens(ids, torch.ones_like(ids, dtype=torch.bool), fraction, tokenizer.mask_token_id,
                         torch.Generator().manual_seed(seed))
    return tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(masked[0].tolist()))
