"""The terminal renderer: summary, table and redline, with and without colour."""

from __future__ import annotations

import io

from rich.console import Console

from policydiff.diff_model import SectionStatus
from policydiff.render.terminal import build, render
from policydiff.report import View
from report_factory import DEL, EQ, INS, document, report, sample, section, seg


def test_plain_report_reads_without_colour() -> None:
    out = render(sample(), View())
    lines = out.splitlines()
    assert lines[:5] == [
        "Compare old.md \u2192 new.md",
        "Substantive changes in 3 of 5 sections.",
        "Sections: 1 added, 1 removed, 1 renamed, 0 moved, 1 changed, 1 cosmetic, 1 unchanged",
        "Words: 8 inserted, 8 deleted",
        "Effective date: Last updated: 1 January 2024 \u2192 Last updated: 1 May 2024",
    ]
    assert "changed renamed   1. Intro > 2. Data we collect   +2 \u22121" in out
    assert "We collect your [-name-]{+name, email+} and address." in out
    assert "  \u22ef 2 unchanged paragraphs" in out
    assert "{+## 3. Cookies+}" in out
    assert "[-These terms are gone.-]" in out
    assert "cosmetic \u00b7 renumbered 3. \u2192 4." in out
    assert "\x1b" not in out
    assert all(len(line) <= 100 for line in lines)
    assert out == out.rstrip("\n") + "\n"


def test_colour_uses_styles_instead_of_markers() -> None:
    out = render(sample(), View(), color=True)
    assert "[-" not in out
    assert "{+" not in out
    assert "\x1b[9;31mname\x1b[0m" in out  # red, struck through
    assert "\x1b[4;32mname, email\x1b[0m" in out  # green, underlined


def test_context_shows_unchanged_sections() -> None:
    assert "We care." not in render(sample(), View())
    assert "We care." in render(sample(), View(context=True))


def test_filters_are_reported() -> None:
    out = render(sample(), View(section="cookies"))
    assert "3 other section(s) with changes not matching --section" in out
    assert "hidden" not in out
    assert "Old terms" not in out
    # A cosmetic section left out is called cosmetic, never changed.
    out = render(sample(), View(ignore_cosmetic=True))
    assert "1 cosmetic section(s) hidden (--ignore-cosmetic)" in out
    assert "not matching" not in out


def test_identical_texts_give_a_short_report() -> None:
    same = report(document(section(SectionStatus.UNCHANGED, seg(EQ, "# A\n\nText.\n"))))
    out = render(same, View())
    assert "The texts are identical." in out
    assert "status" not in out


def test_build_returns_a_renderable_and_prints_nothing(capsys) -> None:
    renderable = build(sample(), View(), color=False)
    assert capsys.readouterr() == ("", "")
    console = Console(file=io.StringIO(), width=60, color_system=None)
    console.print(renderable)
    assert "1. Intro > 3. Cookies" in console.file.getvalue()  # type: ignore[attr-defined]


def test_policy_text_cannot_drive_the_terminal_or_inject_rich_markup() -> None:
    hostile = section(
        SectionStatus.MODIFIED,
        seg(EQ, "## [bold red]Title[/]\n\nSee "),
        seg(DEL, "\x1b[2Jold"),
        seg(INS, "new\x07\u202eevil\rtext [link=https://x.invalid]x[/link]"),
        seg(EQ, ".\n"),
        path=("[bold red]Title[/]",),
    )
    out = render(report(document(hostile)), View(), color=True)
    assert "[bold red]Title[/]" in out
    assert "[link=https://x.invalid]x[/link]" in out
    assert "\\x1b[2Jold" in out
    assert "\\x07" in out
    assert "\\u202e" in out
    assert "\\x0d" in out
    for raw in ("\x07", "\u202e", "\r", "\x1b[2J", "\x1b]8;"):
        assert raw not in out


def test_moved_text_is_noted() -> None:
    out = render(_moves(), View())
    assert "text moved to \u201cB\u201d" in out
    assert "text moved from \u201cA\u201d" in out


def _moves():
    from policydiff.diff_model import MovedBlock

    block = MovedBlock(0, 0, 1, ("A",), ("B",), "Moved para.", "Moved para.", 100.0)
    a = section(
        SectionStatus.MODIFIED,
        seg(EQ, "# A\n\n"),
        seg(DEL, "Moved para.\n\n", move=0),
        path=("A",),
        moved_out=(0,),
    )
    b = section(
        SectionStatus.MODIFIED,
        seg(EQ, "# B\n\n"),
        seg(INS, "Moved para.\n\n", move=0),
        path=("B",),
        index=1,
        moved_in=(0,),
    )
    return report(document(a, b, moves=(block,)))


def test_ignore_cosmetic_prints_cosmetic_runs_as_plain_text() -> None:
    contact = sample().diff.sections[3]
    modified = section(
        SectionStatus.MODIFIED,
        *contact.segments[:-1],
        seg(INS, " Thanks"),
        seg(EQ, ".\n\n"),
        path=("Contact",),
    )
    out = render(report(document(modified)), View(ignore_cosmetic=True))
    assert 'Write to us at "privacy" {+Thanks+}.' in out
    assert "\u201c" not in out
