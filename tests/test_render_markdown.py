"""The markdown renderer: summary, headings and a redline whose policy text cannot inject."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from policydiff.core.diff_model import SectionStatus
from policydiff.engine.report import View
from policydiff.publish.render.markdown import escape, render
from report_factory import DEL, EQ, INS, document, report, sample, section, seg

# GitHub-flavoured enough: raw HTML on, tables and strikethrough.
_GFM = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_TAG = re.compile(r"<([a-z0-9]+)[\s>/]")


def tags(markdown: str) -> set[str]:
    """Return the HTML element names a CommonMark renderer makes of ``markdown``."""
    return set(_TAG.findall(_GFM.render(markdown)))


def one_section(*segments, status=SectionStatus.MODIFIED):
    return report(document(section(status, *segments, path=("Terms",))))


def test_sample_report() -> None:
    out = render(sample(), View())
    assert out.startswith("## Compare old.md \u2192 new.md\n\n**Substantive changes in 3 of 5")
    assert "| changed renamed | 1. Intro &gt; 2. Data we collect | +2 \u22121 |" in out
    assert "### 1. Intro &gt; 2. Data we collect" in out
    assert "We collect your <del>name</del><ins>name, email</ins> and address." in out
    assert "*\u22ef 2 unchanged paragraphs*" in out
    # The policy's heading is a heading below the report's, its text marked inside.
    assert "#### <ins>3. Cookies</ins>\n\n<ins>We use cookies.</ins>" in out
    html = _GFM.render(out)
    assert "<table>" in html
    assert "<del>name</del><ins>name, email</ins>" in html


HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)>\n"
    "[click](javascript:alert(3)) ![i](http://example.invalid/x.png) <http://example.invalid>\n"
    "`code` *em* __strong__ ~~gone~~ $x$ | a | b |\n"
    "# heading\n"
    "    indented code\n"
    "1. item\n"
    "- item\n"
    "+ item\n"
    "===\n"
    "> quote\n"
    "<!-- comment -->\n"
    "&amp; &#x3C;b&#x3E;\n"
    "```\nfence\n"
)


def test_policy_text_shows_as_text() -> None:
    out = render(one_section(seg(EQ, "## Terms\n\n"), seg(INS, HOSTILE)), View())
    body = out[out.index("*changed") :]
    # The policy's emphasis, lists and headings are formatting (GitHub shows them so);
    # nothing else.
    assert tags(body) <= {"p", "em", "strong", "ins", "br", "ul", "ol", "li", "h4"}
    html = _GFM.render(body)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript" not in html  # a link to anything but the web or mail: its text only
    assert "<ins>click " in html
    assert "href" not in html
    assert "&amp;amp; &amp;#x3C;b&amp;#x3E;" in html


def test_every_line_of_a_change_is_wrapped_on_its_own() -> None:
    out = render(
        one_section(seg(EQ, "## Terms\n\nA "), seg(DEL, "one\n\ntwo"), seg(EQ, " B\n")), View()
    )
    assert "A <del>one</del>\n\n<del>two</del> B" in out


def test_lines_keep_their_breaks_and_indent() -> None:
    out = render(
        one_section(
            seg(EQ, "## Terms\n\n  * first\n    * second "), seg(INS, "more"), seg(EQ, "\n")
        ),
        View(),
    )
    # List items stay list items, nested as in the policy.
    assert "\n  * first\n    * second <ins>more</ins>" in out


def test_escape_handles_inline_syntax_and_controls() -> None:
    assert escape("a*b_c`d[e]f#g|h~i$j\\k") == "a\\*b\\_c\\`d\\[e\\]f\\#g\\|h\\~i\\$j\\\\k"
    assert escape("<&>") == "&lt;&amp;&gt;"
    assert escape("one\ntwo\x1b") == "one two\\\\x1b"


_MARKDOWN_CHARS = st.text(
    alphabet=st.sampled_from(list("ab1.-+*_`#>|[]()!<&;:~$= \n\t\\/=")), max_size=40
)


@given(_MARKDOWN_CHARS, _MARKDOWN_CHARS)
def test_no_policy_text_makes_markup(old: str, new: str) -> None:
    out = render(
        one_section(seg(EQ, "## Terms\n\n"), seg(DEL, old), seg(INS, new)), View(context=True)
    )
    body = out[out.index("*changed") :]
    allowed = {"p", "em", "strong", "del", "ins", "br", "ul", "ol", "li", "h4"}
    allowed |= {"table", "thead", "tbody", "tr", "th", "td"}
    assert tags(body) <= allowed
    if "](" in old + new:
        return  # link syntax to other than the web or mail shows as its text alone
    # Nothing lost or added: the visible text is the policy text, whitespace, emphasis
    # delimiters, list and heading markers, table pipes and delimiter rows and the
    # policy's own backslash escapes aside.
    redline = body[body.index("\n") :]
    visible = html.unescape(re.sub(r"<[^>]+>", "", _GFM.render(redline)))
    policy = "\n".join(_LIST_MARKER.sub("", line) for line in f"## Terms\n\n{old}{new}".split("\n"))
    assert _letters(visible) == _letters(policy)


_LIST_MARKER = re.compile(r"^[ \t]*(?:[*+-]|\d{1,9}[.)])[ \t]+(?=.*\S)")


def _letters(text: str) -> str:
    """Return ``text`` without whitespace and the characters markup may take as syntax.

    ``+`` is a list marker as ``-`` and ``*`` are: hypothesis found a deleted "+ " before an
    inserted "1" shown as the struck-out text "+" (right), where the source reads as a list.
    """
    return "".join(char for char in "".join(text.split()) if char not in "*_#|-+:\\")
