"""``announce --format html``: quotes shown formatted by the redline renderer, never as markup.

A policy with bold labels, italics, a bullet list, links (web, mail, relative,
in-page), an escaped asterisk and a long sentence cut inside a bold phrase is edited; the
HTML notice must show the formatting as elements, mark the changed words inside their
sentence, show no markdown syntax in its rendered text, link only to ``http``, ``https``
and ``mailto`` targets, and keep its Content-Security-Policy. The same page is loaded in
headless Chromium (skipped without it): ``innerText`` holds no markup, nothing is logged.
"""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from browser import chromium_available
from helpers import run_cli
from policydiff.publish.announce import Passage, passage_html
from wellformed import nesting_errors, raw_markup

LONG_OLD = (
    "We may share limited data with service providers who help us run the service, "
    "such as hosting companies, e-mail delivery services, payment processors and "
    "customer support tools, **always under written contracts that forbid them to use "
    "it for their own purposes, require them to protect it as carefully as we do and to "
    "delete it when the work is done, and that we review every year**, and we never "
    "sell it."
)
BEFORE = f"""# Acme privacy policy

## What we collect

We collect your **full name** and your _e-mail address_ when you sign up. See [our cookie page](https://acme.example/cookies) and [the form](/forms/signup) for details.

## Accounts and payments

* **Accounts:** we keep your account while it is open.
* **Payments:** card numbers are handled by [our processor](https://pay.example/terms) and never stored\\* by us.

Write to [privacy@acme.example](mailto:privacy@acme.example) with questions.

## Sharing

{LONG_OLD}
"""
AFTER = (
    BEFORE.replace("**full name**", "**username**")
    .replace("See [our cookie page]", "Read [our cookie page]")
    .replace("never stored\\* by us", "never kept\\* by us, see [terms](#terms)")
    .replace(
        "while it is open.\n",
        "while it is open.\n* **Support:** we keep _chats_ for `30` days.\n",
    )
    .replace("we never \nsell it", "we never sell it")
    .replace("and we never sell it.", "and we never sell or rent it.")
)
SAFE_HREF = re.compile(r"(?:https?|mailto):", re.IGNORECASE)


