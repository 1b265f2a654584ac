"""Announcement wording (issue 14): the policy's title, the old version's name, moved
sections, changed words marked inside quotes, and quotes free of markup debris."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from helpers import run_cli, seed_body
from policydiff.core.model import Snapshot
from policydiff.engine.compare import compare_texts
from policydiff.engine.report import CompareReport, side_from_text
from policydiff.publish.announce import ELISION, build_announcement, without_site_name
from policydiff.store.gitstore import GitStore

POLICY = "koozali/privacy-policy"


def report_of(old: str, new: str) -> CompareReport:
    return CompareReport(
        side_from_text("old.md", old), side_from_text("new.md", new), compare_texts(old, new)
    )


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
    """A store with v1 (the seed, valid from 8 February 2016) and v2 (one edit)."""
    monkeypatch.setenv("POLICYDIFF_STORE", str(store.path))
    monkeypatch.chdir(store.path.parent)
    body = seed_body()
    v2 = body.replace("Your privacy matters to us.", "Your privacy matters a great deal to us.")
    store.record(
        [
            snapshot(body, "2017-04-22", effective_date=date(2016, 2, 8)),
            snapshot(v2, "2020-01-01", effective_date=date(2020, 1, 1)),
        ]
    )
    return store


# --------------------------------------------------------------------------- 1. title


@pytest.mark.parametrize(
    ("heading", "title"),
    [
        ("SME Server:Privacy policy - SME Server", "Privacy policy"),
        ("Privacy Notice | Example", "Privacy Notice"),
        ("Privacy Notice \u2013 Example Ltd", "Privacy Notice"),
        ("Privacy Policy", "Privacy Policy"),
        # Not a site name: too long to be one, so kept as written.
        (
            "Privacy - how we collect, keep and share what you tell us here",
            "Privacy - how we collect, keep and share what you tell us here",
        ),
        ("Opt-in terms", "Opt-in terms"),
    ],
)
def test_site_name_is_dropped_from_first_heading(heading: str, title: str) -> None:
    assert without_site_name(heading) == title


def test_seed_notice_is_titled_by_the_policy_not_the_page() -> None:
    body = seed_body()
    new = body.replace("Your privacy matters to us.", "Your privacy matters a lot to us.")
    announcement = build_announcement(report_of(body, new), policy=POLICY)
    assert announcement.title == "Privacy policy"
    assert announcement.subject.startswith("[ANNOUNCE] Privacy policy: changes")


def test_configured_title_wins(archive: GitStore) -> None:
    body = seed_body()
    new = body.replace("Your privacy matters to us.", "Your privacy matters a lot to us.")
    announcement = build_announcement(
        report_of(body, new), policy=POLICY, title="Koozali privacy policy"
    )
    assert announcement.title == "Koozali privacy policy"
    set_result = run_cli(["config", "set", f"policy.{POLICY}.title", "Koozali privacy policy"])
    assert set_result.exit_code == 0, set_result.stderr
    result = run_cli(["announce", POLICY, "1", "2", "--format", "markdown"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("## Changes to Koozali privacy policy\n")
    assert "SME Server" not in result.stdout.split("###")[0]


# --------------------------------------------------------------------------- 2. old version


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_old_version_is_named_by_its_valid_from_date(archive: GitStore, fmt: str) -> None:
    result = run_cli(["announce", POLICY, "1", "2", "--format", fmt])
    assert result.exit_code == 0, result.stderr
    shown = " ".join(result.stdout.split())
    assert "the policy valid from 8 February 2016 (archived 22 April 2017)" in shown
    assert "Compared with the version of" not in shown


def test_old_version_without_a_valid_from_date_is_named_by_its_archive_date(
    store: GitStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICYDIFF_STORE", str(store.path))
    body = seed_body()
    v2 = body.replace("Your privacy matters to us.", "Your privacy matters a great deal to us.")
    store.record([snapshot(body, "2017-04-22"), snapshot(v2, "2020-01-01")])
    result = run_cli(["announce", POLICY, "1", "2", "--format", "markdown"])
    assert result.exit_code == 0, result.stderr
    assert "Compared with the version archived 22 April 2017:" in result.stdout


# --------------------------------------------------------------------------- 3. moved sections

_MOVES_OLD = """# Policy

## What we collect

### Websites

We log visits.

### Forums

We keep posts.

### General

We collect little.

## Contact

