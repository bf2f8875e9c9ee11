"""``TextEncoder``: a tokenizer, a backbone and a pooling, trained and evaluated as one.

We keep our own thin wrapper (rather than training a ``SentenceTransformer``
directly) because the paper's experiments need what sentence-transformers does
not expose together: per-layer pooled states, k-th-token pooling, token masking
after tokenization, a bare embedding layer, and per-batch padding under our own
loop. ``save`` writes a standard SentenceTransformer folder, so anything we train
loads anywhere with ``SentenceTransformer(folder)``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from transformers import PreTrainedTokenizerBase

from ..atomic import atomic_path
from ..errors import TextembedError
from .bare import BareEmbedding
from .pooling import ST_POOLING_MODES, check_pooling, pool
from .static import encode_static, settings_for_model2vec, token_id_lists, truncating_tokenizer


class TextEncoder(nn.Module):
    """Texts in, one vector per text out.

    ``kind`` is ``"transformer"`` (a Hugging Face encoder; special tokens added) or
    ``"bare"`` (the token-embedding layer alone; no special tokens, matching
    sentence-transformers' ``StaticEmbedding``).
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        backbone: nn.Module,
        *,
        pooling: str = "mean",
        max_length: int = 128,
        kind: str = "transformer",
        name: str = "",
    ):
        super().__init__()
        self.tokenizer = tokenizer
        self.backbone = backbone
        self.pooling = check_pooling(pooling)
        self.kind = kind
        self.name = name
        self.max_length = self.checked_length(max_length)
        self._truncating: dict[int, Tokenizer] = {}  # the encoding paths' truncating copies, per max_length

    # --- sizes -------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        if self.kind == "bare":
            return self.backbone.dim
        return self.backbone.config.hidden_size

    @property
    def num_layers(self) -> int:
        """Transformer layers (0 for the bare model); hidden states are ``num_layers + 1``."""
        return 0 if self.kind == "bare" else self.backbone.config.num_hidden_layers

    @property
    def position_limit(self) -> int | None:
        """The most tokens the backbone has positions for; None when unbounded (the bare model).

        RoBERTa-style embeddings (with a ``padding_idx``) start counting positions
        after the padding index, so a text has ``padding_idx + 1`` fewer tokens.
        """
        positions = None if self.kind == "bare" else getattr(self.backbone.config, "max_position_embeddings", None)
        if positions is None:
            return None
        padding_idx = getattr(getattr(self.backbone, "embeddings", None), "padding_idx", None)
        return positions - (padding_idx + 1 if padding_idx is not None else 0)

    def checked_length(self, max_length: int) -> int:
        """``max_length``, refused when beyond ``position_limit`` (where torch would fail mid-run on long texts)."""
        limit = self.position_limit
        if limit is not None and max_length > limit:
            raise TextembedError(
                f"max_length={max_length} is beyond the {limit} token positions of the model {self.name}.",
                f"use a max_length (--max-length) of at most {limit}.",
            )
        return max_length

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def parameter_count(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- tokens ------------------------------------------------------------
    def tokenize(self, texts: list[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        """Token ids padded to the longest text of *this* batch (not of the corpus)."""
        enc = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.checked_length(max_length or self.max_length),
            add_special_tokens=self.kind == "transformer",
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        return {k: enc[k] for k in ("input_ids", "attention_mask", "special_tokens_mask")}

    def _truncating_tokenizer(self, max_length: int) -> Tokenizer:
        if max_length not in self._truncating:  # a copy costs ~0.1 s: made once per length, not per call
            backend = self.tokenizer.backend_tokenizer
            self._truncating[max_length] = truncating_tokenizer(backend, self.checked_length(max_length))
        return self._truncating[max_length]

    def token_ids(self, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
        """Each text's token ids, unpadded: the ids ``tokenize`` gives, without its padding (one pass, torch's threads)."""
        tokenizer = self._truncating_tokenizer(max_length or self.max_length)
        return token_id_lists(tokenizer, texts, torch.get_num_threads(), add_special_tokens=self.kind == "transformer")

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids padded to the longest row (with the pad token) and their attention mask."""
        if not rows:
            return torch.zeros((0, 0), dtype=torch.long), torch.zeros((0, 0), dtype=torch.long)
        ids = pad_sequence([torch.as_tensor(row, dtype=torch.long) for row in rows], batch_first=True,
                           padding_value=self.tokenizer.pad_token_id or 0)
        lengths = torch.tensor([len(row) for row in rows])
        mask = (torch.arange(ids.shape[1]) < lengths[:, None]).long()
        return ids, mask

    @property
    def mask_token_id(self) -> int:
        token_id = self.tokenizer.mask_token_id
        if token_id is None:
            raise TextembedError(
                f"The tokenizer of {self.name} has no [MASK] token.",
                "use augmentation='crops' or 'dropout' with this model.",
            )
        return token_id

    # --- forward -----------------------------------------------------------
    def token_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, all_layers: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Last-layer token states, or every hidden state (embeddings first) when ``all_layers``."""
        if self.kind == "bare":
            states = self.backbone(input_ids)
            return (states,) if all_layers else states
        out = self.backbone(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=all_layers
        )
        return tuple(out.hidden_states) if all_layers else out.last_hidden_state

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        """Pooled text vectors (batch, hidden_size)."""
        return pool(self.token_states(input_ids, attention_mask), attention_mask, self.pooling)

    @property
    def is_static(self) -> bool:
        """A bare model with mean pooling: each text vector is the mean of its tokens' rows."""
        return self.kind == "bare" and self.pooling == "mean"

    def encode_static(
        self, texts: Sequence[str], max_length: int | None = None, *, progress: bool = False, desc: str = "Encoding",
    ) -> torch.Tensor:
        """(n, dim) vectors of a static model without padding (``models.static``); no dropout, as in eval mode."""
        if not self.is_static:
            raise TextembedError(
                f"{self.name} is not a static model (kind {self.kind}, pooling {self.pooling}).",
                "use evaluation.encode, which picks the right path for any model.",
            )
        tokenizer = self._truncating_tokenizer(max_length or self.max_length)
        return encode_static(self.backbone.embeddings.weight, tokenizer, texts, progress=progress, desc=desc)

    def layer_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled vectors of every hidden state: (num_layers + 1, batch, hidden_size)."""
        states = self.token_states(input_ids, attention_mask, all_layers=True)
        return torch.stack([pool(s, attention_mask, self.pooling) for s in states])

    # --- saving ------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write a SentenceTransformer folder (atomically) and return its path."""
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import (
            Pooling,
            StaticEmbedding,
            Transformer,
        )

        if self.pooling not in ST_POOLING_MODES or (self.kind == "bare" and self.pooling != "mean"):
            raise TextembedError(
                f"Pooling '{self.pooling}' has no SentenceTransformer equivalent, so the model "
                "cannot be saved as a SentenceTransformer folder.",
                "train with pooling mean, cls or sep to save the model.",
            )
        folder = Path(folder)
        was_training = self.training
        self.eval()
        with atomic_path(folder) as staged:
            if self.kind == "bare":
                # StaticEmbedding is an EmbeddingBag mean: it pools by itself. It never
                # truncates on its own, so the saved tokenizer carries our max_length.
                weights = self.backbone.embeddings.weight.detach().cpu()
                backend = copy.deepcopy(self.tokenizer.backend_tokenizer)
                backend.enable_truncation(self.max_length)
                backend.no_padding()
                modules = [StaticEmbedding(backend, embedding_weights=weights)]
            else:
                self.backbone.save_pretrained(staged, safe_serialization=True)
                self.tokenizer.save_pretrained(staged)
                modules = [
                    Transformer(str(staged), max_seq_length=self.max_length),
                    Pooling(self.hidden_size, pooling_mode=ST_POOLING_MODES[self.pooling]),
                ]
            SentenceTransformer(modules=modules, device="cpu").save(str(staged))
            if self.kind == "bare":
                settings_for_model2vec(staged, self.max_length)
        self.train(was_training)
        return folder


def bare_encoder(
    tokenizer: PreTrainedTokenizerBase, dim: int, *, dropout: float = 0.1, max_length: int = 128,
    pooling: str = "mean", name: str = "bare-embedding",
) -> TextEncoder:
    """A randomly initialised bare token-embedding model over ``tokenizer``'s vocabulary."""
    backbone = BareEmbedding(len(tokenizer), dim, dropout=dropout)
    return TextEncoder(tokenizer, backbone, pooling=pooling, max_length=max_length, kind="bare", name=name)
