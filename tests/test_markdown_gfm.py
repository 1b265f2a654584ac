"""Markdown that fits where it is pasted (``--max-chars``) and reads right on GitHub."""

from __future__ import annotations

import os
import re
from itertools import pairwise
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from helpers import REPO, run_cli

CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))
LARGEST = CORPUS / "instagram" / "privacy-policy"
LARGEST_PAIR = [str(LARGEST / "2025-06-21.md"), str(LARGEST / "2025-06-25.md")]
needs_largest = pytest.mark.skipif(
    not (LARGEST / "2025-06-25.md").exists(), reason=f"no corpus at {CORPUS}"
)
MORE = " more changed sections not shown"


def compare_markdown(*args: str) -> str:
    """Return the markdown report of ``compare ARGS`` (which must succeed)."""
    result = run_cli(["compare", "--format", "markdown", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.corpus
@needs_largest
def test_largest_corpus_pair_fits_a_github_comment() -> None:
    out = compare_markdown(*LARGEST_PAIR)
    assert len(out) <= 60_000
    last = out.rstrip("\n").splitlines()[-1]
    assert MORE in last
    # The summary table is kept whole: one row per changed section.
    full = compare_markdown("--max-chars", "0", *LARGEST_PAIR)
    assert len(full) > 60_000
    assert MORE not in full
    summary = full[full.index("| Status |") :]
    rows = summary[: summary.index("\n\n")].splitlines()
    assert all(row in out for row in rows)
    # Whole sections only: every section heading shown is followed by its full text.
    shown = out[: out.rindex("\n\n*")]
    assert full.startswith(shown)
    hidden = int(last.lstrip("*").split(" ", 1)[0])
    assert hidden == full.count("\n### ") - shown.count("\n### ")


@pytest.mark.corpus
@needs_largest
@pytest.mark.parametrize("limit", [200, 3_000, 20_000])
def test_max_chars_keeps_whole_sections_and_links_the_report(limit: int) -> None:
    url = "https://example.org/reports/instagram.html?x=1&y=2"
    out = compare_markdown("--max-chars", str(limit), "--report-url", url, *LARGEST_PAIR)
    assert len(out) <= limit
    last = out.rstrip("\n").splitlines()[-1]
    assert MORE in last
    # The closing line is a paragraph of its own (not a table row) with a working link.
    html = MarkdownIt("commonmark").enable("table").render(out)
    link = '<a href="https://example.org/reports/instagram.html?x=1&amp;y=2">full report</a>'
    assert html.rstrip().endswith(f"{link}</em></p>")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report-url", "javascript:alert(1)"], "http"),
        (["--report-url", "https://a.example/<script>"], "angle"),
        (["--report-url", "https://a.example/ x"], "spaces"),
        (["--report-url", "ftp://a.example/r.html"], "http"),
        (["--report-url", "https://"], "http"),
        (["--max-chars", "-1"], "max-chars"),
        (["--format", "html", "--max-chars", "10"], "only to --format markdown"),
        (["--format", "term", "--report-url", "https://a.example/"], "only to --format markdown"),
    ],
)
def test_bad_size_options_are_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text("# T\n\nOne.\n", encoding="utf-8")
    new.write_text("# T\n\nTwo.\n", encoding="utf-8")
    fmt = [] if "--format" in args else ["--format", "markdown"]
    result = run_cli(["compare", *fmt, *args, str(old), str(new)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_small_reports_are_unchanged_by_the_limit(tmp_path: Path) -> None:
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text("# T\n\n## A\n\nOne.\n\n## B\n\nTwo.\n", encoding="utf-8")
    new.write_text("# T\n\n## A\n\nUno.\n\n## B\n\nDos.\n", encoding="utf-8")
    full = compare_markdown("--max-chars", "0", str(old), str(new))
    assert compare_markdown(str(old), str(new)) == full
    assert compare_markdown("--max-chars", str(len(full)), str(old), str(new)) == full
    cut = compare_markdown("--max-chars", str(len(full) - 1), str(old), str(new))
    assert len(cut) < len(full)
    assert cut.rstrip().endswith("*1 more changed section not shown.*")


# GitHub-flavoured markdown as far as markdown-it goes without linkify-it: raw HTML on
# (what GitHub keeps of it is <del>/<ins>), tables and strikethrough.
try:
    import linkify_it  # noqa: F401

    GFM = MarkdownIt("gfm-like")
except ImportError:
    GFM = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def gfm(markdown: str) -> str:
    """Return the HTML a GitHub-like renderer makes of ``markdown``."""
    return GFM.render(markdown)


def redline_html(old: str, new: str) -> str:
    """Return the rendered body (after the summary) of comparing two small policies."""
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport, View, side_from_text
    from policydiff.publish.render.markdown import render

    report = CompareReport(
        side_from_text("old.md", old), side_from_text("new.md", new), compare_texts(old, new)
    )
    out = render(report, View())
    return gfm(out[out.index("\n### ") :])


POLICY = (
    "# Policy\n\n## What we collect\n\n"
    "We collect **your name** and _your e-mail_ when you sign up.\n\n"
    "* Account data\n"
    "* Usage data\n"
    "  * pages you visit\n"
    "  * searches\n\n"
    "1. First we ask.\n"
    "2. Then we store.\n"
)


def test_list_items_stay_list_items() -> None:
    new = (
        POLICY.replace("* Usage data", "* Usage data, with times")
        .replace("  * searches", "  * searches you make")
        .replace("Then we store.", "Then we store it.")
    )
    html = redline_html(POLICY, new)
    assert "&nbsp;" not in html
    assert "\\*" not in html
    assert "<li>Account data</li>" in html
    assert "<li>First we ask.</li>" in html
    assert "<ol>" in html
    # The nested list stays nested, and the changed words are marked inside the item.
    assert "<li>Usage data<ins>, with times</ins>\n<ul>\n<li>pages you visit</li>" in html
    assert "<li>searches <ins>you make</ins></li>" in html


def test_added_and_removed_items_are_items_with_their_text_marked() -> None:
    new = POLICY.replace("* Account data\n", "* Account data\n* Payment data\n")
    html = redline_html(POLICY, new)
    assert "<li><ins>Payment data</ins></li>" in html
    html = redline_html(new, POLICY)
    assert "<li><del>Payment data</del></li>" in html


def test_bold_and_italic_are_formatting() -> None:
    new = POLICY.replace("when you sign up", "when you sign up or log in")
    html = redline_html(POLICY, new)
    assert "<strong>your name</strong>" in html
    assert "<em>your e-mail</em>" in html
    assert "**" not in html
    assert "_your" not in html
    html = redline_html(POLICY, new.replace("**your name**", "**your full name**"))
    assert "<strong>your <ins>full</ins> name</strong>" in html


def test_section_paths_in_the_table_show_no_entities() -> None:
    new = POLICY.replace("Account data", "Account and profile data")
    html = gfm(compare_markdown_text(POLICY, new))
    table = html[html.index("<table>") : html.index("</table>")]
    assert "Policy &gt; What we collect" in table  # an escaped ">", shown as ">"
    assert "&amp;gt;" not in table
    assert "&amp;" not in table


def compare_markdown_text(old: str, new: str) -> str:
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport, View, side_from_text
    from policydiff.publish.render.markdown import render

    report = CompareReport(
        side_from_text("old.md", old), side_from_text("new.md", new), compare_texts(old, new)
    )
    return render(report, View())


@pytest.mark.parametrize(
    "hostile",
    [
        "**<script>alert(1)</script>**",
        "_<img src=x onerror=alert(2)>_",
        "* <iframe srcdoc='x'></iframe>",
        "1. **[x](javascript:alert(3))**",
        "* `code` and ![i](http://example.invalid/x.png)",
        "**a <b>b</b>** _c_d_ *e*f",
    ],
)
def test_hostile_text_in_lists_and_emphasis_stays_text(hostile: str) -> None:
    html = redline_html(POLICY, POLICY.replace("* Account data\n", f"{hostile}\n"))
    tags = set(re.findall(r"<([a-z0-9]+)[\s>/]", html))
    assert tags <= {"h3", "p", "em", "strong", "del", "ins", "br", "ul", "ol", "li"}
    assert "href" not in html
    assert "src=" not in html or "&lt;img src=x" in html


def corpus_pairs() -> list[tuple[Path, Path]]:
    """Every consecutive version pair of the shared corpus (none when it is absent)."""
    pairs: list[tuple[Path, Path]] = []
    for folder in sorted(p for p in CORPUS.glob("*/*") if p.is_dir()):
        files = sorted(folder.glob("*.md"))
        pairs.extend(pairwise(files))
    return pairs


@pytest.mark.corpus
@needs_largest
def test_real_redlines_make_no_code_blocks_unsafe_links_or_raw_html() -> None:
    allowed = {"h2", "h3", "h4", "p", "em", "strong", "del", "ins", "br", "ul", "ol", "li", "a"}
    allowed |= {"table", "thead", "tbody", "tr", "th", "td"}
    links = tables = 0
    for old, new in corpus_pairs():
        html = gfm(
            compare_markdown_text(old.read_text(encoding="utf-8"), new.read_text(encoding="utf-8"))
        )
        tags = set(re.findall(r"<([a-z0-9]+)[\s>/]", html))
        assert tags <= allowed, (old, new, tags - allowed)
        hrefs = re.findall(r"<a href=\"([^\"]*)\"", html)
        assert all(re.match(r"(https?://|mailto:)", href, re.IGNORECASE) for href in hrefs), hrefs
        assert html.count("<a ") == len(hrefs)
        links += len(hrefs)
        tables += html.count("<table>") - 1  # the summary table
        assert "&amp;nbsp;" not in html
        assert "&amp;gt;" not in html
        assert "&amp;lt;br" not in html
        # No table flattened into text: a pipe-started line never reads as a paragraph.
        assert not re.search(r"<p>\|", html), (old, new)
        assert "](#" not in html
    assert links > 100
    assert tables > 10


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # Emphasis closed before a letter, as CommonMark allows for "*".
        ("the “**Services**”).", "the “**Services**”) here.", "<strong>Services</strong>"),
        ("(“**Commercial Services**Anthropic", "(“**Commercial Services**Anthropic x", "<strong>"),
        # A word replaced inside a bold phrase: the tags inside the emphasis.
        ("A **old** b.", "A **new** b.", "<strong><del>old</del><ins>new</ins></strong>"),
        # A bold phrase inserted next to another: each pair within its own run.
        ("A **x** b.", "A **x** **y** b.", "<ins><strong>y</strong>"),
        # Not emphasis in markdown either: stays as written.
        ("a * b * c d", "a * b * c e", "a * b * c"),
        ("use snake_case_names a", "use snake_case_names b", "snake_case_names"),
    ],
)
def test_emphasis_follows_commonmark(old: str, new: str, expected: str) -> None:
    html = redline_html(f"# T\n\n## S\n\n{old}\n", f"# T\n\n## S\n\n{new}\n")
    assert expected in html


