"""The formatted HTML redline as a reader sees it: headless Chromium, driven over DevTools.

Four small cases under tests/fixtures/redline/ (moved and edited text, cosmetic edits
only, renumbered sections, a table change) go through ``compare --format html``; for
each, the page's rendered text (``innerText``, what is on screen) holds no markdown
syntax, the legend shows, every in-page link lands on an element, cosmetic edits are
hidden until the toggle is clicked and shown after, and the browser logs nothing (no
console message, no Content-Security-Policy violation). Screenshots are saved to
tests/artifacts/ (kept out of git); docs/img/ holds copies for the README.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import chromium_available
from cdp import DevTools
from helpers import run_cli
from wellformed import nesting_errors, raw_markup

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium"),
]

FIXTURES = Path(__file__).parent / "fixtures" / "redline"
ARTIFACTS = Path(__file__).parent / "artifacts"
CASES = ("moved_edited", "cosmetic_only", "renumbered", "table_change")

# In the page: the rendered text of the report, and the cosmetic marks that take space.
TEXT = "document.querySelector('article.pd-report').innerText"
SHOWN_COSMETIC = (
    "[...document.querySelectorAll('.pd-text .pd-cosmetic')]"
    ".filter(e => e.getClientRects().length > 0).length"
)
DANGLING_LINKS = (
    "[...document.querySelectorAll('a[href^=\"#\"]')]"
    ".map(a => a.getAttribute('href'))"
    ".filter(h => document.getElementById(h.slice(1)) === null)"
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    """One headless Chromium for the module (a fresh profile in a temporary directory)."""
    with DevTools(tmp_path_factory.mktemp("chromium") / "profile", size=(1000, 900)) as tools:
        yield tools


def report_page(case: str, target: Path) -> Path:
    """Write a case's HTML report through the CLI and return its path.

    Run from the case's folder, so the two sides are labelled ``before.md``/``after.md``.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(FIXTURES / case)
        args = ["compare", "before.md", "after.md", "--format", "html", "-o", str(target)]
        result = run_cli(args)
    assert result.exit_code == 0, result.stderr
    return target


@pytest.mark.parametrize("case", CASES)
def test_redline_reads_as_formatted_text(case: str, browser: DevTools, tmp_path: Path) -> None:
    page = report_page(case, tmp_path / f"{case}.html")
    assert nesting_errors(page.read_text(encoding="utf-8")) == []
    browser.events.clear()
    browser.load(page)
    # Formatting, not markup: nothing of the markdown syntax is on screen.
    text = browser.evaluate(TEXT)
    assert raw_markup(text) == []
    # The legend names the four styles and is visible.
    keys = browser.evaluate(
        "[...document.querySelectorAll('.pd-legend li')]"
        ".filter(e => e.getClientRects().length > 0).map(e => e.innerText)"
    )
    assert keys == ["inserted", "deleted", "moved", "cosmetic"]
    # Every in-page link lands on an element.
    assert browser.evaluate(DANGLING_LINKS) == []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = browser.screenshot(ARTIFACTS / f"redline-{case}.png")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # Cosmetic edits: hidden until the toggle is clicked, then shown.
    assert browser.evaluate("document.querySelector('#pd-show-cosmetic').checked") is False
    assert browser.evaluate(SHOWN_COSMETIC) == 0
    browser.evaluate("document.querySelector('label.pd-toggle-label').click()")
    assert browser.evaluate("document.querySelector('#pd-show-cosmetic').checked") is True
    assert browser.evaluate(SHOWN_COSMETIC) > 0
    assert raw_markup(browser.evaluate(TEXT)) == []
    assert browser.evaluate(DANGLING_LINKS) == []
    browser.screenshot(ARTIFACTS / f"redline-{case}-cosmetic.png")
    # Clicked again: hidden again.
    browser.evaluate("document.querySelector('label.pd-toggle-label').click()")
    assert browser.evaluate(SHOWN_COSMETIC) == 0
    # Nothing logged: no console message, no CSP violation, no failed load.
    assert browser.problems() == []


def test_moved_text_links_both_ways_and_keeps_its_edits(browser: DevTools, tmp_path: Path) -> None:
    browser.load(report_page("moved_edited", tmp_path / "moved.html"))
    notes = browser.evaluate(
        "[...document.querySelectorAll('a.pd-move-note')]"
        ".filter(a => a.getClientRects().length > 0)"
        ".map(a => [a.id, a.getAttribute('href')])"
    )
    assert sorted(notes) == [
        ["pd-move-0-from", "#pd-move-0-to"],
        ["pd-move-0-to", "#pd-move-0-from"],
    ]
    # Followed, the link lands on the other note (the :target outline is drawn).
    browser.evaluate("document.getElementById('pd-move-0-to').click()")
    assert browser.evaluate("location.hash") == "#pd-move-0-from"
    assert (
        browser.evaluate("getComputedStyle(document.getElementById('pd-move-0-from')).outlineStyle")
        == "solid"
    )
    # The moved paragraph keeps the words changed on its way, in its own style.
    edits = browser.evaluate(
        "[...document.querySelectorAll('#pd-s-3 ins, #pd-s-3 del')].map(e => e.innerText)"
    )
    assert {"paid", "credit", "payment"} <= set(edits)
    # A replaced italic word stays italic: one <em> around the deleted and the new word.
    italic = browser.evaluate("document.querySelector('#pd-s-2 em').innerText")
    assert italic.split() == ["display", "name", "username"]
    style = browser.evaluate(
        "getComputedStyle(document.querySelector('span.pd-moved')).textDecorationStyle"
    )
    assert style == "double"


def test_formatting_elements_hold_the_changes(browser: DevTools, tmp_path: Path) -> None:
    browser.load(report_page("table_change", tmp_path / "table.html"))
    # Inside the table cells, with the row's bold and italic kept.
    cells = browser.evaluate(
        "[...document.querySelectorAll('.pd-view-plain td ins, .pd-view-plain td del')]"
        ".map(e => e.innerText)"
    )
    assert {"90", "30", "fraud", "Backups"} <= set(cells)
    assert browser.evaluate("document.querySelector('.pd-view-plain td strong').innerText") == (
        "Logs"
    )
    headers = browser.evaluate(
        "[...document.querySelectorAll('.pd-view-plain th')].map(e => e.innerText)"
    )
    assert headers == ["Data", "Kept for", "Why"]
    browser.load(report_page("renumbered", tmp_path / "renumbered.html"))
    # The new list item's number is text, marked inserted (not the browser's own counter).
    marker = browser.evaluate(
        "[...document.querySelectorAll('.pd-view-plain .pd-marker')].map(e => e.innerHTML)"
    )
    assert marker == ["1.", "2.", "<ins>3.</ins>"]


def test_the_harness_sees_a_csp_violation(browser: DevTools, tmp_path: Path) -> None:
    # Without this, an empty problems() could mean the harness hears nothing.
    page = tmp_path / "blocked.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'\"><style>p { color: red; }</style></head>"
        "<body><p>x</p></body></html>",
        encoding="utf-8",
    )
    browser.events.clear()
    browser.load(page)
    problems = browser.problems()
    assert any("Content Security Policy" in line for line in problems), problems
