"""Policy text in the HTML redline is formatted from markdown-it's tokens, the runs laid over.

Hand-made runs (no engine) for each rule: a change inside bold, italic, list items, links,
tables and headings nests inside those elements, a run crossing a formatting boundary
is split there, only http/https/mailto links are links, escapes show what they escape.
Every page is checked with a strict nesting parser. Two real corpus pairs go through
the whole renderer too (skipped without the corpus).
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from browser import parse_dom
from helpers import run_cli
from policydiff.core.diff_model import Op, SectionStatus
from policydiff.engine.compare import compare_texts
from policydiff.engine.report import CompareReport, MoveNote, Run, View, side_from_text
from policydiff.publish.render.html import Layout, formatted, render_parts
from report_factory import DEL, EQ, INS, document, report, section, seg
from wellformed import nesting_errors, raw_markup

FIXTURES = Path(__file__).parent / "fixtures" / "redline"
REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))


def body_of(*segments: object, status: SectionStatus = SectionStatus.MODIFIED) -> str:
    """Return the redline body of one section made of these segments, shown whole."""
    diff = document(section(status, *segments))  # type: ignore[arg-type]
    body = render_parts(report(diff), View(context=True)).body
    assert nesting_errors(body) == []
    return body


def shown_text(fragment: str) -> str:
    """Return the text a fragment shows (tags dropped, entities read)."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_bold_italic_heading_and_escapes_are_formatting() -> None:
    body = body_of(
        seg(EQ, "### 2. Cookies\n\nWe use **strictly necessary** and _optional_ cookies"),
        seg(INS, " (see \\*)"),
        seg(EQ, ".\n"),
    )
    assert '<h5 class="pd-md-h3">2. Cookies</h5>' in body
    assert "<strong>strictly necessary</strong>" in body
    assert "<em>optional</em>" in body
    assert "<ins>(see *)</ins>" in body
    assert raw_markup(shown_text(body)) == []


def test_a_run_across_a_bold_boundary_is_split_inside_and_outside() -> None:
    body = body_of(
        seg(EQ, "We keep **your "),
        seg(DEL, "data** for one"),
        seg(INS, "data** for two"),
        seg(EQ, " years.\n"),
    )
    # The insertion is cut where the bold ends: one part inside <strong>, one after it;
    # the deletion (whose old closing marks the new text does not share) reads in bold.
    assert re.search(r"<strong>your <del>data for one</del>.*<ins>data</ins></strong>", body)
    assert "</strong><ins> for two</ins>" in body
    assert "**" not in shown_text(body)
    assert nesting_errors(body) == []


def test_a_replaced_italic_word_stays_one_italic() -> None:
    # The word diff takes the marks with the words: `_display name_` -> `_username_`.
    body = body_of(
        seg(EQ, "We collect your "),
        seg(DEL, "_display name_"),
        seg(INS, "_username_"),
        seg(EQ, " when you register.\n"),
    )
    assert re.search(r"<em><del>display name</del>.*<ins>username</ins></em> when", body), body
    assert "_" not in shown_text(body[body.index("<section") :])


def test_lists_nest_with_changes_inside_items() -> None:
    body = body_of(
        seg(EQ, "* You may ask:\n  * for a copy;\n  * for "),
        seg(DEL, "deletion"),
        seg(INS, "erasure"),
        seg(EQ, ".\n* Or complain.\n"),
    )
    assert body.count("<ul>") == 2
    assert re.search(
        r"<li>You may ask:<ul><li>for a copy;</li>\s*<li>for <del>deletion</del>", body
    )
    assert "*" not in shown_text(body)


def test_ordered_items_show_their_number_and_its_change() -> None:
    body = body_of(seg(DEL, "3"), seg(INS, "4"), seg(EQ, ". Termination of the account.\n"))
    assert '<ol class="pd-ol"><li><span class="pd-marker"><del>3</del>' in body
    assert "<ins>4</ins>.</span> Termination" in body


