"""Open the built tiny-profile book in headless Chromium, as a reader would, and look at every chapter.

For each page: the DOM Chromium renders has its figures (<img>) and tables and no
error output (no "Traceback", no error or stderr output blocks); a screenshot of
each page goes to ``screenshots/`` (gitignored). Chromium is Debian's package,
installed by ``make browser``.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess

import pytest

from textembed_utils import book

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
SCREENSHOTS = book.PROJECT_ROOT / "screenshots"
CHAPTERS = [p.stem for p in book.notebook_paths()]
# A table's header rule, as text: what a Markdown table looks like when nothing parsed it (the
# typographer may have turned its dashes into em or en dashes).
RAW_MARKDOWN_TABLE = re.compile(r"\|\s*:?[-\u2013\u2014]{3,}")
PAGES = [f"notebooks/{stem}" for stem in CHAPTERS] + ["book/intro", "book/rerun", "book/credits", "book/references"]


@pytest.fixture(scope="module")
def html(isolated_storage, tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: run `make browser`")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEXTEMBED_EXECUTED", str(isolated_storage / "executed"))
        book.run("tiny")
        yield book.build("tiny", tmp_path_factory.mktemp("tinybook")).parent


def chromium(tmp_path, *args: str) -> str:
    profile_dir = tmp_path / "chromium-profile"
    completed = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile_dir}", *args],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_errors(html, tmp_path, page):
    url = (html / f"{page}.html").as_uri()
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", url)
    assert "<main" in dom and "<h1" in dom
    assert "Traceback" not in dom
    assert "output_error" not in dom and "output stderr" not in dom and "output traceback" not in dom
    if page.startswith("notebooks/") and "reproduction" not in page:
        assert dom.count("<img") >= 1, "no figure on the page"
    if page.startswith("notebooks/"):
        assert "<table" in dom, "no table on the page"
    assert not RAW_MARKDOWN_TABLE.search(dom), "a Markdown table is shown as text, not rendered"
    SCREENSHOTS.mkdir(exist_ok=True)
    target = SCREENSHOTS / f"tiny-{page.replace('/', '-')}.png"
    chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={target}", url)
    assert target.exists() and target.stat().st_size > 10_000


def test_formulas_are_typeset_offline(html, tmp_path):
    """MathJax ships with the book (sphinx-mathjax-offline): formulas render with no network."""
    page = html / "book" / "intro.html"
    assert "cdn.jsdelivr.net" not in page.read_text()
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", page.as_uri())
    assert dom.count("<mjx-container") >= 5, "the introduction's formulas were not typeset"


# Run in the page once it has laid out at 1280 px: what a reader would see that the DOM alone does not say.
AUDIT_SCRIPT = """<script>
window.addEventListener('load', () => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const column = article.getBoundingClientRect();
  const out = {wide: [], missing: [], imports: []};
  document.querySelectorAll('article table').forEach((table, i) => {
    const box = table.getBoundingClientRect();
    if (box.width > column.width + 1 || box.right > column.right + 1)
      out.wide.push(`table ${i} (${Math.round(box.width)} px in a ${Math.round(column.width)} px column): `
                    + table.innerText.slice(0, 80));
    table.querySelectorAll('td, th').forEach(cell => {
      if (/^(nan|NaN|None)$/.test(cell.innerText.trim())) out.missing.push(`table ${i}: ${cell.innerText.trim()}`);
    });
  });
  document.querySelectorAll('div.cell_input').forEach(cell => {
    if (cell.offsetParent !== null && /^\\s*(import|from) \\S+/m.test(cell.innerText))
      out.imports.push(cell.innerText.slice(0, 80));
  });
  document.body.setAttribute('data-audit', JSON.stringify(out));
});
</script>"""


def audit(html_root, page: str, tmp_path, width: int = 1280) -> dict:
    """Lay ``page`` out in Chromium at ``width`` px and report its too-wide tables, NaN cells and visible imports."""
    source = html_root / f"{page}.html"
    copy = source.with_name(f"{source.stem}.audit.html")
    copy.write_text(source.read_text().replace("</body>", AUDIT_SCRIPT + "</body>"))
    try:
        dom = chromium(tmp_path, f"--window-size={width},2000", "--virtual-time-budget=5000", "--dump-dom",
                       copy.as_uri())
    finally:
        copy.unlink()
    found = re.search(r'data-audit="([^"]*)"', dom)
    assert found, "the audit script did not run"
    return json.loads(html_lib.unescape(found.group(1)))


@pytest.mark.parametrize("page", PAGES + ["book/performance", "book/glossary"])
def test_tables_fit_the_column_with_no_nan_and_the_plumbing_is_collapsed(html, tmp_path, page):
    """At 1280 px: no table wider than the content column, no "NaN" cell, no import cell left open."""
    found = audit(html, page, tmp_path)
    assert not found["wide"], found["wide"]
    assert not found["missing"], found["missing"]
    assert not found["imports"], found["imports"]
