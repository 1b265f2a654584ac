"""HTML to markdown: content detection, chrome removal, MediaWiki both markups, links, pages."""

from __future__ import annotations

import codecs
from datetime import date
from pathlib import Path

import pytest

from policydiff.core.errors import InputError, UsageError
from policydiff.engine.normalize import normalize_text
from policydiff.sources.ingest import detect_effective_date, read_snapshot
from policydiff.sources.ingest.html import (
    ExtractRules,
    check_selector,
    extract,
    extractor_for,
    html_to_markdown,
    page_kind,
    page_text,
)

FIXTURES = Path(__file__).parent / "fixtures" / "html"
MW_OLD = FIXTURES / "sme-privacy-policy.mw126.html"
MW_NEW = FIXTURES / "sme-privacy-policy.mw143.html"
MARKDOWN = FIXTURES / "sme-privacy-policy.md"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_21577dab436a2015.txt"
PAGE_URL = "https://wiki.contribs.org/SME_Server:Privacy_policy"


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>t</title>{head}</head><body>{body}</body></html>"


# --------------------------------------------------------------------------- MediaWiki


@pytest.mark.parametrize("fixture", [MW_OLD, MW_NEW], ids=["mw1.26", "mw1.43"])
def test_mediawiki_page_extracts_to_the_markdown_publication(fixture: Path) -> None:
    result = extract(fixture.read_text(encoding="utf-8"), PAGE_URL)
    assert result.found_by == "mediawiki"
    assert result.text == MARKDOWN.read_text(encoding="utf-8")


def test_both_mediawiki_markups_give_the_same_text() -> None:
    old = extract(MW_OLD.read_text(encoding="utf-8"), PAGE_URL).text
    new = extract(MW_NEW.read_text(encoding="utf-8"), PAGE_URL).text
    assert old == new


def test_mediawiki_chrome_is_dropped() -> None:
    text = extract(MW_NEW.read_text(encoding="utf-8"), PAGE_URL).text
    for chrome in (
        "[edit]",
        "edit]",
        "Contents",  # table of contents
        "Jump to",
        "Category",
        "Retrieved from",
        "last edited",
        "From SME Server",
        "beta",  # site notice
        "Log in",
        "Main page",
        "Search",
        "View history",
    ):
        assert chrome not in text, chrome
    old = extract(MW_OLD.read_text(encoding="utf-8"), PAGE_URL).text
    assert "navigation" not in old
    assert "accessed" not in old
    assert "last modified" not in old


def test_mediawiki_effective_date_comes_from_the_policy_not_the_footer() -> None:
    text = extract(MW_OLD.read_text(encoding="utf-8"), PAGE_URL).text
    assert detect_effective_date(text) == date(2016, 2, 8)


def test_mediawiki_and_markdown_compare_unchanged() -> None:
    compare = pytest.importorskip("policydiff.engine.compare")
    markdown = MARKDOWN.read_text(encoding="utf-8")
    for fixture in (MW_OLD, MW_NEW):
        diff = compare.compare_texts(markdown, extract(fixture.read_text(encoding="utf-8")).text)
        assert not diff.summary.substantive


@pytest.mark.skipif(not SEED.is_file(), reason="needs ../shared/seeds")
def test_seed_text_has_the_same_words_as_the_extracted_page() -> None:
    # The seed is another tool's rendering of the real page (bold/italic pseudo-headings,
    # "- SME Server" from <title> in its first line): the words must still agree.
    seed = SEED.read_text(encoding="utf-8")
    seed_body = seed[seed.index("\n", seed.index("# SME Server")) :]
    ours = extract(MW_OLD.read_text(encoding="utf-8"), PAGE_URL).text
    ours_body = ours[ours.index("\n") :]
    assert normalize_text(seed_body).replace("[", "") == normalize_text(
        ours_body.replace("](https://www.contribs.org/)", "").replace(
            "](https://www.koozali.org/)", ""
        )
    ).replace("[", "")


# --------------------------------------------------------------------------- finding content

