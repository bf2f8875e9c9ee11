"""Write the book's Performance page from ``benchmarks/results/*.json``.

Every number on the page comes from a results file; the prose around them is
fixed. Rerun after any benchmark:

    .venv/bin/python benchmarks/render_page.py            # writes book/performance.md
    .venv/bin/python benchmarks/render_page.py --results DIR --out FILE
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TITLES = {
    "bench_train": "Training",
    "bench_encode": "Encoding",
    "bench_encode_precision": "Encoding in bf16: what it saves and what it changes",
    "bench_static": "Encoding with a static model",
    "bench_knn": "kNN accuracy",
    "bench_scaling": "Scaling with corpus size",
    "bench_paper_estimate": "Paper-scale training on this CPU",
    "bench_distributed": "Data parallelism: batch, negatives and learning rate",
    "bench_large_corpus": "Large corpora: memory and time",
    "bench_gpu": "The GPU path",
}
ESTIMATE_LABELS = {"paper_100_batches": "the paper's 100 batches of 64", "iclr_epoch": "one ICLR epoch",
                   "arxiv_epoch": "one arXiv epoch"}


def num(value: float | None, digits: int = 3) -> str:
    """A figure for a table: thousands separators for large values, significant digits for small ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def duration(seconds: float) -> str:
    """A time as people say it: ``45 s``, ``33 minutes``, ``2.1 hours``, ``2.6 days`` (two significant digits)."""
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 1.5 * size:
            return f"{seconds / size:,.2g} {unit}" if seconds < 10 * size else f"{seconds / size:,.0f} {unit}"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def provenance(record: dict) -> str:
    m, v = record["machine"], record["versions"]
    versions = ", ".join(f"{name} {v[name]}" for name in
                         ("python", "torch", "transformers", "sentence-transformers", "scikit-learn", "openTSNE")
                         if name in v)
    load = m.get("load_average_1min_at_end")
    cpu = m.get("cpu_kind") or f"{m['cpu']}, {m['cores']} cores"  # records before cpu_kind: model and cores
    return (f"*Machine*: {cpu}, {m['torch_threads']} threads"
            f"{', GPU ' + m['gpu'] if m.get('gpu') else ', no GPU'}"
            f"{f' (1-minute load average {load:.1f} at the end)' if load is not None else ''}. "
            f"*Versions*: {versions}. *Date*: {record['date']}. *Commit*: `{record['commit'][:12]}`.\n\n"
            f"Rerun: `{record['command']}`")


def comparisons_table(records: list[dict]) -> str:
    rows = []
    for record in records:
        for c in record["comparisons"]:
            goal = "–" if c["goal"] is None else f"≥ {c['goal']:g}× ({'met' if c['met'] else 'not met'})"
            rows.append([f"`{c['name']}`", num(c["ours"]), num(c["baseline"]), c["unit"], f"{c['ratio']:.2f}×", goal])
    return table(["comparison", "ours", "baseline", "unit", "ratio", "goal"], rows)


def train_section(record: dict) -> str:
    f = record["figures"]
    names = {"ours": "ours (`train`)", "sentence_transformers": "SentenceTransformerTrainer + MNRL",
             "authors_padding": "authors' corpus-wide padding"}
    rows = [[label, precision, num(f["median_seconds"][f"{key}/{precision}"]),
             num(f["pairs_per_second"][f"{key}/{precision}"]), num(f["achieved_gflops"][f"{key}/{precision}"])]
            for precision in record["settings"]["precisions"] for key, label in names.items()]
    peaks = ", ".join(f"{num(gflops)} GFLOP/s in {precision}" for precision, gflops in f["matmul_peak_gflops"].items())
    return (table(["contender", "precision", "median s per run", "pairs/s", "GFLOP/s"], rows)
            + f"\n\n{f['pairs']} pairs per run ({num(f['real_tokens_per_pair'])} real tokens per pair), "
            f"{f['non_embedding_params'] / 1e6:.1f}M non-embedding parameters; the authors' scheme pads every "
            f"crop to {f['authors_padding_width']} tokens. Matmul peak measured in the same run: {peaks}.")


