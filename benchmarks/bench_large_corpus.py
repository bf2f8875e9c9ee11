"""Large corpora: peak memory and wall time of ``textembed embed`` at 10k, 100k (and 500k) texts.

Each corpus is a ``.txt`` file of texts made by recombining sentences of the
embedded wiki corpus: text i is three sentences drawn at random (seed 0) from all
of its sentences, so sizes beyond the 9,033 articles still look like wiki prose
(about 400 characters per text). Each size runs ``textembed embed bare`` (the
random token-embedding model: what the issue measured, and a model cheap enough
that the pipeline's memory, not the model's compute, dominates) in a fresh
process, on ``--threads`` threads, and the peak resident memory of that process
is read from the kernel (``wait4``'s ``ru_maxrss``), model and interpreter
included. The result ``.npy`` size is reported next to it.

Sizes not measured (``--sizes`` picks the measured ones) are extrapolated
linearly from the two largest measured sizes, and marked so.

    .venv/bin/python benchmarks/bench_large_corpus.py --threads 1
    .venv/bin/python benchmarks/bench_large_corpus.py --threads 1 --sizes 10000 100000 500000
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import parse_args, report

from textembed_utils.augment.cropping import split_sentences
from textembed_utils.corpora import load_corpus

SIZES = (10_000, 100_000, 500_000)
MEASURED = (10_000, 100_000)
SENTENCES_PER_TEXT = 3
TEXTEMBED = Path(sys.executable).with_name("textembed")


def wiki_sentences() -> list[str]:
    """Every sentence of the wiki corpus of at least 20 characters, on one line (whitespace collapsed)."""
    sentences = (" ".join(s.split()) for text in load_corpus("wiki").texts for s in split_sentences(text))
    return [s for s in sentences if len(s) >= 20]


def write_corpus(path: Path, n: int, sentences: list[str], seed: int = 0) -> int:
    """``n`` texts of ``SENTENCES_PER_TEXT`` random wiki sentences, one per line; return the file's bytes."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(n):
            fh.write(". ".join(rng.choices(sentences, k=SENTENCES_PER_TEXT)) + ".\n")
    return path.stat().st_size


def measure(corpus: Path, out: Path, threads: int) -> dict:
    """Wall seconds and peak RSS (MB) of ``textembed embed bare corpus --out out`` in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [str(TEXTEMBED), "embed", "bare", str(corpus), "--out", str(out), "--threads", str(threads), "--quiet"]
    began = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr.read().decode()}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "npy_mb": round(out.stat().st_size / 2**20, 1), "measured": True}


def extrapolate(rows: dict[int, dict], n: int) -> dict:
    """Linear in n from the two largest measured sizes (time and memory of a streamed run grow linearly)."""
    (n1, a), (n2, b) = sorted(rows.items())[-2:]
    at = {key: round(b[key] + (b[key] - a[key]) * (n - n2) / (n2 - n1), 1) for key in ("seconds", "peak_rss_mb")}
    return {**at, "npy_mb": round(n * 384 * 4 / 2**20, 1), "measured": False}


def main() -> None:
    def options(parser):
        parser.add_argument("--sizes", type=int, nargs="+", default=list(MEASURED), help="sizes to measure")

    args = parse_args(__doc__.splitlines()[0], options)
    sentences = wiki_sentences()
    rows: dict[int, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.sizes):
            corpus = Path(tmp) / f"wiki-{n}.txt"
            corpus_mb = write_corpus(corpus, n, sentences) / 2**20
            rows[n] = {"corpus_mb": round(corpus_mb, 1), **measure(corpus, Path(tmp) / f"wiki-{n}.npy", args.threads)}
            corpus.unlink()
            print(f"{n:>9,} texts ({corpus_mb:.0f} MB): {rows[n]['seconds']:.0f} s, "
                  f"peak RSS {rows[n]['peak_rss_mb']:.0f} MB, .npy {rows[n]['npy_mb']:.0f} MB", flush=True)
    for n in SIZES:
        if n not in rows and len(rows) >= 2:
            rows[n] = extrapolate(rows, n)
            print(f"{n:>9,} texts: ~{rows[n]['seconds']:.0f} s, ~{rows[n]['peak_rss_mb']:.0f} MB (extrapolated)")
    report(
        "bench_large_corpus", __doc__.splitlines()[0], args, comparisons=[],
        figures={"sizes": {str(n): rows[n] for n in sorted(rows)}},
        settings={"command": "textembed embed bare CORPUS.txt --out FILE.npy --threads T --quiet",
                  "sentences_per_text": SENTENCES_PER_TEXT, "wiki_sentences": len(sentences)},
        notes=["Peak RSS is the whole process (interpreter, torch, tokenizer, model), from wait4's ru_maxrss.",
               "Sizes marked measured: false are linear extrapolations from the two largest measured sizes."],
    )


if __name__ == "__main__":
    main()
