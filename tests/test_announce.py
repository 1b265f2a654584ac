"""``policydiff announce``: the context (change lines, whole-sentence quotes, caps, dates),
the templates, the e-mail message and its safety, and the command end to end.

Golden files live in tests/golden/announce/<case>/: ``before.md`` (the 2016 seed),
``after.md`` (an edited copy) and one ``expected.*`` per format. The Date header is fixed
with ``--date``; Message-ID and the policydiff version are normalised before comparing.
``pytest --update-golden`` rewrites them; review with ``git diff tests/golden``.
"""

from __future__ import annotations

import email
import json
import mailbox
import re
from datetime import UTC, date, datetime
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from helpers import run_cli, seed_body
from policydiff import __version__
from policydiff.core.errors import UsageError
from policydiff.core.model import Snapshot
from policydiff.engine.compare import compare_texts
from policydiff.engine.report import CompareReport, side_from_text
from policydiff.publish.announce import (
    ELISION,
    MAX_QUOTE_CHARS,
    MAX_QUOTES,
    MAX_QUOTES_PER_SECTION,
    ChangeKind,
    Links,
    QuoteKind,
    build_announcement,
    build_email,
    default_template,
    describe_changes,
    effective_of,
    markdown_escape,
    one_line,
    parse_address,
    parse_addresses,
    plain_text,
    render_announcement,
    section_quotes,
    split_sentences,
    wrap_text,
)
from policydiff.store.gitstore import GitStore

GOLDEN = Path(__file__).parent / "golden" / "announce"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "before.md").is_file())
FORMATS = {
    "email": "expected.eml",
    "text": "expected.txt",
    "markdown": "expected.md",
    "html": "expected.html",
    "json": "expected.json",
}
CASE_ARGS = {"cosmetic_only": ["--include-cosmetic"]}
# What each case must say, so that a regenerated golden file cannot silently lose it.
CASE_LINES = {
    "sentence_change": ["Changed: What we collect > Forums and mailinglists"],
    "new_section": ["New section: What we collect > Cookies"],
    "removed_section": ["Removed: What we collect > Non-personally identifying information"],
    "renamed_section": ["Renamed: Forums and mailinglists -> Community forums and mailing lists"],
    "cosmetic_only": ["Editorial: Introduction"],
    "hostile_text": ["New section: What we collect > alert(1) & [tracking](javascript:alert(1))"],
}
ADDRESSES = ["--to", "list@example.org", "--from", "Policy Team <policy@example.org>"]
DATE = ["--date", "2024-05-01T09:00:00+00:00"]
POLICY = "koozali/privacy-policy"
MESSAGE_ID = re.compile(r"^Message-ID: <[^>\n]+>$", re.MULTILINE)


def normalised(text: str) -> str:
    """Drop what changes from run to run or release to release."""
    text = MESSAGE_ID.sub("Message-ID: <normalised@example.org>", text)
    return text.replace(f"policydiff {__version__}", "policydiff VERSION")


def report_of(old: str, new: str, **sides: date) -> CompareReport:
    old_side = side_from_text("old.md", old, effective_date=sides.get("old_effective"))
    new_side = side_from_text("new.md", new, effective_date=sides.get("new_effective"))
    return CompareReport(old_side, new_side, compare_texts(old, new))


def context_of(old: str, new: str, **kw: object) -> dict[str, object]:
    return build_announcement(report_of(old, new), policy=POLICY, **kw).as_context()  # type: ignore[arg-type]


