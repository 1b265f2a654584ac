"""The terminal format: a summary, a table of changed sections and a redline of each one.

``build`` returns a rich renderable and never prints. Without colour the redline stays
readable as ``[-deleted-]{+inserted+}`` (the notation of ``git diff --word-diff=plain``).
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from policydiff.diff_model import Op, SectionDiff, Segment
from policydiff.report import (
    STATUS_WORDS,
    CompareReport,
    Elided,
    View,
    effective_line,
    excerpt,
    hidden_changes,
    join_path,
    section_notes,
    select_sections,
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

# Policy text must not drive the terminal: control characters (escape sequences, carriage
# returns) and bidi overrides (text that displays other than it reads) are shown as escapes.
_UNSAFE = [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_SAFE_TABLE = {
    code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in _UNSAFE
    if code not in {0x09, 0x0A}
}


def clean(text: str) -> str:
    """Return ``text`` with characters that could drive or mislead a terminal escaped."""
    return text.translate(_SAFE_TABLE)


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
    text.append(clean(report.old.label), style="bold")
    text.append(" \u2192 ", style="bold")
    text.append(clean(report.new.label), style="bold")
    text.append("\n")
    text.append(verdict_line(report) + "\n")
    text.append(summary_line(report.diff.summary) + "\n")
    text.append(words_line(report.diff.summary) + "\n")
    text.append(clean(effective_line(report)))
    hidden = hidden_changes(report, view)
    if hidden:
        text.append(f"\n{hidden} changed section(s) hidden by --section/--ignore-cosmetic")
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
        notes = [note for note in ("renamed", "moved") if getattr(section, note)]
        status = " ".join([STATUS_WORDS[section.status], *notes])
        words = f"+{section.words_inserted} \u2212{section.words_deleted}"
        # Cells are Text, never str: rich would read "[...]" in policy text as markup.
        table.add_row(Text(status), Text(clean(join_path(section.path))), Text(words))
    return table


def _section(
    section: SectionDiff, report: CompareReport, view: View, *, color: bool
) -> list[RenderableType]:
    """Return a section's title rule, notes line and redline excerpt."""
    title = Text(clean(join_path(section.path)), style="bold")
    parts: list[RenderableType] = [
        Rule(title, align="left", characters="\u2500"),
        Text(clean(" \u00b7 ".join(section_notes(section, report.diff))), style="italic"),
    ]
    pieces = excerpt(section, view)
    if not pieces:
        parts.append(Text("(text unchanged)", style="dim"))
    for piece in pieces:
        if isinstance(piece, Elided):
            word = "paragraph" if piece.paragraphs == 1 else "paragraphs"
            parts.append(Text(f"  \u22ef {piece.paragraphs} unchanged {word}", style="dim"))
        else:
            parts.append(_redline(piece, color=color))
    return parts


def _redline(segments: tuple[Segment, ...], *, color: bool) -> Text:
    """Return segments as one Text: styled runs with colour, ``[-..-]{+..+}`` without."""
    text = Text()
    for segment in segments:
        body = clean(segment.text)
        if segment.op is Op.EQUAL:
            text.append(body)
            continue
        core = body.strip()
        if not core:
            # A whitespace-only run: keep the new spacing, drop the old.
            if segment.op is Op.INSERT:
                text.append(body)
            continue
        text.append(body[: len(body) - len(body.lstrip())])
        if color:
            text.append(core, style=_style(segment))
        elif segment.op is Op.DELETE:
            text.append(f"[-{core}-]")
        else:
            text.append(f"{{+{core}+}}")
        text.append(body[len(body.rstrip()) :])
    text.rstrip()
    return text


def _style(segment: Segment) -> str:
    """Return the rich style of a changed run."""
    delete = segment.op is Op.DELETE
    if segment.move_id is not None:
        return _MOVED_DELETE_STYLE if delete else _MOVED_INSERT_STYLE
    if segment.cosmetic:
        return _COSMETIC_DELETE_STYLE if delete else _COSMETIC_INSERT_STYLE
    return _DELETE_STYLE if delete else _INSERT_STYLE