def encode_section(record: dict) -> str:
    f = record["figures"]
    rows = [[label, num(f["texts_per_second"][key]), num(f["ms_per_text"][key])]
            for key, label in (("ours", "ours (`encode`)"), ("sentence_transformers", "`SentenceTransformer.encode`"))]
    return (table(["contender", "texts/s", "ms per text"], rows)
            + f"\n\n{f['texts']} texts, {num(f['mean_tokens_per_text'])} tokens each on average; largest absolute "
            f"difference between the two embeddings: {f['max_abs_difference']:.1e}.")


def accuracy_cell(accuracy: dict) -> str:
    """An accuracy in % with its interval, e.g. ``84.3 (82.0–86.5)``."""
    return f"{100 * accuracy['value']:.1f} ({100 * accuracy['low']:.1f}–{100 * accuracy['high']:.1f})"


def difference_cell(difference: dict) -> str:
    """A difference of accuracies in percentage points with its interval, e.g. ``+1.2 (-0.3 to +2.6)``."""
    return f"{100 * difference['delta']:+.1f} ({100 * difference['low']:+.1f} to {100 * difference['high']:+.1f})"


def encode_precision_section(record: dict) -> str:
    f = record["figures"]
    rows = []
    for metric, label in (("euclidean", "kNN, Euclidean"), ("cosine", "kNN, cosine")):
        m = f[metric]
        rows.append([label, accuracy_cell(m["accuracy"]["fp32"]), accuracy_cell(m["accuracy"]["bf16"]),
                     difference_cell(m["bf16_minus_fp32"]), f"{100 * m['same_prediction']:.1f} %"])
    return (table(["metric", "fp32 (%)", "bf16 (%)", "bf16 − fp32 (p.p.)", "same prediction"], rows)
            + f"\n\n{f['texts']:,} texts encoded, {f['test_texts']:,} of them test texts; encoding took "
            f"{num(f['seconds']['fp32'])} s in fp32 and {num(f['seconds']['bf16'])} s in bf16.")


def knn_section(record: dict) -> str:
    rows = [[f"{s['n_texts']:,}", f"{s['n_queries']:,} × {s['n_reference']:,}", num(s["median_s"]["ours"]),
             num(s["median_s"]["sklearn"]), num(s["peak_extra_rss_mb"]["ours"]), num(s["peak_extra_rss_mb"]["sklearn"]),
             num(s["distance_matrix_mb_if_unchunked"]), "yes" if s["identical_predictions"] else "no"]
            for s in record["figures"]["sizes"]]
    return table(["texts", "queries × references", "ours s", "scikit-learn s", "ours MB", "scikit-learn MB",
                  "full distance matrix MB", "identical"], rows)


def scaling_section(record: dict) -> str:
    f = record["figures"]
    stages = (("encode_minilm", "encode, MiniLM"), ("encode_bare", "encode, bare"), ("knn", "kNN"), ("tsne", "t-SNE"))

    def cell(stage: dict) -> str:
        mark = "" if stage["measured"] else " *"
        return f"{num(stage['seconds'])} s{mark} / {num(stage['peak_extra_rss_mb'])} MB"

    rows = [[f"{row['n']:,}"] + [cell(row[key]) for key, _ in stages] for row in f["rows"]]
    growth = [[label] + [f"n^{b:.2f}" for b in f["growth_exponents"][key]] for key, label in stages]
    sizes = [f"{r['n']:,}" for r in f["rows"]]
    return (table(["texts"] + [label for _, label in stages], rows)
            + "\n\nTime / peak memory; * = extrapolated, not measured (see the notes).\n\n"
            + table(["stage"] + [f"{a} → {b}" for a, b in zip(sizes, sizes[1:])], growth)
            + "\n\nGrowth: the exponent b of time ∝ n^b between consecutive sizes (1 = linear).")


