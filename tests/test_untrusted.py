"""Untrusted policy text: every output shows HTML, script, Jinja and line breaks as text.

A policy is written by someone else and fetched from the web, so its text is hostile
input. One store holds two versions of a policy whose title and sections carry script
payloads (``<script>``, ``onerror``/``onload``/``ontoggle`` handlers, ``javascript:``
links in HTML and markdown, ``<iframe srcdoc>``, a raw HTML block, ``</style>``,
``</script>``, ``</title>`` and comment breakouts, an mXSS form), Jinja syntax, and a
title with CR/LF (as character references), U+2028, NEL, VT and FF.

Each HTML output is loaded in headless Chromium (tests/browser.py) and its DOM checked:
``compare --format html``, ``announce --format html``, ``announce --format markdown``
rendered by markdown-it with raw HTML enabled (what a forum would do with the post, and
with no Content-Security-Policy to fall back on), and every page of ``site``. The live
payloads run ``document.body.dataset.pwned=1`` and ``console.log(1337)``: had any of
them run, the dumped DOM would hold ``data-pwned`` and Chromium's log (``--enable-logging
=stderr``) a CONSOLE line. A control page that does run such a script proves both
detectors fire. The e-mail is parsed back and must have exactly the headers policydiff
sets, each once.
"""

from __future__ import annotations

import email
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from browser import DomParser, chromium_available, dump_dom, parse_dom
from helpers import run_cli
from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore, init_store

POLICY = "evil/policy"
CANARY = "document.body.dataset.pwned=1"
PICKER_ID = "pd-pairs"

# The payloads of the issue, as literal text the outputs must show.
ALERTS = (
    "[x](javascript:alert(1))",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
)
# Payloads that leave a trace if they ever run (one per paragraph, so none is cut).
LIVE = (
    f"<script>console.log(1337);{CANARY}</script>",
    f"<img src=x onerror={CANARY}>",
    f"<svg onload={CANARY}>",
    f'<iframe srcdoc="<script>parent.{CANARY}</script>"></iframe>',
    f"<details open ontoggle={CANARY}>x</details>",
    f"<body onload={CANARY}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={CANARY}>",
)
BREAKOUTS = (
    f"</style><script>{CANARY}</script>",
    f"</script><script>{CANARY}</script>",
    f"</title></textarea></noscript><script>{CANARY}</script>",
    f"--><!--><script>{CANARY}</script>",
)
RAW_BLOCK = f'<div onclick="{CANARY}">\n<script>console.log(1337);{CANARY}</script>\n</div>\n'
# Jinja in policy text: values are never templates. In one paragraph, whose only `*` that
# could open or close emphasis is that of 7*7, so markdown reads them as characters.
JINJA = ("{{ 7*7 }}", "{% if true %}JINJA-RAN{% endif %}", "{{ 1234 * 1000 }}")
JINJA_RESULTS = ("1234000", "{{ 49 }}")

# A setext title over two lines: markup as character references (so the title's plain text
# holds a real `</title><script>`), then CR/LF as references, U+2028, NEL, VT and FF.
TITLE_LINES = (
    f"Privacy &lt;/title&gt;&lt;script&gt;{CANARY}&lt;/script&gt;&#13;&#10;Bcc: a@ex.org",
    "Bcc: b@ex.org\u2028Bcc: c@ex.org\x85Bcc: d@ex.org\x0bX-V: 1\x0cX-F: 1",
)
TITLE_TEXT = f"Privacy </title><script>{CANARY}</script> Bcc: a@ex.org Bcc: b@ex.org"
EMAIL_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
]


def paragraphs(*texts: str) -> str:
    return "".join(f"{text}\n\n" for text in texts)


V1 = (
    f"{TITLE_LINES[0]}\n{TITLE_LINES[1]}\n{'=' * 40}\n\n"
    "Last updated: 1 January 2024\n\n"
    "## 1. Data\n\nWe collect data.\n\n"
    "## 2. Sharing\n\nWe share nothing.\n"
)
V2 = (
    V1.replace("1 January 2024", "1 June 2024")
    + "\n## 3. Alerts <script>alert(1)</script>\n\n"
    + paragraphs(*(f"Alert {n}: {payload} here." for n, payload in enumerate(ALERTS)))
    + "## 4. Handlers\n\n"
    + paragraphs(*(f"Live {n}: {payload} here." for n, payload in enumerate(LIVE)))
    + RAW_BLOCK
    + "\n## 5. Breakouts </style></script></title>\n\n"
    + paragraphs(*(f"Breakout {n}: {payload} here." for n, payload in enumerate(BREAKOUTS)))
    + "## 6. Templates {{ 7*7 }}\n\n"
    + f"Templates: {' and '.join(JINJA)} here.\n"
)


