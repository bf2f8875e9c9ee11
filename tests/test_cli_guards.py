"""Every command guards its inputs and outputs (issue 25): nothing overwritten, nothing half-done.

Each bad input is made in the test itself: ``--json`` or ``--out`` pointing at the
corpus or into the model folder, a truncated copy of a tiny saved model, a JSON
Lines file with U+2028 inside a string, a CSV header that names ``text`` twice.
Every refusal is checked the same way (``refused``): exit code 2, a problem and
its fix, no traceback, the command's inputs byte-for-byte unchanged, and, for the
checks that must come before any work, the corpus never read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_CONFIG, make_toy_corpus

from textembed_utils import cli
from textembed_utils.cli import main
from textembed_utils.corpora.user_file import load_user_file
from textembed_utils.errors import TextembedError
from textembed_utils.models import load_encoder

COMMANDS = ("finetune", "embed", "evaluate")
FAST = ["--batch-size", "8", "--steps", "2", "--no-tsne"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A tiny random-init transformer saved as a SentenceTransformer folder (512 positions)."""
    folder = tmp_path_factory.mktemp("models") / "tiny"
    load_encoder(init="random", config_overrides=TINY_CONFIG, max_length=48, seed=0).save(folder)
    return folder


@pytest.fixture
def model(saved, tmp_path) -> Path:
    """This test's own copy of the tiny model, free to damage."""
    return Path(shutil.copytree(saved, tmp_path / "model"))


@pytest.fixture
def corpus(tmp_path) -> Path:
    """48 labelled texts of two topics, as a CSV with columns text and label."""
    toy = make_toy_corpus()
    path = tmp_path / "corpus.csv"
    pd.DataFrame({"text": toy.texts, "label": toy.labels}).to_csv(path, index=False)
    return path


def command(name: str, model: Path, corpus: Path, *extra: str) -> list[str]:
    """``textembed NAME`` on ``corpus`` with ``model``, writing beside the model; ``extra`` options win."""
    out = model.parent
    args = {"finetune": ["finetune", str(corpus), "--out", str(out / "run"), "--model", str(model),
                         "--label-column", "label", *FAST],
            "embed": ["embed", str(model), str(corpus), "--out", str(out / "vectors.npy")],
            "evaluate": ["evaluate", str(model), str(corpus), "--label-column", "label"]}[name]
    return [*args, "--quiet", *extra]


def snapshot(*paths: Path) -> dict[Path, bytes]:
    """The bytes of every file at or under ``paths``."""
    files = [p for path in paths for p in ([path] if path.is_file() else sorted(path.rglob("*"))) if p.is_file()]
    return {p: p.read_bytes() for p in files}


def refused(args: list[str], expected: str, inputs: tuple[Path, ...], capsys, before_work: bool = False,
            monkeypatch=None) -> str:
    """Run ``args``; check exit 2, ``expected`` with a fix, no traceback, ``inputs`` unchanged; return stderr.

    ``before_work``: the refusal must come before the corpus is read (``read_corpus`` would fail the test).
    """
    if before_work:
        monkeypatch.setattr(cli, "read_corpus", lambda args: pytest.fail("the corpus was read before the check"))
    kept = snapshot(*inputs)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and "How to fix:" in err and "Traceback" not in err, err
    assert snapshot(*inputs) == kept
    return err


# --- one output-path check for every command and every file it writes ------------------------------


def test_evaluate_json_onto_the_corpus_is_refused_before_work(model, corpus, capsys, monkeypatch):
    args = command("evaluate", model, corpus, "--json", str(corpus))
    refused(args, "is the corpus", (corpus, model), capsys, before_work=True, monkeypatch=monkeypatch)


@pytest.mark.parametrize("link", ["symlink", "hard link", "relative"])
def test_the_corpus_under_another_name_is_still_the_corpus(model, corpus, capsys, monkeypatch, link):
    other = corpus.parent / "scores.json"
    if link == "symlink":
        other.symlink_to(corpus)
    elif link == "hard link":
        os.link(corpus, other)
    else:
        monkeypatch.chdir(corpus.parent / "..")
        other = Path(corpus.parent.name) / "." / corpus.name
    args = command("evaluate", model, corpus, "--json", str(other))
    refused(args, "is the corpus", (corpus, model), capsys, before_work=True, monkeypatch=monkeypatch)


@pytest.mark.parametrize("name", COMMANDS)
def test_no_command_writes_into_the_model_folder(model, corpus, capsys, monkeypatch, name):
    option, target = {"finetune": ("--out", model / "run"), "embed": ("--out", model / "vectors.npy"),
                      "evaluate": ("--json", model / "config.json")}[name]
    args = command(name, model, corpus, option, str(target))
    refused(args, "is inside the model folder", (corpus, model), capsys, before_work=True, monkeypatch=monkeypatch)


