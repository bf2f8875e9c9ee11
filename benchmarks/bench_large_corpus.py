"""Large corpora: peak memory and wall time of ``textembed embed`` / ``evaluate`` / ``finetune`` at 10k, 100k, 500k texts.

Each corpus is made by recombining sentences of the embedded wiki corpus: text i
is three sentences drawn at random (seed 0) from all of its sentences, labelled
with the topic of the first one, so sizes beyond the 9,033 articles still look
like wiki prose (about 400 characters per text). Each size runs, in a fresh
process on ``--threads`` threads, ``textembed embed bare`` on the ``.txt`` file
(the random token-embedding model: what the issue measured, and a model cheap
enough that the pipeline's memory, not the model's compute, dominates) and
``textembed evaluate bare`` on the same texts as a labelled ``.csv`` (the default
2,000-text evaluation sample: reading the table dominates), and ``textembed
finetune bare`` on the ``.csv`` for ``FINETUNE_STEPS`` batches: everything a
fine-tuning run holds besides the training itself (the corpus, its crop counts,
the embeddings of every text written to ``.npy``, kNN, the t-SNE map of a sample).
The peak resident memory of each process is read from the kernel (``wait4``'s
``ru_maxrss``), model and interpreter included; the result ``.npy`` size is
reported next to it. For ``finetune`` the high-water mark is also read while it
runs, each time it reports a stage, so the table says which stage set the peak.

Sizes not measured (``--sizes`` picks the measured ones) are extrapolated
linearly from the two largest measured sizes, and marked so.

    .venv/bin/python benchmarks/bench_large_corpus.py --threads 1
    .venv/bin/python benchmarks/bench_large_corpus.py --threads 1 --sizes 10000 100000 500000
"""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
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
FINETUNE_STEPS = 20
PROGRESS_BAR = re.compile(r"\d+%\||\[\d+:\d+")  # tqdm: "45%|" or "[00:02<00:01"
TEXTEMBED = Path(sys.executable).with_name("textembed")


def wiki_sentences() -> list[tuple[str, str]]:
    """(sentence, topic) of every wiki sentence of at least 20 characters, on one line (whitespace collapsed)."""
    wiki = load_corpus("wiki")
    pairs = ((" ".join(s.split()), topic)
             for text, topic in zip(wiki.texts, wiki.labels) for s in split_sentences(text))
    return [(s, topic) for s, topic in pairs if len(s) >= 20]


def write_corpora(folder: Path, n: int, sentences: list[tuple[str, str]], seed: int = 0) -> tuple[Path, Path]:
    """``n`` texts of ``SENTENCES_PER_TEXT`` random wiki sentences: one per line (.txt) and with topics (.csv)."""
    rng = random.Random(seed)
    txt, table = folder / f"wiki-{n}.txt", folder / f"wiki-{n}.csv"
    with open(txt, "w", encoding="utf-8") as lines, open(table, "w", encoding="utf-8", newline="") as rows:
        writer = csv.writer(rows)
        writer.writerow(["text", "topic"])
        for _ in range(n):
            drawn = rng.choices(sentences, k=SENTENCES_PER_TEXT)
            text = ". ".join(s for s, _ in drawn) + "."
            lines.write(text + "\n")
            writer.writerow([text, drawn[0][1]])
    return txt, table


