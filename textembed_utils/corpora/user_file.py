"""Your own corpus from a file: .txt (one text per line), .csv, .jsonl or .parquet.

Messy files are the norm, so every problem gets a TextembedError that says what
is wrong and how to fix it. Some problems are not errors: texts without a label
stay unlabelled (they still train), and a single-class label column is only
recorded in ``info`` because it matters only when accuracy is asked for.

Values are type-checked as they are read, in every format: a text must be a
string (a number, list, object, boolean or bytes is refused, naming its line or
row, the column and the type found; a missing value counts as an empty text).
A label must be a scalar: a string, an integer, a boolean, or a float that is
really an integer (``3.0``, which pandas makes of an integer column with gaps);
each is converted to its text (``"3"``). A CSV or TXT file holds only text, so
there every cell is already a string.

Each format is read by its own rules: JSON Lines split on ``\\n`` alone (a raw
U+2028, U+2029 or U+0085 inside a string is text, although Python's
``str.splitlines`` breaks lines there), and a line that repeats a key is refused;
a .txt file splits on ``\\n``, ``\\r\\n`` and ``\\r``. A table whose header repeats
a column name, or leaves one empty, is refused rather than read with renamed
columns (pandas would train on the first ``text`` and call the second ``text.1``).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..errors import TextembedError
from .base import Corpus

SUPPORTED = (".txt", ".csv", ".jsonl", ".parquet")


def _decode(path: Path) -> str:
    """The file's text as UTF-8 (a leading BOM removed); other encodings → a clear error."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1]
        raise TextembedError(
            f"{path} is not UTF-8: byte {exc.start} (line {line}) is {bad!r}.",
            "re-encode the file as UTF-8, e.g. "
            f"`iconv -f latin1 -t utf-8 {path} > fixed{path.suffix}` "
            "(replace latin1 with the file's real encoding).",
        ) from exc


class _RepeatedKey(ValueError):
    """A JSON object that names one key twice (the key in ``args[0]``)."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object's pairs as a dict; a repeated key raises ``_RepeatedKey`` (``json`` keeps the last silently)."""
    row = dict(pairs)
    if len(row) < len(pairs):
        raise _RepeatedKey(next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1))
    return row


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line, indexed by line number; blank lines skipped; a broken line is named.

    Lines end at ``\\n`` only, as the format says (``\\r\\n`` works too: ``\\r`` is JSON whitespace).
    """
    rows, numbers = [], []
    for number, line in enumerate(_decode(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise TextembedError(
                f"{path} line {number} is not valid JSON ({exc.msg}).",
                "write one JSON object per line, e.g. {\"text\": \"...\", \"label\": \"...\"}.",
            ) from exc
        except _RepeatedKey as repeated:
            raise TextembedError(
                f"{path} line {number} names the key '{repeated.args[0]}' twice, so which value it means is unclear.",
                "give each key once per line.",
            ) from None
        if not isinstance(row, dict):
            raise TextembedError(
                f"{path} line {number} holds a JSON {type(row).__name__}, not an object.",
                "write one JSON object per line, e.g. {\"text\": \"...\", \"label\": \"...\"}.",
            )
        rows.append(row)
        numbers.append(number)
    # dtype=object keeps each value as JSON wrote it (an int stays an int, not a float with NaN).
    return pd.DataFrame(rows, index=numbers, dtype=object)


# How an error names a value's place: lines of a text file, data rows of a table (from 1).
_PLACE = {".txt": "line", ".jsonl": "line", ".csv": "row", ".parquet": "row"}


def _read_lines(path: Path) -> list[str | None]:
    """A .txt file's lines (``\\n``, ``\\r\\n`` or ``\\r``), stripped, blank ones as None.

    Read line by line, so a large corpus is held once, as its texts; a file that
    is not UTF-8 is read again whole by ``_decode`` for the error that locates it.
    """
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return [line.strip() or None for line in fh]
    except UnicodeDecodeError:
        _decode(path)  # raises the error naming the byte and line
        raise


def _check_header(names: list[str], path: Path) -> None:
    """Refuse a header that repeats a column name or leaves one empty (but the first: pandas' unnamed index)."""
    counts = Counter(name.strip() for name in names)
    repeated = [name for name, count in counts.items() if count > 1 and name]
    if repeated:
        raise TextembedError(
            f"{path} has more than one column named {', '.join(map(repr, repeated))}, so which one is meant is "
            "unclear.",
            "give each column of the header its own name.",
        )
    empty = [number for number, name in enumerate(names, start=1) if not name.strip() and number > 1]
    if empty:
        raise TextembedError(
            f"{path} has a column without a name in its header (column {', '.join(map(str, empty))}).",
            "give each column of the header a name (or remove the empty column).",
        )


def _csv_header(path: Path) -> list[str]:
    """The column names of a .csv file's first record, as pandas reads them (quotes and all)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def _read_table(path: Path) -> pd.DataFrame:
    """A .csv, .jsonl or .parquet file as a table (missing cells as NA) indexed by line or row number."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(path)
    try:
        _check_header(_csv_header(path) if suffix == ".csv" else pq.read_schema(path).names, path)
        if suffix == ".csv":
            # Read from the file (not a decoded copy in memory); only empty cells are missing:
            # a text or label "NA" or "null" stays as written.
            table = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False, na_values=[""])
        else:
            # Nullable dtypes keep an integer column with gaps as integers (not floats with NaN).
            table = pd.read_parquet(path, engine="pyarrow", dtype_backend="numpy_nullable")
        table.index = range(1, len(table) + 1)
        return table
    except UnicodeDecodeError:
        _decode(path)  # raises the error naming the byte and line
        raise
    except TextembedError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, OSError, ValueError) as exc:
        raise TextembedError(
            f"Could not read {path} as {suffix[1:]} ({exc}).",
            f"check that the file is a valid {suffix[1:]} file (e.g. open it with pandas).",
        ) from exc