def parse_message(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    return message


def check_message(data: bytes) -> EmailMessage:
    """Parse an .eml back and check what every announcement must satisfy."""
    message = parse_message(data)
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        assert len(message.get_all(header) or []) == 1, header
    assert message.get_all("Bcc") is None
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert email.utils.parsedate_to_datetime(message["Date"]) is not None
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", message["Message-ID"])
    body = message.get_content()
    assert all(len(line) <= 78 for line in body.splitlines()), "body line over 78 columns"
    for line in data.decode("utf-8").split("\n"):
        assert len(line) <= 998
    return message


# --------------------------------------------------------------------------- goldens


def announce(case: str, *args: str) -> tuple[int, bytes, str]:
    result = run_cli(
        ["--store", str(GOLDEN / case / "no-store"), "announce", "before.md", "after.md", *args]
    )
    return result.exit_code, result.stdout_bytes, result.stderr


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, fmt: str, monkeypatch: pytest.MonkeyPatch, update_golden: bool) -> None:
    monkeypatch.chdir(GOLDEN / case)
    args = ["--format", fmt, *CASE_ARGS.get(case, [])]
    if fmt == "email":
        args += ADDRESSES + DATE
    code, out, err = announce(case, *args)
    assert code == 0, err
    if fmt == "email":
        check_message(out)
    text = normalised(out.decode("utf-8"))
    expected = GOLDEN / case / FORMATS[fmt]
    if update_golden:
        expected.write_text(text, encoding="utf-8", newline="\n")
        return
    assert expected.is_file(), f"missing {expected}: run pytest --update-golden"
    assert text == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_case_says_what_changed(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN / case)
    _, out, _ = announce(case, "--format", "json", *CASE_ARGS.get(case, []))
    doc = json.loads(out)
    assert doc["schema"] == "policydiff.announce/1"
    lines = [change["line"] for change in doc["changes"]]
    for line in CASE_LINES[case]:
        assert line in lines


def test_cases_are_described() -> None:
    assert sorted(CASE_LINES) == CASES


def test_cosmetic_only_is_not_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN / "cosmetic_only")
    code, out, err = announce("cosmetic_only", *ADDRESSES)
    assert code == 0
    assert out == b""
    assert "nothing to announce" in err
    assert "--include-cosmetic" in err


def test_sentence_change_quotes_whole_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN / "sentence_change")
    _, out, _ = announce("sentence_change", "--format", "json")
    doc = json.loads(out)
    forums = next(c for c in doc["changes"] if "Forums" in c["line"])
    plain = [{key: quote[key] for key in ("kind", "old", "new")} for quote in forums["quotes"]]
    assert plain[0] == {
        "kind": "changed",
        "old": "Please exercise caution when deciding to disclose any personal information "
        "in such areas.",
        "new": "Please exercise caution when deciding to disclose any personal information "
        "in such areas, and never post passwords or payment details.",
    }
    assert plain[1] == {
        "kind": "added",
        "old": None,
        "new": "We do not store full card numbers.",
    }
    assert doc["effective"]["status"] == "stated"
    assert doc["effective"]["date"] == "2024-05-01"
    assert doc["subject"].endswith("changes effective 1 May 2024")


def test_hostile_text_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN / "hostile_text")
    _, html, _ = announce("hostile_text", "--format", "html")
    page = html.decode()
    assert "<script" not in page
    assert "<img" not in page
    assert 'href="javascript' not in page
    _, markdown, _ = announce("hostile_text", "--format", "markdown")
    assert b"\\[tracking\\]" in markdown
    assert b"<img" not in markdown


# --------------------------------------------------------------------------- sentences


def test_split_sentences_respects_abbreviations_and_items() -> None:
    text = (
        "Koozali Inc. collects data, e.g. names. We keep it. Really?\n\n"
        "  * We don't ask. Ever.\n  * We don't share\n"
    )
    spans = [text[a:b] for a, b in split_sentences(text)]
    assert spans == [
        "Koozali Inc. collects data, e.g. names.",
        "We keep it.",
        "Really?",
        "* We don't ask.",
        "Ever.",
        "* We don't share",
    ]


def test_plain_text_drops_markup() -> None:
    assert plain_text("  * See **our** [site](https://x.org) and `code`\n  now") == (
        "See our site and code now"
    )
    assert plain_text("a\x1b[31m b\u202e c") == "a [31m b c"


def section(text: str) -> str:
    return f"# Policy\n\n## Data\n\n{text}\n"


def only_section_quotes(old: str, new: str) -> list[tuple[QuoteKind, str | None, str | None]]:
    diff = compare_texts(section(old), section(new))
    changed = [s for s in diff.sections if s.substantive]
    return [(q.kind, q.old, q.new) for s in changed for q in section_quotes(s)]


def test_a_word_inserted_quotes_the_sentence_before_and_after() -> None:
    quotes = only_section_quotes(
        "We collect names. We keep them for a year. We never sell them.",
        "We collect names. We keep them for only a year. We never sell them.",
    )
    assert quotes == [
        (QuoteKind.CHANGED, "We keep them for a year.", "We keep them for only a year.")
    ]


