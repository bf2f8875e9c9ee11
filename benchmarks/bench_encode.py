"""Encoding throughput: ours (``textembed_utils.evaluation.encode``) vs ``SentenceTransformer.encode``.

Both embed the same wiki texts with all-MiniLM-L6-v2, batch 64, at most 128
tokens, mean pooling, no normalisation, on the same threads; repeats are
interleaved. Both sort texts by length before batching, so the comparison is
about the rest of the path (tokenization, inference mode, pooling, copies). The
largest absolute difference between the two sets of embeddings is reported.

    .venv/bin/python benchmarks/bench_encode.py
    .venv/bin/python benchmarks/bench_encode.py --texts 2000 --repeats 5
"""

from __future__ import annotations

import numpy as np
from harness import compare, fix_threads, interleaved, median, parse_args, report

from textembed_utils.corpora import load_corpus
from textembed_utils.evaluation import encode
from textembed_utils.models import embedded_model_path, load_encoder

BATCH, MAX_LENGTH = 64, 128


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], lambda p: p.add_argument(
        "--texts", type=int, default=384, help="wiki texts to embed per run"))
    limits = fix_threads(args.threads)  # noqa: F841 (kept alive for the whole run)
    repeats = args.repeats or 3
    from sentence_transformers import SentenceTransformer

    texts = list(load_corpus("wiki").subset(args.texts, seed=42).texts)
    ours_model = load_encoder(max_length=MAX_LENGTH)
    shipped = SentenceTransformer(str(embedded_model_path()), device="cpu")
    # The shipped folder ends in a Normalize module, which normalize_embeddings=False does not
    # skip; without it the pipeline is exactly ours (transformer + mean pooling).
    theirs_model = SentenceTransformer(modules=[m for m in shipped if type(m).__name__ != "Normalize"], device="cpu")
    theirs_model.max_seq_length = MAX_LENGTH
    outputs = {}

    def ours():
        outputs["ours"] = encode(ours_model, texts, batch_size=BATCH, max_length=MAX_LENGTH, progress=False,
                                 precision="fp32")  # as sentence-transformers does on a CPU

    def theirs():
        outputs["sentence_transformers"] = theirs_model.encode(
            texts, batch_size=BATCH, normalize_embeddings=False, convert_to_numpy=True, show_progress_bar=False)

    seconds = interleaved({"ours": ours, "sentence_transformers": theirs}, repeats=repeats)
    max_diff = float(np.abs(outputs["ours"] - outputs["sentence_transformers"]).max())
    texts_per_s = {name: len(texts) / median(s) for name, s in seconds.items()}
    tokens = ours_model.tokenizer(texts, truncation=True, max_length=MAX_LENGTH, return_length=True)["length"]
    report(
        "bench_encode", "encoding throughput, all-MiniLM-L6-v2, wiki texts", args,
        comparisons=[compare(
            "encode_vs_sentence_transformers", texts_per_s["ours"], texts_per_s["sentence_transformers"],
            "texts/s", higher_is_better=True, goal=1.0,
            note=f"max abs difference of the embeddings {max_diff:.2e}",
        )],
        figures={"seconds": seconds, "texts_per_second": texts_per_s, "max_abs_difference": max_diff,
                 "texts": len(texts), "mean_tokens_per_text": float(np.mean(tokens)),
                 "ms_per_text": {name: 1000 / v for name, v in texts_per_s.items()}},
        settings={"model": "all-MiniLM-L6-v2", "corpus": "wiki", "batch_size": BATCH, "max_length": MAX_LENGTH,
                  "normalize": False, "repeats": repeats, "threads": args.threads, "precision": "fp32"},
        notes=["Both sort texts by length and pad per batch; neither normalises (the shipped model's "
               "Normalize module is left out of the sentence-transformers pipeline)."],
    )


if __name__ == "__main__":
    main()