@pytest.mark.parametrize(("out", "expected"), [("model", "is the model folder"), (".", "holds the corpus")])
def test_finetune_overwrite_never_replaces_a_folder_holding_an_input(model, corpus, capsys, monkeypatch, out,
                                                                     expected):
    args = command("finetune", model, corpus, "--out", str(corpus.parent / out), "--overwrite")
    refused(args, expected, (corpus, model), capsys, before_work=True, monkeypatch=monkeypatch)


@pytest.mark.parametrize(("name", "option", "target"), [("evaluate", "--json", "scores_out"),
                                                        ("embed", "--out", "vectors.npy")])
def test_an_existing_folder_where_a_file_is_written_is_refused_before_work(model, corpus, capsys, monkeypatch,
                                                                         name, option, target):
    (corpus.parent / target).mkdir()
    args = command(name, model, corpus, option, str(corpus.parent / target))
    refused(args, f"{option} {corpus.parent / target} is a folder", (corpus, model), capsys, before_work=True,
            monkeypatch=monkeypatch)


def test_a_file_where_finetune_keeps_its_checkpoints_is_refused_before_work(model, corpus, capsys, monkeypatch):
    (corpus.parent / ".run.ckpt").write_text("not a folder")
    refused(command("finetune", model, corpus), "checkpoint folder", (corpus, model, corpus.parent / ".run.ckpt"),
            capsys, before_work=True, monkeypatch=monkeypatch)


@pytest.mark.parametrize("name", COMMANDS)
def test_an_output_below_a_file_names_the_file(model, corpus, capsys, monkeypatch, name):
    blocker = corpus.parent / "notes.txt"
    blocker.write_text("a file, not a folder")
    option, target = {"finetune": ("--out", "run"), "embed": ("--out", "v.npy"), "evaluate": ("--json", "s.json")}[name]
    err = refused(command(name, model, corpus, option, str(blocker / target)), "is a file, not a folder",
                  (corpus, model, blocker), capsys, before_work=True, monkeypatch=monkeypatch)
    assert f"{blocker} is a file" in err


# --- one set of shared options, checked once for every command ------------------------------------


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_device_is_refused_by_every_command(model, corpus, capsys, name):
    refused(command(name, model, corpus, "--device", "gpu"), "'gpu' is not a device", (corpus, model), capsys)


def test_the_device_is_checked_alike_by_the_api_and_the_notebooks():
    from textembed_utils.chapters.common import PROFILE_WIDE
    from textembed_utils.params import validate_parameters
    from textembed_utils.ranges import is_device
    from textembed_utils.training import TrainConfig

    assert all(map(is_device, ["auto", "cpu", "cuda", "cuda:1", "mps"]))
    assert not any(map(is_device, ["gpu", "cuda:", "cuda:x", "CPU", 0]))
    with pytest.raises(TextembedError, match="cuda:N"):
        TrainConfig(device="gpu")
    with pytest.raises(TextembedError, match="device='gpu'"):
        validate_parameters({"seed": None, "device": "gpu", "precision": None}, PROFILE_WIDE)


def test_each_shared_option_is_one_definition_in_every_command():
    import argparse

    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for option, spec in cli.SHARED_OPTIONS.items():
        actions = [a for sub in commands.choices.values() for a in sub._actions if option in a.option_strings]
        assert actions, option
        assert all(a.type is spec.get("type") and a.choices == spec.get("choices") for a in actions), option


@pytest.mark.parametrize("name", COMMANDS)
def test_a_max_length_beyond_the_models_positions_is_refused_naming_the_limit(model, corpus, capsys, name):
    refused(command(name, model, corpus, "--max-length", "1024"), "beyond the 512 token positions",
            (corpus, model), capsys)


def test_texts_longer_than_the_models_positions_embed_at_its_limit(model, tmp_path):
    long = tmp_path / "long.txt"
    long.write_text("\n".join(" ".join(["cat dog horse"] * 350) for _ in range(3)) + "\n", encoding="utf-8")
    out = tmp_path / "long.npy"
    assert main(["embed", str(model), str(long), "--out", str(out), "--max-length", "512", "--quiet"]) == 0
    assert np.load(out).shape == (3, 64)


