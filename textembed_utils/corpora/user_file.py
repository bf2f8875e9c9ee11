"""Your own corpus from a file: .txt (one text per line), .csv, .jsonl or .parquet.

Messy files are the norm, so every problem gets a TextembedError that says what
is wrong and how to fix it. Some problems are not errors: texts without a label
stay unlabelled (they still train), and a single-class label column is only
recorded in ``info`` because it matters only when accuracy is asked for.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

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


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line; blank lines skipped; a broken line is named in the error."""
    rows = []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TextembedError(
                f"{path} line {number} is not valid JSON ({exc.msg}).",
                "write one JSON object per line, e.g. {\"text\": \"...\", \"label\": \"...\"}.",
            ) from exc
        if not isinstance(row, dict):
            raise TextembedError(
                f"{path} line {number} holds a JSON {type(row).__name__}, not an object.",
                "write one JSON object per line, e.g. {\"text\": \"...\", \"label\": \"...\"}.",
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _read_table(path: Path, text_column: str) -> pd.DataFrame:
    """The file as a table of strings (missing cells as NA), whatever its format."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return pd.DataFrame({text_column: _decode(path).splitlines()})
    if suffix == ".jsonl":
        return _read_jsonl(path)
    source = io.StringIO(_decode(path)) if suffix == ".csv" else path
    try:
        if suffix == ".csv":
            # Only empty cells are missing: a text or label "NA" or "null" stays as written.
            return pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
        return pd.read_parquet(source, engine="pyarrow")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
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


def _as_str_or_none(value: object) -> str | None:
    """A cell as stripped text, or None when it is missing or blank."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return str(value).strip() or None


def load_user_file(
    path: str | Path, text_column: str = "text", label_column: str | None = None
) -> Corpus:
    """Texts (stripped, empty ones dropped) and optional labels from a local file.

    ``info`` records ``dropped_empty`` (texts that were blank), ``unlabelled``
    (texts whose label cell is missing), ``classes``, ``single_class`` and
    ``max_chars``; very long texts load as they are (the tokenizer truncates).
    """
    path = Path(path).expanduser()
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

    table = _read_table(path, text_column)
    texts = [_as_str_or_none(v) for v in _column(table, text_column, "text", path)]
    raw_labels = (
        [_as_str_or_none(v) for v in _column(table, label_column, "label", path)]
        if label_column is not None
        else None
    )
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