@dataclass(frozen=True)
class Outputs:
    """Where each output of the hostile store was written."""

    root: Path
    compare: Path
    announce_html: Path
    forum: Path
    announce_text: str
    email: bytes
    site: Path

    def site_pages(self) -> list[Path]:
        return sorted(self.site.rglob("*.html"))


def cli(store: Path, *args: str) -> bytes:
    result = run_cli(["--store", str(store), *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout_bytes


def forum_page(markdown: str) -> str:
    """What a forum would make of the markdown post: markdown-it, raw HTML allowed."""
    body = MarkdownIt("commonmark", {"html": True}).render(markdown)
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>forum</title></head>\n<body>\n{body}</body></html>\n'


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    root = tmp_path_factory.mktemp("untrusted")
    store_dir = init_store(root / "store")
    GitStore(store_dir).record(
        [
            Snapshot(POLICY, V1, V1.encode(), "md", datetime(2024, 1, 1, tzinfo=UTC)),
            Snapshot(POLICY, V2, V2.encode(), "md", datetime(2024, 6, 1, tzinfo=UTC)),
        ]
    )
    compare = root / "compare.html"
    cli(store_dir, "compare", POLICY, "1", "2", "--format", "html", "-o", str(compare))
    announce_html = root / "announce.html"
    cli(store_dir, "announce", POLICY, "--format", "html", "-o", str(announce_html))
    markdown = cli(store_dir, "announce", POLICY, "--format", "markdown").decode()
    forum = root / "forum.html"
    forum.write_text(forum_page(markdown), encoding="utf-8")
    text = cli(store_dir, "announce", POLICY, "--format", "text").decode()
    mail = cli(
        store_dir,
        "announce",
        POLICY,
        "--format",
        "email",
        "--to",
        "list@example.org",
        "--from",
        "policy@example.org",
        "--date",
        "2024-06-02T09:00:00+00:00",
    )
    cli(store_dir, "site", str(root / "site"))
    return Outputs(root, compare, announce_html, forum, text, mail, root / "site")


@dataclass(frozen=True)
class Loaded:
    """A page as Chromium built it: the parsed DOM, its serialisation and Chromium's log."""

    page: Path
    dom: DomParser
    html: str
    log: str


def load_all(pages: list[Path], profiles: Path) -> list[Loaded]:
    def load(numbered: tuple[int, Path]) -> Loaded:
        number, page = numbered
        run = dump_dom(page, profiles / f"profile-{number}")
        return Loaded(page, parse_dom(run.stdout), run.stdout, run.stderr)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(load, enumerate(pages)))


@pytest.fixture(scope="module")
def loaded(outputs: Outputs) -> dict[str, list[Loaded]]:
    """Every HTML output loaded in Chromium, by kind."""
    if not chromium_available():
        pytest.skip("needs /usr/bin/chromium")
    kinds = {
        "compare": [outputs.compare],
        "announce-html": [outputs.announce_html],
        "announce-markdown": [outputs.forum],
        "site": outputs.site_pages(),
    }
    pages = [page for group in kinds.values() for page in group]
    done = dict(zip(pages, load_all(pages, outputs.root / "profiles"), strict=True))
    return {kind: [done[page] for page in group] for kind, group in kinds.items()}


KINDS = ["compare", "announce-html", "announce-markdown", "site"]


# --------------------------------------------------------------------------- checks


def own_script(element_text: str, attrs: dict[str, str | None], picker: str) -> bool:
    """Whether a script element is the site's own: its pair data or its picker."""
    if attrs.get("type") == "application/json" and attrs.get("id") == PICKER_ID:
        return True
    return not attrs and element_text == picker


def inert_problems(loaded: Loaded, picker: str) -> list[str]:
    """Everything in a DOM that policy text could only have put there as markup."""
    problems = []
    for element in loaded.dom.elements:
        where = f"{loaded.page.name}: <{element.tag} {element.attrs}>"
        if element.tag == "script" and not own_script("".join(element.text), element.attrs, picker):
            problems.append(f"script {where}")
        if element.tag in {"img", "iframe", "frame", "object", "embed", "details", "math", "base"}:
            problems.append(f"element {where}")
        if element.tag == "svg" and element.attrs.get("class") != "pd-chart":
            problems.append(f"svg {where}")
        for name, value in element.attrs.items():
            if name.startswith("on") or name in {"srcdoc", "src", "formaction", "data-pwned"}:
                problems.append(f"attribute {name} {where}")
            if name in {"href", "action", "xlink:href"} and value and ":" in value:
                # Our pages link only to their own anchors and relative site pages.
                problems.append(f"link {value} {where}")
    return problems


@pytest.fixture(scope="module")
def picker() -> str:
    from importlib import resources

    return (resources.files("policydiff.publish") / "site_assets" / "picker.js").read_text("utf-8")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.browser
def test_no_markup_from_policy_text_reaches_the_dom(
    kind: str, loaded: dict[str, list[Loaded]], picker: str
) -> None:
    pages = loaded[kind]
    assert pages
    if kind == "site":
        assert len(pages) >= 14
    for page in pages:
        assert inert_problems(page, picker) == []
        # One body, no attribute on it (a parsed <body onload> would merge into it).
        assert [b.attrs for b in page.dom.tags("body")] == [{}]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.browser
def test_no_script_from_policy_text_ran(kind: str, loaded: dict[str, list[Loaded]]) -> None:
    for page in loaded[kind]:
        assert "data-pwned" not in page.html, page.page
        log = [
            line
            for line in page.log.splitlines()
            if ":CONSOLE" in line or "Content Security Policy" in line or "Refused to" in line
        ]
        assert log == [], page.page
        assert "Uncaught" not in page.log


@pytest.mark.browser
def test_the_detectors_fire_on_a_page_that_runs_script(tmp_path: Path, picker: str) -> None:
    if not chromium_available():
        pytest.skip("needs /usr/bin/chromium")
    page = tmp_path / "control.html"
    page.write_text(forum_page("A post.\n\n" + RAW_BLOCK + "\n" + LIVE[1] + "\n"), encoding="utf-8")
    (control,) = load_all([page], tmp_path)
    assert 'data-pwned="1"' in control.html
    assert any(":CONSOLE" in line and "1337" in line for line in control.log.splitlines())
    problems = inert_problems(control, picker)
    assert any(p.startswith("script") for p in problems)
    assert any(p.startswith("attribute onclick") for p in problems)


def text_of(page: Loaded) -> str:
    return "".join(page.dom.text)


@pytest.mark.browser
def test_compare_and_site_redlines_show_every_payload_as_text(
    loaded: dict[str, list[Loaded]],
) -> None:
    redlines = [
        *loaded["compare"],
        *(p for p in loaded["site"] if p.page.name in {"1-2.html", "2.html"}),
    ]
    assert len(redlines) == 3
    for page in redlines:
        text = text_of(page)
        for payload in (*ALERTS, *LIVE, *BREAKOUTS, *JINJA, RAW_BLOCK.strip()):
            assert payload in text, (page.page, payload)
        for result in JINJA_RESULTS:
            assert result not in text


@pytest.mark.parametrize("kind", ["announce-html", "announce-markdown"])
@pytest.mark.browser
def test_announcements_quote_payloads_as_text(kind: str, loaded: dict[str, list[Loaded]]) -> None:
    (page,) = loaded[kind]
    text = text_of(page)
    # Quotes are the policy's plain text: valid inline HTML tags are markup, not words, so
    # they drop out; what is left of the payloads shows as written.
    for shown in (
        TITLE_TEXT,
        "[x](javascript:alert(1))",
        f"<img src=x onerror={CANARY}>",
        f"<svg onload={CANARY}>",
        *JINJA,
    ):
        assert shown in text, shown
    for result in (*JINJA_RESULTS, "49"):
        assert result not in text


def test_jinja_in_policy_text_is_not_evaluated_in_text_and_email(outputs: Outputs) -> None:
    message = email.message_from_bytes(outputs.email, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    for text in (outputs.announce_text, message.get_content()):
        flat = " ".join(text.split())
        for literal in JINJA:
            assert literal in flat, literal
        for result in JINJA_RESULTS:
            assert result not in flat
        assert "49" not in flat


def test_email_has_exactly_its_own_headers_each_once(outputs: Outputs) -> None:
    message = email.message_from_bytes(outputs.email, policy=email_policy.default)
    assert sorted(message.keys()) == sorted(EMAIL_HEADERS)
    head = outputs.email.split(b"\n\n", 1)[0].decode("ascii")
    # Every line of the header block starts a known header or continues one (folding).
    names = [line.split(":", 1)[0] for line in head.split("\n") if not line[:1].isspace()]
    assert sorted(names) == sorted(EMAIL_HEADERS)
    subject = str(message["Subject"])
    assert not re.search(r"[\r\n\x0b\x0c\x85\u2028\u2029]", subject)
    assert subject == (
        f"[ANNOUNCE] {TITLE_TEXT} Bcc: c@ex.org Bcc: d@ex.org X-V: 1 X-F: 1: "
        "changes (effective date not stated)"
    )
    for name in ("Bcc", "X-V", "X-F"):
        assert message.get_all(name) is None
