"""The ``textembed`` command: fine-tune, embed and evaluate on your own corpus.

    textembed finetune CORPUS --out DIR [--label-column L] [--augmentation crops] ...
    textembed embed MODEL CORPUS --out FILE.npy
    textembed evaluate MODEL CORPUS --label-column L [--json [FILE]]

CORPUS is a .txt (one text per line), .csv, .jsonl or .parquet file, or the
name of a corpus the package knows (``wiki`` is the embedded Wikipedia corpus;
named corpora bring their own labels). Every problem the user can fix is
reported as "problem + how to fix" on stderr with exit code 2; Ctrl-C exits
with 130 and says how to resume. Before any work each command checks the
device and every path it writes: none may touch the corpus or the model folder
(``output_paths``); the options the commands share are defined once here.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import TextembedError
from .ranges import DEVICES, device_type, ranged_type
from .training.config import DEFAULT_CHECKPOINT_EVERY
from .training.precision import PRECISIONS

DEFAULT_EVAL_SIZE = 2000


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- options shared by the commands --------------------------------------------------------------

# Each is defined once here, for every command that takes it; a command may give it another default.
# Every numeric option parses and range-checks through ``ranged_type``: its range is written once
# (TrainConfig's field metadata or ranges.OTHER_RANGES), so the CLI, the API and the notebooks agree;
# --device through ``device_type``, as TrainConfig and the notebooks check it (ranges.is_device).
# --max-length depends on the model too: the loaded encoder refuses a length beyond its positions.
SHARED_OPTIONS: dict[str, dict] = {
    "--device": dict(type=device_type, default="auto", help=DEVICES),
    "--precision": dict(choices=PRECISIONS, default="auto",
                        help="auto: bf16 autocast on CUDA and on CPUs with native bf16, else fp32"),
    "--threads": dict(type=ranged_type("threads"), default=None, help="CPU threads for torch"),
    "--max-length": dict(type=ranged_type("max_length"), default=128,
                         help="tokens per text, at most the model's positions (512 for MiniLM)"),
    "--encode-batch-size": dict(type=ranged_type("encode_batch_size"), default=64,
                                help="texts per batch when embedding"),
    "--eval-size": dict(type=ranged_type("eval_size", {"all": None}), default=DEFAULT_EVAL_SIZE,
                        help="labelled texts the accuracy is measured on, or 'all'"),
    "--quiet": dict(action="store_true", help="no progress bars"),
}


def _shared(parser: argparse.ArgumentParser, option: str, **change: object) -> None:
    """Add the shared ``option`` to ``parser``; ``change`` may give it another ``default`` and ``shown`` default."""
    spec = {**SHARED_OPTIONS[option], **change}
    shown = spec.pop("shown", spec["default"] if spec.get("action") != "store_true" else None)
    if shown is not None:
        spec["help"] = f"{spec['help']} (default: {shown})"
    parser.add_argument(option, **spec)


def _run_options(parser: argparse.ArgumentParser) -> None:
    """The options every command takes: where and how fast to run, and what to show."""
    for option in ("--device", "--threads", "--encode-batch-size", "--quiet"):
        _shared(parser, option)


def _inference_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that only encode: the model's own length, fp32 unless asked."""
    _shared(parser, "--max-length", default=None, shown="the model folder's, else 128")
    _shared(parser, "--precision", default="fp32", shown="fp32, as sentence-transformers")


# --- the parser ----------------------------------------------------------------------------------


def _corpus_options(parser: argparse.ArgumentParser, label_required: bool = False) -> None:
    parser.add_argument("corpus", metavar="CORPUS",
                        help="a .txt/.csv/.jsonl/.parquet file, or a named corpus such as 'wiki'")
    parser.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    parser.add_argument("--label-column", default=None, required=label_required,
                        help="column holding class labels (files only; named corpora bring their own)")