LINKS = [
    ("[site](https://example.org/a?b=1&c=2)", 'href="https://example.org/a?b=1&amp;c=2"'),
    ("[mail](mailto:dpo@example.org)", 'href="mailto:dpo@example.org"'),
    ("[plain](http://example.org)", 'href="http://example.org"'),
    ('<https://example.org/x">', 'href="https://example.org/x%22"'),
    ("[rel](#cookies)", None),
    ("[ftp](ftp://example.org/f)", None),
    ("[data](data:text/html;base64,PHNjcmlwdD4=)", None),
    ("[js](javascript:alert(1))", None),
    ("[js2](JaVaScRiPt:alert(1))", None),
    ('[q](https://example.org/"onmouseover="x)', 'href="https://example.org/%22onmouseover=%22x"'),
]


@pytest.mark.parametrize(("markdown", "href"), LINKS)
def test_only_web_and_mail_links_are_links(markdown: str, href: str | None) -> None:
    body = body_of(seg(EQ, f"See {markdown} here.\n"))
    links = [a for a in parse_dom(body).tags("a") if "pd-link" in (a.attrs.get("class") or "")]
    if href is None:
        assert links == []
    else:
        assert len(links) == 1
        assert href in body
        assert links[0].attrs["rel"] == "nofollow noopener noreferrer"
    for element in parse_dom(body).elements:
        assert not any(name.startswith("on") for name in element.attrs)


def test_a_changed_link_text_is_marked_inside_the_link() -> None:
    body = body_of(
        seg(EQ, "Use the [account "), seg(INS, "settings "), seg(EQ, "page](https://e.org/a).\n")
    )
    assert re.search(
        r'<a class="pd-link" href="https://e.org/a"[^>]*>account <ins>settings</ins> page</a>', body
    )


def test_table_cells_hold_the_changes() -> None:
    diff = document(
        section(
            SectionStatus.MODIFIED,
            seg(EQ, "| Data | Kept |\n|---|---|\n| **Logs** | "),
            seg(DEL, "90"),
            seg(INS, "30"),
            seg(EQ, " days |\n"),
        )
    )
    body = render_parts(report(diff), View(context=True)).body
    assert nesting_errors(body) == []
    assert "<thead><tr><th>Data</th><th>Kept</th></tr>" in body
    assert re.search(
        r"<td><strong>Logs</strong></td><td><del>90</del>.*<ins>30</ins> days</td>", body
    )
    assert "---" not in shown_text(body)


def test_a_move_note_in_a_moved_heading_keeps_the_heading() -> None:
    note = MoveNote(0, "from", ("A", "B"))
    runs = (
        Run(Op.INSERT, "moved from \u201cA > B\u201d", note=note),
        Run(Op.EQUAL, " "),
        Run(Op.EQUAL, "## Payments", moved=True),
        Run(Op.EQUAL, "\n\nWe bill monthly.\n"),
    )
    shown = formatted(runs)
    assert shown.startswith('<p><span class="pd-move-note" id="pd-move-0-from">moved from')
    assert '<h4 class="pd-md-h2"><span class="pd-moved">Payments</span></h4>' in shown
    assert nesting_errors(shown) == []


def test_policy_text_holding_the_note_placeholder_is_only_text() -> None:
    body = body_of(seg(EQ, "A \ufffc B <b>c</b>\n"))
    assert "\ufffc" in shown_text(body)
    assert "&lt;b&gt;c&lt;/b&gt;" in body


def test_bold_written_with_inner_spaces_still_reads_as_bold() -> None:
    # Converters write "**Your Posts. ** The app": no bold to CommonMark, asterisks shown.
    body = body_of(seg(EQ, "**Your Posts. ** The app. Also the** \u201cServices\u201d**.\n"))
    assert "<strong>Your Posts.</strong>" in body
    assert "<strong>\u201cServices\u201d</strong>" in body
    assert "**" not in shown_text(body)