Write to us.
"""


@pytest.mark.parametrize(
    ("new", "line"),
    [
        # General moved to the top of its parent: the section before it is the parent.
        (
            _MOVES_OLD.replace("### General\n\nWe collect little.\n\n", "").replace(
                "## What we collect\n\n",
                "## What we collect\n\n### General\n\nWe collect little.\n\n",
            ),
            "Moved: General now comes first under What we collect",
        ),
        # Forums moved after General: a sibling.
        (
            _MOVES_OLD.replace("### Forums\n\nWe keep posts.\n\n", "").replace(
                "## Contact", "### Forums\n\nWe keep posts.\n\n## Contact"
            ),
            "Moved: What we collect > Forums now follows General",
        ),
    ],
)
def test_moved_section_says_where_it_now_stands(new: str, line: str) -> None:
    from policydiff.publish.announce import describe_changes

    lines = [c.line for c in describe_changes(compare_texts(_MOVES_OLD, new))]
    assert line in lines, lines
    assert not any("now after" in shown for shown in lines)


def test_moved_section_follows_a_sibling_not_its_last_subsection() -> None:
    from policydiff.publish.announce import describe_changes

    old = (
        "# Policy\n\n## Alpha\n\nAlpha text here is long enough.\n\n### Cookies\n\n"
        "We set one cookie only.\n\n## Beta\n\nBeta text is also here now.\n\n"
        "## Gamma\n\nGamma words are written here.\n\n"
        "## Delta\n\nDelta text again in this place.\n"
    )
    delta = "## Delta\n\nDelta text again in this place.\n"
    new = old.replace(delta, "").replace("## Beta", delta + "\n## Beta")
    lines = [c.line for c in describe_changes(compare_texts(old, new))]
    # The heading before Delta is Alpha > Cookies; Delta, a sibling of Alpha, follows Alpha.
    assert lines == ["Moved: Delta now follows Alpha"]


# --------------------------------------------------------------------------- 4. marked words

_LONG_OLD = (
    "# Policy\n\n## Forums\n\nWhen you register for the forums we ask for your full name, "
    "your e-mail address and a password, and we show your full name next to every post "
    "you write.\n"
)
_LONG_NEW = _LONG_OLD.replace("show your full name next", "show your username next")


def _render(fmt: str) -> str:
    from policydiff.publish.announce import render_announcement

    announcement = build_announcement(report_of(_LONG_OLD, _LONG_NEW), policy=POLICY)
    return render_announcement(announcement.as_context(), fmt)


def test_markdown_quote_marks_the_changed_words_and_renders_in_gfm() -> None:
    from markdown_it import MarkdownIt

    out = _render("markdown")
    assert "we ~~show your full name~~" not in out  # only the changed words are marked
    assert "~~full name~~" in out
    assert "**username**" in out
    html = MarkdownIt("commonmark").enable("strikethrough").render(out)
    assert "<s>full name</s>" in html
    assert "<strong>username</strong>" in html


@pytest.mark.parametrize("fmt", ["text", "email"])
def test_plain_quote_has_an_in_short_line_without_diff_markers(fmt: str) -> None:
    out = " ".join(_render(fmt).split())
    assert "In short: full name \u2192 username" in out
    for marker in ("[-", "-]", "{+", "+}", "~~", "**"):
        assert marker not in out


def test_html_quote_marks_with_del_and_ins() -> None:
    out = _render("html")
    assert "<del>full name</del>" in out
    assert "<ins>username</ins>" in out


def test_marked_runs_rebuild_the_quote() -> None:
    announcement = build_announcement(report_of(_LONG_OLD, _LONG_NEW), policy=POLICY)
    (quote,) = [q for c in announcement.changes for q in c.quotes]
    assert "".join(text for text, _ in quote.old_parts) == quote.old
    assert "".join(text for text, _ in quote.new_parts) == quote.new
    assert [text for text, changed in quote.old_parts if changed] == ["full name"]
    assert quote.edits == (("full name", "username"),)


def test_cosmetic_edits_are_not_marked() -> None:
    old = _LONG_OLD.replace("you write", "you don't write")
    new = _LONG_NEW.replace("you write", "you don\u2019t write")
    announcement = build_announcement(report_of(old, new), policy=POLICY)
    (quote,) = [q for c in announcement.changes for q in c.quotes]
    assert [text for text, changed in quote.new_parts if changed] == ["username"]


# --------------------------------------------------------------------------- 5. no debris


def _quotes(old: str, new: str) -> list[str]:
    announcement = build_announcement(report_of(old, new), policy=POLICY)
    return [
        text
        for change in announcement.changes
        for quote in change.quotes
        for text in (quote.old, quote.new)
        if text is not None
    ]


def test_quote_of_a_sentence_with_a_link_holding_full_stops_has_no_debris() -> None:
    old = (
        "# Policy\n\n## Who we are\n\nWe are the [Art. 4. Data controller](#data-controller) "
        "for your forum posts. We answer within a month.\n"
    )
    new = old.replace("forum posts", "forum posts and e-mails")
    quotes = _quotes(old, new)
    assert quotes, "the edit is quoted"
    for quote in quotes:
        assert "](" not in quote, quote
        assert "#data-controller" not in quote, quote
    assert "We are the Art. 4. Data controller for your forum posts and e-mails." in quotes


@pytest.mark.parametrize(
    ("cut", "plain"),
    [
        ("Data controller](#data-controller) for your posts.", "Data controller for your posts."),
        ("See [the rules](#rules) and Data](#data).", "See the rules and Data."),
    ],
)
def test_plain_text_drops_the_half_of_a_cut_link(cut: str, plain: str) -> None:
    from policydiff.publish.announce import plain_text

    assert plain_text(cut) == plain


def test_long_quote_cut_near_a_link_keeps_no_bracket() -> None:
    filler = " ".join(f"word{i}" for i in range(60))
    old = (
        f"# Policy\n\n## Data\n\nWe {filler} keep logs and see "
        "[the data controller section](#data-controller) for more.\n"
    )
    new = old.replace("keep logs", "keep short logs")
    quotes = _quotes(old, new)
    assert len(quotes) == 2
    for quote in quotes:
        shown = quote.replace(ELISION, "")
        assert "[" not in shown, quote
        assert "keep" in shown, quote  # both sides show where the edit is


def test_table_rows_are_never_quoted() -> None:
    old = (
        "# Policy\n\n## Retention\n\nWe keep data as below.\n\n"
        "| Data | Kept for |\n|------|----------|\n| Logs | 30 days |\n| Posts | 1 year |\n\n"
        "Ask us to delete it.\n"
    )
    new = old.replace("30 days", "90 days").replace("Ask us", "Write to us")
    quotes = _quotes(old, new)
    assert quotes == ["Ask us to delete it.", "Write to us to delete it."]
    table_only = old.replace("30 days", "90 days")
    assert _quotes(old, table_only) == []
    from policydiff.publish.announce import describe_changes

    assert [c.line for c in describe_changes(compare_texts(old, table_only))] == [
        "Changed: Retention"
    ]


def test_long_quote_ends_before_a_link_it_would_cut() -> None:
    filler = " ".join(f"word{i}" for i in range(36))
    old = (
        f"# Policy\n\n## Data\n\nWe keep logs {filler} and see [the data controller section "
        "of this policy page for details](#data-controller) for more and more words here.\n"
    )
    new = old.replace("keep logs", "keep short logs")
    quotes = _quotes(old, new)
    assert len(quotes) == 2
    for quote in quotes:
        assert quote.endswith(f"and see {ELISION}"), quote


@pytest.mark.parametrize("fmt", ["text", "markdown", "email", "html"])
def test_more_changes_are_only_announced_below_a_quote(fmt: str) -> None:
    from policydiff.publish.announce import MAX_QUOTES, render_announcement

    # More changed sections than quotes: the last sections get none, and their line says
    # how many changes they hold without "and ... more" (there is nothing above to add to).
    count = MAX_QUOTES + 3
    old = "# Policy\n\n" + "".join(
        f"## Part {n}\n\nWe keep record {n} for a year. We delete it after.\n\n"
        for n in range(count)
    )
    new = old.replace("for a year", "for two years").replace("delete it", "erase it")
    announcement = build_announcement(report_of(old, new), policy=POLICY)
    unquoted = [c for c in announcement.changes if not c.quotes]
    assert unquoted
    assert all(c.more_quotes for c in unquoted)
    out = render_announcement(announcement.as_context(), fmt)
    assert out.count("not quoted here") == len(unquoted)
    assert "2 changes in this section, not quoted here" in out
    # Every "(and N more changes" follows a quote of the same section.
    items = out.split("Part ")[1:]
    for item in items:
        if "(and " in item:
            assert "Now:" in item or "~~" in item or "<del>" in item, item
        assert not ("(and " in item and "not quoted here" in item)


def test_moved_table_is_named_by_its_cells_not_its_pipes() -> None:
    rows = "".join(f"| Partner {n} | data kind {n} | purpose {n} |\n" for n in range(6))
    table = "| Recipient | Data | Why |\n| --- | --- | --- |\n" + rows
    old = (
        "# Policy\n\n## Sharing\n\nWe share data as follows.\n\n"
        f"{table}\n## Retention\n\nWe keep data for a year.\n"
    )
    new = (
        "# Policy\n\n## Sharing\n\nWe share data as follows.\n\n"
        f"## Retention\n\nWe keep data for a year.\n\n{table}"
    )
    announcement = build_announcement(report_of(old, new), policy=POLICY)
    lines = [c.line for c in announcement.changes if "moved" in c.line.lower()]
    assert lines, [c.line for c in announcement.changes]
    assert "the table \u201cRecipient Data Why Partner 0" in lines[0]
    assert "|" not in lines[0]
    assert "---" not in lines[0]
