"""Training throughput: ours vs sentence-transformers' trainer vs the authors' corpus-wide padding.

All three train all-MiniLM-L6-v2 on the same crop pairs of the wiki corpus (the
first batches of epoch 0, seed 42), batch 64 pairs, max_length 128, Adam(W) at
lr 2e-5 without weight decay, InfoNCE with scale 20, on the same threads, in the
same arithmetic: fp32, and bf16 autocast too where the CPU multiplies bf16
natively (then bf16, what ``precision="auto"`` picks, gives the headline ratios):

- ours: ``textembed_utils.training.train`` (length-grouped per-batch padding);
- sentence-transformers: ``SentenceTransformerTrainer`` + ``MultipleNegativesRankingLoss``
  (scale 20), batches in the same order (a sequential batch sampler);
- the authors' scheme: every crop tokenized once, padded to the corpus' longest
  crop, then the same model, loss, optimiser and schedule.

Each contender's training loop is timed (not model loading), over interleaved
repeats. The same run measures the machine's fp32 matrix-product peak, so the
achieved GFLOP/s (6 × non-embedding parameters × real tokens / s) can be put
against it.

    .venv/bin/python benchmarks/bench_train.py
    .venv/bin/python benchmarks/bench_train.py --steps 20 --repeats 5   # steadier figures
    .venv/bin/python benchmarks/bench_train.py --precisions fp32       # fp32 only
    .venv/bin/python benchmarks/bench_train.py --profile                # where ours spends its time
"""

from __future__ import annotations

import time

import torch
from harness import compare, fix_threads, interleaved, matmul_peak_gflops, median, parse_args, report
from training_setup import (
    SEED, batch_texts, first_pairs, gflops, non_embedding_params, real_tokens, train_config, wiki_texts,
)
from transformers import TrainerCallback, get_linear_schedule_with_warmup

from textembed_utils.augment.cropping import windows_per_text
from textembed_utils.machine import CpuInfo, cpu_description
from textembed_utils.models import embedded_model_path, load_encoder
from textembed_utils.training import info_nce, train
from textembed_utils.training.precision import autocast

BATCH, MAX_LENGTH, N_SENTENCES, LR, SCALE = 64, 128, 1, 2e-5, 20.0


class _LoopTimer(TrainerCallback):
    """Seconds from the first step's start to the last step's end: the steps, not the trainer's set-up."""

    began: float | None = None

    def on_step_begin(self, *_, **__):
        if self.began is None:
            self.began = time.perf_counter()

    def on_step_end(self, *_, **__):
        self.seconds = time.perf_counter() - self.began


CPU = torch.device("cpu")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def sentence_transformers_run(pairs: list[tuple[str, str]], steps: int, output_dir: str, precision: str):
    """A function that trains a SentenceTransformer on ``pairs`` for ``steps`` and returns its loop seconds."""
    from accelerate.state import AcceleratorState
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import DefaultBatchSampler
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from torch.utils.data import SequentialSampler

    model = SentenceTransformer(str(embedded_model_path()), device="cpu")
    model.max_seq_length = MAX_LENGTH
    data = Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [p for _, p in pairs]})

    def in_order(dataset, **kwargs):
        return DefaultBatchSampler(SequentialSampler(dataset), **kwargs)

    args = SentenceTransformerTrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=BATCH, learning_rate=LR, weight_decay=0.0,
        max_steps=steps, warmup_steps=0.1, seed=SEED, use_cpu=True, report_to="none", save_strategy="no",
        logging_strategy="no", disable_tqdm=True, dataloader_drop_last=True, batch_sampler=in_order,
        bf16=precision == "bf16",  # the Trainer's CPU autocast, as ours
    )
    loss = MultipleNegativesRankingLoss(model, scale=SCALE)

    def run() -> float:
        # accelerate keeps one process-wide mixed-precision state; each precision's trainer sets its own.
        AcceleratorState._reset_state()
        timer = _LoopTimer()
        SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss,
                                   callbacks=[timer]).train()
        return timer.seconds

    return run


