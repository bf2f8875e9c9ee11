"""The paper's training runs on this CPU, estimated from a measured per-token cost.

A BERT-base-size encoder (the MiniLM config widened to hidden 768, 12 layers, 12
heads, 3072 intermediate: ~85M non-embedding parameters, MPNet-base's size;
random init, as timing does not depend on the weights) trains a few steps of ours
on two-sentence crops of the wiki corpus. Seconds per real token × the tokens of
an epoch gives:

- one ICLR epoch: 24,347 abstracts (mean 1,248 characters), one pair of
  two-sentence crops each, batch 64;
- one epoch of the arXiv corpus: 733k abstracts, batch 32 (the paper's setting);
- the paper's 100 batches of 64 (one minute on an RTX A6000 in the paper).

Tokens per crop are measured on the wiki two-sentence crops (ICLR and arXiv
abstracts are not available offline), assuming every abstract gives one pair.

    .venv/bin/python benchmarks/bench_paper_estimate.py
    .venv/bin/python benchmarks/bench_paper_estimate.py --steps 5 --batch 32
"""

from __future__ import annotations

from harness import fix_threads, parse_args, report
from training_setup import (
    first_pairs, gflops, non_embedding_params, paper_run_estimates, real_tokens, train_config, wiki_texts,
)

from textembed_utils.models import load_encoder
from textembed_utils.training import train
from textembed_utils.training.precision import PRECISIONS

BERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
N_SENTENCES, MAX_LENGTH = 2, 128


def main() -> None:
    def options(parser):
        parser.add_argument("--steps", type=int, default=3, help="timed training steps")
        parser.add_argument("--batch", type=int, default=16, help="pairs per measured step")
        parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                            help="training arithmetic (auto: bf16 where the CPU has it natively, as train() picks)")

    args = parse_args(__doc__.splitlines()[0], options)
    limits = fix_threads(args.threads)  # noqa: F841 (kept alive for the whole run)
    texts = wiki_texts()
    encoder = load_encoder(init="random", config_overrides=BERT_BASE, max_length=MAX_LENGTH)
    train(encoder, texts, train_config(N_SENTENCES, args.batch, 1, MAX_LENGTH, args.precision),
          progress=False)  # warm-up
    result = train(encoder, texts, train_config(N_SENTENCES, args.batch, args.steps, MAX_LENGTH, args.precision),
                   progress=False)
    pairs = first_pairs(texts, N_SENTENCES, args.batch, args.steps)
    tokens = real_tokens(encoder, pairs, MAX_LENGTH)
    seconds_per_token = result.train_seconds / tokens
    tokens_per_crop = tokens / (2 * len(pairs))
    params = non_embedding_params(encoder)
    estimates = paper_run_estimates(seconds_per_token, tokens_per_crop)
    for name, estimate in estimates.items():
        print(f"{name}: {estimate['steps']:,} steps, {estimate['tokens'] / 1e6:.1f}M tokens, "
              f"≈ {estimate['hours']:.1f} h on this CPU")
    report(
        "bench_paper_estimate", "paper-scale training time on this CPU, from the measured per-token cost", args,
        comparisons=[],
        figures={"measured_seconds": result.train_seconds, "measured_steps": args.steps,
                 "measured_pairs": len(pairs), "measured_tokens": tokens,
                 "seconds_per_1k_tokens": 1000 * seconds_per_token, "tokens_per_crop": tokens_per_crop,
                 "non_embedding_params": params, "achieved_gflops": gflops(params, tokens, result.train_seconds),
                 "estimates": estimates},
        settings={"model": "MiniLM config at BERT-base size, random init", "config_overrides": BERT_BASE,
                  "n_sentences": N_SENTENCES, "max_length": MAX_LENGTH, "measured_batch_size": args.batch,
                  "threads": args.threads, "precision": result.precision},
        notes=[
            "Per-token cost is measured at a smaller batch than the paper's; the cost per token barely "
            "depends on the batch on a CPU (the matrix products are large either way).",
            "Tokens per two-sentence crop are those of the wiki corpus; the estimate assumes one pair "
            "per abstract and a per-token cost that does not change with crop length (attention's "
            "share grows slightly with longer crops).",
        ],
    )


if __name__ == "__main__":
    main()