# --------------------------------------------------------------------------- links, headings, tables


def section_html(old_body: str, new_body: str) -> str:
    """Return the rendered redline of one section holding ``old_body`` then ``new_body``."""
    return redline_html(f"# T\n\n## S\n\n{old_body}\n", f"# T\n\n## S\n\n{new_body}\n")


def test_web_and_mail_links_stay_links_with_their_changes_inside() -> None:
    html = section_html(
        "Read [our old terms](https://a.example/terms?x=1&y=2) or mail [us](mailto:p@a.example).",
        "Read [our new terms](https://a.example/terms?x=1&y=2) or mail [us](mailto:p@a.example).",
    )
    assert (
        '<a href="https://a.example/terms?x=1&amp;y=2">our <del>old</del><ins>new</ins> terms</a>'
        in html
    )
    assert '<a href="mailto:p@a.example">us</a>' in html
    assert "](" not in html


def test_an_inserted_link_is_a_link_inside_the_insertion() -> None:
    html = section_html("See the terms.", "See the terms and [the FAQ](http://a.example/faq).")
    assert '<ins>and <a href="http://a.example/faq">the FAQ</a></ins>' in html


@pytest.mark.parametrize(
    "target",
    ["#data-controller", "javascript:alert(1)", "/relative/page", "data:text/html,x", "ftp://a/b"],
)
def test_other_links_show_their_text_without_debris(target: str) -> None:
    html = section_html(
        f"See [Data controller]({target}) now.", f"See [Data controller]({target})."
    )
    assert "<a " not in html
    assert "See Data controller" in html
    assert target not in html
    assert "](" not in html
    assert "[" not in html


