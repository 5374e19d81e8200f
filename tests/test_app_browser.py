"""The app in a real browser (Debian's headless Chromium driven by playwright): click through
Compare, Errors, Slices and Models as a person would and check what appears. Screenshots go to
$MINIBERT_SCREENSHOTS, else a temporary folder (printed); look at them.

Skipped, with the reason, when chromium or playwright is missing (`apt-get install -y chromium`,
`pip install -r requirements-dev.txt`)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

# Chromium and a served app: about a minute for the module, so outside the fast lane.
pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no chromium at {CHROMIUM}: apt-get install -y chromium", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -r requirements-dev.txt")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from demo.app_testing import serve  # noqa: E402
from demo.urlstate import OPENING  # noqa: E402

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-dev-shm-usage"]
TIMEOUT = 60_000  # ms; the machine is shared
expect.set_options(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("MINIBERT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def page(ctx):
    with serve(ctx) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector("#compare-button")
        page.js_errors = errors
        page.app_ctx = ctx
        yield page
        browser.close()


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def assert_charts_clip_to_this_page(page) -> None:
    """Every clip path of every chart is this page's: under Gradio's <base href> Plotly names them
    by the full address, and a clip path of an older address clips a chart's bars away."""
    refs = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot [clip-path]')]"
                         ".map((e) => e.getAttribute('clip-path')).filter((v) => v.includes('#'))")
    here = page.evaluate("() => location.href.split('#')[0]")
    assert refs, "no chart with a clip path on the page"
    assert [r for r in refs if "://" in r and f"{here}#" not in r] == [], here


def test_compare_shows_every_variant_side_by_side(page, shots):
    expect(page.locator("#sentence-a textarea")).not_to_have_value("")  # pre-filled with an example
    expect(page.locator("#load-failures")).to_contain_text("broken-variant")
    page.click("#compare-button")
    expect(page.locator("#compare-summary")).to_contain_text("Similarity")
    page.wait_for_selector("#plot-sst .bar-chart .bar-seg")
    page.wait_for_selector("#plot-sts .bar-chart .bar-seg")
    table = page.locator("#compare-table")
    for name in ("tiny-cls", "tiny-cross", "tiny-mean", "ensemble"):
        expect(table).to_contain_text(name)
    expect(page.locator("#attributions .attr-tok").first).to_be_visible()
    page.screenshot(path=str(shots / "compare.png"), full_page=True)


def test_every_rescoring_refreshes_the_attributions(page, shots):
    """The issue's stale case: score one sentence with the button, replace it and press
    Shift+Enter: the attributions follow (the shortcut is on the page); a one-click edit is scored
    with before -> after; Integrated Gradients runs only on request and is cleared, never left
    stale, by the next scoring."""
    expect(page.locator("#compare-shortcut")).to_contain_text("Shift+Enter")
    page.locator("#compare-task label", has_text="Sentiment").click()
    box = page.locator("#sentence-a textarea")
    box.fill("The acting was wonderful and the story moved me.")
    page.click("#compare-button")
    attributions = page.locator("#attributions")
    expect(attributions).to_contain_text("wonderful")
    expect(attributions.locator(".attr-panel")).to_have_count(2)  # the two that disagree most
    expect(page.locator("#compare-table")).to_contain_text("SST dev")
    box.fill("A dull, lifeless mess of a film")
    box.press("Shift+Enter")
    expect(attributions).to_contain_text("lifeless")
    expect(attributions).not_to_contain_text("wonderful")
    expect(box).to_have_value("A dull, lifeless mess of a film")  # Shift+Enter scored, added no line
    changes = page.locator("#compare-changes")
    expect(changes).to_contain_text("your previous input")
    expect(changes).to_contain_text("wonderful")
    page.click("#perturb-negate")
    expect(box).to_have_value("It is not true that a dull, lifeless mess of a film")
    expect(attributions).to_contain_text("true")
    expect(changes).to_contain_text("flipped")
    expect(page.locator("#edit-note")).to_contain_text("negate")
    page.screenshot(path=str(shots / "compare-counterfactual.png"), full_page=True)
    # Integrated Gradients: on request, with its completeness; the next scoring clears it
    page.locator("#explain-method label", has_text="Integrated Gradients").click()
    page.click("#explain-button")
    expect(attributions).to_contain_text("completeness gap")
    page.screenshot(path=str(shots / "compare-ig.png"), full_page=True)
    page.click("#compare-button")
    expect(attributions).to_contain_text("runs only when you press")
    page.locator("#explain-method label", has_text="leave one word out").click()
    assert not page.js_errors, page.js_errors


def test_an_example_is_one_click_away(page, shots):
    page.get_by_role("button", name="Negation").click()
    expect(page.locator("#sentence-a textarea")).to_have_value("The plot is not bad at all, and the acting is never boring.")
    expect(page.locator("#compare-summary")).to_contain_text("1 task")  # scored at once: sentiment only
    expect(page.locator("#plot-quora")).to_be_hidden()
    expect(page.locator("#attributions")).to_contain_text("acting")  # a chip rescoring refreshes them too
    page.screenshot(path=str(shots / "compare-example.png"), full_page=True)