class _Page(HTMLParser):
    """The text a reader sees (no style or title) and every link's target."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.hrefs: list[str | None] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"style", "title"}:
            self.skip += 1
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))
        if tag in {"p", "li", "br", "blockquote", "h2", "h3"}:
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"style", "title"}:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.text.append(data)


def notice(tmp_path: Path, fmt: str) -> str:
    """Return the announcement of the fixture's edit in ``fmt``, through the CLI."""
    (tmp_path / "before.md").write_text(BEFORE, encoding="utf-8")
    (tmp_path / "after.md").write_text(AFTER, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        args = ["--store", "no-store", "announce", "before.md", "after.md", "--format", fmt]
        result = run_cli(args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def visible(fragment: str) -> str:
    """Return the text of an HTML fragment, spacing collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def test_quotes_show_formatting_and_the_changed_words_never_markup(tmp_path: Path) -> None:
    page = notice(tmp_path, "html")
    assert nesting_errors(page) == []
    parsed = _Page()
    parsed.feed(page)
    text = "".join(parsed.text)
    assert raw_markup(text) == []
    # Links only to web and mail targets; the relative and in-page links show their words.
    assert parsed.hrefs
    assert all(href is not None and SAFE_HREF.match(href) for href in parsed.hrefs)
    assert "the form" in text
    assert "see terms." in text
    # The policy's formatting, the edit marked inside its sentence.
    assert "We collect your <strong><ins>username</ins></strong> and your <em>e-mail" in page
    assert "We collect your <strong><del>full name</del></strong>" in page
    assert '<a class="pd-link" href="https://acme.example/cookies"' in page
    assert "<del>See</del>" in page
    assert "<ins>Read</ins>" in page
    assert "<strong>Support:</strong> we keep <em>chats</em> for <code>30</code> days." in page
    assert "never kept* by us" in text
    # The long sentence is cut around its change, inside the bold phrase: no mark shows.
    long_now = next(line for line in text.splitlines() if "rent" in line)
    assert long_now.startswith("Now: “[…] ")
    assert "<ins>or rent</ins>" in page
    # Everything escaped and the CSP first in the head, as the compare pages have it.
    head = page[: page.index("</head>")]
    assert head.index('http-equiv="Content-Security-Policy"') < head.index("<style")
    assert "script-src" not in head or "script-src 'none'" in head


def test_the_html_quotes_say_what_the_plain_quotes_say(tmp_path: Path) -> None:
    """Formatted or plain, a quote holds the same words (the plain one minus its markup)."""
    doc = json.loads(notice(tmp_path, "json"))
    quotes = [quote for change in doc["changes"] for quote in change["quotes"]]
    assert len(quotes) >= 4
    for quote in quotes:
        for side in ("old", "new"):
            if quote[side] is None:
                assert quote[f"{side}_html"] is None
                continue
            # (A plain quote cut inside a bold phrase still shows its marks; the HTML never.)
            plain = " ".join(quote[side].replace("**", "").split())
            assert visible(quote[f"{side}_html"]) == plain
            tag = "del" if side == "old" else "ins"
            changed = [part["text"] for part in quote[f"{side}_marked"] if part["changed"]]
            marked = re.findall(rf"<{tag}>(.*?)</{tag}>", quote[f"{side}_html"])
            assert " ".join(changed).split() == visible(" ".join(marked)).split()


def test_a_cut_quote_parses_its_whole_sentence() -> None:
    """A window starting inside bold shows the bold, not half of its marks."""
    text = "**One two three four five** six seven."
    start = text.index("three")
    six = text.index("six")
    html = passage_html(Passage(text, (start, len(text)), ((six, six + 3),)), "ins")
    assert html == "[…] <strong>three four five</strong> <ins>six</ins> seven."
    cut_link = "Read [the terms of service](https://acme.example/terms) now."
    html = passage_html(Passage(cut_link, (0, cut_link.index(" now"))), "del")
    assert html is not None
    assert "](" not in html
    assert html.endswith('">the terms of service</a> […]')


def test_a_quote_that_would_parse_as_a_block_stays_one_line() -> None:
    for text in ("*** not a rule", "# not a heading", "```not a fence", "> not a quote"):
        html = passage_html(Passage(text, (0, len(text))), "ins")
        assert html is not None
        assert not re.search(r"<(?:h\d|hr|pre|blockquote|p)\b", html), html
        assert visible(html).split()[-2:] == text.split()[-2:]
    assert passage_html(None, "ins") is None
    hostile = 'x <script>alert(1)</script> [y](javascript:alert(1)) <a href="z">'
    html = passage_html(Passage(hostile, (0, len(hostile))), "ins")
    assert html is not None
    assert "<script" not in html
    assert "<a href" not in html
    # markdown-it leaves a javascript: link unparsed: its markup shows, as text (see
    # tests/test_untrusted.py), never as a link.
    assert "[y](javascript:alert(1))" in html
    assert "href" not in html.replace("&lt;a href=", "")


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium")
def test_the_notice_reads_as_formatted_text_in_chromium(tmp_path: Path) -> None:
    from cdp import DevTools

    target = tmp_path / "notice.html"
    target.write_text(notice(tmp_path, "html"), encoding="utf-8")
    with DevTools(tmp_path / "profile", size=(900, 1400)) as browser:
        browser.load(target)
        text = browser.evaluate("document.querySelector('article').innerText")
        assert raw_markup(text) == []
        assert "Now: “We collect your username and your e-mail address" in text
        links = browser.evaluate("[...document.links].map(a => a.href)")
        assert links
        assert all(SAFE_HREF.match(link) for link in links)
        assert browser.problems() == []