def test_a_new_sentence_is_quoted_as_added_and_a_removed_one_as_removed() -> None:
    assert only_section_quotes(
        "We collect names. We never sell them.",
        "We collect names. We share them with partners. We never sell them.",
    ) == [(QuoteKind.ADDED, None, "We share them with partners.")]
    assert only_section_quotes(
        "We collect names. We share them with partners. We never sell them.",
        "We collect names. We never sell them.",
    ) == [(QuoteKind.REMOVED, "We share them with partners.", None)]


def test_cosmetic_runs_and_renamed_headings_are_not_quoted() -> None:
    rest = " We collect your name and e-mail address when you register for an account."
    old = f"# Policy\n\n## Data\n\nWe don\u2019t sell data.{rest} We keep it.\n"
    new = f"# Policy\n\n## Your data\n\nWe don't sell data.{rest} We keep it safe.\n"
    diff = compare_texts(old, new)
    changes = describe_changes(diff)
    renamed = next(c for c in changes if c.kind is ChangeKind.RENAMED)
    assert renamed.line == "Renamed and changed: Data -> Your data"
    quotes = [q for s in diff.sections for q in section_quotes(s)]
    assert [(q.old, q.new) for q in quotes] == [("We keep it.", "We keep it safe.")]


def test_moves_are_lines_without_quotes() -> None:
    body = seed_body()
    websites = body[body.index("_Websites_") : body.index("_Forums")]
    moved = body.replace(websites, "").replace("_Non-personally", websites + "_Non-personally")
    lines = [c.line for c in describe_changes(compare_texts(body, moved))]
    assert lines == ["Moved: What we collect > Websites now follows Forums and mailinglists"]
    payments = body[body.index("When you register for services") : body.index("_Non-personally")]
    split = body.replace(payments, "").replace(
        "_Non-personally", "_Payments_\n\n" + payments + "_Non-personally"
    )
    diff = compare_texts(body, split)
    changes = describe_changes(diff)
    # One line: the new section holds only its heading and the moved text.
    assert [c.line for c in changes] == [
        (
            "Moved text: the paragraph \u201cWhen you register for services from Koozali Inc. "
            "(Including donations), \u2026\u201d moved from What we collect > Forums and "
            "mailinglists to a new section, What we collect > Payments"
        ),
    ]
    # Moved unchanged: nothing in it is new wording to quote.
    assert all(not section_quotes(s) for s in diff.sections)


def test_a_long_sentence_is_cut_around_the_change() -> None:
    filler = " ".join(f"word{i}" for i in range(120))
    quotes = only_section_quotes(f"Start {filler} end.", f"Start {filler} changed end.")
    (kind, old, new) = quotes[0]
    assert kind is QuoteKind.CHANGED
    assert old is not None
    assert new is not None
    assert len(old) <= MAX_QUOTE_CHARS
    assert len(new) <= MAX_QUOTE_CHARS
    assert new.startswith(ELISION)
    assert "changed end." in new


def test_quotes_are_capped_per_section_and_overall() -> None:
    sections_old = "".join(
        f"## Part {n}\n\n" + " ".join(f"Rule {n}.{i} applies." for i in range(6)) + "\n\n"
        for n in range(8)
    )
    sections_new = "".join(
        f"## Part {n}\n\n" + " ".join(f"Rule {n}.{i} applies now." for i in range(6)) + "\n\n"
        for n in range(8)
    )
    # Separate the sentences with unchanged ones so each edit is its own quote.
    old = "# Policy\n\n" + sections_old.replace(" Rule", " Keep this. Rule")
    new = "# Policy\n\n" + sections_new.replace(" Rule", " Keep this. Rule")
    context = build_announcement(report_of(old, new), policy=POLICY).as_context()
    per_section = [len(c["quotes"]) for c in context["changes"]]
    assert max(per_section) <= MAX_QUOTES_PER_SECTION
    assert sum(per_section) == MAX_QUOTES
    assert min(per_section) >= 1  # every changed section gets its first quote
    assert context["counts"]["quotes_omitted"] == sum(c["more_quotes"] for c in context["changes"])
    assert context["counts"]["quotes_omitted"] == 8 * 6 - MAX_QUOTES


