"""Reading the user's own corpus file: every format and every problem it can have."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textembed_utils.corpora import Corpus, load_corpus
from textembed_utils.corpora.user_file import load_user_file
from textembed_utils.errors import TextembedError

ROWS = [
    {"body": " first text ", "topic": "a"},
    {"body": "second text", "topic": "b"},
    {"body": "third text", "topic": None},
    {"body": "   ", "topic": "a"},
]


def _write(tmp_path, fmt: str):
    path = tmp_path / f"corpus.{fmt}"
    frame = pd.DataFrame(ROWS)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n", encoding="utf-8")
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_tables_with_text_and_label_columns(tmp_path, fmt):
    corpus = load_user_file(_write(tmp_path, fmt), text_column="body", label_column="topic")
    assert corpus.texts == ["first text", "second text", "third text"]
    assert corpus.labels == ["a", "b", None]
    assert corpus.info["dropped_empty"] == 1
    assert corpus.info["unlabelled"] == 1
    assert corpus.info["classes"] == 2 and not corpus.info["single_class"]


def test_txt_one_text_per_line(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("\ufeffone\r\n\n  two  \nthree\n", encoding="utf-8")
    corpus = load_corpus(str(path))
    assert corpus.texts == ["one", "two", "three"]
    assert corpus.labels is None and corpus.info["dropped_empty"] == 1


def test_csv_keeps_na_strings_as_text(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("text,label\nNA,null\nreal,x\n", encoding="utf-8")
    corpus = load_user_file(path, label_column="label")
    assert corpus.texts == ["NA", "real"] and corpus.labels == ["null", "x"]


def test_single_class_is_recorded_not_an_error(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("text,label\nx,same\ny,same\n", encoding="utf-8")
    corpus = load_user_file(path, label_column="label")
    assert corpus.info["single_class"] and corpus.info["classes"] == 1


def test_five_megabyte_text_loads(tmp_path):
    long_text = "word " * 1_000_000  # 5 MB
    path = tmp_path / "long.csv"
    pd.DataFrame({"text": [long_text, "short"]}).to_csv(path, index=False)
    corpus = load_user_file(path)
    assert corpus.info["max_chars"] == len(long_text.strip())
    assert len(corpus) == 2


def test_missing_file(tmp_path):
    with pytest.raises(TextembedError, match="does not exist"):
        load_user_file(tmp_path / "nope.csv")


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "corpus.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(TextembedError) as err:
        load_user_file(path)
    assert ".csv" in err.value.fix and ".parquet" in err.value.fix


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.touch()
    with pytest.raises(TextembedError, match="is empty"):
        load_user_file(path)


def test_only_blank_texts(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n   \n\t\n", encoding="utf-8")
    with pytest.raises(TextembedError, match="no non-empty texts"):
        load_user_file(path)


def test_header_only_csv(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(TextembedError, match="no non-empty texts"):
        load_user_file(path, label_column="label")


def test_missing_text_column_lists_columns(tmp_path):
    with pytest.raises(TextembedError) as err:
        load_user_file(_write(tmp_path, "csv"))
    assert "'text'" in err.value.problem and "body, topic" in err.value.problem


def test_missing_label_column(tmp_path):
    with pytest.raises(TextembedError, match="no label column 'label'"):
        load_user_file(_write(tmp_path, "parquet"), text_column="body", label_column="label")


def test_label_column_on_txt(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("a\n", encoding="utf-8")
    with pytest.raises(TextembedError, match="no label column"):
        load_user_file(path, label_column="topic")


def test_latin1_bytes_name_offset_and_iconv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text\nfine\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(TextembedError) as err:
        load_user_file(path)
    assert "byte 13 (line 3)" in err.value.problem
    assert "iconv -f latin1 -t utf-8" in err.value.fix


def test_broken_jsonl_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(TextembedError, match="line 2 is not valid JSON"):
        load_user_file(path)


def test_not_a_parquet(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(TextembedError, match="Could not read"):
        load_user_file(path)


def test_unknown_name_lists_known_names():
    with pytest.raises(TextembedError) as err:
        load_corpus("no-such-corpus")
    assert "wiki" in err.value.fix and "stackexchange" in err.value.fix


# --- value types, checked as the file is read (issue 14) ------------------------------------------

WRONG_TEXTS = {
    "integer": (42, "an integer (42)"),
    "number": (1.5, "a number (1.5)"),
    "boolean": (True, "a boolean (True)"),
    "list": (["a", "b"], "a list (['a', 'b'])"),
    "object": ({"en": "hi"}, "an object ({'en': 'hi'})"),
}


@pytest.mark.parametrize("kind", list(WRONG_TEXTS))
def test_jsonl_text_of_another_type_names_line_column_and_type(tmp_path, kind):
    value, shown = WRONG_TEXTS[kind]
    path = tmp_path / "c.jsonl"
    lines = [json.dumps({"text": "fine"}), "", json.dumps({"text": value})]  # the bad value is on line 3
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TextembedError) as err:
        load_user_file(path)
    assert f"line 3, text column 'text': found {shown}, expected a string" in err.value.problem
    assert "as a string" in err.value.fix and "--text-column" in err.value.fix


def test_jsonl_null_text_is_an_empty_text_not_an_error(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "kept"}\n{"text": null}\n{"other": 1}\n', encoding="utf-8")
    corpus = load_user_file(path)
    assert corpus.texts == ["kept"] and corpus.info["dropped_empty"] == 2


@pytest.mark.parametrize(
    ("column", "shown"),
    [(pa.array([None, 2, 3]), "an integer (2)"),
     (pa.array([None, [2], [3]]), "a list ([2])"),
     (pa.array([None, {"a": "x"}, {"a": "y"}]), "an object ({'a': 'x'})"),
     (pa.array([None, b"y", b"z"]), "a value of type bytes (b'y')")],
    ids=["integer", "list", "struct", "binary"],
)
def test_parquet_text_column_of_another_type_names_the_row(tmp_path, column, shown):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"body": column}), path)  # row 1 is missing (an empty text), row 2 is wrong
    with pytest.raises(TextembedError) as err:
        load_user_file(path, text_column="body")
    assert f"row 2, text column 'body': found {shown}, expected a string" in err.value.problem


@pytest.mark.parametrize("fmt", ["csv", "txt"])
def test_csv_and_txt_numbers_are_texts_as_written(tmp_path, fmt):
    path = tmp_path / f"c.{fmt}"
    path.write_text("text\n42\n1.5\ntrue\n" if fmt == "csv" else "42\n1.5\ntrue\n", encoding="utf-8")
    assert load_user_file(path).texts == ["42", "1.5", "true"]


def test_labels_integers_whole_floats_and_booleans_become_class_names(tmp_path):
    path = tmp_path / "c.parquet"
    frame = pd.DataFrame({"text": ["a", "b", "c", "d"], "gap": [1, None, 3, 1], "flag": [True, False, True, True]})
    frame.to_parquet(path)  # pandas stores an integer column with a gap as float: 1.0, NaN, 3.0
    assert load_user_file(path, label_column="gap").labels == ["1", None, "3", "1"]
    assert load_user_file(path, label_column="flag").labels == ["True", "False", "True", "True"]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"text": "a", "y": 7}\n{"text": "b", "y": "seven"}\n', encoding="utf-8")
    assert load_user_file(jsonl, label_column="y").labels == ["7", "seven"]


@pytest.mark.parametrize(
    ("value", "shown"), [(0.5, "a number (0.5)"), ([1, 2], "a list ([1, 2])"), ({"id": 1}, "an object ({'id': 1})")],
)
def test_labels_that_are_not_class_names_are_refused(tmp_path, value, shown):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"text": "a", "y": "x"}) + "\n" + json.dumps({"text": "b", "y": value}) + "\n",
                    encoding="utf-8")
    with pytest.raises(TextembedError) as err:
        load_user_file(path, label_column="y")
    assert f"line 2, label column 'y': found {shown}" in err.value.problem
    assert "--label-column" in err.value.fix


def test_python_api_corpus_refuses_non_string_texts_and_labels():
    with pytest.raises(TextembedError, match=r"Text 1 of the corpus 'api' is a dict"):
        Corpus("api", ["fine", {"text": "nested"}])
    with pytest.raises(TextembedError, match=r"Label 0 of the corpus 'api' is a int") as err:
        Corpus("api", ["a", "b"], [3, "x"])
    assert "str(label)" in err.value.fix


def test_txt_read_line_by_line_keeps_every_line_ending_and_locates_bad_bytes(tmp_path):
    path = tmp_path / "mac.txt"
    path.write_bytes(b"one\rtwo\r\nthree\n")
    assert load_user_file(path).texts == ["one", "two", "three"]
    path.write_bytes("fine\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(TextembedError, match=r"byte 8 \(line 2\)"):
        load_user_file(path)