ARTICLE_PAGE = page(
    """
<header><nav><a href="/">Home</a> <a href="/about">About</a></nav><p>Acme Corp tagline</p></header>
<div id="onetrust-banner-sdk">We use cookies. <button>Accept all</button></div>
<div class="wrap">
<aside><h3>Related</h3><ul><li><a href="/a">Terms</a></li></ul></aside>
<article>
<header><h1>Privacy Policy</h1><p><em>Last updated: 3 March 2024</em></p></header>
<p>1. We collect data_points with *care* and link to <a href="terms#x" title="Terms">terms</a>.</p>
<table><thead><tr><th>Data</th><th>Purpose</th></tr></thead>
<tbody><tr><td>Email<br>Name</td><td>Contact | reply</td></tr></tbody></table>
<ol><li>First <strong>bold</strong></li><li>Second<ul><li>nested</li></ul></li></ol>
<p>Mail <a href="mailto:privacy@acme.test">privacy@acme.test</a> or
<a href="javascript:void(0)">click here</a><img src="logo.png" alt="logo"></p>
<script>track()</script><style>p{}</style>
<footer><p>Questions? Write to us.</p></footer>
</article>
</div>
<footer><p>&copy; 2024 Acme. Last modified 1 January 2020</p></footer>
""",
    head='<base href="/legal/">',
)


def test_article_with_its_header_and_footer_site_chrome_dropped() -> None:
    result = extract(ARTICLE_PAGE, "https://acme.test/privacy")
    assert result.found_by == "article"
    assert result.text == (
        "# Privacy Policy\n\n"
        "_Last updated: 3 March 2024_\n\n"
        "1\\. We collect data_points with \\*care\\* and link to "
        "[terms](https://acme.test/legal/terms#x).\n\n"
        "| Data | Purpose |\n| --- | --- |\n| Email Name | Contact \\| reply |\n\n"
        "1. First **bold**\n2. Second\n   - nested\n\n"
        "Mail [privacy@acme.test](mailto:privacy@acme.test) or click here\n\n"
        "Questions? Write to us.\n"
    )
    assert detect_effective_date(result.text) == date(2024, 3, 3)


def test_main_is_preferred_and_a_tiny_landmark_is_not_trusted() -> None:
    body = "<p>" + "Policy words here. " * 40 + "</p>"
    assert extract(page(f"<div><main><h1>P</h1>{body}</main></div>")).found_by == "main"
    found = extract(page(f"<main><p>Hero</p></main><div class='c'><h1>P</h1>{body}</div>"))
    assert found.found_by == "density"
    assert "Policy words" in found.text
    assert "Hero" not in found.text


def test_role_main() -> None:
    body = "<p>" + "Words. " * 50 + "</p>"
    found = extract(page(f"<div id='menu'><a href='/'>x</a></div><div role='main'>{body}</div>"))
    assert found.found_by == "[role=main]"


def test_density_fallback_finds_the_content_block() -> None:
    html = page(
        "<div id=top><a href=/>Home</a> <a href=/x>Products</a></div>"
        "<div class=c><div class=inner><h1>Terms</h1><p>" + "word " * 200 + "</p>"
        "<h2>More</h2><p>" + "more " * 100 + "</p></div>"
        "<div class=side><a href=/1>one</a><a href=/2>two</a></div></div>"
        "<div>Copyright 2024</div>"
    )
    result = extract(html)
    assert result.found_by == "density"
    assert result.text.startswith("# Terms\n\nword word")
    assert "## More" in result.text
    for noise in ("Home", "Products", "one", "Copyright"):
        assert noise not in result.text


def test_layout_tables_become_blocks() -> None:
    html = page(
        "<table><tr><td><a href=/>menu</a></td><td><h1>Policy</h1><p>Text one.</p>"
        "<h2>Part</h2><p>Text two.</p></td></tr></table>"
    )
    assert extract(html).text == "# Policy\n\nText one.\n\n## Part\n\nText two.\n"


# --------------------------------------------------------------------------- select / remove


def test_select_keeps_every_match_in_order_and_remove_drops() -> None:
    html = page(
        "<div class=a><p>First.</p><p class=ad>Buy now</p></div><div>Other</div>"
        "<div class=a><p>Second.</p></div><div class=a><div class=a><p>Nested.</p></div></div>"
    )
    result = extract(html, None, ExtractRules(select="div.a", remove=".ad"))
    assert result.found_by == "select"
    assert result.text == "First.\n\nSecond.\n\nNested.\n"
    twins = page("<div class=a><p>Same.</p></div><div class=a><p>Same.</p></div>")
    assert extract(twins, None, ExtractRules(select=".a")).text == "Same.\n\nSame.\n"


def test_select_that_matches_nothing_is_an_input_error() -> None:
    with pytest.raises(InputError, match="matches nothing"):
        extract(page("<p>x</p>"), None, ExtractRules(select="#policy"))


