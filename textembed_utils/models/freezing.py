"""Freezing the embeddings and the first k transformer layers (paper §4, Fig. 4a)."""

from __future__ import annotations

from torch import nn

from ..errors import TextembedError


def transformer_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of transformer blocks of a Hugging Face encoder (BERT, MPNet, RoBERTa, ...).

    Found as the ``nn.ModuleList`` whose length is ``config.num_hidden_layers``,
    which covers the common encoder families without naming each one.
    """
    n_layers = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n_layers:
            return module
    raise TextembedError(
        f"Cannot find the transformer layers of {type(model).__name__}.",
        "freezing works for BERT-style encoders; use freeze_layers=None for this model.",
    )


def freeze_prefix(model: nn.Module, k: int) -> int:
    """Freeze the embedding block and the first ``k`` layers; return the frozen parameter count.

    ``k = 0`` freezes the embeddings only; ``k = num_layers`` freezes everything but
    the pooling. Frozen layers get no gradient, so autograd skips their backward pass.
    """
    layers = transformer_layers(model)
    if not 0 <= k <= len(layers):
        raise TextembedError(
            f"freeze_layers={k} but the model has {len(layers)} layers.",
            f"pass a value between 0 and {len(layers)} (or None to train everything).",
        )
    frozen = [model.embeddings] if hasattr(model, "embeddings") else [model.get_input_embeddings()]
    frozen += list(layers[:k])
    count = 0
    for module in frozen:
        for param in module.parameters():
            param.requires_grad_(False)
            count += param.numel()
    return count


def trainable_by_freeze(model: nn.Module) -> list[dict]:
    """For every k = 0 … num_layers: what ``freeze_prefix(model, k)`` leaves to train, in parameters.

    Counted on the model as it is (nothing is frozen here): the embedding block
    and the first k layers are frozen, the later layers (and any pooling
    parameters) train.
    """
    layers = transformer_layers(model)
    embeddings = model.embeddings if hasattr(model, "embeddings") else model.get_input_embeddings()
    total = sum(p.numel() for p in model.parameters())
    frozen = sum(p.numel() for p in embeddings.parameters())
    rows = []
    for k in range(len(layers) + 1):
        rows.append({"k": k, "frozen": "embeddings" + (f" + layers 1–{k}" if k else ""),
                     "trainable parameters": total - frozen, "trainable share": (total - frozen) / total})
        if k < len(layers):
            frozen += sum(p.numel() for p in layers[k].parameters())
    return rows
