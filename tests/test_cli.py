"""The `textembed` command: every input format, the report, reloading, user errors, Ctrl-C and resume.

Runs ``main([...])`` in-process on a tiny random-init transformer (2 layers × 64)
for speed, plus a few real subprocesses of the installed console script for
exit codes and a real SIGINT.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from textembed_utils import cli
from textembed_utils.cli import main
from textembed_utils.evaluation import encode
from textembed_utils.models import load_encoder

TINY = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128)
FAST = ["--batch-size", "8", "--steps", "4", "--no-tsne", "--quiet", "--threads", "2"]
TEXTEMBED = Path(sys.executable).with_name("textembed")
WORDS = {
    "animals": "cat dog horse cow sheep goat wolf fox bear deer rabbit mouse owl eagle".split(),
    "machines": "engine motor gear piston turbine lever pump valve shaft bolt circuit sensor drill".split(),
}


def _text(rng: random.Random, label: str, sentences: int = 3) -> str:
    """A text of ``sentences`` sentences of 25 words (≈ 120–190 characters each: croppable)."""
    return ". ".join(" ".join(rng.choice(WORDS[label]) for _ in range(25)).capitalize()
                     for _ in range(sentences)) + "."


ROWS = [{"body": _text(random.Random(i), lab), "kind": lab}
        for i, lab in enumerate(["animals", "machines"] * 20)]


def write_corpus(folder: Path, fmt: str, rows: list[dict] = ROWS) -> Path:
    path = folder / f"corpus.{fmt}"
    frame = pd.DataFrame(rows)
    if fmt == "txt":
        path.write_text("\n".join(frame["body"]) + "\n", encoding="utf-8")
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    else:
        frame.to_parquet(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "tiny"
    load_encoder(init="random", config_overrides=TINY).save(folder)
    return folder


def finetune_args(corpus: Path, out: Path, model: Path, *extra: str, labels: bool = True) -> list[str]:
    columns = ["--text-column", "body"] + (["--label-column", "kind"] if labels else [])
    return ["finetune", str(corpus), "--out", str(out), "--model", str(model), *columns, *FAST, *extra]


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, tiny_model) -> tuple[Path, Path, dict]:
    """One full run with t-SNE on a csv with an empty row and an uncroppable text."""
    folder = tmp_path_factory.mktemp("run")
    rows = ROWS + [{"body": "  ", "kind": "animals"}, {"body": "Too short to crop.", "kind": "machines"}]
    corpus = write_corpus(folder, "csv", rows)
    out = folder / "out"
    args = [a for a in finetune_args(corpus, out, tiny_model) if a != "--no-tsne"]
    assert main(args) == 0
    return corpus, out, json.loads((out / "report.json").read_text())


# --- formats, report, outputs ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["txt", "csv", "jsonl", "parquet"])
def test_finetune_reads_each_format(tmp_path, tiny_model, fmt):
    corpus = write_corpus(tmp_path, fmt)
    out = tmp_path / "out"
    assert main(finetune_args(corpus, out, tiny_model, labels=fmt != "txt")) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["corpus"]["format"] == fmt and report["corpus"]["texts"] == 40
    assert np.load(out / "embeddings.npy").shape == (40, 64)
    if fmt == "txt":
        assert report["knn_accuracy_before"] is None and report["knn_accuracy_after"] is None
    else:
        for when in ("knn_accuracy_before", "knn_accuracy_after"):
            assert set(report[when]) == {"euclidean", "cosine"}
            assert all(0.0 <= v <= 1.0 for v in report[when].values())


def test_report_fields(finetuned):
    _, out, report = finetuned
    corpus = report["corpus"]
    assert (corpus["texts_read"], corpus["dropped_empty"], corpus["texts"]) == (42, 1, 41)
    assert (corpus["usable_for_training"], corpus["dropped_for_training"]) == (40, 1)
    assert "100–250 characters" in corpus["dropped_for_training_reason"]
    assert corpus["classes"] == {"animals": 20, "machines": 21}
    assert report["model"]["init"] == "pretrained" and report["model"]["kind"] == "transformer"
    training = report["training"]
    assert training["config"]["augmentation"] == "crops" and training["config"]["batch_size"] == 8
    assert training["total_steps"] == 4 and len(training["loss_curve"]) == 4
    assert training["processes"] == {"count": 1, "backend": None, "pairs_per_process": 8}
    assert all(np.isfinite(training["loss_curve"]))
    assert report["evaluation"]["k"] == 10 and report["evaluation"]["labelled_texts_used"] == 41
    assert set(report["knn_accuracy_after"]) == {"euclidean", "cosine"}
    assert {"load_model", "evaluate_before", "train", "embed_corpus", "evaluate_after", "save_outputs",
            "tsne", "total"} <= set(report["timings_seconds"])
    assert (out / "tsne.png").read_bytes()[:4] == b"\x89PNG"
    assert report["outputs"]["tsne"]["map"] == "map.html"
    page = (out / "map.html").read_text()
    assert "Bokeh" in page and "<script src=" not in page, "map.html carries its library: it opens with no network"
    assert "animals" in page, "coloured and hovered by label"
    assert not (out.parent / ".out.ckpt").exists()  # checkpoints are removed once the folder is published


def test_saved_model_reloads_to_the_written_embeddings(finetuned):
    from sentence_transformers import SentenceTransformer

    corpus, out, _ = finetuned
    texts = [t.strip() for t in pd.read_csv(corpus)["body"].dropna() if t.strip()]
    written = np.load(out / "embeddings.npy")
    st_vectors = SentenceTransformer(str(out), device="cpu").encode(texts, batch_size=16)
    ours = encode(load_encoder(str(out)), texts, progress=False)
    np.testing.assert_allclose(st_vectors, written, atol=1e-5)
    np.testing.assert_allclose(ours, written, atol=1e-5)


def test_embed_command_matches_finetune(finetuned, tmp_path, capsys):
    corpus, out, _ = finetuned
    target = tmp_path / "vectors.npy"
    assert main(["embed", str(out), str(corpus), "--text-column", "body", "--out", str(target), "--quiet"]) == 0
    np.testing.assert_allclose(np.load(target), np.load(out / "embeddings.npy"), atol=1e-5)
    assert "41 × 64" in capsys.readouterr().out


def test_evaluate_command_prints_and_writes_json(finetuned, tmp_path, capsys):
    corpus, out, report = finetuned
    base = ["evaluate", str(out), str(corpus), "--text-column", "body", "--label-column", "kind", "--quiet"]
    assert main(base) == 0
    assert "linear probe" in capsys.readouterr().out
    assert main([*base, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["knn_euclidean"] == pytest.approx(report["knn_accuracy_after"]["euclidean"])
    assert 0.0 <= printed["linear_probe"] <= 1.0 and printed["labelled_texts"] == 41
    assert main([*base, "--json", str(tmp_path / "scores.json")]) == 0
    assert json.loads((tmp_path / "scores.json").read_text()) == printed


def test_named_corpus_brings_its_own_labels(capsys):
    args = cli.build_parser().parse_args(["finetune", "wiki", "--out", "x", "--label-column", "topic"])
    corpus = cli.read_corpus(args)
    assert corpus.has_labels and len(corpus.class_counts()) == 11
    assert "named corpus" in capsys.readouterr().err


# --- errors: exit 2, problem and fix, nothing left behind -----------------------------------------


def _no_outputs(folder: Path) -> bool:
    names = {p.name for p in folder.iterdir()}
    return "out" not in names and not any(n.startswith(".out") for n in names)


SINGLE_CLASS = [{"body": r["body"], "kind": "animals"} for r in ROWS]
SHORT = [{"body": "A short line. Another one.", "kind": lab} for lab in ["a", "b"] * 10]

ERRORS = {
    "empty file": (lambda d: (d / "corpus.csv").write_bytes(b""), [], "is empty"),
    "no croppable texts": (lambda d: write_corpus(d, "csv", SHORT), [], "No text has two crops"),
    "not UTF-8": (lambda d: (d / "corpus.csv").write_bytes("body,kind\ncafé,a\n".encode("latin-1")), [],
                  "is not UTF-8"),
    "missing text column": (lambda d: write_corpus(d, "csv"), ["--text-column", "nope"], "no text column 'nope'"),
    "missing label column": (lambda d: write_corpus(d, "csv"), ["--label-column", "nope"], "no label column 'nope'"),
    "single class": (lambda d: write_corpus(d, "csv", SINGLE_CLASS), [], "one class"),
    "unknown model id": (lambda d: write_corpus(d, "csv"), ["--model", "no-such-org/no-such-model"],
                         "Could not load the model"),
    "folder that is not a model": (lambda d: (write_corpus(d, "csv"), (d / "empty").mkdir()),
                                   ["--model", "{dir}/empty"], "is not a model"),
    "unwritable out": (lambda d: (write_corpus(d, "csv"), (d / "afile").write_text("x")),
                       ["--out", "{dir}/afile/out"], "Cannot write into"),
    "out not empty": (lambda d: (write_corpus(d, "csv"), (d / "out").mkdir(), (d / "out" / "f").write_text("x")),
                      [], "already exists"),
    "negative lr": (lambda d: write_corpus(d, "csv"), ["--lr", "-0.001"], "lr=-0.001"),
    "temperature 0": (lambda d: write_corpus(d, "csv"), ["--temperature", "0"], "temperature=0.0"),
    "batch size 1": (lambda d: write_corpus(d, "csv"), ["--batch-size", "1"], "batch_size=1"),
    "batch larger than corpus": (lambda d: write_corpus(d, "csv"), ["--batch-size", "64"], "fewer than one batch"),
    "pooling that cannot be saved": (lambda d: write_corpus(d, "csv"), ["--pooling", "token3"], "--pooling token3"),
    "freeze more layers than exist": (lambda d: write_corpus(d, "csv"), ["--freeze-layers", "5"],
                                      "freeze_layers=5"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_user_errors_exit_2_with_problem_and_fix(tmp_path, tiny_model, capsys, case):
    prepare, extra, expected = ERRORS[case]
    prepare(tmp_path)
    args = finetune_args(tmp_path / "corpus.csv", tmp_path / "out", tiny_model)
    args += [a.format(dir=tmp_path) for a in extra]  # later options win in argparse
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and "How to fix:" in err
    if case == "out not empty":
        assert [p.name for p in (tmp_path / "out").iterdir()] == ["f"]  # left untouched
    else:
        assert _no_outputs(tmp_path)


# --- interruption and exact resume ----------------------------------------------------------------


def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, tiny_model, monkeypatch, capsys):
    import textembed_utils.training.trainer as trainer

    corpus = write_corpus(tmp_path, "csv")
    settings = ["--steps", "6", "--checkpoint-every", "2"]
    assert main(finetune_args(corpus, tmp_path / "reference", tiny_model, *settings)) == 0

    calls = {"n": 0}
    real_loss = trainer.info_nce

    def interrupt_at_step_4(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(trainer, "info_nce", interrupt_at_step_4)
    out = tmp_path / "out"
    assert main(finetune_args(corpus, out, tiny_model, *settings)) == 130
    err = capsys.readouterr().err
    assert "run the same command again to resume" in err and not out.exists()
    assert list((tmp_path / ".out.ckpt").glob("*/checkpoint.pt"))

    monkeypatch.setattr(trainer, "info_nce", real_loss)
    assert main(finetune_args(corpus, out, tiny_model, *settings)) == 0
    report = json.loads((out / "report.json").read_text())
    reference = json.loads((tmp_path / "reference" / "report.json").read_text())
    assert report["training"]["resumed_from_step"] == 2
    assert report["training"]["loss_curve"] == pytest.approx(reference["training"]["loss_curve"])
    np.testing.assert_allclose(np.load(out / "embeddings.npy"),
                               np.load(tmp_path / "reference" / "embeddings.npy"), atol=1e-6)
    assert not (tmp_path / ".out.ckpt").exists()


# --- the installed console script -----------------------------------------------------------------


def _env() -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "MPLBACKEND": "Agg"}


def test_console_script_error_exit_code_without_traceback(tmp_path, tiny_model):
    corpus = write_corpus(tmp_path, "csv")
    done = subprocess.run([str(TEXTEMBED), *finetune_args(corpus, tmp_path / "out", tiny_model),
                           "--temperature", "0"], capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 2
    assert "temperature" in done.stderr and "How to fix:" in done.stderr and "Traceback" not in done.stderr
    assert _no_outputs(tmp_path)


def test_console_script_ctrl_c_exits_130_and_keeps_the_checkpoint(tmp_path, tiny_model):
    corpus = write_corpus(tmp_path, "csv")
    args = finetune_args(corpus, tmp_path / "out", tiny_model, "--steps", "100000", "--checkpoint-every", "2")
    # A runner started in the background (e.g. `make test &`) hands its children SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler: restore the default for the child.
    proc = subprocess.Popen([str(TEXTEMBED), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 90
    while not list((tmp_path / ".out.ckpt").glob("*/checkpoint.pt")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)  # generous: CI machines may be loaded
    assert proc.returncode == 130
    assert "resume" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# --- every option: a flag, a choice, free text, or a number with its one range (issue 14) ---------

FREE_TEXT = {"corpus", "text_column", "label_column", "out", "model", "pooling", "device", "json", "help"}
REQUIRED = {"finetune": ["c.csv", "--out", "o"], "embed": ["m", "c.csv", "--out", "o.npy"], "evaluate": ["m", "c.csv"]}


def every_option():
    """(subcommand, argparse action) for every argument of every subcommand of ``textembed``."""
    import argparse

    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [(name, action) for name, sub in commands.choices.items() for action in sub._actions]


def test_every_option_is_a_flag_a_choice_free_text_or_a_ranged_number():
    assert set(REQUIRED) == {name for name, _ in every_option()}
    for command, action in every_option():
        kind = ("flag" if action.nargs == 0 else "choice" if action.choices else
                "ranged" if hasattr(action.type, "range") else "text" if action.dest in FREE_TEXT else None)
        assert kind, (f"textembed {command} {'/'.join(action.option_strings) or action.dest}: give it "
                      "type=ranged_type(<setting>) with a range in TrainConfig or ranges.OTHER_RANGES")


RANGED = [(command, action.option_strings[0], action.type, value) for command, action in every_option()
          if hasattr(action.type, "range") for value in action.type.range.outside(action.type.kind)]


@pytest.mark.parametrize(("command", "option", "parse", "value"), RANGED,
                         ids=[f"{c}{o}={v}" for c, o, _, v in RANGED])
def test_every_numeric_option_refuses_values_outside_its_range(command, option, parse, value, capsys):
    assert main([command, *REQUIRED[command], option, str(value)]) == 2
    err = capsys.readouterr().err
    assert f"{parse.setting}=" in err and "is out of range" in err and "How to fix:" in err
    assert "Traceback" not in err


def test_option_ranges_are_the_api_ranges():
    from textembed_utils.ranges import range_for

    for _, action in every_option():
        if hasattr(action.type, "range"):
            assert (action.type.kind, action.type.range) == range_for(action.type.setting)
            default = action.default
            assert default is None or default in action.type.range, action.option_strings


# --- degenerate labels: reported as not measurable, never scored (issue 14) ------------------------

RARE = ROWS + [{"body": ROWS[0]["body"], "kind": "rare"}]
IDS = [{"body": r["body"], "kind": f"id{i}"} for i, r in enumerate(ROWS)]


@pytest.mark.parametrize(("rows", "expected"), [(RARE, "'rare' (1)"), (IDS, "has its own label"),
                                                (SINGLE_CLASS, "one class")], ids=["rare class", "ids", "one class"])
def test_evaluate_refuses_labels_accuracy_cannot_measure(tmp_path, tiny_model, capsys, rows, expected):
    corpus = write_corpus(tmp_path, "csv", rows)
    args = ["evaluate", str(tiny_model), str(corpus), "--text-column", "body", "--label-column", "kind", "--quiet"]
    assert main([*args, "--json"]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and "How to fix:" in captured.err and captured.out == ""


def test_evaluate_drops_rare_classes_when_asked(tmp_path, tiny_model, capsys):
    corpus = write_corpus(tmp_path, "csv", RARE)
    args = ["evaluate", str(tiny_model), str(corpus), "--text-column", "body", "--label-column", "kind", "--quiet"]
    assert main([*args, "--drop-rare-classes", "--json"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["dropped_classes"] == {"rare": 1} and record["labelled_texts"] == 40
    assert "left out 1 class(es)" in captured.err


def test_finetune_refuses_labels_it_cannot_measure_and_publishes_nothing(tmp_path, tiny_model, capsys):
    corpus = write_corpus(tmp_path, "csv", IDS)
    assert main(finetune_args(corpus, tmp_path / "out", tiny_model)) == 2
    err = capsys.readouterr().err
    assert "has its own label" in err and "--no-eval" in err and _no_outputs(tmp_path)


def test_finetune_no_eval_trains_without_scoring(tmp_path, tiny_model):
    corpus = write_corpus(tmp_path, "csv", IDS)
    assert main(finetune_args(corpus, tmp_path / "out", tiny_model, "--no-eval")) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["knn_accuracy_before"] is None and report["knn_accuracy_after"] is None
    assert report["evaluation"]["labelled_texts_used"] == 0


def test_finetune_drop_rare_classes_scores_the_others(tmp_path, tiny_model, capsys):
    corpus = write_corpus(tmp_path, "csv", RARE)
    assert main(finetune_args(corpus, tmp_path / "out", tiny_model, "--drop-rare-classes")) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["evaluation"]["labelled_texts_used"] == 40 and report["knn_accuracy_after"] is not None
    assert "rare (1)" in capsys.readouterr().err


def test_tsne_of_a_large_corpus_maps_a_sample_and_says_so(tmp_path, tiny_model, monkeypatch):
    from functools import partial

    from textembed_utils import finetune as pipeline
    from textembed_utils.evaluation.tsne import tsne_sample

    monkeypatch.setattr(pipeline, "tsne_sample", partial(tsne_sample, max_points=25))
    corpus = write_corpus(tmp_path, "csv")
    args = [a for a in finetune_args(corpus, tmp_path / "out", tiny_model) if a != "--no-tsne"]
    assert main(args) == 0
    tsne = json.loads((tmp_path / "out" / "report.json").read_text())["outputs"]["tsne"]
    assert tsne["file"] == "tsne.png" and "random sample of 25 of the 40 texts" in tsne["sample"]
    page = (tmp_path / "out" / "map.html").read_text()
    assert "random sample of 25 of the 40 texts" in page, "map.html shows the same sample and says so"
