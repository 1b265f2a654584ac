"""The HTML report's layout: legend, section headings, del/ins separators, moves, cosmetic toggle.

Structure checks on the generated page (parsed with ``html.parser``), plus one load in
headless Chromium (skipped without it) for CSP violations and the legend.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from browser import chromium_available, dump_dom, parse_dom
from helpers import run_cli
from policydiff.core.diff_model import SectionStatus
from policydiff.engine.report import View
from policydiff.publish.render.html import CSS, content_security_policy, render, render_parts
from report_factory import DEL, EQ, INS, document, report, sample, section, seg

GOLDEN = Path(__file__).parent / "golden" / "compare"


def compare_html(case: str, *args: str) -> str:
    """Return the HTML report of a golden case, made through the CLI."""
    before, after = GOLDEN / case / "before.md", GOLDEN / case / "after.md"
    result = run_cli(["compare", str(before), str(after), "--format", "html", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def classed(dom_html: str, name: str) -> list[str]:
    """Return the direct text of every element carrying class ``name``."""
    dom = parse_dom(dom_html)
    return ["".join(e.text) for e in dom.elements if name in (e.attrs.get("class") or "").split()]


def pd_text(body: str) -> str:
    """Return the text of the (single) redline block as a reader would copy it."""
    (inner,) = re.findall(r'<div class="pd-text">(.*?)</div>', body, re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", inner))


def test_legend_names_the_four_styles_before_the_sections() -> None:
    page = render(sample(), View())
    assert [e for e in parse_dom(page).tags("ul") if e.attrs.get("class") == "pd-legend"]
    keys = {name: classed(page, f"pd-key-{name}") for name in ("ins", "del", "moved", "cosmetic")}
    assert keys == {
        "ins": ["inserted"],
        "del": ["deleted"],
        "moved": ["moved"],
        "cosmetic": ["cosmetic"],
    }
    # At the top: after the header, before the table of contents and the first section.
    assert page.index('class="pd-legend"') < page.index('class="pd-toc"')
    assert page.index('class="pd-legend"') < page.index('id="pd-s-1"')
    # Drawn with the same colours as the redline, but not as del/ins (those are changes).
    assert ".pd-report del, .pd-report .pd-key-del {" in CSS
    assert ".pd-report ins, .pd-report .pd-key-ins {" in CSS


def test_section_heading_is_its_own_number_and_title_with_a_breadcrumb() -> None:
    diff = document(
        section(
            SectionStatus.MODIFIED,
            seg(EQ, "### 4. Retention\n\nWe keep it for "),
            seg(DEL, "one year"),
            seg(INS, "two years"),
            seg(EQ, ".\n"),
            path=("Privacy policy", "2. Data", "Retention"),
            labels=("3.", "4."),
        )
    )
    page = render(report(diff), View())
    dom = parse_dom(page)
    section_headings = [" ".join(h.text) for h in dom.tags("h2")][1:]  # [0] is "Sections"
    assert section_headings == ["4. Retention"]
    assert classed(page, "pd-crumbs") == ["Privacy policy > 2. Data"]
    # The table of contents still names the whole path.
    assert "Privacy policy &gt; 2. Data &gt; Retention</a>" in page


def test_number_is_not_doubled_when_the_title_carries_it() -> None:
    page = render(sample(), View())
    headings = [" ".join(h.text) for h in parse_dom(page).tags("h2")][1:]
    # The sample's titles already carry their number ("2. Data we collect").
    assert "2. Data we collect" in headings
    assert not any(h.startswith("2. 2.") for h in headings)


def test_top_level_section_has_no_breadcrumb() -> None:
    diff = document(
        section(
            SectionStatus.MODIFIED,
            seg(EQ, "# Privacy policy\n\nWe "),
            seg(INS, "never "),
            seg(EQ, "sell.\n"),
            path=("Privacy policy",),
        )
    )
    page = render(report(diff), View())
    assert [" ".join(h.text) for h in parse_dom(page).tags("h2")][1:] == ["Privacy policy"]
    assert classed(page, "pd-crumbs") == []


# (runs, separators expected, text as copied)
SEPARATOR_CASES = [
    # Two dates that touch read as two dates.
    (
        (seg(EQ, "Valid from "), seg(DEL, "25 May 2018"), seg(INS, "1 January 2020")),
        1,
        "Valid from 25 May 2018\u20091 January 2020",
    ),
    # Insertion first, then deletion: also separated.
    ((seg(EQ, "a "), seg(INS, "new"), seg(DEL, "old"), seg(EQ, " b")), 1, "a new\u2009old b"),
    # A space already parts them: nothing added.
    (
        (seg(EQ, "x "), seg(DEL, "old"), seg(EQ, " "), seg(INS, "new"), seg(EQ, " y")),
        0,
        "x old new y",
    ),
    # Not adjacent: nothing added.
    ((seg(DEL, "old"), seg(EQ, " and "), seg(INS, "new")), 0, "old and new"),
]


@pytest.mark.parametrize(("runs", "separators", "copied"), SEPARATOR_CASES)
def test_touching_deletion_and_insertion_get_a_thin_space(
    runs: tuple[object, ...], separators: int, copied: str
) -> None:
    diff = document(section(SectionStatus.MODIFIED, seg(EQ, "# T\n\n"), *runs))  # type: ignore[arg-type]
    body = render_parts(report(diff), View()).body
    assert body.count('<span class="pd-sep">&thinsp;</span>') == separators
    if separators:
        assert re.search(r'</(del|ins)><span class="pd-sep">&thinsp;</span><(ins|del)>', body)
    assert pd_text(body) == copied


def test_separator_leaves_json_untouched() -> None:
    # The JSON format keeps the runs as they are (its reconstruction rule), HTML only adds.
    before, after = (
        GOLDEN / "sentence_change" / "before.md",
        GOLDEN / "sentence_change" / "after.md",
    )
    result = run_cli(["compare", str(before), str(after), "--format", "json"])
    assert result.exit_code in (0, 1), result.stderr
    assert "\u2009" not in result.stdout
    assert "pd-sep" not in result.stdout
    assert 'class="pd-sep">&thinsp;</span>' in compare_html("sentence_change")


def test_moved_text_has_its_own_style_and_links_both_ways() -> None:
    page = compare_html("split_section")
    moved = classed(page, "pd-moved")
    assert moved
    assert moved[0].startswith("When you register for services")
    links = {a.attrs["id"]: a.attrs["href"] for a in parse_dom(page).tags("a") if "id" in a.attrs}
    assert links == {"pd-move-0-to": "#pd-move-0-from", "pd-move-0-from": "#pd-move-0-to"}
    # A double underline in its own colour, not a faint background tint.
    rule = re.search(r"\.pd-report span\.pd-moved[^{]*\{([^}]*)\}", CSS)
    assert rule is not None
    assert "text-decoration-style: double" in rule.group(1)
    assert "background: none" in rule.group(1)
    assert "--pd-moved-bg" not in CSS


def test_cosmetic_edits_are_a_second_view_behind_an_unticked_toggle() -> None:
    page = compare_html("cosmetic_only")
    dom = parse_dom(page)
    (box,) = dom.tags("input")
    assert box.attrs["type"] == "checkbox"
    assert "checked" not in box.attrs  # hidden until ticked
    (label,) = dom.tags("label")
    assert label.attrs["for"] == box.attrs["id"]
    # A sibling before the sections, so the CSS ``~`` selector reaches them.
    body = page.split("</style>")[1]
    assert body.index("<input") < body.index('<section class="pd-section')
    # Each section with cosmetic edits holds both views; the edits only in the second.
    assert body.count('<div class="pd-view-plain">') == body.count('<div class="pd-view-cosmetic">')
    assert body.count('<div class="pd-view-cosmetic">') >= 1
    for plain in re.findall(
        r'<div class="pd-view-plain">(.*?)<div class="pd-view-cosmetic">', body, re.DOTALL
    ):
        assert "pd-cosmetic" not in plain
    assert classed(page, "pd-cosmetic")
    rule = ".pd-report .pd-toggle:not(:checked) ~ .pd-section .pd-view-cosmetic,"
    assert rule in CSS
    # --show-cosmetic asked for them: the same page, ticked.
    shown = parse_dom(compare_html("cosmetic_only", "--show-cosmetic"))
    (ticked,) = shown.tags("input")
    assert "checked" in ticked.attrs


def test_no_toggle_without_cosmetic_edits() -> None:
    diff = document(
        section(
            SectionStatus.MODIFIED, seg(EQ, "# T\n\nWe "), seg(INS, "never "), seg(EQ, "sell.\n")
        )
    )
    page = render(report(diff), View())
    assert "pd-toggle" not in page.split("</style>")[1]
    assert "pd-view-cosmetic" not in page.split("</style>")[1]


def test_csp_still_hashes_the_style() -> None:
    page = compare_html("moved_section")
    assert content_security_policy(CSS) in html.unescape(page)
    assert f"<style>{CSS}</style>" in page


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium")
def test_browser_shows_the_legend_without_csp_errors(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(compare_html("split_section", "--show-cosmetic"), encoding="utf-8")
    run = dump_dom(page, tmp_path / "profile")
    assert "Content Security Policy" not in run.stderr
    assert "Refused to" not in run.stderr
    dom = parse_dom(run.stdout)
    (legend,) = [e for e in dom.tags("ul") if e.attrs.get("class") == "pd-legend"]
    assert "hidden" not in legend.attrs
    assert classed(run.stdout, "pd-key-moved") == ["moved"]
    # Nothing in the page's own stylesheet hides the legend.
    assert not re.search(r"pd-legend[^{]*\{[^}]*(display: none|visibility: hidden)", CSS)


LIST_BEFORE = """# T

