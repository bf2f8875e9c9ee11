"""Scaling: wall time and peak memory of encode + kNN + t-SNE at 1k, 10k and 100k texts.

- encode, all-MiniLM-L6-v2: the per-text cost is measured on real wiki texts and
  *extrapolated linearly* to each size (encoding 100k texts with it on two CPU
  cores would take about an hour); the bare token-embedding model is measured
  at every size, on the wiki texts repeated up to that size.
- kNN accuracy (``knn_accuracy``: 90/10 split, k = 10) and t-SNE (openTSNE, the
  book's settings) run on synthetic 384-d Gaussian-mixture vectors: their cost
  depends on the number of vectors, not on what produced them. t-SNE is measured
  up to ``--tsne-max`` texts (30k by default) and extrapolated beyond it with the
  power law fitted to the two largest measured sizes, at least linear.

Growth is summarised as the exponent b of time ∝ n^b between consecutive sizes.

    .venv/bin/python benchmarks/bench_scaling.py
    .venv/bin/python benchmarks/bench_scaling.py --tsne-max 100000     # measure t-SNE at 100k too
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bench_knn import gaussian_mixture
from harness import PeakMemory, fix_threads, parse_args, report

from textembed_utils.corpora import load_corpus
from textembed_utils.evaluation import encode, knn_accuracy, tsne_map
from textembed_utils.models import load_encoder

SIZES = (1_000, 10_000, 100_000)
MINILM_SAMPLE = 256


def measured(fn: Callable[[], object]) -> dict:
    """Seconds and peak extra memory (MB) of one call."""
    with PeakMemory() as peak:
        began = time.perf_counter()
        fn()
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "peak_extra_rss_mb": peak.peak_mb, "measured": True}


def growth(rows: list[dict], stage: str) -> list[float]:
    """Exponents b of time ∝ n^b between consecutive sizes."""
    return [math.log(b[stage]["seconds"] / a[stage]["seconds"]) / math.log(b["n"] / a["n"])
            for a, b in zip(rows, rows[1:])]


def main() -> None:
    def options(parser):
        parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
        parser.add_argument("--tsne-max", type=int, default=30_000, help="largest size t-SNE is run at")

    args = parse_args(__doc__.splitlines()[0], options)
    threads = args.threads
    limits = fix_threads(threads)  # noqa: F841 (kept alive for the whole run)
    wiki = list(load_corpus("wiki").texts)
    minilm, bare = load_encoder(), load_encoder("bare")
    sample = wiki[:MINILM_SAMPLE]
    encode(minilm, sample[:64], progress=False)  # warm-up
    minilm_cost = measured(lambda: encode(minilm, sample, progress=False))
    per_text_s = minilm_cost["seconds"] / len(sample)
    tsne_sizes = sorted({min(n, args.tsne_max) for n in args.sizes})
    tsne_measured = {}
    for n in tsne_sizes:
        vectors, _ = gaussian_mixture(n)
        tsne_measured[n] = measured(lambda: tsne_map(vectors, n_jobs=threads))
        print(f"t-SNE {n:,}: {tsne_measured[n]['seconds']:.1f} s")
    fit_n = sorted(tsne_measured)[-2:]
    fitted = (math.log(tsne_measured[fit_n[1]]["seconds"] / tsne_measured[fit_n[0]]["seconds"])
              / math.log(fit_n[1] / fit_n[0])) if len(fit_n) == 2 else 1.0
    # At small n fixed costs flatten the fit; openTSNE's gradient iterations cost at least O(n).
    tsne_exponent = max(fitted, 1.0)
    rows = []
    for n in args.sizes:
        texts = [wiki[i % len(wiki)] for i in range(n)]
        vectors, labels = gaussian_mixture(n)
        row = {
            "n": n,
            "encode_minilm": {"seconds": per_text_s * n, "peak_extra_rss_mb": minilm_cost["peak_extra_rss_mb"],
                              "measured": n <= MINILM_SAMPLE},
            "encode_bare": measured(lambda: encode(bare, texts, batch_size=256, progress=False)),
            "knn": measured(lambda: knn_accuracy(vectors, labels)),
        }
        if n in tsne_measured:
            row["tsne"] = tsne_measured[n]
        else:
            top = max(tsne_measured)
            row["tsne"] = {"seconds": tsne_measured[top]["seconds"] * (n / top) ** tsne_exponent,
                           "peak_extra_rss_mb": float("nan"), "measured": False}
        rows.append(row)
        print(f"n={n:,}: " + ", ".join(
            f"{stage} {row[stage]['seconds']:.1f} s{'' if row[stage]['measured'] else ' (extrapolated)'}"
            for stage in ("encode_minilm", "encode_bare", "knn", "tsne")))
    stages = ("encode_minilm", "encode_bare", "knn", "tsne")
    exponents = {stage: growth(rows, stage) for stage in stages}
    for stage, b in exponents.items():
        print(f"{stage}: time grows as n^" + ", n^".join(f"{x:.2f}" for x in b))
    report(
        "bench_scaling", "wall time and peak memory of encode, kNN and t-SNE by corpus size", args,
        comparisons=[],
        figures={"rows": rows, "growth_exponents": exponents, "minilm_ms_per_text": 1000 * per_text_s,
                 "minilm_sample_texts": len(sample), "tsne_measured_sizes": sorted(tsne_measured),
                 "tsne_fitted_exponent": fitted, "tsne_extrapolation_exponent": tsne_exponent},
        settings={"sizes": args.sizes, "tsne_max": args.tsne_max, "threads": threads,
                  "encode_batch_size": {"minilm": 64, "bare": 256}, "max_length": 128,
                  "knn": "k=10, Euclidean, 90/10 split", "tsne": "openTSNE defaults, perplexity 30"},
        notes=[
            f"MiniLM encoding is measured on {len(sample)} wiki texts and extrapolated linearly "
            "(its cost per text does not depend on corpus size); its memory is that of the sample.",
            "The bare model encodes the wiki texts repeated up to each size.",
            "kNN and t-SNE run on synthetic 384-d Gaussian-mixture vectors.",
            f"t-SNE beyond {max(tsne_measured):,} texts is extrapolated with time ∝ n^{tsne_exponent:.2f}: "
            f"the power law fitted to the two largest measured sizes (n^{fitted:.2f}), at least linear.",
            "Peak memory is the resident-set growth above the level before each stage.",
        ],
    )


if __name__ == "__main__":
    main()