def distributed_section(record: dict) -> str:
    f = record["figures"]
    threads = record["settings"]["threads"]
    labels = {"train/1": f"training, 1 process × {threads} threads",
              "train/1x1": f"training, 1 process × {max(1, threads // 2)} thread(s)",
              "train/2": f"training, 2 processes (gloo) × {max(1, threads // 2)} thread(s)",
              "train_cached/1x1": f"training, 1 process × {max(1, threads // 2)} thread(s), cached loss",
              "encode/1": f"encoding, 1 process × {threads} threads",
              "encode/2": f"encoding, 2 processes (gloo) × {max(1, threads // 2)} thread(s)"}
    rows = [[label, num(f["rate"][key]), f["unit"][key.split("/")[0].removesuffix("_cached")]]
            for key, label in labels.items()]
    return (
        "Under `torchrun`, `batch_size` stays the *global* batch: each of W processes embeds B/W of the B "
        "pairs, the pooled vectors are gathered across processes with their gradients, and every anchor is "
        "contrasted with all B − 1 other positives, as in one process. What is gathered: the anchor and "
        "positive vectors (B × dimensions each), nothing else; token states and activations stay on their "
        "device, the gradients are averaged by DDP, and the loss (the same on every rank) needs no rescaling. "
        "So the number of negatives is set by `batch_size` alone, not by the number of GPUs, and the "
        "gradient is that of the whole batch: the learning rate that suits a batch in one process suits "
        "it across processes, and no linear-scaling rule applies, because the batch did not grow. "
        "Without the gather (sentence-transformers' `MultipleNegativesRankingLoss` with its default "
        "`gather_across_devices=False`), each GPU contrasts only its own B/W pairs: B/W − 1 negatives, an "
        "easier task than the paper's. SimCSE's script gathers, re-inserting the local slice that carries "
        "the gradient, without scaling the loss: DDP's average then gives 1/W of the full-batch gradient, "
        "which Adam, dividing by the gradient's own scale, hardly notices (plain SGD would see a W times "
        "smaller learning rate); here the gather's backward sums the W loss copies, so no factor is left. More "
        "negatives come from a larger `batch_size`, across processes or on one device with the cached loss "
        "(`mini_batch_size`: memory of one mini-batch, one extra forward pass); a larger batch is another "
        "experiment, whose learning rate needs tuning again (the paper's 2e-5 is for 64 pairs).\n\n"
        + table(["run", "rate", "unit"], rows)
        + f"\n\nGlobal batch {record['settings']['batch']} pairs, {record['settings']['steps']} timed steps, "
        f"{record['settings']['texts']} texts encoded, {f['precision']}, median of "
        f"{record['settings']['repeats']} interleaved launches.")


def estimates_table(estimates: dict, where: str) -> str:
    """The paper's runs (``training_setup.paper_run_estimates``) and how long each would take ``where``."""
    rows = [[ESTIMATE_LABELS.get(name, name), f"{e['texts']:,}", str(e["batch_size"]), f"{e['steps']:,}",
             f"{e['tokens'] / 1e6:.1f}M", duration(e["hours"] * 3600)] for name, e in estimates.items()]
    return table(["run", "texts", "batch", "steps", "tokens", f"time on {where}"], rows)


def estimate_section(record: dict) -> str:
    f = record["figures"]
    return (estimates_table(f["estimates"], "this CPU")
            + f"\n\nMeasured: {f['measured_steps']} steps of {f['measured_pairs'] // f['measured_steps']} pairs, "
            f"{num(f['seconds_per_1k_tokens'])} s per 1,000 tokens ({num(f['achieved_gflops'])} GFLOP/s, "
            f"{f['non_embedding_params'] / 1e6:.0f}M non-embedding parameters), "
            f"{num(f['tokens_per_crop'])} tokens per two-sentence crop.")