## Transfers

We rely on:

  * Adequacy decisions made by the Commission; or
  * Standard contractual clauses approved by the Commission.
  * Derogations in some cases.

End.
"""
LIST_AFTER = """# T

## Transfers

We rely on:

Adequacy decisions made by the Commission; or

Standard contractual clauses approved by the Commission.

Derogations in some cases.

End.
"""


def test_changed_list_marker_stays_with_its_item(tmp_path: Path) -> None:
    before, after = tmp_path / "before.md", tmp_path / "after.md"
    before.write_text(LIST_BEFORE, encoding="utf-8")
    after.write_text(LIST_AFTER, encoding="utf-8")
    args = ["compare", str(before), str(after), "--format", "html", "--show-cosmetic"]
    result = run_cli(args)
    assert result.exit_code in (0, 1), result.stderr
    blocks = re.findall(r'<div class="pd-text">(.*?)</div>', result.stdout, re.DOTALL)
    texts = [html.unescape(re.sub(r"<[^>]+>", "", b)).strip() for b in blocks]
    assert "*" not in "".join(texts)  # never a marker shown as text
    assert texts == [
        "Adequacy decisions made by the Commission; or",
        "Standard contractual clauses approved by the Commission.",
    ]
    # Each item is a list item whose bullet is marked deleted (the list became paragraphs).
    assert all(b.startswith('<ul><li class="pd-marker-del pd-cosmetic">') for b in blocks)
    # The third item is folded away as unchanged: its deleted marker opens the fold.
    assert re.search(r'<p class="pd-elided"><del class="pd-cosmetic"[^>]*>\*</del> ', result.stdout)