# --------------------------------------------------------------------------- context


def test_effective_date_is_never_invented() -> None:
    body = seed_body()
    edited = body.replace("Your privacy matters to us.", "Your privacy matters a lot to us.")
    undated = "\n".join(line for line in body.splitlines() if "Valid from" not in line)
    not_stated = effective_of(report_of(undated, undated.replace("matters", "counts")))
    assert not_stated.status == "not_stated"
    assert not_stated.on is None
    assert not_stated.text == "Not stated in the text."
    same = effective_of(
        report_of(body, edited, old_effective=date(2016, 2, 8), new_effective=date(2016, 2, 8))
    )
    assert same.status == "unchanged"
    assert "still states the previous effective date (8 February 2016)" in same.text
    stated = effective_of(
        report_of(body, edited, old_effective=date(2016, 2, 8), new_effective=date(2024, 5, 1))
    )
    assert (stated.status, stated.on) == ("stated", date(2024, 5, 1))


def test_title_falls_back_to_the_policy_id() -> None:
    context = context_of("Just a paragraph.\n", "Just another paragraph.\n")
    assert context["title"] == POLICY
    assert context["subject"] == f"[ANNOUNCE] {POLICY}: changes (effective date not stated)"


def test_links_must_be_plain_http_urls() -> None:
    context = context_of(
        seed_body(),
        seed_body().replace("matters", "counts"),
        links=Links(read_url="javascript:alert(1)", diff_url="https://example.org/d"),
    )
    assert context["read_url"] is None
    assert context["diff_url"] == "https://example.org/d"


# --------------------------------------------------------------------------- rendering


def test_every_packaged_template_renders_every_case() -> None:
    context = context_of(seed_body(), seed_body().replace("matters", "counts"))
    for fmt in ("email", "text", "markdown", "html"):
        assert default_template(fmt)
        out = render_announcement(context, fmt)
        assert "[TODO: why did this change?]" in out
        assert "[TODO: what can readers do?]" in out


def test_html_is_escaped_and_markdown_filtered() -> None:
    context = context_of("# A\n\nText.\n", "# A <b>&\n\nText changed.\n")
    assert "<b>" not in render_announcement(context, "html")
    assert markdown_escape("1. *x* <y> & [z](u)") == "1\\. \\*x\\* &lt;y> &amp; \\[z\\](u)"
    assert markdown_escape("> quote") == "\\> quote"


def test_templates_are_sandboxed_and_strict() -> None:
    context = context_of(seed_body(), seed_body().replace("matters", "counts"))
    with pytest.raises(UsageError, match="undefined"):
        render_announcement(context, "text", source="{{ titel }}", name="mine.j2")
    with pytest.raises(UsageError, match=r"mine\.j2"):
        render_announcement(
            context,
            "text",
            source="{{ title.__class__.__mro__[1].__subclasses__() }}",
            name="mine.j2",
        )
    with pytest.raises(UsageError, match="line 1"):
        render_announcement(context, "text", source="{% if %}", name="mine.j2")


def test_wrap_keeps_prefixes_and_urls() -> None:
    url = "https://example.org/" + "a" * 80
    wrapped = wrap_text(
        "- " + "word " * 30 + "\n    Now: " + "long " * 20 + "\n> " + "quoted " * 15 + "\n" + url
    )
    lines = wrapped.split("\n")
    assert all(len(line) <= 72 for line in lines if line != url)
    assert url in lines
    assert lines[1].startswith("  word")
    assert any(line.startswith("    long") for line in lines)
    assert all(line.startswith("> ") for line in lines if "quoted" in line)


# --------------------------------------------------------------------------- e-mail


def test_title_with_crlf_cannot_add_a_header() -> None:
    hostile = "Privacy\r\nBcc: victim@example.org\r\n\r\nbody"
    message = build_email(
        "Body.\n",
        subject=f"[ANNOUNCE] {hostile}: changes",
        sender=parse_address("a@example.org", "From"),
        to=parse_addresses("list@example.org", "To"),
        when=datetime(2024, 5, 1, tzinfo=UTC),
    )
    parsed = check_message(message.as_bytes())
    assert parsed.get_all("Bcc") is None
    assert parsed["Subject"] == "[ANNOUNCE] Privacy Bcc: victim@example.org body: changes"
    assert one_line("a\u2028b\x0bc\x85d") == "a b c d"