def static_section(record: dict) -> str:
    f = record["figures"]
    labels = {"ours": "ours (bare, model2vec init, `encode`)", "model2vec": "model2vec `StaticModel.encode`",
              "st_static": "`SentenceTransformer` (StaticEmbedding)", "padded": "ours, general padded path",
              "minilm": "all-MiniLM-L6-v2 (`encode`), extrapolated"}
    sizes = [row["n"] for row in f["rows"]]
    by_size = {row["n"]: row for row in f["rows"]}
    rows = [[label] + [f"{num(by_size[n]['texts_per_second'][key])} ({num(by_size[n]['speedup_vs_minilm'][key])}×)"
                       if key in by_size[n]["texts_per_second"] else "–" for n in sizes]
            for key, label in labels.items()]
    disk = f["size_on_disk_mb"]
    dims = f["dims"]
    return (table(["contender"] + [f"{n:,} texts: texts/s (× MiniLM)" for n in sizes], rows)
            + f"\n\nall-MiniLM-L6-v2 measured on {f['minilm_texts']} texts, extrapolated. "
            f"{num(f['mean_tokens_per_text'])} tokens per text on average. Size on disk: ours "
            f"{num(disk['ours'])} MB ({dims['ours']}-d), model2vec {num(disk['model2vec'])} MB "
            f"({dims['model2vec']}-d), all-MiniLM-L6-v2 {num(disk['minilm'])} MB ({dims['minilm']}-d).")


def large_corpus_section(record: dict) -> str:
    sizes = sorted(record["figures"]["sizes"].items(), key=lambda item: int(item[0]))
    commands = [c for c in ("embed", "evaluate", "finetune") if all(c in size for _, size in sizes)]
    rows = [[f"{int(n):,}" + ("" if size.get("measured", True) else " (extrapolated)"), num(size["corpus_mb"]),
             num(size["npy_mb"]), *(f"{num(size[c]['peak_rss_mb'])} MB / {num(size[c]['seconds'])} s" for c in commands)]
            for n, size in sizes]
    out = table(["texts", "corpus (MB)", ".npy (MB)", *(f"`{c}` peak RSS / time" for c in commands)], rows)
    staged = [(n, size["finetune"]["stages"]) for n, size in sizes if "stages" in size.get("finetune", {})]
    if staged:
        n, stages = staged[-1]
        steps, previous = [], 0.0
        for mark in stages:
            peak = mark["peak_rss_mb"] or previous
            steps.append([mark["before"], num(mark["seconds"]), num(peak), f"{peak - previous:+,.0f}"])
            previous = peak
        out += (f"\n\n`finetune` on {int(n):,} texts, stage by stage: the high-water mark of its memory when each "
                "progress line appeared (the growth since the line before is what the stage before it added).\n\n"
                + table(["progress line", "s", "peak RSS so far (MB)", "added (MB)"], steps))
    return out


GPU_PARTS = {"correctness": "CUDA against the CPU", "paper_scale": "The paper's scale",
             "chapter_runs": "The embedded chapters' heavy runs"}
CHECKS = {"device_fp32": "losses, fp32", "device_bf16": "losses, bf16 autocast (vs the CPU's fp32)",
          "encode_fp32": "`encode`, fp32 (relative)"}


def gpu_correctness(found: dict) -> str:
    rows = [[start, label, f"{checks[key]['max_difference']:.1e}", f"{checks[key]['tolerance']:g}",
             "yes" if checks[key]["within"] else "**no**"]
            for start, checks in found["starts"].items() for key, label in CHECKS.items()]
    return (f"{found['status']}; {found['steps']} batches of crops, dropout off.\n\n"
            + table(["start", "compared", "largest difference", "tolerance", "within"], rows))