def test_link_title_and_cut_links_leave_no_debris() -> None:
    html = section_html(
        '[**Contact**](#contact "How to contact X") us.',
        '[**Contact**](#contact "How to contact Twitter") us today.',
    )
    assert "<strong>Contact</strong> us <ins>today</ins>" in html
    assert "](" not in html
    assert "How to contact" not in html


def test_headings_in_a_section_body_render_as_headings_with_their_marks() -> None:
    body = "Text here that stays the same in both versions of the policy, word for word.\n"
    old = f"Intro.\n\n### Old heading\n\n{body}"
    new = f"Intro.\n\n### New heading\n\n{body}\n#### Added part\n\nMore.\n"
    html = section_html(old, new)
    assert "<h4><del>Old</del><ins>New</ins> heading</h4>" in html
    assert "<h4><ins>Added part</ins></h4>" in html
    assert "\\#" not in html
    assert "#" not in html


TABLE = (
    "Who gets what:\n\n"
    "| Recipient | Data | Why |\n"
    "| --- | --- | --- |\n"
    "| Payment providers | card number | to charge you |\n"
    "| Couriers | address<br>phone | to deliver |\n"
    "| Auditors | invoices | the law |\n"
)


def test_tables_stay_tables_with_marked_cells() -> None:
    new = TABLE.replace("card number", "card number &amp; expiry").replace(
        "| Auditors | invoices | the law |\n",
        "| Auditors | invoices | the law |\n| Advertisers > partners | e-mail | ads |\n",
    )
    html = section_html(TABLE, new)
    assert "<table>" in html.split("</h3>", 1)[1]
    assert "<th>Recipient</th>" in html
    assert "<td>card number <ins>&amp;amp; expiry</ins></td>" in html
    assert "<td><ins>Advertisers &gt; partners</ins></td>" in html
    # Markup of the policy that is not a table reads as text; nothing flattened.
    assert "\\|" not in html
    assert "|" not in html
    assert "&amp;gt;" not in html


def test_table_cells_keep_line_breaks_and_columns() -> None:
    new = TABLE.replace("address<br>phone", "address<br>phone<br>e-mail").replace(
        "| Recipient | Data | Why |\n| --- | --- | --- |",
        "| Recipient | Data | Why | Until |\n| --- | --- | --- | --- |",
    )
    html = redline_html(f"# T\n\n## S\n\n{TABLE}", f"# T\n\n## S\n\n{new}")
    assert "<td>address<br>phone<ins><br>e-mail</ins></td>" in html
    assert "&lt;br" not in html
    header = html[html.index("<thead>") : html.index("</thead>")]
    assert header.count("<th>") == 4
    assert "<ins>Until</ins>" in header


def test_a_lone_pipe_line_is_not_made_a_table() -> None:
    html = section_html("Text.", "Text.\n\n| not | a table |")
    assert "<table>" not in html.split("</h3>", 1)[1]
    assert "not \\| a table" not in html
    assert "| not | a table |" in html
