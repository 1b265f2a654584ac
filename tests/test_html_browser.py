"""The compare HTML in a real browser: headless Chromium loads it from file://.

Needs ``/usr/bin/chromium`` (Debian: ``apt-get install -y chromium``); skipped without it.
A screenshot of the hostile-text case is saved to tests/artifacts/ for a human look.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import chromium_available, dump_dom, parse_dom, screenshot
from helpers import run_cli

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium"),
]

GOLDEN = Path(__file__).parent / "golden" / "compare"
ARTIFACTS = Path(__file__).parent / "artifacts"


def compare_html(case: str, target: Path) -> Path:
    """Write the HTML report of a golden case to ``target`` through the CLI."""
    before, after = GOLDEN / case / "before.md", GOLDEN / case / "after.md"
    result = run_cli(["compare", str(before), str(after), "--format", "html", "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    return target


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The hostile-text report as a file, and the DOM and log Chromium made of it."""
    folder = tmp_path_factory.mktemp("browser")
    page = compare_html("hostile_text", folder / "hostile.html")
    run = dump_dom(page, folder / "profile")
    return page, run.stdout, run.stderr


def test_dom_has_the_sections_and_the_redline(tmp_path: Path) -> None:
    page = compare_html("split_section", tmp_path / "split.html")
    dom = parse_dom(dump_dom(page, tmp_path / "profile").stdout)
    sections = dom.tags("section")
    assert [s.attrs["id"] for s in sections] == ["pd-s-1", "pd-s-2"]
    links = [a.attrs["href"] for a in dom.tags("a")]
    assert links == ["#pd-s-1", "#pd-s-2", "#pd-move-0-from", "#pd-move-0-to"]
    # The moved paragraph's two notes link to each other, both ways.
    ids = {e.attrs["id"] for e in dom.elements if "id" in e.attrs}
    assert {link[1:] for link in links} <= ids
    # Each section is headed by its own title, its parents shown as a breadcrumb.
    headings = [" ".join(h.text) for h in dom.tags("h2")]
    assert headings == ["Sections", "Forums and mailinglists", "Payments"]
    crumbs = [" ".join(p.text) for p in dom.tags("p") if p.attrs.get("class") == "pd-crumbs"]
    assert crumbs == ["SME Server:Privacy policy - SME Server > What we collect"] * 2
    # Moved verbatim: no deletion, only the new heading inserted; the text is a move.
    assert not dom.tags("del")
    assert len(dom.tags("ins")) == 1
    notes = " ".join(" ".join(a.text) for a in dom.tags("a"))
    assert "moved to" in notes
    assert "moved from" in notes


def test_hostile_policy_text_is_only_text(hostile: tuple[Path, str, str]) -> None:
    _, html, _ = hostile
    dom = parse_dom(html)
    assert not dom.tags("script")
    assert not dom.tags("img")
    assert not dom.tags("iframe")
    assert len(dom.tags("style")) == 1
    for element in dom.elements:
        assert not any(name.startswith("on") for name in element.attrs), element
        href = element.attrs.get("href")
        assert href is None or href.startswith("#pd-s-"), href
    text = "".join(dom.text)
    assert "<script>alert(1)</script>" in text
    assert "<img src=x onerror=alert(2)>" in text
    assert '<a href="javascript:alert(4)">this link</a>' in text
    assert "[our terms](javascript:alert(3))" in text
    assert "\\u202eevil\\u202c" in text


def test_page_loads_nothing_and_breaks_no_policy(hostile: tuple[Path, str, str]) -> None:
    _, _, log = hostile
    # A style blocked by the page's own CSP, or a fetch attempt, would be logged here.
    assert "Content Security Policy" not in log
    assert "Refused to" not in log
    assert "net::ERR" not in log


def test_screenshot(hostile: tuple[Path, str, str], tmp_path: Path) -> None:
    page, _, _ = hostile
    shot = screenshot(page, ARTIFACTS / "compare-hostile_text.png", tmp_path / "profile")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert shot.stat().st_size > 10_000
