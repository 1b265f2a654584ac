"""The terminal format: a summary, a table of changed sections and a redline of each one.

``build`` returns a rich renderable and never prints. Without colour the redline stays
readable as ``[-deleted-]{+inserted+}`` (the notation of ``git diff --word-diff=plain``);
cosmetic edits shown with ``--show-cosmetic`` read ``[~old→new~]`` and notes on
cosmetic edits ``[~invisible character U+2060 removed~]``, so that they stay apart from
word changes without colour too. Redlines wrap to the width with a hanging indent under
list items, and a marked change never breaks across lines unless longer than one.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from itertools import pairwise

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from policydiff.core.diff_model import Op, SectionDiff
from policydiff.engine.report import (
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


def redline(runs: tuple[Run, ...], *, color: bool) -> Redline:
    """Return runs as a renderable: styled changes with colour, ``[-..-]{+..+}`` without.

    A note on moved text reads ``\u27e8moved to \u201cX\u201d\u27e9``; the unchanged words of
    moved text are plain without colour (the note says where they came from). Lines are
    wrapped to the console's width by ``Redline`` (hanging indent, markers kept whole).
    """
    return Redline(_marks(runs, color=color))


@dataclass(frozen=True, slots=True)
class _Mark:
    """One shown piece of a redline: its text, style, and the marks around it (if any).

    ``opening``/``closing`` are the text markers (``[-``/``-]``, ``\u27e8``/``\u27e9``); a
    marked piece is one unit when wrapping: kept on one line when it fits, and closed and
    reopened at each line end when it does not.
    """

    text: str
    style: str = ""
    opening: str = ""
    closing: str = ""
    marked: bool = False


def _marks(runs: tuple[Run, ...], *, color: bool) -> list[_Mark]:
    """Return the pieces runs show, in order (cosmetic delete+insert pairs joined)."""
    marks: list[_Mark] = []
    index = 0
    while index < len(runs):
        run = runs[index]
        body = escape_controls(run.text)
        index += 1
        if run.note is not None:
            marks.append(_Mark(body, _NOTE_STYLE if color else "", "\u27e8", "\u27e9", marked=True))
        elif run.op is Op.EQUAL:
            marks.append(_Mark(body, _MOVED_TEXT_STYLE if run.moved and color else ""))
        elif run.cosmetic_note:
            if color:
                marks.append(_Mark(body, _COSMETIC_NOTE_STYLE, marked=True))
            else:
                marks.append(_Mark(body, "", "[~", "~]", marked=True))
        elif color:
            marks.append(_Mark(body, _style(run), marked=True))
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
            marks.append(_Mark(f"{old}\u2192{new}", "", "[~", "~]", marked=True))
        elif run.op is Op.DELETE:
            marks.append(_Mark(body, "", "[-", "-]", marked=True))
        else:
            marks.append(_Mark(body, "", "{+", "+}", marked=True))
    return marks


# A list item's marker at a line start (after the indent and any opening text marker):
# continuation lines are indented to the item's text.
_ITEM_START = re.compile(r"(?:\[-|\{\+|\[~)?(?:[*+-]|\d{1,9}[.)]) ")


class Redline:
    """A redline wrapped to the console's width, as a blackline reads on paper.

    Each source line keeps its indent, and a list item's wrapped lines hang under its
    text. A marked change (``[-..-]``, ``{+..+}``, ``[~..~]``, a note) that fits on a line
    is never broken; one longer than a line is cut between words, each part closed at the
    line end and reopened on the next, so every line reads on its own.
    """

    def __init__(self, marks: list[_Mark]) -> None:
        """Keep the pieces to show; they are wrapped when the width is known."""
        self.marks = marks

    def text(self, width: int) -> Text:
        """Return the redline as one Text, lines at most ``width`` columns (long words aside)."""
        out = Text()
        lines = _source_lines(self.marks)
        while lines and not lines[-1]:
            lines.pop()
        fits = True
        for number, line in enumerate(lines):
            if number:
                out.append("\n")
            fits = _wrap_line(line, width, out) and fits
        out.rstrip()
        # Lines already fit: rich need not wrap them again (it would fold a long word).
        out.no_wrap = fits
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Render at the width the console offers."""
        yield self.text(options.max_width)


# A piece of a line: spaces only or no space at all, its style, and the number of the
# marked piece it belongs to (None for unmarked text).
_Char = tuple[str, str, int | None]
_SPACES = re.compile(r"( +)")


def _source_lines(marks: list[_Mark]) -> list[list[tuple[_Mark, int | None, str]]]:
    """Cut the pieces at line breaks: per line, (piece, its number if marked, text part)."""
    lines: list[list[tuple[_Mark, int | None, str]]] = [[]]
    for number, mark in enumerate(marks):
        for index, part in enumerate(mark.text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].append((mark, number if mark.marked else None, part))
    return lines


