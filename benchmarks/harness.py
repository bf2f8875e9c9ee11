"""What every benchmark shares: fixed threads, interleaved repeats, the machine, the JSON record.

Fairness rules the benchmarks follow through this module:

- both contenders run in the same process with the same thread count
  (``torch.set_num_threads`` and, for NumPy/scikit-learn, ``threadpoolctl``);
- repeats are *interleaved* (ours, baseline, ours, baseline, ...), so a noisy
  neighbour on a shared machine slows both alike instead of one of them;
- the figure reported is the median over repeats, and every raw timing is kept
  in the JSON record.

A record is ``benchmarks/results/<benchmark>.json``: machine, package versions,
date, commit, free-form ``figures`` and the ``comparisons`` the book's
Performance page tabulates (ratio > 1 means ours is better).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from threadpoolctl import threadpool_limits

from textembed_utils.atomic import write_json
from textembed_utils.machine import cpu_description
from textembed_utils.results.records import git_commit, package_versions

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_THREADS = 2

for _name, _value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_name, _value)


@dataclass
class Comparison:
    """Ours against one alternative: ``ratio > 1`` means ours is better."""

    name: str
    ours: float
    baseline: float
    unit: str
    ratio: float
    goal: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.ratio >= self.goal


def compare(
    name: str, ours: float, baseline: float, unit: str, *, higher_is_better: bool,
    goal: float | None = None, note: str = "",
) -> Comparison:
    """A comparison whose ratio is oriented so that > 1 always favours ours."""
    ratio = ours / baseline if higher_is_better else baseline / ours
    return Comparison(name, ours, baseline, unit, ratio, goal, note)


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """Common command line: ``--threads``, ``--repeats``, ``--no-write`` plus the benchmark's own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="CPU threads for torch and BLAS")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (median reported)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results/*.json alone")
    if extra:
        extra(parser)
    return parser.parse_args()


def fix_threads(threads: int) -> threadpool_limits:
    """Pin torch and every BLAS/OpenMP pool to ``threads``; keep the returned limiter alive."""
    torch.set_num_threads(threads)
    return threadpool_limits(limits=threads)


def interleaved(cases: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Wall seconds of each case over ``repeats`` interleaved rounds (after ``warmup`` untimed ones)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(warmup + repeats):
        for name, case in cases.items():
            began = time.perf_counter()
            case()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - began)
    return times


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def wait_for(device: torch.device) -> None:
    """Block until ``device`` has done the work queued on it: a GPU runs asynchronously, a CPU does not."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(size: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32,
                       device: torch.device = torch.device("cpu")) -> float:
    """The ``device``'s matrix-product rate (GFLOP/s) in ``dtype`` (on a CPU at the current thread count): best of
    ``repeats``. A GPU runs the product asynchronously, so each one is timed up to its synchronisation."""
    a, b = (torch.randn(size, size, dtype=dtype, device=device) for _ in range(2))
    a @ b
    best = float("inf")
    for _ in range(repeats):
        wait_for(device)
        began = time.perf_counter()
        a @ b
        wait_for(device)
        best = min(best, time.perf_counter() - began)
    return 2 * size**3 / best / 1e9


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak resident memory *above the level at entry* during a block, sampled every few ms.

    ``/proc/self/statm`` sampling sees torch's and NumPy's allocations alike
    (``tracemalloc`` sees neither). Linux only; elsewhere ``peak_mb`` is NaN.
    """

    def __init__(self, interval_s: float = 0.002):
        self.interval_s = interval_s
        self.peak_mb = float("nan")

    def __enter__(self) -> PeakMemory:
        if not Path("/proc/self/statm").exists():
            return self
        self._start = _rss_bytes()
        self._peak = self._start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(self.interval_s)

    def __exit__(self, *_: object) -> None:
        if hasattr(self, "_stop"):
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, _rss_bytes())
            self.peak_mb = (self._peak - self._start) / 2**20


def machine(threads: int) -> dict[str, Any]:
    """CPU model, cores, native bf16 or emulated (``cpu_kind`` says it in words), threads used, any GPU."""
    cpu = cpu_description()
    return {
        "cpu": cpu.model,
        "cores": cpu.cores,
        "native_bf16": cpu.native_bf16,
        "bf16_flags": list(cpu.flags_found),
        "cpu_kind": str(cpu),
        "torch_threads": threads,
        "platform": platform.platform(terse=True),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_1min_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))


def print_summary(benchmark: str, description: str, comparisons: list[Comparison], host: dict[str, Any],
                  threads: int, notes: list[str]) -> None:
    """The comparison table, the machine and the notes, as a run ends."""
    if comparisons:
        print_table(
            f"{benchmark}: {description}",
            [(c.name, fmt(c.ours), fmt(c.baseline), c.unit, f"{c.ratio:.2f}x",
              "-" if c.goal is None else f"{c.goal:g}x {'met' if c.met else 'NOT met'}") for c in comparisons],
            ("comparison", "ours", "baseline", "unit", "ratio", "goal"),
        )
    print(f"machine: {host['cpu_kind']}; {threads} threads")
    for note in notes:
        print(f"note: {note}")


def fmt(value: float) -> str:
    """Three significant figures, without scientific notation for everyday magnitudes."""
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def report(
    benchmark: str,
    description: str,
    args: argparse.Namespace,
    *,
    comparisons: list[Comparison],
    figures: dict[str, Any],
    settings: dict[str, Any],
    notes: list[str],
    out: Path | None = None,
    command: str | None = None,
    echo: bool = True,
) -> Path | None:
    """Print the comparison table and write ``results/<benchmark>.json`` atomically (unless ``--no-write``).

    ``out`` writes the record elsewhere (a run on another machine, a test); ``command`` is how to rerun it,
    when not the plain ``.venv/bin/python benchmarks/<benchmark>.py``; ``echo=False`` writes without
    printing (a record rewritten as a long run goes on need be printed only at its end).
    """
    host = machine(args.threads)
    load = host["load_average_1min_at_end"]
    # The benchmark's own threads keep the load near the core count; a full runnable thread more is someone else.
    if load is not None and load > (host["cores"] or 1) + 1:
        notes = [*notes, f"The machine was shared while this ran (1-minute load average {load:.1f} on "
                         f"{host['cores']} cores): absolute timings are inflated and noisy, and operations "
                         "that synchronise threads suffer most; interleaving keeps the ratios fairer."]
    if echo:
        print_summary(benchmark, description, comparisons, host, args.threads, notes)
    if args.no_write:
        return None
    record = {
        "benchmark": benchmark,
        "description": description,
        "command": command or f".venv/bin/python benchmarks/{benchmark}.py",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": host,
        "versions": package_versions(),
        "settings": settings,
        "comparisons": [{**asdict(c), "met": c.met} for c in comparisons],
        "figures": figures,
        "notes": notes,
    }
    path = write_json(out or RESULTS_DIR / f"{benchmark}.json", record)
    if echo:
        print(f"wrote {path}")
    return path