def _column(table: pd.DataFrame, column: str, role: str, path: Path) -> pd.Series:
    """The column ``column`` of ``table``; a missing one → an error listing those found."""
    if column not in table.columns:
        found = ", ".join(map(str, table.columns)) or "none"
        raise TextembedError(
            f"{path} has no {role} column '{column}' (columns found: {found}).",
            f"pass the name of the {role} column ({role}_column=...), one of: {found}.",
        )
    return table[column]


def _is_missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and not isinstance(value, str) and pd.isna(value))


def _type_name(value: object) -> str:
    """The type of a cell as a user knows it, with its article: JSON's words for JSON values, else Python's."""
    if isinstance(value, (bool, np.bool_)):
        return "a boolean"
    if isinstance(value, (int, np.integer)):
        return "an integer"
    if isinstance(value, (float, np.floating)):
        return "a number"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a value of type {type(value).__name__}"


def _shown(value: object) -> str:
    """A short repr of a cell, NumPy values shown as the Python values they hold."""
    text = repr(value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_text(value: object) -> str | None:
    """A text cell stripped, or None when missing or blank; a non-string raises ``TypeError``."""
    if _is_missing(value):
        return None
    if not isinstance(value, str):
        raise TypeError(value)
    return value.strip() or None


def _as_label(value: object) -> str | None:
    """A label cell as text (``3``, ``3.0`` → ``"3"``), or None when missing or blank; else ``TypeError``."""
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    raise TypeError(value)


# Per column role: how a cell is read, what it must be, and how to fix a wrong one.
_ROLES = {
    "text": (_as_text, "a string", "store every text as a string (in JSON: quoted), "
             "or pass the column that holds the texts (--text-column)"),
    "label": (_as_label, "a string, an integer or a boolean (a float only if it is a whole number)",
              "give every label as a class name or a whole number, "
              "or pass the column that holds the labels (--label-column)"),
}


def _cells(series: pd.Series, role: str, path: Path) -> list[str | None]:
    """Every cell of a ``role`` column read; the first one of a wrong type → an error naming its place."""
    convert, expected, fix = _ROLES[role]
    converted = []
    for place, value in series.items():
        try:
            converted.append(convert(value))
        except TypeError:
            raise TextembedError(
                f"{path} {_PLACE[path.suffix.lower()]} {place}, {role} column '{series.name}': found "
                f"{_type_name(value)} ({_shown(value)}), expected {expected}.",
                f"{fix}.",
            ) from None
    return converted


def load_user_file(
    path: str | Path, text_column: str = "text", label_column: str | None = None
) -> Corpus:
    """Texts (stripped, empty ones dropped) and optional labels from a local file.

    ``info`` records ``dropped_empty`` (texts that were blank), ``unlabelled``
    (texts whose label cell is missing), ``classes``, ``single_class`` and
    ``max_chars``; very long texts load as they are (the tokenizer truncates).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise TextembedError(
            f"The corpus {path} is a folder; a corpus is one file.",
            f"pass one {'/'.join(SUPPORTED)} file of the folder (or join its files into one).",
        )
    if path.exists() and not path.is_file():
        raise TextembedError(
            f"The corpus {path} is not a regular file (a device, a pipe or a socket).",
            f"save the corpus as a {'/'.join(SUPPORTED)} file and pass that file.",
        )
    if not path.is_file():
        raise TextembedError(
            f"The corpus file {path} does not exist.",
            "check the path (relative paths start from the current folder).",
        )
    if path.suffix.lower() not in SUPPORTED:
        raise TextembedError(
            f"Cannot read {path}: the extension '{path.suffix}' is not supported.",
            f"save the corpus as one of {', '.join(SUPPORTED)}.",
        )
    if path.stat().st_size == 0:
        raise TextembedError(
            f"The corpus file {path} is empty.", "point to a file that holds texts."
        )
    if label_column is not None and path.suffix.lower() == ".txt":
        raise TextembedError(
            f"{path} is a .txt file (one text per line), which has no label column.",
            "save texts and labels as .csv, .jsonl or .parquet, or leave out the label column.",
        )

    if path.suffix.lower() == ".txt":
        texts, raw_labels = _read_lines(path), None
    else:
        table = _read_table(path)
        texts = _cells(_column(table, text_column, "text", path), "text", path)
        raw_labels = (
            _cells(_column(table, label_column, "label", path), "label", path)
            if label_column is not None
            else None
        )
        del table  # the texts are held once, in the corpus
    keep = [i for i, text in enumerate(texts) if text is not None]
    if not keep:
        raise TextembedError(
            f"{path} holds no non-empty texts in the column '{text_column}'.",
            "check the file and the text column.",
        )
    labels = [raw_labels[i] for i in keep] if raw_labels is not None else None
    kept_texts = [texts[i] for i in keep]
    classes = len({lab for lab in labels or [] if lab is not None})
    return Corpus(
        name=path.stem,
        texts=kept_texts,
        labels=labels,
        source=str(path.resolve()),
        info={
            "format": path.suffix.lower()[1:],
            "text_column": text_column,
            "label_column": label_column,
            "dropped_empty": len(texts) - len(keep),
            "unlabelled": labels.count(None) if labels is not None else len(kept_texts),
            "classes": classes,
            "single_class": classes == 1,
            "max_chars": max(map(len, kept_texts)),
        },
    )
