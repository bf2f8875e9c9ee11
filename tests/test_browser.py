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


# --- interactive maps, driven as a reader drives them (Playwright steering Debian's Chromium) -----------------

# Every bokeh view under the page's roots; the first with a frame is a map. Returns the screen position of
# point ``i`` of the shared source in the first map, and what its tooltip must show.
POINT_ON_SCREEN = """(i) => {
  const views = [];
  const walk = view => { views.push(view); for (const child of (view.child_views ?? [])) walk(child); };
  for (const root of Object.values(Bokeh.index)) walk(root);
  const plot = views.find(view => view.frame && view.canvas_view);
  const source = [...Bokeh.documents[0].all_models].find(model => model.type === "ColumnDataSource");
  const box = plot.canvas_view.el.getBoundingClientRect();
  return {points: source.data.text.length, text: source.data.text[i], label: source.data.label[i],
          x: box.left + plot.frame.x_scale.compute(source.data.x0[i]),
          y: box.top + plot.frame.y_scale.compute(source.data.y0[i])};
}"""
# bokeh draws its tooltip inside shadow roots: collect the text of every element whose class names a tooltip.
TOOLTIP_TEXT = """() => {
  const found = [];
  const walk = node => {
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.children ?? []) {
      if ([...(child.classList ?? [])].some(name => name.includes("tooltip")) && child.innerText) found.push(child.innerText);
      walk(child);
    }
  };
  walk(document.body);
  return found.join(" | ");
}"""
SELECTED = "() => [...Bokeh.documents[0].all_models].find(m => m.type === 'ColumnDataSource').selected.indices.length"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_watched(browser, path):
    """Open ``path`` from disk; return the page, its console errors and every URL it requested."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors, requests = [], []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    return page, errors, requests


def hover_and_select(page) -> dict:
    """Hover point 3 of the first map and read the tooltip; then draw a selection box around that point."""
    page.wait_for_function("() => window.Bokeh && Object.keys(Bokeh.index).length > 0", timeout=30_000)
    page.evaluate("() => Object.values(Bokeh.index)[0].el.scrollIntoView()")
    page.wait_for_timeout(300)
    point = page.evaluate(POINT_ON_SCREEN, 3)
    page.mouse.move(point["x"], point["y"])
    page.wait_for_timeout(500)
    point["tooltip"] = page.evaluate(TOOLTIP_TEXT)
    page.mouse.move(point["x"] - 25, point["y"] - 25)
    page.mouse.down()
    page.mouse.move(point["x"] + 25, point["y"] + 25, steps=5)
    page.mouse.up()
    point["selected"] = page.evaluate(SELECTED)
    return point


def test_chapter_3_map_hovers_and_selects_offline(html, browser):
    plain, plain_errors, _ = open_watched(browser, html / "book" / "intro.html")
    plain.wait_for_timeout(1000)
    page, errors, requests = open_watched(browser, html / "notebooks" / "03_knn.html")
    found = hover_and_select(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "tiny-03_knn-map.png"))
    from textembed_utils.profiles import load_profile

    assert found["points"] == load_profile("tiny")["corpus_size"], "one point per labelled text of the tiny corpus"
    assert found["label"] in found["tooltip"] and found["text"][:60] in found["tooltip"], found["tooltip"]
    assert found["selected"] > 0, "a box drawn over the map selects the texts inside it"
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    # the theme's own scripts log the same errors on every page; the map must add none
    assert sorted(set(errors) - set(plain_errors)) == []


def test_finetune_map_html_hovers_and_selects_offline(browser, tmp_path):
    from test_cli import TINY, finetune_args, write_corpus

    from textembed_utils.cli import main
    from textembed_utils.models import load_encoder

    model = tmp_path / "model"
    load_encoder(init="random", config_overrides=TINY).save(model)
    corpus = write_corpus(tmp_path, "csv")
    out = tmp_path / "out"
    assert main([a for a in finetune_args(corpus, out, model) if a != "--no-tsne"]) == 0
    page, errors, requests = open_watched(browser, out / "map.html")
    found = hover_and_select(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "finetune-map.png"))
    assert found["points"] == 40
    assert found["label"] in ("animals", "machines") and found["text"][:60] in found["tooltip"]
    assert found["selected"] > 0
    assert errors == [] and [url for url in requests if not url.startswith(("file:", "data:"))] == []