def build_parser() -> argparse.ArgumentParser:
    from .augment import AUGMENTATIONS
    from .augment.cropping import SPLITTERS
    from .models import EMBEDDED_MODEL
    from .models.loading import INITS

    parser = argparse.ArgumentParser(
        prog="textembed",
        description="Self-supervised contrastive fine-tuning of text embeddings on your own corpus "
                    "(crops, as in González-Márquez, Berens & Kobak, TMLR 2025).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ft = commands.add_parser(
        "finetune", help="fine-tune a model on a corpus; write model, report, embeddings, t-SNE map",
        description="Fine-tune MODEL on CORPUS with InfoNCE and write into DIR: the model (a "
                    "SentenceTransformer folder), report.json, embeddings.npy, tsne.png and map.html. "
                    "Defaults are the paper's (crops of 2 sentences, batch 64, lr 2e-5, temperature 0.05).",
    )
    _corpus_options(ft)
    ft.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (must not exist or be empty)")
    ft.add_argument("--model", default=EMBEDDED_MODEL,
                    help=f"'{EMBEDDED_MODEL}' (embedded, default), 'bare' (random token embeddings), "
                         "a local model folder, or a hub id")
    ft.add_argument("--init", choices=INITS, default="pretrained",
                    help="start from the model's weights, from a random init of its architecture, or "
                         "(--model bare) from a model2vec distillation of all-MiniLM-L6-v2 (cached after the first run)")
    ft.add_argument("--pooling", default=None, help="mean (default), cls, sep")
    ft.add_argument("--augmentation", choices=AUGMENTATIONS, default="crops")
    ft.add_argument("--n-sentences", type=ranged_type("n_sentences"), default=2, help="sentences per crop (paper: 2)")
    ft.add_argument("--splitter", choices=SPLITTERS, default="naive",
                    help="sentence splitting: the paper's split on '.' (naive) or a regex")
    ft.add_argument("--mask-fraction", type=ranged_type("mask_fraction"), default=0.15,
                    help="fraction of tokens masked (masking)")
    ft.add_argument("--batch-size", type=ranged_type("batch_size"), default=64, help="pairs per batch (paper: 64)")
    ft.add_argument("--mini-batch-size", type=ranged_type("mini_batch_size"), default=None,
                    help="pairs per cached forward pass (GradCache): a batch larger than memory allows")
    length = ft.add_mutually_exclusive_group()
    length.add_argument("--steps", type=ranged_type("steps"), default=None, help="training batches")
    length.add_argument("--epochs", type=ranged_type("epochs"), default=None,
                        help="passes over the usable texts (default: 1)")
    ft.add_argument("--lr", type=ranged_type("lr"), default=2e-5, help="Adam learning rate (paper: 2e-5)")
    ft.add_argument("--warmup-fraction", type=ranged_type("warmup_fraction"), default=0.1,
                    help="linear warm-up, fraction of one epoch")
    ft.add_argument("--temperature", type=ranged_type("temperature"), default=0.05,
                    help="InfoNCE temperature (paper: 0.05)")
    ft.add_argument("--symmetric", action="store_true", help="symmetric InfoNCE (both directions)")
    _shared(ft, "--max-length")
    ft.add_argument("--freeze-layers", type=ranged_type("freeze_layers"), default=None,
                    help="freeze the embeddings and the first K transformer layers")
    ft.add_argument("--seed", type=ranged_type("seed"), default=42, help="random seed (default: 42)")
    _shared(ft, "--precision")
    _shared(ft, "--eval-size")
    ft.add_argument("--drop-rare-classes", action="store_true",
                    help="leave out classes too small for the split and k neighbours instead of refusing")
    ft.add_argument("--no-eval", dest="evaluate", action="store_false",
                    help="train without measuring kNN accuracy (e.g. labels it cannot measure)")
    ft.add_argument("--checkpoint-every", type=ranged_type("checkpoint_every"), default=DEFAULT_CHECKPOINT_EVERY,
                    help=f"steps between checkpoints; a rerun resumes (default: {DEFAULT_CHECKPOINT_EVERY})")
    ft.add_argument("--no-tsne", dest="tsne", action="store_false", help="skip the t-SNE maps (tsne.png and map.html)")
    ft.add_argument("--overwrite", action="store_true", help="replace an existing non-empty DIR")
    _run_options(ft)
    ft.set_defaults(handler=run_finetune)

    em = commands.add_parser("embed", help="embed a corpus with a model into a .npy file",
                             description="Embed every text of CORPUS with MODEL; one row per text.")
    em.add_argument("model", metavar="MODEL", help="a model folder (e.g. from finetune), the embedded name, or a hub id")
    _corpus_options(em)
    em.add_argument("--out", required=True, type=Path, metavar="FILE.npy", help="output .npy file")
    _inference_options(em)
    em.add_argument("--normalize", action="store_true", help="L2-normalise the vectors")
    _run_options(em)
    em.set_defaults(handler=run_embed)

    ev = commands.add_parser("evaluate", help="kNN and linear-probe accuracy of a model on a labelled corpus",
                             description="kNN accuracy (k=10, Euclidean and cosine) and linear-probe accuracy "
                                         "on a stratified 90/10 split with seed 42, as in the book's chapters.")
    ev.add_argument("model", metavar="MODEL", help="a model folder, the embedded name, or a hub id")
    _corpus_options(ev)
    _inference_options(ev)
    _shared(ev, "--eval-size")
    ev.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                    help="print the scores as JSON (or write them to FILE)")
    ev.add_argument("--drop-rare-classes", action="store_true",
                    help="leave out classes too small for the split and k neighbours instead of refusing")
    _run_options(ev)
    ev.set_defaults(handler=run_evaluate)
    return parser