def _wrap_line(line: list[tuple[_Mark, int | None, str]], width: int, out: Text) -> bool:
    """Append one source line to ``out``, wrapped to ``width`` with a hanging indent.

    Return whether every line fits (a word longer than a line is left to rich to fold).
    """
    marks = {number: mark for mark, number, _ in line if number is not None}
    chars: list[_Char] = [
        (piece, mark.style, number)
        for mark, number, part in line
        for piece in _SPACES.split(part.replace("\t", "    "))
        if piece
    ]
    lead = 0
    while lead < len(chars) and chars[lead][0][0] == " " and chars[lead][2] is None:
        lead += 1
    indent = " " * sum(len(piece[0]) for piece in chars[:lead])
    # Words and what lies between them, with how strongly a break there is avoided:
    # 0 a space of unmarked text; 1 nothing, where one marked piece meets another
    # ("-]{+"), so that a long replacement can put its insertion on the next line;
    # 2 a space inside a marked piece (a break there cuts the mark in two).
    words: list[list[_Char]] = []
    gaps: list[list[_Char]] = []  # gaps[i] comes before words[i] (gaps[0] is empty)
    strength: list[int] = []
    gap: list[_Char] = []
    for char in chars[lead:]:
        if char[0][0] == " ":
            gap.append(char)
            continue
        previous = words[-1][-1][2] if words and words[-1] else None
        meets = not gap and previous is not None and char[2] is not None and char[2] != previous
        if gap or not words or meets:
            words.append([])
            gaps.append(gap if len(words) > 1 else [])
            strength.append(2 if any(c[2] is not None for c in gap) else 0 if gap else 1)
            gap = []
        words[-1].append(char)
    if not words:
        return True

    def shown(first: int, last: int) -> list[tuple[str, str]]:
        """Return words first..last as (text, style) pieces, marks opened and closed."""
        pieces: list[tuple[str, str]] = []
        current: int | None = None
        for index in range(first, last + 1):
            for char, style, number in (gaps[index] if index > first else []) + words[index]:
                if number != current:
                    if current is not None:
                        pieces.append((marks[current].closing, marks[current].style))
                    if number is not None:
                        pieces.append((marks[number].opening, marks[number].style))
                    current = number
                pieces.append((char, style))
        if current is not None:
            pieces.append((marks[current].closing, marks[current].style))
        return pieces

    def opening(number: int | None) -> int:
        return 0 if number is None else len(marks[number].opening)

    def closing(number: int | None) -> int:
        return 0 if number is None else len(marks[number].closing)

    def step(before: int | None, after: int | None) -> int:
        """Return the width of the marks shown between two characters."""
        return 0 if before == after else closing(before) + opening(after)

    # Widths as prefix sums, so that a candidate line is measured in constant time:
    # each word with the marks inside it, and each gap with the marks around it.
    own = [0]
    joins = [0, 0]
    for index, word in enumerate(words):
        inner = sum(step(a[2], b[2]) for a, b in pairwise(word))
        own.append(own[-1] + sum(len(piece[0]) for piece in word) + inner)
        if index:
            groups = [words[index - 1][-1][2], *(c[2] for c in gaps[index]), word[0][2]]
            spaces = sum(len(piece[0]) for piece in gaps[index])
            width_between = spaces + sum(step(a, b) for a, b in pairwise(groups))
            joins.append(joins[-1] + width_between)

    def size(first: int, last: int) -> int:
        """Return the width of words first..last on one line, marks included."""
        return (
            opening(words[first][0][2])
            + own[last + 1]
            - own[first]
            + joins[last + 1]
            - joins[first + 1]
            + closing(words[last][-1][2])
        )

    hang = indent
    if _ITEM_START.match("".join(text for text, _ in shown(0, min(1, len(words) - 1)))):
        hang = " " * (len(indent) + size(0, 0) + 1)
    if len(hang) > width // 2:
        hang = " " * (width // 2)
    rows: list[tuple[int, int]] = []
    start = 0

    def room() -> int:
        return width - len(indent if not rows else hang)

    def place(first: int, last: int, level: int) -> None:
        """Lay out words first..last, broken where avoided no more than ``level`` requires."""
        nonlocal start
        units: list[tuple[int, int]] = []
        for index in range(first, last + 1):
            if index > first and strength[index] > level:
                units[-1] = (units[-1][0], index)
            else:
                units.append((index, index))
        for unit_first, unit_last in units:
            if size(start, unit_last) <= room():
                continue
            if start < unit_first and size(unit_first, unit_last) <= width - len(hang):
                rows.append((start, unit_first - 1))
                start = unit_first
            elif unit_first < unit_last:
                place(unit_first, unit_last, level + 1)
            elif start < unit_first:
                # One word too long for any line (a long URL): alone on its line.
                rows.append((start, unit_first - 1))
                start = unit_first

    place(0, len(words) - 1, 0)
    rows.append((start, len(words) - 1))
    fits = True
    for number, (first, last) in enumerate(rows):
        if number:
            out.append("\n")
        out.append(indent if not number else hang)
        fits = fits and len(indent if not number else hang) + size(first, last) <= width
        pieces = shown(first, last)
        # One span per style change, not per character.
        at = 0
        while at < len(pieces):
            end = at + 1
            while end < len(pieces) and pieces[end][1] == pieces[at][1]:
                end += 1
            out.append("".join(text for text, _ in pieces[at:end]), style=pieces[at][1])
            at = end
    return fits


def _style(run: Run) -> str:
    """Return the rich style of a changed run."""
    delete = run.op is Op.DELETE
    if run.moved:
        return _MOVED_DELETE_STYLE if delete else _MOVED_INSERT_STYLE
    if run.cosmetic:
        return _COSMETIC_DELETE_STYLE if delete else _COSMETIC_INSERT_STYLE
    return _DELETE_STYLE if delete else _INSERT_STYLE