def test_title_through_the_whole_pipeline_cannot_add_a_header() -> None:
    body = seed_body().replace(
        "# SME Server:Privacy policy - SME Server",
        "# Privacy\u2028Bcc: victim@example.org\x0bX-Evil: 1",
    )
    report = report_of(body, body.replace("matters", "counts"))
    announcement = build_announcement(report, policy=POLICY)
    message = build_email(
        render_announcement(announcement.as_context(), "email"),
        subject=announcement.subject,
        sender=parse_address("a@example.org", "From"),
        to=parse_addresses("list@example.org", "To"),
        when=datetime(2024, 5, 1, tzinfo=UTC),
    )
    parsed = check_message(message.as_bytes())
    assert parsed.get_all("Bcc") is None
    assert parsed.get_all("X-Evil") is None


def test_non_ascii_subject_is_rfc2047_encoded() -> None:
    message = build_email(
        "Cuerpo: política.\n",
        subject="[ANNOUNCE] Política de privacidad — Ñandú: cambios",
        sender=parse_address("Équipe <a@example.org>", "From"),
        to=parse_addresses("list@example.org", "To"),
        when=datetime(2024, 5, 1, tzinfo=UTC),
    )
    raw = message.as_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    assert headers.isascii()
    assert b"=?utf-8?" in headers
    parsed = check_message(raw)
    assert parsed["Subject"] == "[ANNOUNCE] Política de privacidad — Ñandú: cambios"
    assert parsed.get_content() == "Cuerpo: política.\n"


@pytest.mark.parametrize(
    "value",
    [
        "list@example.org\r\nBcc: x@example.org",
        "list@example.org\nBcc: x@example.org",
        "not an address",
        "",
        "@example.org",
        "a@localhost",
    ],
)
def test_bad_addresses_are_refused(value: str) -> None:
    with pytest.raises(UsageError):
        parse_addresses(value, "To")


def test_addresses_with_names_and_lists_are_accepted() -> None:
    assert str(parse_address("Policy Team <policy@example.org>", "From")) == (
        "Policy Team <policy@example.org>"
    )
    assert len(parse_addresses("a@example.org, b@example.org", "To")) == 2
    with pytest.raises(UsageError, match="one address"):
        parse_address("a@example.org, b@example.org", "From")


# --------------------------------------------------------------------------- command