def gpu_paper_scale(found: dict, device: str) -> str:
    model = found["model"]
    rows = [[str(found["batches"]), num(found["seconds"]), num(found["pairs_per_second"]),
             num(found["tokens_per_second"]), num(found["achieved_gflops"] / 1000),
             num(found["bf16_matmul_peak_gflops"] / 1000), f"{100 * found['peak_fraction']:.0f} %"]]
    memory = found.get("peak_memory_gib")
    return (table(["batches", "s", "pairs/s", "tokens/s", "TFLOP/s", "bf16 matmul peak TFLOP/s", "share of peak"],
                  rows)
            + f"\n\nMPNet-base's shape ({model['num_hidden_layers']} layers, hidden {model['hidden_size']}, "
            f"{num(found['non_embedding_params'] / 1e6)}M non-embedding parameters, {model['attention']} attention), "
            f"random weights; batches of {found['batch_size']} pairs, max length {found['max_length']}, "
            f"{found['precision']}; {num(found['tokens_per_crop'])} tokens per crop"
            + (f"; {memory:.1f} GiB of GPU memory at most" if memory is not None else "") + ".\n\n"
            + estimates_table(found["estimates"], device))


def gpu_chapter_runs(found: dict) -> str:
    rows = [[run, accuracy_cell(entry["device"]["knn_euclidean"]), accuracy_cell(entry["cpu"]["knn_euclidean"]),
             difference_cell(entry["knn_euclidean_device_minus_cpu"]),
             "yes" if entry["knn_euclidean_device_minus_cpu"]["agree"] else "**no**",
             f"{num(entry['device']['train_seconds'])} / {num(entry['cpu']['train_seconds'])}"]
            for run, entry in found["runs"].items()]
    return (f"{found['status']}; the {found['profile']} profile's settings.\n\n"
            + table(["run", "kNN (Euclidean) on the device, %", "on the CPU, %", "device − CPU, p.p.", "agree",
                     "training s, device / CPU"], rows))


def gpu_section(record: dict) -> str:
    """Each part of bench_gpu's record that ran, under its title; a part that did not, with the reason."""
    f = record["figures"]
    device = f["device"]["name"]
    renderers: dict[str, Callable[[dict], str]] = {
        "correctness": gpu_correctness, "paper_scale": partial(gpu_paper_scale, device=device),
        "chapter_runs": gpu_chapter_runs}
    out = [f"Device: **{device}**."]
    for part, title in GPU_PARTS.items():
        found = f.get(part)
        if found is not None:
            out.append(f"### {title}\n\n{renderers[part](found)}" if part in f["parts_done"]
                       else f"*{title}*: {found['status']}.")
    return "\n\n".join(out)


SECTIONS: dict[str, Callable[[dict], str]] = {
    "bench_train": train_section, "bench_encode": encode_section, "bench_static": static_section,
    "bench_encode_precision": encode_precision_section,
    "bench_knn": knn_section, "bench_scaling": scaling_section, "bench_paper_estimate": estimate_section,
    "bench_distributed": distributed_section, "bench_large_corpus": large_corpus_section,
    "bench_gpu": gpu_section,
}


def gpu_status(record: dict | None) -> str:
    """Whether the GPU path was measured (by bench_gpu.py on a CUDA device) and, if so, its headline."""
    if record is None or record["figures"]["device"]["type"] != "cuda":
        return ("GPU timings were not taken in this session: no GPU was available. The GPU path (bf16 autocast, "
                "SDPA attention, pinned-memory non-blocking copies, no host synchronisation inside the training "
                "loop) is in the code but unmeasured here.")
    f = record["figures"]
    device, paper = f["device"]["name"], f.get("paper_scale", {})
    if "paper_scale" not in f["parts_done"]:
        return f"The GPU path was measured on {device}: see *{TITLES['bench_gpu']}* below."
    estimates = paper["estimates"]
    return (f"On {device}, the paper's 100 batches at its settings (MPNet-base's shape, batch 64, bf16) took "
            f"{num(paper['seconds'] * 100 / paper['batches'])} s (the paper: about 60 s on one RTX A6000); one ICLR "
            f"epoch would take about {duration(estimates['iclr_epoch']['hours'] * 3600)} and one arXiv epoch "
            f"about {duration(estimates['arxiv_epoch']['hours'] * 3600)}: see *{TITLES['bench_gpu']}* below.")