# --- shared steps ------------------------------------------------------------------------------


def read_corpus(args: argparse.Namespace):
    """The corpus named by ``args.corpus``; column options apply to files only."""
    from .corpora import LOADERS, load_corpus

    if args.corpus in LOADERS:
        if args.label_column is not None or args.text_column != "text":
            _echo(f"Note: '{args.corpus}' is a named corpus with its own texts and labels; "
                  "--text-column and --label-column apply to files only and are ignored.")
        return load_corpus(args.corpus)
    return load_corpus(args.corpus, text_column=args.text_column, label_column=args.label_column)


def _inputs(args: argparse.Namespace) -> dict[str, Path]:
    """The corpus file and the model folder the command reads, where they are local: no output may touch them."""
    from .corpora import LOADERS
    from .output_paths import command_inputs

    return command_inputs(None if args.corpus in LOADERS else args.corpus, args.model)


def _before_work(args: argparse.Namespace) -> dict[str, Path]:
    """The checks every command runs before reading or loading anything: the device; return the inputs.

    Finding the inputs also checks a local model folder's files (``check_model_folder``).
    """
    from .training import resolve_device

    resolve_device(args.device)  # cuda without a visible GPU is refused here, not after the corpus is read
    return _inputs(args)


def _apply_threads(args: argparse.Namespace) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def _model_max_length(model: str, requested: int | None) -> int:
    """``requested``, else the max_seq_length saved in a SentenceTransformer folder, else 128."""
    if requested is not None:
        return requested
    from .models.loading import resolve_model_source

    config = Path(resolve_model_source(model)) / "sentence_bert_config.json"
    saved = json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None
    if saved is not None and (not isinstance(saved, int) or isinstance(saved, bool) or saved < 1):
        from .models.folder_check import damaged_file

        raise damaged_file(config, f"its max_seq_length is {saved!r}, not a positive whole number")
    return saved or 128


def _load_for_inference(args: argparse.Namespace):
    from .models import load_encoder
    from .training import resolve_device
    from .training.distributed import rank_device, world

    encoder = load_encoder(args.model, max_length=_model_max_length(args.model, args.max_length))
    return encoder.to(rank_device(resolve_device(args.device), world()))


# --- commands ----------------------------------------------------------------------------------


def run_finetune(args: argparse.Namespace) -> int:
    from .finetune import FinetuneRequest, check_outputs, finetune
    from .report import finetune_summary
    from .training import TrainConfig
    from .training.distributed import join_process_group

    config = TrainConfig(
        augmentation=args.augmentation, n_sentences=args.n_sentences, splitter=args.splitter,
        mask_fraction=args.mask_fraction, batch_size=args.batch_size, mini_batch_size=args.mini_batch_size, lr=args.lr,
        temperature=args.temperature, symmetric=args.symmetric,
        epochs=args.epochs if args.epochs is not None else 1.0, steps=args.steps,
        warmup_fraction=args.warmup_fraction, max_length=args.max_length,
        freeze_layers=args.freeze_layers, seed=args.seed, device=args.device, precision=args.precision,
        checkpoint_every=args.checkpoint_every,
    )
    check_outputs(args.out, args.overwrite, _before_work(args))
    began = time.perf_counter()
    corpus = read_corpus(args)
    request = FinetuneRequest(
        corpus=corpus, out=args.out, config=config, model=args.model, init=args.init, pooling=args.pooling,
        eval_size=args.eval_size, drop_rare_classes=args.drop_rare_classes, evaluate=args.evaluate,
        encode_batch_size=args.encode_batch_size, tsne=args.tsne,
        overwrite=args.overwrite, progress=not args.quiet, command=args.invocation,
        read_seconds=time.perf_counter() - began,
    )
    main_rank = join_process_group().is_main  # under torchrun rank 0 speaks and publishes; the others train
    report = finetune(request, echo=_echo if main_rank else lambda message: None)
    if main_rank:
        print(finetune_summary(report, args.out))
    return 0


