"""The terminal format: a summary, a table of changed sections and a redline of each one.

``build`` returns a rich renderable and never prints. Without colour the redline stays
readable as ``[-deleted-]{+inserted+}`` (the notation of ``git diff --word-diff=plain``);
cosmetic edits shown with ``--show-cosmetic`` read ``[~old→new~]`` and notes on
cosmetic edits ``[~invisible character U+2060 removed~]``, so that they stay apart from
word changes without colour too.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from policydiff.diff_model import Op, SectionDiff
from policydiff.report import (
    CompareReport,
    Elided,
    Run,
    View,
    effective_line,
    elided_text,
    empty_note,
    escape_controls,
    excerpt,
    hidden_lines,
    join_path,
    renumbered_line,
    section_notes,
    select_sections,
    status_words,
    summary_line,
    verdict_line,
    words_line,
)

DEFAULT_WIDTH = 100

_DELETE_STYLE = "red strike"
_INSERT_STYLE = "green underline"
_COSMETIC_DELETE_STYLE = "dim strike"
_COSMETIC_INSERT_STYLE = "dim underline"
_MOVED_DELETE_STYLE = "magenta strike"
_MOVED_INSERT_STYLE = "cyan underline"
# Moved text with its inner edits: the note, then the unchanged words.
_NOTE_STYLE = "italic magenta"
_MOVED_TEXT_STYLE = "cyan"
# Notes on cosmetic edits ("invisible character U+2060 removed").
_COSMETIC_NOTE_STYLE = "dim italic"


def build(report: CompareReport, view: View, *, color: bool) -> RenderableType:
    """Return the report as a rich renderable (styles when ``color``, text markers when not)."""
    sections = select_sections(report, view)
    parts: list[RenderableType] = [_header(report, view, sections)]
    if sections:
        parts.append(_table(sections))
    for section in sections:
        parts.append(Text())
        parts.extend(_section(section, report, view, color=color))
    return Group(*parts)


def render(
    report: CompareReport, view: View, *, width: int = DEFAULT_WIDTH, color: bool = False
) -> str:
    """Return the report as terminal text ``width`` columns wide (ANSI styles when ``color``)."""
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(build(report, view, color=color))
    # Rich pads table rows to the full width; trailing spaces are noise in files and diffs.
    return "\n".join(line.rstrip() for line in out.getvalue().split("\n"))


def _header(report: CompareReport, view: View, sections: tuple[SectionDiff, ...]) -> Text:
    """Return the lines above the table: sides, verdict, counts, effective date."""
    text = Text()
    text.append("Compare ", style="bold")
    text.append(escape_controls(report.old.label), style="bold")
    text.append(" \u2192 ", style="bold")
    text.append(escape_controls(report.new.label), style="bold")
    text.append("\n")
    text.append(verdict_line(report) + "\n")
    text.append(summary_line(report.diff.summary) + "\n")
    text.append(words_line(report.diff.summary) + "\n")
    renumbered = renumbered_line(report.diff)
    if renumbered is not None:
        text.append(escape_controls(renumbered) + "\n")
    text.append(escape_controls(effective_line(report)))
    for line in hidden_lines(report, view):
        text.append(f"\n{line}")
    if not sections and not report.diff.identical:
        text.append("\nNo sections to show.")
    return text


def _table(sections: tuple[SectionDiff, ...]) -> Table:
    """Return the table of shown sections: status, path, words inserted/deleted."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("status", no_wrap=True)
    table.add_column("section", ratio=1)
    table.add_column("words", justify="right", no_wrap=True)
    for section in sections:
        status = status_words(section)
        words = f"+{section.words_inserted} \u2212{section.words_deleted}"
        # Cells are Text, never str: rich would read "[...]" in policy text as markup.
        table.add_row(Text(status), Text(escape_controls(join_path(section.path))), Text(words))
    return table


def _section(
    section: SectionDiff, report: CompareReport, view: View, *, color: bool
) -> list[RenderableType]:
    """Return a section's title rule, notes line and redline excerpt."""
    title = Text(escape_controls(join_path(section.path)), style="bold")
    parts: list[RenderableType] = [
        Rule(title, align="left", characters="\u2500"),
        Text(escape_controls(" \u00b7 ".join(section_notes(section, report.diff))), style="italic"),
    ]
    pieces = excerpt(section, view, report.diff.moves)
    if not pieces:
        parts.append(Text(empty_note(section), style="dim"))
    for piece in pieces:
        if isinstance(piece, Elided):
            parts.append(Text(f"  {elided_text(piece)}", style="dim"))
        else:
            parts.append(redline(piece, color=color))
    return parts


def redline(runs: tuple[Run, ...], *, color: bool) -> Text:
    """Return runs as one Text: styled changes with colour, ``[-..-]{+..+}`` without.

    A note on moved text reads ``\u27e8moved to \u201cX\u201d\u27e9``; the unchanged words of
    moved text are plain without colour (the note says where they came from).
    """
    text = Text()
    index = 0
    while index < len(runs):
        run = runs[index]
        body = escape_controls(run.text)
        index += 1
        if run.note is not None:
            text.append(f"\u27e8{body}\u27e9", style=_NOTE_STYLE if color else "")
        elif run.op is Op.EQUAL:
            text.append(body, style=_MOVED_TEXT_STYLE if run.moved and color else "")
        elif run.cosmetic_note:
            text.append(
                body if color else f"[~{body}~]", style=_COSMETIC_NOTE_STYLE if color else ""
            )
        elif color:
            text.append(body, style=_style(run))
        elif run.cosmetic and not run.moved:
            # A cosmetic change reads [~old->new~]: its delete and insert in one mark.
            new = ""
            if run.op is Op.DELETE and index < len(runs):
                following = runs[index]
                if following.op is Op.INSERT and following.cosmetic and not following.cosmetic_note:
                    new = escape_controls(following.text)
                    index += 1
            old = body if run.op is Op.DELETE else ""
            new = body if run.op is Op.INSERT else new
            text.append(f"[~{old}\u2192{new}~]")
        elif run.op is Op.DELETE:
            text.append(f"[-{body}-]")
        else:
            text.append(f"{{+{body}+}}")
    text.rstrip()
    return text


def _style(run: Run) -> str:
    """Return the rich style of a changed run."""
    delete = run.op is Op.DELETE
    if run.moved:
        return _MOVED_DELETE_STYLE if delete else _MOVED_INSERT_STYLE
    if run.cosmetic:
        return _COSMETIC_DELETE_STYLE if delete else _COSMETIC_INSERT_STYLE
    return _DELETE_STYLE if delete else _INSERT_STYLE
