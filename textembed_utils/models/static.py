"""Fast encoding for static (bare) models: tokenise once, then one ``EmbeddingBag`` mean per chunk.

A bare model's text vector is the mean of its tokens' rows, so encoding needs no
padding, no attention mask and no per-batch tensors: the token ids of a chunk of
texts are laid end to end with their start offsets, and
``torch.nn.functional.embedding_bag(mode="mean")`` averages them in one call —
exactly what sentence-transformers' ``StaticEmbedding`` computes. Measured on the
wiki corpus, the general padded path spent most of its time tokenising every text
twice (once to sort by length, once per batch) and building padded tensors and
special-token masks; here tokenisation runs once, with the fast tokenizer's
``encode_batch_fast`` (no offsets), split over ``torch.get_num_threads()`` Python
threads (the Rust tokenizer releases the GIL), so it uses the same threads as
torch. Tokenisation is then most of what is left.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from tqdm.auto import tqdm

CHUNK_TEXTS = 8192  # texts per embedding_bag call: large enough to amortise, small enough for memory


def truncating_tokenizer(backend: Tokenizer, max_length: int) -> Tokenizer:
    """A copy of ``backend`` that truncates to ``max_length`` tokens (special tokens included) and never pads.

    The caller's tokenizer is untouched; the copy keeps its post-processor, so with
    ``add_special_tokens`` it adds [CLS]/[SEP] as the transformers tokenizer does.
    """
    tokenizer = copy.deepcopy(backend)
    tokenizer.enable_truncation(max_length)
    tokenizer.no_padding()
    return tokenizer


def token_id_lists(
    tokenizer: Tokenizer, texts: Sequence[str], threads: int = 1, add_special_tokens: bool = False,
) -> list[list[int]]:
    """Token ids of each text with the Rust tokenizer alone (``encode_batch_fast``), in the order of ``texts``.

    ``threads`` > 1 tokenises contiguous slices in parallel. The one tokenisation of
    the encoding paths: measured on the wiki corpus it costs a fraction of
    ``PreTrainedTokenizerBase.__call__`` (no Python-side padding, masks or offsets).
    """
    texts = list(texts)

    def ids_of(part: list[str]) -> list[list[int]]:
        return [encoding.ids for encoding in tokenizer.encode_batch_fast(part, add_special_tokens=add_special_tokens)]

    if threads > 1 and len(texts) >= 2 * threads:
        step = -(-len(texts) // threads)
        with ThreadPoolExecutor(threads) as pool:
            parts = pool.map(ids_of, [texts[i : i + step] for i in range(0, len(texts), step)])
            return [row for part in parts for row in part]
    return ids_of(texts)


def token_bags(tokenizer: Tokenizer, texts: Sequence[str], threads: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of ``texts`` end to end, and where each text starts (no special tokens).

    ``threads`` > 1 tokenises contiguous slices in parallel; the order of ``texts`` is kept.
    """
    ids = token_id_lists(tokenizer, texts, threads)
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    offsets = np.zeros(len(ids), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return torch.from_numpy(flat), torch.from_numpy(offsets)


@torch.inference_mode()
def mean_of_bags(weight: torch.Tensor, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Mean row of ``weight`` over each text's ids; a text with no tokens gets the zero vector."""
    device = weight.device
    return torch.nn.functional.embedding_bag(ids.to(device), weight, offsets.to(device), mode="mean")


def encode_static(
    weight: torch.Tensor, tokenizer: Tokenizer, texts: Sequence[str],
    chunk: int = CHUNK_TEXTS, progress: bool = False, desc: str = "Encoding",
) -> torch.Tensor:
    """(n, dim) float32 mean token embeddings of ``texts``, in their order (``tokenizer`` from ``truncating_tokenizer``)."""
    threads = torch.get_num_threads()
    out = []
    for start in tqdm(range(0, len(texts), chunk), desc=desc, disable=not progress, leave=False):
        ids, offsets = token_bags(tokenizer, texts[start : start + chunk], threads)
        out.append(mean_of_bags(weight, ids, offsets).float())
    return torch.cat(out) if out else torch.zeros(0, weight.shape[1])


def settings_for_model2vec(folder: Path, max_length: int) -> None:
    """Record ``max_length`` and no normalisation where model2vec looks for them in a SentenceTransformer folder.

    ``model2vec.StaticModel.from_pretrained`` loads a single-module StaticEmbedding folder as it is
    (``model.safetensors`` with ``embedding.weight``, ``tokenizer.json``) and reads ``max_length`` and
    ``normalize`` from ``config_sentence_transformers.json``, defaulting to 512 tokens; sentence-transformers
    ignores both keys. Two differences remain in model2vec's ``encode``: it drops [UNK] tokens before the
    mean, and cuts each text to ``max_length`` × the vocabulary's median token length in characters
    before tokenising (exact for texts shorter than that).
    """
    path = Path(folder) / "config_sentence_transformers.json"
    config = json.loads(path.read_text())
    config.update(max_length=max_length, normalize=False)
    path.write_text(json.dumps(config, indent=2) + "\n")
