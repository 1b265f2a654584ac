"""The terminal renderer: summary, table and redline, with and without colour."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from helpers import run_cli
from policydiff.core.diff_model import SectionStatus
from policydiff.engine.report import View
from policydiff.publish.render.terminal import build, render
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
    from policydiff.core.diff_model import MovedBlock

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


# --------------------------------------------------------------------------- wrapping

_LIST_OLD = (
    "# Policy\n\n## What we collect\n\n"
    "We collect your name when you sign up, and nothing else at all.\n\n"
    "* Account data that you give us when you register for an account with our service\n"
    "* Usage data\n"
    "  * pages you visit on our websites and the searches that you make while signed in\n"
    "1. First we ask you for your consent before anything is stored anywhere.\n"
)
_LIST_NEW = (
    _LIST_OLD.replace("an account with our service", "a paid or free account with any service")
    .replace("pages you visit", "pages and posts you visit")
    .replace("nothing else at all", "your postal address when you order things from our shop")
    .replace("we ask you", "we always ask you")
)


def _balanced(line: str) -> bool:
    """Whether every text marker opened on ``line`` is closed on it, in order."""
    stack: list[str] = []
    pairs = {"[-": "-]", "{+": "+}", "[~": "~]"}
    at = 0
    while at < len(line):
        two = line[at : at + 2]
        if two in pairs:
            if stack:
                return False  # marks never nest
            stack.append(pairs[two])
            at += 2
        elif stack and two == stack[-1]:
            stack.pop()
            at += 2
        elif two in pairs.values():
            return False
        else:
            at += 1
    return not stack


def _run_narrow(tmp_path: Path, *args: str) -> str:
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text(_LIST_OLD, encoding="utf-8")
    new.write_text(_LIST_NEW, encoding="utf-8")
    result = run_cli(["compare", *args, str(old), str(new)], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_narrow_terminal_keeps_markers_whole_and_list_indent(tmp_path: Path) -> None:
    out = _run_narrow(tmp_path)
    lines = out.splitlines()
    assert all(len(line) <= 40 for line in lines), [line for line in lines if len(line) > 40]
    redline = out[out.index("changed \u00b7") :].splitlines()[1:]
    assert all(_balanced(line) for line in redline), redline
    # A short replacement is never cut: both marks on one line.
    assert any("[-an-]{+a paid or free+}" in line for line in redline)
    # Wrapped list items hang under their text, at each nesting level.
    item = next(i for i, line in enumerate(redline) if line.startswith("* Account data"))
    assert redline[item + 1].startswith("  ")
    assert not redline[item + 1].startswith("   ")
    nested = next(i for i, line in enumerate(redline) if line.startswith("  * pages"))
    assert redline[nested + 1].startswith("    ")
    assert redline[nested + 1][4] != " "
    numbered = next(i for i, line in enumerate(redline) if line.startswith("1. First"))
    assert redline[numbered + 1].startswith("   ")
    assert redline[numbered + 1][3] != " "
    # A mark longer than a line is closed at each line end and reopened on the next;
    # joined back, the text reads as written.
    joined = " ".join(redline).replace("+} {+", " ").replace("-] [-", " ")
    assert "{+your postal address when you order things from our shop+}." in joined
    assert "{+and posts+}" in joined


def test_wide_replacement_puts_the_insertion_on_its_own_line() -> None:
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport, side_from_text

    old = "# T\n\n## S\n\n" + "Kept words here. " * 3 + "We delete your data after a year.\n"
    new = old.replace("We delete your data after a year", "Records are kept for ten years now")
    rep = CompareReport(side_from_text("a", old), side_from_text("b", new), compare_texts(old, new))
    out = render(rep, View(), width=60)
    redline = out[out.index("changed \u00b7") :].splitlines()[1:]
    # Too long for one line together: the deletion and the insertion each get a whole line.
    assert redline == [
        "Kept words here. Kept words here. Kept words here.",
        "[-We delete your data after a year-]",
        "{+Records are kept for ten years now+}.",
    ]


def test_colour_wrapping_keeps_styles_and_indent() -> None:
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport, side_from_text

    rep = CompareReport(
        side_from_text("a", _LIST_OLD),
        side_from_text("b", _LIST_NEW),
        compare_texts(_LIST_OLD, _LIST_NEW),
    )
    coloured = render(rep, View(), width=40, color=True)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert all(len(line) <= 40 for line in plain.splitlines())
    assert "[-" not in plain
    assert "{+" not in plain
    item = plain.splitlines().index(
        next(line for line in plain.splitlines() if line.startswith("* Account data"))
    )
    assert plain.splitlines()[item + 1].startswith("  ")
    assert "\x1b[4;32malways\x1b[0m" in coloured
