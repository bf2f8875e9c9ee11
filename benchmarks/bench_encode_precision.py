"""bf16 against fp32 encoding of all-MiniLM-L6-v2: the time saved, and what it does to kNN on the wiki corpus.

The book encodes with ``precision="auto"`` (``evaluation.encode``): bf16 autocast
where the CPU multiplies bf16 natively, fp32 elsewhere. That is worth it only if
the faster vectors leave the evidence alone, so this benchmark embeds the same
labelled wiki texts both ways and reports, besides the two encoding times:

- each precision's kNN accuracy (Euclidean on raw vectors and cosine, k = 10, the
  book's seeded stratified 90/10 split) with its 95 % interval and test-set size;
- the paired difference bf16 − fp32 on the same test texts, with its interval;
- the share of test texts whose kNN prediction is the same under both;
- the largest relative deviation of a bf16 vector from its fp32 one.

Where bf16 is emulated (no AVX512-BF16/AMX), its time is shown but it is no
contender: ``auto`` never picks it there.

    .venv/bin/python benchmarks/bench_encode_precision.py              # all 9,033 labelled texts
    .venv/bin/python benchmarks/bench_encode_precision.py --texts 2000
"""

from __future__ import annotations

import time

import numpy as np
from harness import compare, fix_threads, parse_args, report

from textembed_utils.corpora import load_corpus
from textembed_utils.evaluation import encode
from textembed_utils.evaluation.intervals import accuracy_with_interval, paired_difference
from textembed_utils.evaluation.knn import knn_predict, split_indices
from textembed_utils.machine import cpu_has_native_bf16
from textembed_utils.models import load_encoder

BATCH, MAX_LENGTH, K, SEED = 128, 128, 10, 42


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], lambda p: p.add_argument(
        "--texts", type=int, default=None, help="labelled wiki texts to embed (default: all)"))
    limits = fix_threads(args.threads)  # noqa: F841 (kept alive for the whole run)
    texts, labels = load_corpus("wiki").subset(args.texts, seed=SEED).labelled()
    labels = np.asarray(labels, dtype=object)
    model = load_encoder(max_length=MAX_LENGTH)
    vectors, seconds = {}, {}
    for precision in ("fp32", "bf16"):
        began = time.perf_counter()
        vectors[precision] = encode(model, texts, batch_size=BATCH, max_length=MAX_LENGTH, progress=False,
                                    precision=precision)
        seconds[precision] = time.perf_counter() - began
    train, test = split_indices(labels, 0.1, SEED, True)
    figures: dict = {"texts": len(texts), "test_texts": len(test), "seconds": seconds}
    lines = []
    for metric in ("euclidean", "cosine"):
        predicted = {p: knn_predict(v[train], labels[train], v[test], k=K, metric=metric)
                     for p, v in vectors.items()}
        correct = {p: predicted[p] == labels[test] for p in predicted}
        accuracy = {p: accuracy_with_interval(c) for p, c in correct.items()}
        difference = paired_difference(correct["bf16"], correct["fp32"])
        agreement = float(np.mean(predicted["bf16"] == predicted["fp32"]))
        figures[metric] = {"accuracy": {p: a.to_dict() for p, a in accuracy.items()},
                           "bf16_minus_fp32": difference.to_dict(), "same_prediction": agreement}
        inside = accuracy["fp32"].low <= accuracy["bf16"].value <= accuracy["fp32"].high
        print(f"{metric} kNN: fp32 {accuracy['fp32']}, bf16 {accuracy['bf16']}; bf16 − fp32 {difference}; "
              f"same prediction on {agreement:.1%} of the {len(test):,} test texts; bf16's accuracy is "
              f"{'inside' if inside else 'OUTSIDE'} fp32's interval.")
    deviation = np.linalg.norm(vectors["bf16"] - vectors["fp32"], axis=1) / np.linalg.norm(vectors["fp32"], axis=1)
    figures["relative_vector_deviation"] = {"max": float(deviation.max()), "median": float(np.median(deviation))}
    native = cpu_has_native_bf16()
    lines.append(f"relative deviation of a bf16 vector from its fp32 one: median {np.median(deviation):.2e}, "
                 f"max {deviation.max():.2e}.")
    if not native:
        lines.append("bf16 is emulated on this CPU: its time is shown, but precision='auto' encodes in fp32 here.")
    report(
        "bench_encode_precision", "encoding in bf16 against fp32: time and kNN agreement, all-MiniLM-L6-v2, wiki", args,
        comparisons=[compare("encode_bf16_vs_fp32", seconds["bf16"], seconds["fp32"], "s", higher_is_better=False,
                             goal=1.0 if native else None,
                             note="" if native else "bf16 emulated on this CPU: no contender")],
        figures=figures,
        settings={"model": "all-MiniLM-L6-v2", "corpus": "wiki", "batch_size": BATCH, "max_length": MAX_LENGTH,
                  "k": K, "split_seed": SEED, "test_size": 0.1, "threads": args.threads},
        notes=lines,
    )


if __name__ == "__main__":
    main()