def guidance(records: dict[str, dict]) -> str:
    """What the figures mean for someone choosing between this CPU and a GPU."""
    parts = []
    estimate = records.get("bench_paper_estimate")
    if estimate:
        f = estimate["figures"]
        e = f["estimates"]
        parts.append(
            f"Fine-tuning a base-size model ({f['non_embedding_params'] / 1e6:.0f}M non-embedding parameters, "
            f"MPNet-base's size) is GPU work: on this CPU the paper's 100 batches would take about "
            f"{duration(e['paper_100_batches']['hours'] * 3600)} (the paper: 1 minute on one RTX A6000), one "
            f"ICLR epoch about {duration(e['iclr_epoch']['hours'] * 3600)} and one arXiv epoch about "
            f"{duration(e['arxiv_epoch']['hours'] * 3600)}.")
    train_record = records.get("bench_train")
    if train_record:
        precision = train_record["settings"]["precisions"][0]
        rate = train_record["figures"]["pairs_per_second"][f"ours/{precision}"]
        parts.append(
            f"Small models are workable on a CPU: all-MiniLM-L6-v2 trains at {num(rate)} pairs per second here "
            f"({precision}), so 100 batches of 64 pairs take about {duration(6400 / rate)}.")
    scaling = records.get("bench_scaling")
    if scaling:
        last = scaling["figures"]["rows"][-1]
        parts.append(
            f"Evaluation scales on a CPU except for encoding with a transformer: at {last['n']:,} texts, kNN takes "
            f"{duration(last['knn']['seconds'])} and t-SNE about {duration(last['tsne']['seconds'])}, but "
            f"MiniLM encoding about {duration(last['encode_minilm']['seconds'])}; embed large corpora on a "
            "GPU, or once, and cache the vectors.")
    return " ".join(parts)


def render(results_dir: Path) -> str:
    """The page's MyST markdown from every ``*.json`` in ``results_dir``."""
    records = {p.stem: json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))}
    order = [name for name in TITLES if name in records] + sorted(set(records) - set(TITLES))
    out = [
        "# Performance",
        "",
        "<!-- Generated by benchmarks/render_page.py from benchmarks/results/*.json: do not edit by hand. -->",
        "",
        "How fast this companion trains, embeds and evaluates, measured against what you would use "
        "instead (sentence-transformers, scikit-learn, the authors' scheme) side by side in one run: same "
        "model, data, batch, sequence lengths, seed and threads, repeats interleaved, medians reported. "
        "A ratio above 1 means ours is better. `make benchmarks` reruns everything; "
        "`.venv/bin/python benchmarks/render_page.py` rewrites this page from the results. "
        "Abbreviations (see the [glossary](glossary.md)): MNRL is sentence-transformers' "
        "MultipleNegativesRankingLoss (InfoNCE with in-batch negatives), RSS a process's resident memory, DDP "
        "PyTorch's DistributedDataParallel.",
        "",
        "## Choosing between CPU and GPU",
        "",
        guidance(records) or "No results yet: run `make benchmarks`.",
        "",
        gpu_status(records.get("bench_gpu")),
        "",
        "## Summary",
        "",
        comparisons_table([records[name] for name in order]),
    ]
    for name in order:
        record = records[name]
        description = record["description"].rstrip(".")
        out += ["", f"## {TITLES.get(name, name)}", "", description[:1].upper() + description[1:] + ".", "",
                SECTIONS[name](record) if name in SECTIONS else "", ""]
        out += [f"- {note}" for note in record["notes"]]
        out += ["", provenance(record)]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "performance.md")
    args = parser.parse_args()
    from textembed_utils.atomic import write_text

    write_text(args.out, render(args.results))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
