"""The book builds from the tiny profile's executed notebooks, with warnings as errors, in a temporary folder."""

from __future__ import annotations

import pytest

from textembed_utils import book

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(isolated_storage):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEXTEMBED_EXECUTED", str(isolated_storage / "executed"))
        book.run("tiny")
        yield


def test_toc_lists_every_notebook_and_page():
    toc = (book.PROJECT_ROOT / "_toc.yml").read_text()
    for path in book.notebook_paths():
        assert f"notebooks/{path.stem}" in toc
    for page in ("book/intro", "book/rerun", "book/performance", "book/credits", "book/references"):
        assert page in toc
        assert (book.PROJECT_ROOT / f"{page}.md").exists()


def test_tiny_book_builds_with_warnings_as_errors(executed, tmp_path):
    embedded_index = book.PROJECT_ROOT / "_build" / "html" / "index.html"
    embedded_before = embedded_index.stat().st_mtime if embedded_index.exists() else None
    index = book.build("tiny", tmp_path)
    html = index.parent
    assert index.exists()
    for path in book.notebook_paths():
        page = (html / "notebooks" / f"{path.stem}.html").read_text()
        assert "<table" in page, f"{path.stem} shows no table"
        assert "Traceback" not in page
    assert "González-Márquez" in (html / "book" / "references.html").read_text()
    # the embedded profile's book is left alone
    assert (embedded_index.stat().st_mtime if embedded_index.exists() else None) == embedded_before


def test_a_changed_stylesheet_reaches_a_built_book(executed, tmp_path):
    """Sphinx rewrites nothing when no page changed, and then copies no _static/ either; build() forces it."""
    html = book.build("tiny", tmp_path).parent
    assert not book.static_out_of_date(html)
    stylesheet = html / "_static" / "textembed.css"
    stylesheet.write_text("/* an older stylesheet */")
    assert book.static_out_of_date(html)
    book.build("tiny", tmp_path)
    assert stylesheet.read_bytes() == (book.PROJECT_ROOT / "_static" / "textembed.css").read_bytes()


def test_build_without_executed_notebooks_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTEMBED_EXECUTED", str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="run `python -m textembed_utils.book run --profile tiny` first"):
        book.build("tiny", tmp_path)


def test_staging_collapses_the_cell_papermill_injected(tmp_path):
    """papermill adds its parameters cell at run time, so only staging can collapse it like the others."""
    import json

    executed = tmp_path / "01_x.ipynb"
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters", "hide-input"]}, "source": "profile = 'embedded'"},
             {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "profile = 'tiny'"},
             {"cell_type": "code", "metadata": {}, "source": "print(profile)"}]
    executed.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}))
    staged = json.loads(book.staged_notebook(executed))["cells"]
    assert staged[1]["metadata"]["tags"] == ["injected-parameters", "hide-input"]
    assert staged[1]["metadata"]["mystnb"]["code_prompt_show"] == book.INJECTED_PROMPT
    assert staged[0] == cells[0] and staged[2] == cells[2]


def test_a_renamed_chapter_leaves_no_page_behind(tmp_path):
    """Sphinx never deletes a built page; build() removes those whose source is gone."""
    stage, html = tmp_path / "source", tmp_path / "html"
    for path in (stage / "notebooks" / "07_static.ipynb", stage / "book" / "intro.md"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    for page in ("notebooks/07_static.html", "notebooks/08_static.html", "book/intro.html", "index.html"):
        (html / page).parent.mkdir(parents=True, exist_ok=True)
        (html / page).write_text("<html></html>")
    removed = book.remove_stale_pages(html, stage)
    assert removed == [html / "notebooks" / "08_static.html"]
    assert (html / "notebooks" / "07_static.html").exists() and (html / "index.html").exists()