def test_html_in_the_input_is_shown_as_text_never_run(page, shots):
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> great film'
    page.locator("#sentence-a textarea").fill(payload)
    page.click("#compare-button")
    expect(page.locator("#compare-summary")).to_contain_text("Sentiment")
    expect(page.locator("#attributions")).to_contain_text("onerror")  # the tag is shown as text
    assert page.evaluate("window.__xss") is None
    assert page.locator("#attributions img").count() == 0 and page.locator("#compare-summary img").count() == 0
    page.locator("#sentence-a textarea").fill("")
    page.locator("#sentence-b textarea").fill("")
    page.click("#compare-button")
    expect(page.locator("#compare-summary")).to_contain_text("Type a sentence")
    page.screenshot(path=str(shots / "compare-empty.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def test_errors_cell_row_and_back_to_compare(page, shots):
    tab(page, "Errors")
    expect(page.locator("#metrics-table")).to_contain_text("overall (CS224N)")
    # the metrics table sorts from a column's menu (here: SST ECE, ascending)
    headers = page.locator("#metrics-table [role='columnheader']").all_inner_texts()
    ece = next(i for i, h in enumerate(headers) if "SST ECE" in h)
    header = page.locator(f"#metrics-table [data-testid='header-{ece}']")
    header.click()  # the ⋮ menu button shows on a selected / hovered header
    header.locator(".cell-menu-button").click()
    page.locator("[role=menu]").get_by_text("Sort ascending").click()
    shown = page.locator("#metrics-table [role='row'][data-index]")  # in display order
    expect(shown).to_have_count(4)
    values = [float(shown.nth(i).locator("[role='gridcell']").nth(ece).inner_text()) for i in range(4)]
    assert values == sorted(values), values
    expect(page.locator("#errors-count")).to_contain_text("rows")
    page.wait_for_selector("#diagnostic .js-plotly-plot")
    # its margins are given, not measured by Plotly (demo.errors_view): every axis label fits in them
    assert page.evaluate(AXIS_TEXT_OUTSIDE_JS, "diagnostic") == [], "an axis label of the chart is cut off"
    page.screenshot(path=str(shots / "errors.png"), full_page=True)
    expect(page.locator("#errors-count")).not_to_contain_text("processing")
    unfiltered = page.locator("#errors-count").inner_text().split("·")[0].strip()
    # a confusion-matrix cell filters the table to its examples
    cell = page.locator('#confusion [data-testid="cell-3-4"]')  # gold 3 (row 3), predicted 3 (column 1 + 3)
    count = int(cell.inner_text().strip())
    cell.click()
    expect(page.locator("#errors-count")).to_contain_text(f"{count} rows")
    expect(page.locator("#errors-count")).to_contain_text("cell: gold 3 positive → predicted 3 positive")
    expect(page.locator("#clear-cell")).to_be_visible()
    if count:
        expect(page.locator('#errors-table [data-testid="cell-0-2"]')).to_have_text("3 positive")
    page.click("#clear-cell")
    expect(page.locator("#errors-count")).not_to_contain_text("cell:")
    # a text search
    search = page.locator("#errors-search textarea, #errors-search input").first
    search.fill("the")
    search.press("Enter")
    expect(page.locator("#errors-count")).to_contain_text("rows")
    search.fill("")
    search.press("Enter")
    expect(page.locator("#errors-count")).to_contain_text(unfiltered)
    # a row shows that example across every variant
    from demo import errors_view as E

    a = page.app_ctx.analysis
    shown, _, _ = E.filter_table(a, E.Filters(task="sst", variant=E.best_variant(a, "sst")))
    sentence = shown["sentence"].iloc[0]
    first = page.locator('#errors-table [data-testid="cell-0-5"]')
    expect(first).to_have_text(sentence)  # the unfiltered table is back
    first.click()
    expect(page.locator("#example-card")).to_contain_text(sentence)
    expect(page.locator("#example-card")).to_contain_text("right for")
    expect(page.locator("#example-table")).to_contain_text("ensemble")
    page.screenshot(path=str(shots / "errors-example.png"), full_page=True)
    # and one click sends it to Compare to edit and re-score
    page.click("#send-to-compare")
    expect(page.get_by_role("tab", name="Compare")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#sentence-a textarea")).to_have_value(sentence)
    expect(page.locator("#compare-summary")).to_contain_text("Sentiment")
    # the example's id, gold label and stored predictions came along: before -> after
    changes = page.locator("#compare-changes")
    expect(changes).to_contain_text("dev example")
    expect(changes).to_contain_text("gold")
    expect(changes).to_contain_text("Reference")  # unchanged: the reference only, no flips counted
    expect(changes).not_to_contain_text("flipped")
    page.locator("#sentence-a textarea").fill(sentence + " not")
    page.click("#compare-button")
    expect(changes).to_contain_text(sentence + " not")
    expect(changes).to_contain_text("dev example")  # still the reference after an edit
    page.screenshot(path=str(shots / "errors-to-compare.png"), full_page=True)


def test_an_errors_filter_is_tagged_only_after_confirming_and_saved_as_a_slice(page, shots):
    """Tagging a whole filter asks first (how many, Confirm / Cancel); a saved regex slice is then
    offered in the Slices tab's picker and shown with its intervals."""
    store = page.app_ctx.findings
    tab(page, "Errors")
    regex = page.locator("#errors-regex textarea, #errors-regex input").first
    regex.fill("the")
    regex.press("Enter")
    expect(page.locator("#errors-count")).to_contain_text("rows")
    page.locator("#errors-filter-findings").click()
    page.locator("#errors-bulk-tags label", has_text="sarcasm").click()
    before = store.count()["tags"]
    page.locator("#errors-bulk-ask").click()
    expect(page.locator("#errors-bulk-message")).to_contain_text("Nothing is saved until you confirm")
    expect(page.locator("#errors-bulk-confirm")).to_be_visible()
    assert store.count()["tags"] == before
    page.locator("#errors-bulk-cancel").click()
    expect(page.locator("#errors-bulk-confirm")).to_be_hidden()
    expect(page.locator("#errors-bulk-message")).to_contain_text("Cancelled")
    page.locator("#errors-bulk-ask").click()
    page.locator("#errors-bulk-confirm").click()
    expect(page.locator("#errors-bulk-message")).to_contain_text("new tag(s) as local")
    assert store.count()["tags"] > before
    page.locator("#errors-slice-name textarea, #errors-slice-name input").first.fill("has the")
    page.locator("#errors-save-slice").click()
    expect(page.locator("#errors-save-slice-message")).to_contain_text("Saved the filter as slice")
    page.screenshot(path=str(shots / "errors-filter-findings.png"), full_page=True)
    regex.fill("")
    regex.press("Enter")
    tab(page, "Slices")
    page.locator("#slices-name input").first.click()
    page.locator("ul[role='listbox'] li", has_text="★ has the · local").first.click()
    expect(page.locator("#slices-table")).to_contain_text("in the slice", timeout=TIMEOUT)
    expect(page.locator("#slices-table")).to_contain_text("[")  # an interval, computed now
    page.screenshot(path=str(shots / "slices-saved.png"), full_page=True)
    assert page.js_errors == []


def test_slices_and_models(page, shots):
    tab(page, "Slices")
    expect(page.locator("#slices-table")).to_contain_text("(reference)")
    page.wait_for_selector("#slices-plot .js-plotly-plot")
    page.screenshot(path=str(shots / "slices.png"), full_page=True)
    tab(page, "Models")
    expect(page.locator("#models-table")).to_contain_text("broken-variant")
    expect(page.locator("#models-card")).to_contain_text("The idea it reproduces")
    page.wait_for_selector("#models-curve .js-plotly-plot")
    page.screenshot(path=str(shots / "models.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def test_an_upload_becomes_a_variant_of_this_tab(page, shots, tmp_path):
    from minibert.submission import write_submission

    sst = page.app_ctx.analysis.task("sst").examples
    path = write_submission(tmp_path / "sst-dev-output.csv", "sst", sst["id"], [2] * len(sst))
    tab(page, "Errors")
    page.get_by_text("Analyse your own model's predictions").click()
    page.locator("#upload-files input[type=file]").set_input_files(str(path))
    page.locator("#upload-name input, #upload-name textarea").first.fill("my-model")
    page.click("#upload-button")
    expect(page.locator("#upload-message")).to_contain_text(f"sst: {len(sst)} of {len(sst)} ids matched")
    expect(page.locator("#upload-message")).to_contain_text("a reload (or closing the tab) forgets it")
    expect(page.locator("#errors-count")).to_contain_text("of my-model on Sentiment")
    expect(page.locator("#metrics-table")).to_contain_text("my-model")
    page.screenshot(path=str(shots / "errors-upload.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def test_compare_screenshots_wide_narrow_light_dark(page, shots):
    """Compare after a scoring at 1440 and 390 px, light and dark: look at them."""
    base = page.url.split("?")[0]
    for theme in ("light", "dark"):
        page.goto(base + ("?__theme=dark" if theme == "dark" else ""))
        page.wait_for_selector("#compare-button")
        page.click("#compare-button")
        expect(page.locator("#attributions .attr-panel")).to_have_count(2)
        for width in (1440, 390):
            page.set_viewport_size({"width": width, "height": 1000})
            page.screenshot(path=str(shots / f"compare-{width}-{theme}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_label_errors_row_and_back_to_compare(page, shots):
    pytest.importorskip("cleanlab")  # the tiny world's build wrote label-error tables only with it
    from demo import label_errors_view as L

    tab(page, "Label errors")
    expect(page.locator("#le-count")).to_contain_text("examples")
    expect(page.locator("#le-note")).to_contain_text("Evidence from")
    shown, _ = L.view(L.LabelErrors.load(page.app_ctx.analysis), "sst", L.FLAGGED, "", None)
    sentence = shown["sentence"].iloc[0]
    first = page.locator(f'#le-table [data-testid="cell-0-{list(shown.columns).index("sentence")}"]')
    expect(first).to_have_text(sentence)
    page.screenshot(path=str(shots / "label-errors.png"), full_page=True)
    first.click()
    expect(page.locator("#le-example-card")).to_contain_text(sentence)
    page.click("#le-send")
    expect(page.get_by_role("tab", name="Compare")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#sentence-a textarea")).to_have_value(sentence)
    assert not page.js_errors, page.js_errors


def test_map_draws_two_scatters_and_lists_a_box(page, shots):
    pytest.importorskip("umap")  # the tiny world's build wrote the map only with it
    tab(page, "Map")
    expect(page.locator("#map-plot-a .js-plotly-plot")).to_be_visible()
    expect(page.locator("#map-plot-b .js-plotly-plot")).to_be_visible()
    for key, value in (("x0", "-1000"), ("x1", "1000"), ("y0", "-1000"), ("y1", "1000")):
        page.locator(f"#map-{key} textarea, #map-{key} input").first.fill(value)
    page.click("#map-list")
    n = len(page.app_ctx.analysis.task("sst").examples)
    expect(page.locator("#map-count")).to_contain_text(f"{n} SST examples selected on")
    expect(page.locator("#map-count")).to_contain_text("a box x -1000…1000")
    expect(page.locator("#map-plot-b")).to_contain_text(f"selected ({n})")
    page.screenshot(path=str(shots / "map.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def drag_over(page, selector: str, left: float, right: float) -> None:
    """A box dragged over the part `left`..`right` (fractions of the width) of a chart's plot area."""
    area = page.locator(f"{selector} .nsewdrag").first.bounding_box()
    y0, y1 = area["y"] + 2, area["y"] + area["height"] - 2
    page.mouse.move(area["x"] + area["width"] * left, y0)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * right, y1, steps=10)
    page.mouse.up()


def test_a_box_drawn_on_either_map_lists_its_examples_beside_both(page, shots):
    """The issue's dead tools: a box dragged on a map (Plotly's select tool, the default drag) lists
    what it caught and rings it on both maps, on the first map and on the second; the typed box is
    emptied as it no longer describes the selection; a double-click clears it."""
    pytest.importorskip("umap")
    tab(page, "Map")
    page.click("#map-clear")
    expect(page.locator("#map-count")).to_contain_text("Drag a box")
    # both maps redrawn without the last selection's rings before the drag (a drag on a chart in
    # the middle of its redraw was once lost)
    expect(page.locator("#map-plot-a")).not_to_contain_text("selected (")
    expect(page.locator("#map-plot-b")).not_to_contain_text("selected (")
    n = len(page.app_ctx.analysis.task("sst").examples)
    drag_over(page, "#map-plot-a", 0.0, 1.0)  # the whole plot area: every point
    expect(page.locator("#map-count")).to_contain_text(f"{n} SST examples selected on")
    expect(page.locator("#map-count")).to_contain_text("drawn on the map")
    expect(page.locator("#map-plot-b")).to_contain_text(f"selected ({n})")
    expect(page.locator("#map-x0 textarea, #map-x0 input").first).to_have_value("")
    table = page.locator("#map-table")
    for name in (page.input_value("#map-a input"), page.input_value("#map-b input")):
        expect(table).to_contain_text(f"{name} pred")  # listed beside both maps' variants
    expect(table).to_contain_text(str(page.app_ctx.analysis.task("sst").examples["id"].iloc[0]))
    page.screenshot(path=str(shots / "map-drawn.png"), full_page=True)
    drag_over(page, "#map-plot-b", 0.0, 0.5)  # the left half of the second map
    b_name = page.input_value("#map-b input")
    expect(page.locator("#map-count")).to_contain_text(f"selected on {b_name}'s map")
    shown = int(page.locator("#map-count strong").first.inner_text())
    assert 0 < shown < n, shown
    expect(page.locator("#map-plot-a")).to_contain_text(f"selected ({shown})")
    page.locator("#map-plot-b .nsewdrag").first.dblclick()
    expect(page.locator("#map-count")).to_contain_text("Drag a box")
    expect(page.locator("#map-plot-a")).not_to_contain_text("selected (")
    assert not page.js_errors, page.js_errors

def test_behavioural_tests_cell_case_and_back_to_compare(page, shots):
    tab(page, "Tests")
    expect(page.locator("#tests-grid")).to_contain_text("typo")
    from demo import behaviour_view as DB

    b = DB.Behaviour.load(page.app_ctx.analysis)
    grid = DB.grid(b, "sst")
    # the first cell (test row, variant column) with failures: its cases list, one opens in Compare
    # it opens on the cell with the most failures: its first view lists some, not an empty table
    worst_test, worst_variant = DB.most_failing(b, "sst")
    expect(page.locator("#tests-count")).to_contain_text(f"{worst_variant} fails")
    expect(page.locator('#tests-failing [data-testid="cell-0-0"]')).to_be_visible()
    row, col = next((r, c) for r in range(len(grid)) for c in range(3, grid.shape[1])
                    if grid.iat[r, c] and not grid.iat[r, c].startswith("0%")
                    and DB.cell_to_choice(b, "sst", (r, c)) != (worst_test, worst_variant))
    test_name, variant = DB.cell_to_choice(b, "sst", (row, col))
    page.locator(f'#tests-grid [data-testid="cell-{row}-{col}"]').click()
    count = page.locator("#tests-count")
    expect(count).to_contain_text(f"{variant} fails")  # the clicked cell's list, not the one it opened on
    expect(count).to_contain_text(f"cases of {test_name}")
    expect(count).not_to_contain_text("processing")
    first = page.locator('#tests-failing [data-testid="cell-0-0"]')
    sentence = first.inner_text()
    first.click()
    expect(page.locator("#tests-case")).to_contain_text(sentence)
    page.screenshot(path=str(shots / "tests.png"), full_page=True)
    page.click("#tests-send")
    expect(page.get_by_role("tab", name="Compare")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#sentence-a textarea")).not_to_have_value("")


# WCAG contrast of each matched element's text against what lies under it (its own background, or
# the first ancestor's that is not transparent, composited down to an opaque colour).
CONTRAST_JS = """(selector) => {
  const parse = (c) => {
    let m = c.match(/rgba?\\(([^)]+)\\)/);
    if (m) { const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
    m = c.match(/color\\(srgb ([^)]+)\\)/);
    if (m) {
      const p = m[1].split(/[\\s\\/]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    return [0, 0, 0, 0];
  };
  const under = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let base = [255, 255, 255];
    for (const l of layers.reverse()) base = base.map((b, i) => l[i] * l[3] + b * (1 - l[3]));
    return base;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  return [...document.querySelectorAll(selector)].map((el) => {
    const bg = under(el), fg = parse(getComputedStyle(el).color);
    const text = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const a = lum(text), b = lum(bg);
    return [el.innerText.trim(), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}"""

# The axis tick labels and titles of a chart that fall outside its drawing (cut off), by text.
AXIS_TEXT_OUTSIDE_JS = """(id) => {
  const box = document.querySelector(`#${id} .main-svg`).getBoundingClientRect();
  const labels = document.querySelectorAll(`#${id} :is(.xtick, .ytick, .g-xtitle, .g-ytitle) text`);
  return [...labels].filter((t) => t.textContent).filter((t) => {
    const r = t.getBoundingClientRect();
    return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
  }).map((t) => t.textContent);
}"""

WHITE_CHARTS_JS = """() => [...document.querySelectorAll(".js-plotly-plot")].filter((p) => p.offsetParent !== null).map((p) => {
  const svg = p.querySelector(".main-svg"), bg = p.querySelector("rect.bg");
  const white = (c) => /^rgba?\\(255, 255, 255(, 1)?\\)$/.test(c) || c === "#fff" || c === "#ffffff" || c === "white";
  return white(getComputedStyle(svg).backgroundColor) || (bg !== null && white(getComputedStyle(bg).fill));
})"""


def test_a_view_travels_by_its_url_to_a_phone_in_dark_mode(page, shots):
    """Set a view (Quora, a confusion cell, an example), copy its link, open it on a 390 px phone in
    dark mode: the same rows and example; then the phone's page: no sideways scroll on any tab,
    legible confusion matrix (WCAG AA), no white chart, a tapped token shows its weight, and a link
    naming something absent opens the nearest view with a message."""
    tab(page, "Errors")
    page.locator("#errors-task label").filter(has_text="Paraphrase").first.click()
    expect(page.locator("#errors-count")).to_contain_text("Paraphrase")
    page.locator('#confusion [data-testid="cell-0-2"]').click()  # gold "not duplicate", predicted "duplicate"
    expect(page.locator("#errors-count")).to_contain_text("cell:")
    # read once Gradio's progress line ("processing | 0.3/0.2s") has left the box, else it is read too
    expect(page.locator("#errors-count")).not_to_contain_text("processing")
    rows = page.locator("#errors-count").inner_text().split("·")[:2]
    page.locator("#errors-table [role='row'][data-index]").first.locator("[role='gridcell']").first.click()
    expect(page.locator("#example-card")).to_contain_text("dev id")
    expect(page.locator("#example-card")).not_to_contain_text("processing")  # the card, not its progress line
    card = page.locator("#example-card").inner_text()
    page.wait_for_function("location.search.includes('example=')")
    page.click("#copy-link")
    link = page.locator("#share-link input, #share-link textarea").first
    expect(link).to_have_value(page.evaluate("location.href"))
    for part in ("tab=errors", "task=quora", "cell=0%2C1", "example="):
        assert part in link.input_value(), link.input_value()

    context = page.context.browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    phone = context.new_page()
    phone.set_default_timeout(TIMEOUT)
    phone.goto(link.input_value() + "&__theme=dark")
    expect(phone.locator("#errors-count")).to_contain_text(rows[0].strip())
    expect(phone.locator("#errors-count")).not_to_contain_text("processing")
    assert phone.locator("#errors-count").inner_text().split("·")[:2] == rows
    expect(phone.locator("#example-card")).to_contain_text(card.split("·")[1].strip())  # the dev id
    expect(phone.locator("#example-card")).not_to_contain_text("processing")
    assert phone.locator("#example-card").inner_text() == card
    assert "__theme=dark" in phone.evaluate("location.href") and phone.evaluate("document.body.classList.contains('dark')")
    phone.wait_for_selector("#diagnostic .js-plotly-plot")
    assert phone.evaluate(AXIS_TEXT_OUTSIDE_JS, "diagnostic") == [], "an axis label of the chart is cut off"
    phone.screenshot(path=str(shots / "phone-dark-errors.png"), full_page=True)
    contrast = phone.evaluate(CONTRAST_JS, "#confusion [role='gridcell']")
    assert contrast and min(c for _, c in contrast) >= 4.5, contrast
    assert not any(phone.evaluate(WHITE_CHARTS_JS)), "a chart keeps a white background in dark mode"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    # the other tabs by their URLs (on a phone Gradio folds some tab buttons into a menu)
    base = link.input_value().split("?")[0]
    for name, ready in (("slices", "#slices-plot .js-plotly-plot"), ("models", "#models-curve .js-plotly-plot"),
                        ("compare", "#compare-button")):
        phone.goto(f"{base}?tab={name}&__theme=dark")
        phone.wait_for_selector(ready)
        expect(phone.locator(f"button[role='tab'][data-tab-id='{name}']")).to_have_attribute("aria-selected", "true")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, name
        assert not any(phone.evaluate(WHITE_CHARTS_JS)), f"a {name} chart keeps a white background in dark mode"
        phone.screenshot(path=str(shots / f"phone-dark-{name}.png"), full_page=True)
    phone.click("#compare-button")
    token = phone.locator("#attributions .attr-tok[title]").first
    expect(token).to_be_visible()
    token.tap()
    weight = token.get_attribute("title")
    assert phone.evaluate("(el) => getComputedStyle(el, '::after').content", token.element_handle()) == f'"{weight}"'
    phone.screenshot(path=str(shots / "phone-dark-token.png"), full_page=True)

    phone.goto(f"{base}?tab=slices&task=sts&reference=no-such-variant&variants=tiny-cls,zzz")
    expect(phone.locator("#url-message")).to_contain_text("No sts variant “no-such-variant”")
    expect(phone.locator("#url-message")).to_contain_text("“zzz”: left out")
    expect(phone.locator("#slices-table")).to_contain_text("tiny-cls")
    context.close()
    assert not page.js_errors, page.js_errors


def test_the_why_tab_explains_a_pair_and_opens_it_in_slices(page, shots):
    """The Why tab reports on its default pair; a finding's row lists its examples; "Open this pair
    in Slices" sets Slices' reference to B, Slices' own "Why?" brings the pair back, and "Open this
    pair in Tests" shows the Tests tab with A compared with B."""
    tab(page, "Why")
    expect(page.locator("#why-summary")).to_contain_text("paired 95 % interval")
    expect(page.locator("#why-search")).to_contain_text("tested")
    a_name = page.input_value("#why-a input")
    other = "tiny-mean" if a_name == "tiny-cross" else "tiny-cross"
    page.locator("#why-b input").click()
    page.get_by_role("option", name=other, exact=True).click()
    expect(page.locator("#why-summary")).to_contain_text(f"{a_name} vs {other}")
    expect(page.locator("#why-saved")).to_contain_text("Saved slices")  # the user's own, read per request
    page.screenshot(path=str(shots / "why.png"), full_page=True)
    page.click("#why-to-slices")
    expect(page.get_by_role("tab", name="Slices", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#slices-reference input")).to_have_value(other)
    page.click("#slices-why")
    expect(page.get_by_role("tab", name="Why", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#why-b input")).to_have_value(other)
    expect(page.locator("#why-a input")).to_have_value(a_name)
    # the same pick opens the Tests tab on the cases where the two differ
    page.click("#why-to-tests")
    expect(page.get_by_role("tab", name="Tests", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tests-variant input")).to_have_value(a_name)
    expect(page.locator("#tests-other input")).to_have_value(other)
    expect(page.locator("#tests-count")).to_contain_text(other)
    assert page.js_errors == []


def settled(page) -> None:
    """The page's events have answered: no progress line left, then a moment for a late one."""
    page.wait_for_timeout(1500)
    expect(page.locator(".progress-text, .eta-bar")).to_have_count(0)
    page.wait_for_timeout(1500)


# Every text the link's message line shows, recorded from before the page's own scripts run.
MESSAGES_SEEN_JS = """(() => {
  window.__urlMessages = [];
  new MutationObserver(() => {
    const line = document.getElementById("url-message");
    const text = line ? line.innerText.trim() : "";
    if (text && window.__urlMessages[window.__urlMessages.length - 1] !== text) window.__urlMessages.push(text);
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();"""


def test_a_compare_link_keeps_the_sentences_task_and_variants_and_scores_them(page, shots):
    """Compare's view in its link: typed sentences, the task and the variants go into the URL; the
    link opens them scored, says which name it could not restore, and says a long sentence was cut."""
    base = page.url.split("?")[0]
    page.goto(base)
    page.wait_for_selector("#compare-button")
    page.locator("#compare-task label", has_text="Similarity").click()
    page.locator("#sentence-a textarea").fill("A man is playing a guitar.")
    page.locator("#sentence-b textarea").fill("Someone plays music & sings <loudly>.")
    page.locator("#compare-variants label", has_text="tiny-cross").click()  # untick one
    page.wait_for_function("location.search.includes('a=A+man') && location.search.includes('variants=')")
    link = page.evaluate("location.href")
    for part in ("tab=compare", "task=sts", "b=Someone+plays+music+%26+sings+%3Cloudly%3E.", "variants=tiny-cls"):
        assert part in link, link
    assert "tiny-cross" not in link.split("variants=")[1]
    other = page.context.browser.new_page()
    other.set_default_timeout(TIMEOUT)
    other.add_init_script(MESSAGES_SEEN_JS)
    other.goto(link + "%2Czzz")  # one more variant that is not here
    expect(other.locator("#compare-summary")).to_contain_text("Similarity")  # scored on opening
    # while it scored, the message line said so (and carried the progress)
    assert OPENING in other.evaluate("window.__urlMessages.join(' | ')")
    expect(other.locator("#sentence-b textarea")).to_have_value("Someone plays music & sings <loudly>.")
    expect(other.locator("#compare-task input[value='Similarity']")).to_be_checked()
    table = other.locator("#compare-table")
    expect(table.get_by_role("gridcell", name="tiny-cls", exact=True)).to_have_count(1)
    expect(table.get_by_role("gridcell", name="tiny-cross", exact=True)).to_have_count(0)  # unticked
    expect(other.locator("#url-message")).to_contain_text("“zzz” to run here: left out")
    # the charts were drawn before the app rewrote the address without "zzz": they still show
    other.wait_for_function("!location.search.includes('zzz') && document.querySelector('#plot-sts .bar-seg')")
    other.screenshot(path=str(shots / "compare-link.png"), full_page=True)
    # a sentence longer than a link holds: cut in the link, and said so on both ends
    from demo.compare_view import LINK_CHARS

    long = "word " * (LINK_CHARS // 5 + 20)
    page.locator("#sentence-a textarea").fill(long)
    page.click("#compare-button")
    expect(page.locator("#compare-notes")).to_contain_text(f"keeps only the first {LINK_CHARS}")
    page.wait_for_function("location.search.includes('cut=a')")
    other.goto(page.evaluate("location.href"))
    expect(other.locator("#url-message")).to_contain_text(f"only the first {LINK_CHARS} characters of Sentence A")
    assert len(other.locator("#sentence-a textarea").input_value()) == LINK_CHARS
    other.close()
    # typing rewrites the address: a Plotly chart drawn before it (the Errors tab's) follows it, else
    # its clip paths point at the old address and clip its bars away (demo.urlstate); Compare's own
    # bars, plain HTML, still show
    tab(page, "Errors")
    page.wait_for_selector("#diagnostic .js-plotly-plot")
    tab(page, "Compare")
    page.locator("#sentence-a textarea").fill("A new sentence.")
    page.wait_for_function("location.search.includes('a=A+new+sentence.')")
    assert_charts_clip_to_this_page(page)
    expect(page.locator("#plot-sts .bar-seg").first).to_be_visible()
    assert not page.js_errors, page.js_errors


def test_plotly_is_loaded_and_has_drawn_once_before_any_chart_tab_is_opened(page):
    """demo.preload: on a fresh page that shows no chart, the chart code is loaded and has drawn its
    out-of-sight chart once (Plotly's text tester is made by a first drawing), then removed it."""
    page.goto(page.url.split("?")[0])
    page.wait_for_selector("#compare-button")
    page.wait_for_function("() => Boolean(window.Plotly) && Boolean(document.getElementById('js-plotly-tester'))")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 0")
    assert page.evaluate("() => [...document.body.children].filter((e) => e.getAttribute('aria-hidden') === 'true'"
                         " && e.style.left === '-10000px').length") == 0
    assert not page.js_errors, page.js_errors


def test_a_tab_opened_right_after_load_stays_open_and_in_the_url(page, shots):
    """HANDBOOK 6: a tab clicked within a second of loading was put back (in the URL, and by a
    link's restore in the page) when the load-time events answered. Both kinds of page load."""
    base = page.url.split("?")[0]
    for start, click in (("", "Errors"), ("?tab=errors&task=quora&kind=false+positives", "Slices")):
        page.goto(base + start, wait_until="commit")
        page.get_by_role("tab", name=click, exact=True).click()
        settled(page)
        want = click.lower()
        expect(page.get_by_role("tab", name=click, exact=True)).to_have_attribute("aria-selected", "true")
        assert f"tab={want}" in page.evaluate("location.search"), (start, page.evaluate("location.search"))
    # the link's controls were still restored behind the visitor's tab
    tab(page, "Errors")
    expect(page.locator("#errors-count")).to_contain_text("Paraphrase")
    assert not page.js_errors, page.js_errors


# Every visible table (Gradio's .table-wrap grid): its width against its box, and each cell with
# text: narrower than 40 px, text cut off at the edge (the id columns' ellipsis aside), or more
# lines than words (a word broken into letters: "4 v e r y").
TABLES_JS = """() => [...document.querySelectorAll(".table-wrap[role=grid]")]
.filter((w) => w.offsetParent !== null).map((wrap) => {
  const block = wrap.closest(".block"), head = wrap.querySelector("table.header-table");
  const bad = [];
  for (const c of wrap.querySelectorAll("[role=columnheader], [role=gridcell]")) {
    const span = c.querySelector("span") || c, text = span.innerText.trim();
    if (c.offsetParent === null || !text) continue;
    const style = getComputedStyle(span), width = c.getBoundingClientRect().width;
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.4;
    const lines = Math.round(span.getBoundingClientRect().height / line), words = text.split(/\\s+/).length;
    const cut = style.textOverflow !== "ellipsis" && span.scrollWidth > span.clientWidth + 2;
    if (width < 40) bad.push(`${Math.round(width)} px wide: ${text.slice(0, 30)}`);
    else if (cut) bad.push(`cut off: ${text.slice(0, 30)}`);
    else if (lines > words + 1) bad.push(`${lines} lines for ${words} words: ${text.slice(0, 30)}`);
  }
  const box = wrap.getBoundingClientRect();
  return {id: block ? block.id : "", width: head ? head.getBoundingClientRect().width : 0, box: wrap.clientWidth,
          right: box.right, bad: bad.slice(0, 6)};
})"""

# Waits until every visible table's geometry (its box, its columns, its cell count) and the page's
# pending-event markers have stayed the same for 400 ms: column widths settle after the first paint.
SETTLE_JS = """async () => {
  const snap = () => JSON.stringify([...document.querySelectorAll(".table-wrap[role=grid]")]
    .filter((w) => w.offsetParent !== null).map((w) => {
      const head = w.querySelector("table.header-table");
      return [w.clientWidth, head ? Math.round(head.getBoundingClientRect().width) : 0,
              w.querySelectorAll("[role=gridcell]").length];
    })) + document.querySelectorAll(".progress-text, .eta-bar").length;
  const start = performance.now();
  let last = snap(), since = start;
  while (performance.now() - start < 15000) {
    await new Promise((r) => setTimeout(r, 50));
    const now = snap();
    if (now !== last) { last = now; since = performance.now(); }
    else if (performance.now() - since >= 400 && now.endsWith("]0")) return performance.now() - start;
  }
  return null;
}"""

PINNED_JS = """(id) => {
  const wrap = document.querySelector(`#${id} .table-wrap`);
  const cell = () => [...wrap.querySelectorAll(".body-cell[data-col='0']")].find((c) => c.offsetParent !== null);
  if (!cell() || wrap.scrollWidth <= wrap.clientWidth) return null;
  const before = cell().getBoundingClientRect().left;
  wrap.scrollLeft = wrap.scrollWidth;
  return new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => {
    const after = cell().getBoundingClientRect().left;
    wrap.scrollLeft = 0;
    done([before, after, wrap.scrollLeft]);
  })));
}"""


def tab_labels(page) -> dict[str, str]:
    """Every tab of the page, label -> id, read from the page itself."""
    return dict(page.eval_on_selector_all("button[role=tab]", "els => els.map((e) => [e.innerText.trim(), e.dataset.tabId])"))


def phone_tab_labels(page) -> set[str]:
    """The tabs a phone reaches: those shown, and those folded behind "More tabs" (plain buttons)."""
    shown = set(tab_labels(page))
    more = page.get_by_role("button", name="More tabs")
    if more.count():
        more.click()
        shown |= set(page.locator(".overflow-dropdown button").all_inner_texts())
        more.click()
    return {s.strip() for s in shown}


def open_tab(page, tid: str, label: str) -> None:
    """Opens a tab as a visitor does: its button, or on a phone the "More tabs" menu's item."""
    button = page.locator(f"button[role=tab][data-tab-id='{tid}']")
    if not button.is_visible():
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).click()
    else:
        button.click()
    page.wait_for_function(f"document.querySelector(\"button[role=tab][data-tab-id='{tid}']\")"
                           "?.getAttribute('aria-selected') === 'true'")
    # Gradio mounts a tab's components when it is first opened: wait for them, not only the button.
    page.wait_for_function("() => [...document.querySelectorAll('[role=tabpanel]')]"
                           ".some((p) => p.offsetParent !== null && p.querySelector('.block'))")


def test_every_table_fits_its_box_on_a_desktop_a_phone_and_in_dark_mode(page, shots):
    """Each tab (read off the page) at 1440 px, at 390 x 844 and dark at 1440 px: on a desktop
    every table's columns fit its box (no sideways scroll); on a phone a wide table scrolls inside
    its box, never the page, with its first column pinned; nowhere a sliver of a column, a word
    cut off or broken into letters."""
    base = page.url.split("?")[0]
    context = page.context.browser.new_context(viewport={"width": 1440, "height": 1000})
    view = context.new_page()
    view.set_default_timeout(TIMEOUT)
    view.goto(base)
    view.wait_for_selector("#compare-button")
    labels = tab_labels(view)
    desktop_tabs = list(labels.values())
    assert {"compare", "errors", "slices", "models"} <= set(desktop_tabs), labels
    view.set_viewport_size({"width": 390, "height": 844})
    view.reload()
    view.wait_for_selector("#compare-button")
    assert phone_tab_labels(view) == set(labels)  # the phone reaches every tab, folded or not
    measured, problems, per_tab = set(), [], {}
    by_id = {tid: label for label, tid in labels.items()}
    for mode, size, theme in (("1440", (1440, 1000), ""), ("390", (390, 844), ""), ("dark", (1440, 1000), "?__theme=dark")):
        view.set_viewport_size({"width": size[0], "height": size[1]})
        view.goto(base + theme)
        view.wait_for_selector("#compare-button")
        for tid in desktop_tabs:
            open_tab(view, tid, by_id[tid])
            if tid == "compare":
                view.click("#compare-button")
                view.wait_for_selector("#compare-table .table-wrap")
            assert view.evaluate(SETTLE_JS) is not None, f"{mode} {tid}: the tables never stopped moving"
            for t in view.evaluate(TABLES_JS):
                measured.add((mode, t["id"]))
                per_tab.setdefault((tid, mode), set()).add(t["id"])
                where = f"{mode} {tid} #{t['id']}"
                if t["bad"]:
                    problems.append(f"{where}: {t['bad']}")
                if mode != "390" and t["width"] > t["box"] + 1:
                    problems.append(f"{where}: {t['width']:.0f} px of columns in a {t['box']} px box")
                if mode == "390":
                    if t["right"] > 390:
                        problems.append(f"{where}: the box ends at {t['right']:.0f} px")
                    pinned = view.evaluate(PINNED_JS, t["id"]) if t["id"] else None
                    if pinned is not None and abs(pinned[0] - pinned[1]) > 1:
                        problems.append(f"{where}: the first column moved from {pinned[0]:.0f} to {pinned[1]:.0f} px")
            if mode == "390":
                assert view.evaluate("document.documentElement.scrollWidth") <= 390, tid
            view.screenshot(path=str(shots / f"fit-{tid}-{mode}.png"), full_page=True)
    context.close()
    for tid in desktop_tabs:  # no tab's tables were missed in one mode (measured before they were drawn)
        assert per_tab.get((tid, "390")) == per_tab.get((tid, "1440")) == per_tab.get((tid, "dark")), tid
    for mode in ("1440", "390", "dark"):  # not vacuous: the wide tables were there to be measured
        assert {(mode, "compare-table"), (mode, "metrics-table"), (mode, "slices-table"),
                (mode, "models-table")} <= measured, measured
    assert problems == []


# Each visible dropdown box: where its text may run (the input's right edge less its padding)
# against the left edge of its caret.
CARET_JS = """() => [...document.querySelectorAll(".secondary-wrap > input[role=combobox]")]
.filter((e) => e.offsetParent !== null).map((input) => {
  const caret = input.parentElement.querySelector(".icon-wrap");
  const box = input.getBoundingClientRect(), pad = parseFloat(getComputedStyle(input).paddingRight);
  return {label: input.getAttribute("aria-label"), textEnd: box.right - pad,
          caret: caret ? caret.getBoundingClientRect().left : Infinity};
})"""


def test_phone_dropdowns_keep_text_off_the_caret_and_the_status_says_done(page, shots):
    """At 390 px no dropdown's text runs under its caret (Errors, Slices); after a scoring the
    screen-reader status line says a word, not Gradio's untranslated key "common.complete"."""
    context = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    view = context.new_page()
    view.set_default_timeout(TIMEOUT)
    base = page.url.split("?")[0]
    try:
        for tid in ("errors", "slices"):
            view.goto(f"{base}?tab={tid}")
            view.wait_for_function(f"new URLSearchParams(location.search).get('tab') === '{tid}'")
            view.wait_for_selector(".secondary-wrap > input[role=combobox]")
            boxes = view.evaluate(CARET_JS)
            assert boxes and all(b["textEnd"] <= b["caret"] + 1 for b in boxes), boxes
        view.screenshot(path=str(shots / "dropdowns-390.png"), full_page=True)
        view.set_viewport_size({"width": 1400, "height": 1000})
        view.goto(base)
        view.wait_for_selector("#compare-button")
        view.evaluate("""() => { window.__said = []; new MutationObserver(() => {
            for (const e of document.querySelectorAll('[aria-live]')) if (e.textContent) window.__said.push(e.textContent);
          }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
        view.click("#compare-button")
        expect(view.locator("#compare-summary")).to_contain_text("Similarity")
        # the status tracker announces at most once in 5 s: the word after the scoring comes later
        view.wait_for_function("window.__said.some((s) => s !== 'Loading')", timeout=TIMEOUT)
        said = view.evaluate("window.__said")
        assert "Done" in said and not any("common." in s for s in said), said
    finally:
        context.close()
