"""The site in a real browser: headless Chromium loads the pages from file://.

Needs ``/usr/bin/chromium`` (Debian: ``apt-get install -y chromium``); skipped without it.
A screenshot of a policy timeline is kept in tests/artifacts/ for a human look.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import DomParser, chromium_available, dump_dom, parse_dom, screenshot
from policydiff.publish.site import build_site
from test_blame import POLICY, build_story, snapshot
from test_site import HOSTILE, HOSTILE_V1, HOSTILE_V2, check_links

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium"),
]

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site of the story policy and a hostile one."""
    folder = tmp_path_factory.mktemp("site-browser")
    store = build_story(folder / "store")
    store.record([snapshot(HOSTILE_V1, "2020-01-01", policy=HOSTILE)])
    store.record([snapshot(HOSTILE_V2, "2020-02-01", policy=HOSTILE)])
    build_site(store, folder / "out", store.policies())
    assert check_links(folder / "out")
    return folder / "out"


def load(page: Path, profile: Path) -> tuple[DomParser, str]:
    """Return the DOM Chromium built for ``page`` and assert it logged no console message."""
    run = dump_dom(page, profile)
    # Our pages log nothing: any console line is an error or a CSP violation.
    noise = [
        line
        for line in run.stderr.splitlines()
        if ":CONSOLE" in line or "Content Security Policy" in line or "net::ERR" in line
    ]
    assert not noise, noise
    assert "Uncaught" not in run.stderr
    return parse_dom(run.stdout), run.stdout


def test_timeline_page(site: Path, tmp_path: Path) -> None:
    dom, _ = load(site / "policies" / POLICY / "index.html", tmp_path / "profile")
    assert [" ".join(h.text) for h in dom.tags("h1")] == [POLICY]
    rows = [r for r in dom.tags("tr") if r.attrs.get("id")]
    assert [r.attrs["id"] for r in rows] == [f"v{n}" for n in range(1, 7)]
    assert len(dom.tags("svg")) == 1
    bars = [a for a in dom.tags("a") if str(a.attrs.get("href", "")).startswith("diffs/")]
    assert len(bars) >= 5
    assert len(dom.tags("rect")) >= 6


def test_picker_runs_under_the_page_csp(site: Path, tmp_path: Path) -> None:
    dom, html = load(site / "policies" / POLICY / "compare.html", tmp_path / "profile")
    picker = next(e for e in dom.tags("div") if e.attrs.get("id") == "pd-picker")
    # The script un-hides the picker: had the CSP blocked it, it would stay hidden.
    assert "hidden" not in picker.attrs
    button = next(e for e in dom.tags("button") if e.attrs.get("id") == "pd-go")
    assert "disabled" not in button.attrs  # 5 -> 6 is generated
    assert len(dom.tags("option")) == 12
    assert len(dom.tags("script")) == 2
    assert 'id="pd-note"' in html


def test_hostile_text_renders_as_text(site: Path, tmp_path: Path) -> None:
    base = site / "policies" / HOSTILE
    pages = {
        base / "versions" / "2.html": "<script>alert(1)</script>",
        base / "blame.html": "<img src=x onerror=alert(1)>",
        base / "diffs" / "1-2.html": "<style>body{display:none}</style>",
    }
    for number, (page, shown) in enumerate(pages.items()):
        dom, _ = load(page, tmp_path / f"profile{number}")
        assert not dom.tags("script"), page
        assert not dom.tags("img"), page
        assert not dom.tags("b"), page
        assert len(dom.tags("style")) == 1
        assert shown in "".join(dom.text)
        for element in dom.elements:
            assert not any(name.startswith("on") for name in element.attrs), element


def test_blame_and_section_pages(site: Path, tmp_path: Path) -> None:
    base = site / "policies" / POLICY
    dom, _ = load(base / "blame.html", tmp_path / "profile1")
    gutters = [e for e in dom.tags("td") if e.attrs.get("class") == "pd-gutter"]
    assert len(gutters) > 10
    dom, _ = load(base / "sections" / "003-online-services.html", tmp_path / "profile2")
    headings = [" ".join(h.text) for h in dom.tags("h2")]
    assert headings == [
        "v1 2016-02-08 \u00b7 initial",
        "v2 2016-06-01 \u00b7 cosmetic",
        "v3 2017-01-10 \u00b7 text_moved",
        "v4 2017-03-20 \u00b7 renamed",
    ]
    assert dom.tags("ins")


def test_screenshot_of_the_timeline(site: Path, tmp_path: Path) -> None:
    target = screenshot(
        site / "policies" / POLICY / "index.html",
        ARTIFACTS / "site-timeline.png",
        tmp_path / "profile",
        size=(1200, 1000),
    )
    assert target.stat().st_size > 10_000