def run_embed(args: argparse.Namespace) -> int:
    """Embed the corpus slice by slice straight into the .npy file: memory stays bounded whatever its size."""
    from .evaluation.encode_file import encode_to_npy
    from .output_paths import check_output_file
    from .training.distributed import join_process_group

    if args.out.suffix != ".npy":
        raise TextembedError(f"--out {args.out} does not end in .npy.", "name the output file FILE.npy.")
    check_output_file(args.out, "--out", _before_work(args))
    corpus = read_corpus(args)
    here = join_process_group()  # under torchrun each rank encodes its share; rank 0 writes the file
    encoder = _load_for_inference(args)
    rows, dims = encode_to_npy(encoder, corpus.texts, args.out, batch_size=args.encode_batch_size,
                               normalize=args.normalize, progress=not args.quiet, distributed=True,
                               precision=args.precision)
    if here.is_main:
        print(f"Wrote {args.out}: {rows:,} × {dims} embeddings of '{corpus.name}' by {args.model}.")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from .atomic import write_json
    from .evaluation.encode_file import encode_in_slices
    from .evaluation.labels import check_measurable
    from .evaluation.scoring import eval_sample, score
    from .finetune import EVAL
    from .output_paths import check_output_file
    from .report import scores_summary

    inputs = _before_work(args)
    if args.json not in (None, "-"):
        check_output_file(Path(args.json), "--json", inputs)
    corpus = read_corpus(args)
    if not corpus.has_labels:
        corpus.labelled()  # raises the "no labels" error, with its fix
    idx = eval_sample(corpus.labels, args.eval_size, EVAL.seed)
    measurable = check_measurable([corpus.labels[i] for i in idx], EVAL.k, EVAL.test_size,
                                  drop_rare=args.drop_rare_classes)
    measurable.raise_if_not_measurable()
    if measurable.dropped:
        _echo(f"Note: left out {len(measurable.dropped)} class(es) too small to measure "
              f"(--drop-rare-classes): {', '.join(f'{c} ({n})' for c, n in measurable.dropped.items())}.")
    idx = idx[measurable.keep]
    labels = [corpus.labels[i] for i in idx]
    encoder = _load_for_inference(args)
    vectors = encode_in_slices(encoder, [corpus.texts[i] for i in idx], batch_size=args.encode_batch_size,
                               progress=not args.quiet, precision=args.precision)
    scores = score(vectors, labels, EVAL)
    if args.json is None:
        print(scores_summary(scores, args.model, corpus.name, len(idx)))
        return 0
    record = {"model": args.model, "corpus": corpus.name, "labelled_texts": len(idx),
              "dropped_classes": measurable.dropped, **EVAL.as_dict(),
              "test_texts": scores.n_test, **scores.values(),
              "interval_95": {metric: [acc.low, acc.high] for metric, acc in scores.accuracies.items()}}
    if args.json == "-":
        print(json.dumps(record, indent=2))
    else:
        write_json(args.json, record)
        print(scores_summary(scores, args.model, corpus.name, len(idx)))
    return 0


# --- entry point -------------------------------------------------------------------------------


def _interrupt_message(args: argparse.Namespace) -> str:
    """What was kept and how to go on after Ctrl-C."""
    if args.command != "finetune":
        return "Interrupted; nothing was written."
    from .finetune import checkpoint_root

    checkpoints = checkpoint_root(args.out)
    go_on = (f"the last checkpoint is kept in {checkpoints}; run the same command again to resume from it"
             if any(checkpoints.glob("*/checkpoint.pt")) else
             f"no checkpoint yet (one is written every {args.checkpoint_every} steps); "
             "run the same command again to start over")
    return f"Interrupted; nothing was written to {args.out}; {go_on}."


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``textembed`` with ``argv`` (default: the process arguments); return the exit code."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # argparse: --help (0) or a bad option (2), already explained on stderr
        return int(done.code or 0)
    args.invocation = shlex.join(["textembed", *argv])
    try:
        _apply_threads(args)
        return args.handler(args)
    except TextembedError as err:
        print(f"textembed {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ntextembed {args.command}: {_interrupt_message(args)}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