@pytest.mark.parametrize("case", sorted(p.name for p in FIXTURES.iterdir()))
@pytest.mark.parametrize("cosmetic", [False, True])
def test_fixture_reports_nest_and_show_no_markup(case: str, cosmetic: bool) -> None:
    folder = FIXTURES / case
    args = ["compare", str(folder / "before.md"), str(folder / "after.md"), "--format", "html"]
    result = run_cli([*args, *(["--show-cosmetic"] if cosmetic else [])])
    assert result.exit_code in (0, 1), result.stderr
    assert nesting_errors(result.stdout) == []
    article = result.stdout[result.stdout.index("<article") :]
    assert raw_markup(shown_text(article)) == []


# Two real pairs with lists, links, bold labels, italic pseudo-headings and tables.
CORPUS_PAIRS = [
    ("chatgpt/privacy-policy", "2026-01-21", "2026-05-18"),
    ("linkedin/privacy-policy", "2025-04-22", "2025-06-10"),
]


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(), reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize(("document_name", "old", "new"), CORPUS_PAIRS)
def test_real_pairs_render_well_formed_without_markup(
    document_name: str, old: str, new: str
) -> None:
    old_text = (CORPUS / document_name / f"{old}.md").read_text(encoding="utf-8")
    new_text = (CORPUS / document_name / f"{new}.md").read_text(encoding="utf-8")
    sides = side_from_text(old, old_text), side_from_text(new, new_text)
    compared = CompareReport(*sides, compare_texts(old_text, new_text))
    for view in (View(), View(show_cosmetic=True)):
        body = render_parts(compared, view).body
        assert nesting_errors(body) == []
        assert raw_markup(shown_text(body)) == []
        dom = parse_dom(body)
        # Formatted: the policies' lists, bold labels and links are elements.
        assert dom.tags("li")
        assert dom.tags("strong") or dom.tags("em")
        assert all(
            (a.attrs.get("href") or "").startswith(("#pd-", "https://", "http://", "mailto:"))
            for a in dom.tags("a")
        )


_MARKDOWN = st.text(
    alphabet=st.sampled_from(list("ab *_#[]()|-:>`\\!<&\n1.~\u00a0\ufffc\r\u2028\x0c")),
    max_size=30,
)
_OPS = st.sampled_from([Op.EQUAL, Op.DELETE, Op.INSERT])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_OPS, _MARKDOWN, st.booleans(), st.booleans()), max_size=8))
def test_any_runs_over_any_markdown_nest(parts: list[tuple[Op, str, bool, bool]]) -> None:
    runs = tuple(
        Run(op, text, cosmetic=cosmetic and op is not Op.EQUAL, moved=moved)
        for op, text, cosmetic, moved in parts
    )
    shown = formatted(runs, Layout(tables=True))
    assert nesting_errors(shown) == []
    for element in parse_dom(shown).elements:
        assert not any(name.startswith("on") for name in element.attrs)
        href = element.attrs.get("href")
        assert href is None or href.startswith(("https://", "http://", "mailto:")), href
    # Every letter of the policy text is shown (markup characters may be formatting).
    letters = "".join(c for op, text, _, _ in parts for c in text if c in "ab")
    assert "".join(c for c in shown_text(shown) if c in "ab") == letters
    # ... each inside its own run's element: deleted letters in <del>, inserted in <ins>.
    dom = parse_dom(shown)
    for op, tag in ((Op.DELETE, "del"), (Op.INSERT, "ins")):
        marked = "".join(c for e in dom.tags(tag) for c in "".join(e.text) if c in "ab")
        expected = "".join(c for o, text, _, _ in parts if o is op for c in text if c in "ab")
        assert marked == expected, (tag, shown)


def test_a_piece_too_dense_with_markup_is_shown_as_plain_text() -> None:
    # markdown-it's cost grows with delimiters; past the budget the text is not parsed.
    dense = "a** b " * 12000
    shown = formatted((Run(Op.EQUAL, "x "), Run(Op.INSERT, dense), Run(Op.EQUAL, "\n")))
    assert shown.startswith('<div class="pd-plain">x <ins>')
    assert nesting_errors(shown) == []
    assert shown_text(shown).count("**") == 12000
