"""The HTML renderer: a standalone, script-free page whose policy text is always text."""

from __future__ import annotations

import base64
import hashlib
import html
import re

from hypothesis import given
from hypothesis import strategies as st

from browser import parse_dom
from policydiff.core.diff_model import SectionStatus
from policydiff.engine.report import View
from policydiff.publish.render.html import CSS, render, render_document, render_parts, wrap_document
from report_factory import DEL, EQ, INS, document, report, sample, section, seg

# What the page itself is made of; policy text must never add to it.
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "article", "header", "h1", "h2", "p",
    "span", "table", "thead", "tbody", "tr", "th", "td", "code", "ul", "ol", "li", "nav", "a",
    "section", "div", "del", "ins",
    # Policy text formatted: body headings, emphasis, code, quotes, rules, the toggle.
    "h3", "h4", "h5", "h6", "strong", "em", "s", "pre", "blockquote", "hr", "br",
    "input", "label",
}  # fmt: skip

HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> "
    '<a href="javascript:alert(3)">x</a> [y](javascript:alert(4)) '
    "</div></section><style>body{display:none}</style> &amp; \" ' \u202eevil"
)


def hostile_report():
    return report(
        document(
            section(
                SectionStatus.MODIFIED,
                seg(EQ, "## <b>Terms</b>\n\nKeep "),
                seg(INS, HOSTILE),
                seg(EQ, "\n"),
                path=("<b>Terms</b>", "javascript:alert(5)"),
            )
        ),
        old="<i>old</i>.md",
        new='new".md',
    )


def test_standalone_page_structure() -> None:
    page = render(sample(), View())
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert page.endswith("</html>\n")
    assert page == render_document(sample(), View())
    dom = parse_dom(page)
    assert {e.tag for e in dom.elements} <= PAGE_TAGS
    assert [e.attrs["href"] for e in dom.tags("a")] == [f"#pd-s-{n}" for n in range(1, 5)]
    assert [e.attrs["id"] for e in dom.tags("section")] == [f"pd-s-{n}" for n in range(1, 5)]
    assert [" ".join(e.text) for e in dom.tags("del")][:1] == ["name"]
    assert "name, email" in [" ".join(e.text) for e in dom.tags("ins")]
    assert "@media print" in page
    assert "<script" not in page
    assert "://" not in page  # nothing to fetch


def test_content_security_policy_allows_only_the_page_style() -> None:
    page = render(sample(), View())
    (meta,) = [m for m in parse_dom(page).tags("meta") if m.attrs.get("http-equiv")]
    policy = meta.attrs["content"] or ""
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    assert policy.startswith("default-src 'none'; ")
    assert f"style-src 'sha256-{digest}'" in policy
    assert "script-src" not in policy  # default-src 'none' already forbids scripts
    assert f"<style>{CSS}</style>" in page


def test_hostile_policy_text_is_escaped() -> None:
    page = render(hostile_report(), View())
    dom = parse_dom(page)
    assert {e.tag for e in dom.elements} <= PAGE_TAGS
    assert not dom.tags("script")
    assert not dom.tags("img")
    assert len(dom.tags("style")) == 1
    for element in dom.elements:
        assert not any(name.startswith("on") for name in element.attrs)
        href = element.attrs.get("href")
        assert href is None or href.startswith("#pd-s-")
    text = "".join(dom.text)
    assert "<script>alert(1)</script>" in text
    assert '<a href="javascript:alert(3)">x</a>' in text
    assert "<b>Terms</b> > javascript:alert(5)" in text
    assert "\\u202eevil" in text
    assert "<i>old</i>.md" in text
    assert 'new".md' in text


def test_fragment_and_css_for_embedding() -> None:
    parts = render_parts(sample(), View())
    assert parts.body.startswith('<article class="pd-report">')
    assert parts.body.endswith("</article>\n")
    assert parts.css == CSS
    assert parts.title == "Compare old.md \u2192 new.md"
    # Every rule is scoped to the report, so a site's own styles are left alone.
    for selector in re.findall(r"^([^@\s{}][^{]*)\{", CSS, re.MULTILINE):
        assert all(part.strip().startswith(".pd-report") for part in selector.split(","))
    assert wrap_document(parts) == render(sample(), View())


def test_unchanged_sections_only_with_context() -> None:
    assert "We care." not in render(sample(), View())
    assert "We care." in render(sample(), View(context=True))


_TEXT = st.text(alphabet=st.sampled_from(list("ab<>&\"'/=;:#\n \u202e\x1bscript")), max_size=40)


@given(_TEXT, _TEXT)
def test_any_policy_text_stays_text(old: str, new: str) -> None:
    diff = document(
        section(SectionStatus.MODIFIED, seg(EQ, "# T\n\n"), seg(DEL, old), seg(INS, new))
    )
    parts = render_parts(report(diff), View(context=True))
    dom = parse_dom(parts.body)
    assert {e.tag for e in dom.elements} <= PAGE_TAGS
    (inner,) = re.findall(r'<div class="pd-text">(.*?)</div>', parts.body, re.DOTALL)
    shown = html.unescape(re.sub(r"<[^>]+>", "", inner))
    expected = f"# T\n\n{old}{new}".replace("\u202e", "\\u202e").replace("\x1b", "\\x1b")
    # Formatted, not literal: heading marks and autolink brackets are markup; all else
    # shows as text, and no element or link comes from the policy's text.
    assert _visible(shown) == _visible(expected)
    for element in dom.elements:
        assert not any(name.startswith("on") for name in element.attrs)
        assert element.attrs.get("href") is None or element.attrs["href"].startswith("#pd-")


def _visible(text: str) -> str:
    """Return text without spacing and the characters markdown may read as markup here."""
    # "=" is markup as a "#" mark is: a line of them under a paragraph line is a setext
    # underline (hypothesis found ":\n=" shown as a heading ":"), and whether it is one
    # depends on the lines around it, which the shown text no longer has.
    return "".join(c for c in text if not c.isspace() and c not in "#<>=")