def snapshot(text: str, when: str, **kw: object) -> Snapshot:
    return Snapshot(
        policy=POLICY,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def archive(store: GitStore, monkeypatch: pytest.MonkeyPatch) -> GitStore:
    """A store with v1 (seed), v2 (an edit), v3 (cosmetic only), v4 (technical)."""
    monkeypatch.setenv("POLICYDIFF_STORE", str(store.path))
    monkeypatch.chdir(store.path.parent)
    body = seed_body()
    v2 = body.replace("Your privacy matters to us.", "Your privacy matters a great deal to us.")
    store.record(
        [
            snapshot(body, "2017-04-22", source_url="https://wiki.contribs.org/Privacy"),
            snapshot(v2, "2020-01-01", effective_date=date(2020, 1, 1)),
            snapshot(v2.replace("\u2019", "'"), "2021-01-01"),
            snapshot(v2.replace("\u2019", "'") + "\n", "2021-06-01", technical=True),
        ]
    )
    return store


def test_missing_addresses_say_how_to_set_them(archive: GitStore) -> None:
    result = run_cli(["announce", POLICY, "1", "2"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "policydiff config set announce.to" in result.stderr


def test_defaults_skip_technical_and_cosmetic_versions(archive: GitStore) -> None:
    # Latest non-technical is v3, which is cosmetic only against v2: nothing to announce.
    result = run_cli(["announce", *ADDRESSES])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "@2 (2020-01-01) and koozali/privacy-policy@3" in result.stderr
    drafted = run_cli(["announce", "--include-cosmetic", "--format", "json"])
    doc = json.loads(drafted.stdout)
    assert (doc["old"]["version"], doc["new"]["version"]) == (2, 3)
    assert doc["substantive"] is False


def test_announce_from_config(archive: GitStore) -> None:
    for key, value in (
        ("announce.to", "list@example.org"),
        ("announce.from", "team@example.org"),
        ("announce.list_name", "Koozali announcements"),
        ("announce.url", "https://example.org/privacy"),
        ("announce.diff_url", "https://example.org/privacy/diff/{old}..{new}"),
    ):
        _set_config(archive, key, value)
    result = run_cli(["announce", POLICY, "1", "2", *DATE])
    assert result.exit_code == 0, result.stderr
    message = check_message(result.stdout_bytes)
    assert message["To"] == "list@example.org"
    assert message["From"] == "team@example.org"
    body = message.get_content()
    assert "https://example.org/privacy\n" in body
    assert "https://example.org/privacy/diff/1..2" in body
    assert "Koozali announcements" in body
    assert "1 January 2020, as stated in the new version." in body
    assert "Fill in the 2 [TODO: ...]" in result.stderr
    overridden = run_cli(["announce", POLICY, "1", "2", "--to", "other@example.org"])
    assert parse_message(overridden.stdout_bytes)["To"] == "other@example.org"


def _set_config(store: GitStore, key: str, value: str) -> None:
    """Set a setting as `policydiff config set` does."""
    from policydiff.cli.config_cmd import store_config

    store_config(store).set(key, value)


def test_read_url_falls_back_to_the_latest_source_url(archive: GitStore) -> None:
    result = run_cli(["announce", POLICY, "1", "2", "--format", "json"])
    assert json.loads(result.stdout)["read_url"] == "https://wiki.contribs.org/Privacy"


def test_header_injection_from_the_command_line_is_refused(archive: GitStore) -> None:
    result = run_cli(
        [
            "announce",
            POLICY,
            "1",
            "2",
            "--to",
            "a@example.org\r\nBcc: b@example.org",
            "--from",
            "c@example.org",
        ]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: To must be one line")


def test_mbox_appends_locked_messages(archive: GitStore, tmp_path: Path) -> None:
    box = tmp_path / "drafts.mbox"
    for _ in range(2):
        result = run_cli(["announce", POLICY, "1", "2", *ADDRESSES, "--mbox", str(box)])
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""
    opened = mailbox.mbox(box)
    messages = list(opened)
    opened.close()
    assert len(messages) == 2
    check_message(messages[0].as_bytes())
    assert messages[0]["Message-ID"] != messages[1]["Message-ID"]
    assert not list(tmp_path.glob("*.lock"))


def test_output_file_and_format_errors(archive: GitStore, tmp_path: Path) -> None:
    out = tmp_path / "notice.md"
    result = run_cli(["announce", POLICY, "1", "2", "--format", "markdown", "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("## Changes to Privacy policy")
    bad = run_cli(["announce", POLICY, "1", "2", "--format", "html", "--mbox", "x.mbox"])
    assert bad.exit_code == 2
    assert "--mbox" in bad.stderr
    bad_date = run_cli(["announce", POLICY, "1", "2", *ADDRESSES, "--date", "yesterday"])
    assert bad_date.exit_code == 2
    assert "--date" in bad_date.stderr


def test_templates_override_from_option_and_store(archive: GitStore, tmp_path: Path) -> None:
    mine = tmp_path / "mine.j2"
    mine.write_text("{{ title }}: {{ changes | length }} change(s)\n", encoding="utf-8")
    result = run_cli(["announce", POLICY, "1", "2", "--format", "text", "--template", str(mine)])
    assert result.stdout == "Privacy policy: 1 change(s)\n"
    folder = archive.path / "templates"
    folder.mkdir()
    (folder / "announce.markdown.j2").write_text("store {{ policy }}\n", encoding="utf-8")
    result = run_cli(["announce", POLICY, "1", "2", "--format", "markdown"])
    assert result.stdout == f"store {POLICY}\n"
    (folder / "announce.markdown.j2").write_text("{{ nope }}\n", encoding="utf-8")
    result = run_cli(["announce", POLICY, "1", "2", "--format", "markdown"])
    assert result.exit_code == 2
    assert "announce.markdown.j2" in result.stderr
    assert "undefined" in result.stderr


def test_help_lists_the_settings() -> None:
    result = run_cli(["announce", "--help"])
    assert result.exit_code == 0
    for key in ("announce.to", "announce.from", "announce.url", "announce.diff_url"):
        assert key in result.stdout