# --- model loading: every failure inside a folder names the file -----------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "truncated weights": (lambda m: _truncate(m / "model.safetensors"), "model.safetensors"),
    "truncated weights header": (lambda m: (m / "model.safetensors").write_bytes(b"\x10"), "model.safetensors"),
    "config that does not parse": (lambda m: (m / "config.json").write_text('{"hidden_size": 64,'), "config.json"),
    "config of another kind": (lambda m: (m / "config.json").write_text("[1, 2]"), "config.json"),
    "config that does not fit the weights": (
        lambda m: (m / "config.json").write_text(json.dumps(
            {**json.loads((m / "config.json").read_text()), "hidden_size": 32, "intermediate_size": 64})),
        "model.safetensors"),
    "missing tokenizer": (lambda m: [(m / n).unlink(missing_ok=True) for n in ("tokenizer.json", "vocab.txt")],
                          "no tokenizer"),
    "truncated tokenizer": (lambda m: _truncate(m / "tokenizer.json"), "tokenizer.json"),
    "pooling config that does not parse": (lambda m: (m / "1_Pooling" / "config.json").write_text("{"),
                                           "1_Pooling/config.json"),
    "bad saved max length": (lambda m: (m / "sentence_bert_config.json").write_text('{"max_seq_length": "long"}'),
                             "sentence_bert_config.json"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_model_folder_is_refused_naming_the_file(model, corpus, capsys, damage):
    spoil, named = DAMAGE[damage]
    spoil(model)
    err = refused(command("embed", model, corpus), named, (corpus, model), capsys)
    assert "Traceback" not in err


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_refuses_a_truncated_model_before_reading_the_corpus(model, corpus, capsys, monkeypatch,
                                                                          name):
    _truncate(model / "model.safetensors")
    err = refused(command(name, model, corpus), "cannot be read", (corpus, model), capsys, before_work=True,
                  monkeypatch=monkeypatch)
    assert str(model / "model.safetensors") in err and "incomplete metadata" in err


# --- readers that follow each format's own rules ---------------------------------------------------


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_jsonl_strings_may_hold_unicode_line_separators(tmp_path, separator):
    path = tmp_path / "web.jsonl"
    texts = [f"first part{separator}second part", "plain text"]
    lines = [json.dumps({"text": text, "label": "a"}, ensure_ascii=False) for text in texts]
    path.write_text("\n".join(lines) + "\r\n", encoding="utf-8")
    assert separator in path.read_text(encoding="utf-8")
    assert load_user_file(path, label_column="label").texts == texts


@pytest.mark.parametrize("name", COMMANDS)
def test_a_csv_header_naming_a_column_twice_is_refused(model, tmp_path, capsys, name):
    corpus = tmp_path / "dup.csv"
    corpus.write_text("text,label,text\n" + "a cat. a dog.,a,another text\n" * 20, encoding="utf-8")
    refused(command(name, model, corpus), "more than one column named 'text'", (corpus, model), capsys)


def _parquet_naming_text_twice(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table([pa.array(["a"]), pa.array(["b"])], names=["text", "text"]), path)


AMBIGUOUS = {
    "csv with an empty column name": ("c.csv", "text,,label\nx,y,z\n",
                                      "column without a name in its header (column 2)"),
    "csv naming a column twice, once with spaces": ("c.csv", "text,label, label \nx,y,z\n",
                                                    "more than one column named 'label'"),
    "parquet naming a column twice": ("c.parquet", _parquet_naming_text_twice, "more than one column named 'text'"),
    "jsonl line naming a key twice": ("c.jsonl", '{"text": "one"}\n{"text": "two", "label": "a", "text": "three"}\n',
                                      "line 2 names the key 'text' twice"),
}


@pytest.mark.parametrize("case", list(AMBIGUOUS))
def test_tables_with_ambiguous_or_empty_names_are_refused(tmp_path, case):
    name, content, expected = AMBIGUOUS[case]
    path = tmp_path / name
    content(path) if callable(content) else path.write_text(content, encoding="utf-8")
    with pytest.raises(TextembedError, match=re.escape(expected)):
        load_user_file(path)


def test_a_csv_with_pandas_unnamed_index_column_still_loads(tmp_path):
    path = tmp_path / "c.csv"
    pd.DataFrame({"text": ["one", "two"], "label": ["a", "b"]}).to_csv(path)  # header ",text,label"
    assert load_user_file(path, label_column="label").labels == ["a", "b"]


@pytest.mark.parametrize("name", COMMANDS)
def test_a_folder_given_as_corpus_is_called_a_folder(model, corpus, capsys, name):
    refused(command(name, model, corpus.parent), "is a folder; a corpus is one file", (corpus, model), capsys)


def test_a_corpus_that_is_not_a_regular_file_is_called_so(model, corpus, capsys):
    refused(command("embed", model, Path(os.devnull)), "is not a regular file", (corpus, model), capsys)


# --- the report says how the model was made --------------------------------------------------------


def test_a_report_records_the_processes_backend_and_batch_share():
    from textembed_utils.report import _processes
    from textembed_utils.training.distributed import World

    assert World().record(64) == {"count": 1, "backend": None, "pairs_per_process": 64}
    two = World(rank=0, size=2, backend="gloo").record(64)
    assert two == {"count": 2, "backend": "gloo", "pairs_per_process": 32}
    assert _processes({"processes": two}) == " in 2 processes (gloo, 32 pairs each)"
    assert _processes({"processes": World().record(64)}) == ""