def measure(arguments: list[str], threads: int) -> dict:
    """Wall seconds and peak RSS (MB) of ``textembed ARGUMENTS --threads T --quiet`` in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [str(TEXTEMBED), *arguments, "--threads", str(threads), "--quiet"]
    began = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr.read().decode()}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def _high_water_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), or None once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure_stages(arguments: list[str], threads: int) -> dict:
    """Like ``measure``, without ``--quiet``: the high-water mark (MB) at each progress line the command prints.

    A stage's line is printed when it starts, so the mark read at a line is the
    peak of everything before it; the last entry is the whole run's peak.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [str(TEXTEMBED), *arguments, "--threads", str(threads)]
    began = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    marks, last = [], "start"
    for line in proc.stderr:
        line = line.strip()
        if not line or PROGRESS_BAR.search(line):  # a stage's own progress, not a new stage
            continue
        marks.append({"before": line[:80], "seconds": round(time.perf_counter() - began, 1),
                      "peak_rss_mb": _high_water_mb(proc.pid)})
        last = line
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {last}")
    marks.append({"before": "exit", "seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)})
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "stages": marks}


def measure_size(folder: Path, n: int, sentences: list[tuple[str, str]], threads: int) -> dict:
    """Both commands on a corpus of ``n`` texts; the corpus files are removed afterwards."""
    txt, table = write_corpora(folder, n, sentences)
    out = folder / f"wiki-{n}.npy"
    row = {"corpus_mb": round(txt.stat().st_size / 2**20, 1),
           "embed": measure(["embed", "bare", str(txt), "--out", str(out)], threads),
           "evaluate": measure(["evaluate", "bare", str(table), "--label-column", "topic"], threads),
           "finetune": measure_stages(["finetune", str(table), "--model", "bare", "--label-column", "topic",
                                       "--n-sentences", "1", "--steps", str(FINETUNE_STEPS), "--out",
                                       str(folder / f"finetuned-{n}")], threads),
           "npy_mb": round(out.stat().st_size / 2**20, 1), "measured": True}
    for path in (txt, table, out):
        path.unlink()
    shutil.rmtree(folder / f"finetuned-{n}")
    return row


def extrapolate(rows: dict[int, dict], n: int) -> dict:
    """Linear in n from the two largest measured sizes (time and memory of a streamed run grow linearly)."""
    (n1, a), (n2, b) = sorted(rows.items())[-2:]

    def at(first: dict, second: dict) -> dict:
        return {key: round(second[key] + (second[key] - first[key]) * (n - n2) / (n2 - n1), 1)
                for key in ("seconds", "peak_rss_mb")}

    return {"embed": at(a["embed"], b["embed"]), "evaluate": at(a["evaluate"], b["evaluate"]),
            "finetune": at(a["finetune"], b["finetune"]), "npy_mb": round(n * 384 * 4 / 2**20, 1), "measured": False}


def main() -> None:
    def options(parser):
        parser.add_argument("--sizes", type=int, nargs="+", default=list(MEASURED), help="sizes to measure")

    args = parse_args(__doc__.splitlines()[0], options)
    sentences = wiki_sentences()
    rows: dict[int, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.sizes):
            rows[n] = measure_size(Path(tmp), n, sentences, args.threads)
    for n in SIZES:
        if n not in rows and len(rows) >= 2:
            rows[n] = extrapolate(rows, n)
    for n, row in sorted(rows.items()):
        mark = "" if row["measured"] else " (extrapolated)"
        print(f"{n:>9,} texts{mark}: " + "; ".join(
            f"{command} {row[command]['seconds']:.0f} s, peak RSS {row[command]['peak_rss_mb']:.0f} MB"
            for command in ("embed", "evaluate", "finetune")) + f"; .npy {row['npy_mb']:.0f} MB", flush=True)
    report(
        "bench_large_corpus", __doc__.splitlines()[0], args, comparisons=[],
        figures={"sizes": {str(n): rows[n] for n in sorted(rows)}},
        settings={"commands": ["textembed embed bare CORPUS.txt --out FILE.npy --threads T --quiet",
                               "textembed evaluate bare CORPUS.csv --label-column topic --threads T --quiet",
                               f"textembed finetune CORPUS.csv --model bare --label-column topic --n-sentences 1 "
                               f"--steps {FINETUNE_STEPS} --out DIR --threads T"],
                  "sentences_per_text": SENTENCES_PER_TEXT, "wiki_sentences": len(sentences)},
        notes=["Peak RSS is the whole process (interpreter, torch, tokenizer, model), from wait4's ru_maxrss.",
               "Sizes marked measured: false are linear extrapolations from the two largest measured sizes."],
    )


if __name__ == "__main__":
    main()