def authors_padding_run(pairs: list[tuple[str, str]], corpus_windows: list[str], steps: int, precision: str):
    """The authors' scheme: one tokenization of the corpus padded to its longest crop, then plain steps."""
    encoder = load_encoder(max_length=MAX_LENGTH)
    longest = max(encoder.tokenizer(corpus_windows, truncation=True, max_length=MAX_LENGTH,
                                    return_length=True)["length"])
    # Anchors then positives, every one padded to the corpus' longest crop.
    tokens = encoder.tokenizer(batch_texts(pairs), truncation=True, max_length=longest,
                               padding="max_length", return_tensors="pt")
    ids, mask, half = tokens["input_ids"], tokens["attention_mask"], len(pairs)

    def run() -> float:
        encoder.train()
        optimizer = torch.optim.Adam(encoder.parameters(), lr=LR, fused=True)  # as ours: only padding differs
        schedule = get_linear_schedule_with_warmup(optimizer, max(1, steps // 10), steps)
        began = time.perf_counter()
        for step in range(steps):
            rows = [*range(step * BATCH, (step + 1) * BATCH), *range(half + step * BATCH, half + (step + 1) * BATCH)]
            with autocast(precision, CPU):
                vectors = encoder(ids[rows], mask[rows]).float()
            loss = info_nce(vectors[:BATCH], vectors[BATCH:], 1.0 / SCALE)
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
        loss.item()
        return time.perf_counter() - began

    return run, int(longest)


def ours_run(texts: list[str], steps: int, precision: str = "fp32"):
    encoder = load_encoder(max_length=MAX_LENGTH)
    config = train_config(N_SENTENCES, BATCH, steps, MAX_LENGTH, precision)
    return lambda: train(encoder, texts, config, progress=False).train_seconds


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")


def profile_ours(texts: list[str], steps: int, precision: str, rows: int = 20) -> dict[str, float]:
    """Where ours spends its time: share of self CPU time per operator, from torch.profiler."""
    from torch.profiler import profile

    run = ours_run(texts, steps, precision)
    with profile() as prof:
        run()
    events = prof.key_averages()
    if rows:
        print(events.table(sort_by="self_cpu_time_total", row_limit=rows))
    total = sum(e.self_cpu_time_total for e in events)
    return {e.key: e.self_cpu_time_total / total for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:15]}


def default_precisions(cpu: CpuInfo) -> list[str]:
    """bf16 (what ``precision="auto"`` picks here) first where the CPU has it natively, then fp32."""
    return ["bf16", "fp32"] if cpu.native_bf16 else ["fp32"]


def precision_note(cpu: CpuInfo, precisions: list[str]) -> str:
    """Which CPU kind this ran on and what that means for the precisions compared."""
    if cpu.native_bf16:
        return f"CPU: {cpu}. bf16 is native here, so training is compared in {' and '.join(precisions)}."
    return (f"CPU: {cpu}. bf16 would be emulated here, not a meaningful contender, so training is "
            "compared in fp32 only (what precision='auto' picks on this CPU).")


def measure(texts: list[str], pairs: list, windows: list[str], precisions: list[str], steps: int,
            repeats: int) -> tuple[dict, dict, int]:
    """Median loop seconds of every contender in every precision, interleaved; matmul peaks per precision."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        cases, longest = {}, 0
        for precision in precisions:
            authors, longest = authors_padding_run(pairs, windows, steps, precision)
            cases.update({
                f"ours/{precision}": ours_run(texts, steps, precision),
                f"sentence_transformers/{precision}": sentence_transformers_run(pairs, steps, scratch, precision),
                f"authors_padding/{precision}": authors,
            })
        seconds: dict[str, list[float]] = {name: [] for name in cases}
        peaks: dict[str, list[float]] = {precision: [] for precision in precisions}
        for round_ in range(repeats + 1):  # round 0 warms up and is not kept
            for precision in precisions:
                peaks[precision].append(matmul_peak_gflops(dtype=DTYPES[precision]))
            for name, run in cases.items():
                took = run()
                if round_:
                    seconds[name].append(took)
    return seconds, {precision: max(p[1:] or p) for precision, p in peaks.items()}, longest


def comparisons_for(precision: str, pairs_per_s: dict, achieved: dict, peak: float, longest: int,
                    suffix: str) -> list:
    """The three headline comparisons at one precision (``suffix`` tells the extra precision apart)."""
    ours = pairs_per_s[f"ours/{precision}"]
    return [
        compare(f"train_vs_sentence_transformers{suffix}", ours, pairs_per_s[f"sentence_transformers/{precision}"],
                "pairs/s", higher_is_better=True, goal=1.2, note=f"both {precision}"),
        compare(f"train_vs_authors_padding{suffix}", ours, pairs_per_s[f"authors_padding/{precision}"], "pairs/s",
                higher_is_better=True, goal=2.0,
                note=f"both {precision}; the authors' scheme pads every crop to the corpus' longest, {longest} tokens"),
        compare(f"train_matmul_peak_fraction{suffix}", achieved[f"ours/{precision}"], peak, "GFLOP/s",
                higher_is_better=True, goal=0.8,
                note=f"ratio = achieved training GFLOP/s (real tokens) / {precision} matmul peak measured in the same run"),
    ]


def main() -> None:
    cpu = cpu_description()

    def options(parser):
        parser.add_argument("--steps", type=int, default=4, help="training steps per timed run")
        parser.add_argument("--precisions", nargs="+", choices=sorted(DTYPES), default=default_precisions(cpu),
                            help="arithmetic to compare in (the first gives the headline ratios)")
        parser.add_argument("--profile", action="store_true", help="print a torch.profiler table of ours and exit")

    args = parse_args(__doc__.splitlines()[0], options)
    if "bf16" in args.precisions and not cpu.native_bf16:
        raise SystemExit(f"{cpu}: emulated bf16 is not a meaningful contender; leave out --precisions "
                         "(fp32 only on this CPU).")
    limits = fix_threads(args.threads)  # noqa: F841 (kept alive for the whole run)
    repeats = args.repeats or 3
    texts = wiki_texts()
    headline = args.precisions[0]
    if args.profile:
        profile_ours(texts, args.steps, headline)
        return
    pairs = first_pairs(texts, N_SENTENCES, BATCH, args.steps)
    windows = [w for ws in windows_per_text(texts, N_SENTENCES)[0] for w in ws]
    seconds, peaks, longest = measure(texts, pairs, windows, args.precisions, args.steps, repeats)
    op_shares = {precision: profile_ours(texts, 1, precision, rows=0) for precision in args.precisions}
    matmul_share = {precision: sum(share for op, share in shares.items() if op in MATMUL_OPS)
                    for precision, shares in op_shares.items()}
    encoder = load_encoder(max_length=MAX_LENGTH)
    tokens, params = real_tokens(encoder, pairs, MAX_LENGTH), non_embedding_params(encoder)
    med = {name: median(s) for name, s in seconds.items()}
    pairs_per_s = {name: len(pairs) / s for name, s in med.items()}
    achieved = {name: gflops(params, tokens, s) for name, s in med.items()}
    comparisons = [c for i, precision in enumerate(args.precisions)
                   for c in comparisons_for(precision, pairs_per_s, achieved, peaks[precision], longest,
                                            "" if i == 0 else f"_{precision}")]
    if set(args.precisions) == {"bf16", "fp32"}:
        comparisons.append(compare("train_bf16_vs_fp32", pairs_per_s["ours/bf16"], pairs_per_s["ours/fp32"],
                                   "pairs/s", higher_is_better=True, note="ours, bf16 autocast vs fp32"))
    for c in comparisons:
        print(f"{c.name}: {c.ratio:.2f}x ({c.note})")
    shares = ", ".join(f"{share:.0%} in {precision}" for precision, share in matmul_share.items())
    report(
        "bench_train", "training throughput, all-MiniLM-L6-v2, crops of the wiki corpus", args,
        comparisons=comparisons,
        figures={
            "seconds": seconds, "median_seconds": med, "pairs_per_second": pairs_per_s,
            "achieved_gflops": achieved, "matmul_peak_gflops": peaks,
            "pairs": len(pairs), "real_tokens": tokens, "non_embedding_params": params,
            "real_tokens_per_pair": tokens / len(pairs), "authors_padding_width": longest,
            "padded_tokens": {"authors_padding": 2 * len(pairs) * longest}, "ours_profile_op_shares": op_shares,
            "ours_profile_matmul_share": matmul_share,
        },
        settings={"model": "all-MiniLM-L6-v2", "corpus": "wiki", "n_sentences": N_SENTENCES, "batch_size": BATCH,
                  "max_length": MAX_LENGTH, "steps_per_run": args.steps, "repeats": repeats, "lr": LR,
                  "scale": SCALE, "threads": args.threads, "precisions": args.precisions},
        notes=[
            precision_note(cpu, args.precisions),
            "GFLOP/s counts 6 x non-embedding parameters x real (non-padding) tokens per second: "
            "useful work only, attention's sequence-length term excluded.",
            "Each precision's matmul peak is the best 2048x2048 product per round in that dtype, on the same threads.",
            f"Headline ratios (names without a suffix) are in {headline}, what precision='auto' picks on this CPU.",
            f"torch.profiler on one step of ours: matrix products take {shares} of the time; the "
            "rest is memory-bound element-wise work (dropout, layer norm, GELU, softmax, attention "
            "masking, copies, the optimiser), which no matmul speed can shorten: this caps the fraction "
            "of the matmul peak a training step can reach.",
        ],
    )


if __name__ == "__main__":
    main()