@pytest.mark.parametrize("css", ["main >", "", "div\nmain", "[x"])
def test_invalid_selectors_are_refused(css: str) -> None:
    with pytest.raises(UsageError):
        check_selector(css)
    if css:
        with pytest.raises(UsageError):
            extract(page("<p>x</p>"), None, ExtractRules(select=css))


def test_empty_page_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no text found"):
        extract(page("<nav><a href=/>Home</a></nav><script>x()</script>"))


def test_absurdly_deep_nesting_is_an_input_error() -> None:
    html = page("<div>" * 3000 + "<p>deep</p>" + "</div>" * 3000)
    with pytest.raises(InputError, match="too deeply"):
        extract(html)


def test_relative_links_without_a_page_url_stay_relative() -> None:
    html = page("<main><p><a href='/x'>X</a> and <a href='#s'>S</a></p></main>")
    assert extract(html).text == "[X](/x) and [S](#s)\n"
    assert extract(html, "https://e.test/p?q=1").text == (
        "[X](https://e.test/x) and [S](https://e.test/p?q=1#s)\n"
    )


def test_markdown_lookalikes_in_paragraphs_are_escaped() -> None:
    html = page("<main><p># not a heading</p><p>- not a list</p><p>&gt; not a quote</p></main>")
    assert extract(html).text == "\\# not a heading\n\n\\- not a list\n\n\\> not a quote\n"


def test_html_extractor_plugs_into_read_snapshot(tmp_path: Path) -> None:
    file = tmp_path / "2017-04-22.html"
    file.write_bytes(MW_OLD.read_bytes())
    snapshot = read_snapshot(
        file, policy="koozali/privacy-policy", source=PAGE_URL, extract_html=html_to_markdown
    )
    assert snapshot.text == MARKDOWN.read_text(encoding="utf-8")
    assert snapshot.raw_suffix == "html"
    assert snapshot.effective_date == date(2016, 2, 8)
    custom = extractor_for(ExtractRules(select="ul"))
    assert custom("<ul><li>a</li></ul><p>b</p>", None) == "- a\n"


# --------------------------------------------------------------------------- fetched pages


def test_page_text_uses_the_header_charset_then_the_meta_prescan() -> None:
    raw = "<html><body><main><p>Caf\u00e9 \u20ac</p></main></body></html>".encode("cp1252")
    found = page_text(raw, url="https://e.test/", media_type="text/html", charset="ISO-8859-1")
    assert found.text == "Caf\u00e9 \u20ac\n"
    # Latin-1 labels mean windows-1252, as in browsers.
    assert found.charset == "cp1252"
    meta = b'<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9</p></body></html>'
    assert page_text(meta, url="https://e.test/", media_type="text/html", charset=None).text == (
        "Caf\u00e9\n"
    )


def test_a_bom_beats_the_header_charset() -> None:
    raw = codecs.BOM_UTF8 + "<p>\u00e9t\u00e9</p>".encode()
    found = page_text(raw, url="https://e.test/", media_type="text/html", charset="iso-8859-1")
    assert found.text == "\u00e9t\u00e9\n"
    assert found.charset is None


def test_text_pages_are_kept_verbatim() -> None:
    raw = b"# Terms\n\nPlain *markdown*.\n"
    found = page_text(raw, url="https://e.test/terms.md", media_type="text/plain", charset=None)
    assert (found.text, found.suffix) == (raw.decode(), "md")
    found = page_text(raw, url="https://e.test/terms", media_type="text/plain", charset=None)
    assert found.suffix == "txt"


def test_page_kind_sniffs_untyped_html_and_refuses_binaries() -> None:
    assert page_kind(None, "https://e.test/", b"  <!DOCTYPE html><html>") == "html"
    assert page_kind(None, "https://e.test/", b"<!-- c -->\n<html lang=en>") == "html"
    assert page_kind(None, "https://e.test/a.md", b"# x") == "md"
    # PDFs are read (ingest/pdf.py), by type or by their signature when the type is vague.
    assert page_kind("application/pdf", "https://e.test/p.pdf", b"%PDF-") == "pdf"
    assert page_kind("application/octet-stream", "https://e.test/get", b"%PDF-1.7") == "pdf"
    with pytest.raises(InputError, match="image/png"):
        page_kind("image/png", "https://e.test/logo.png", b"\x89PNG\r\n\x1a\n")
