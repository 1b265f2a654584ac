"""The history views' formats: blame (terminal, JSON, markdown, HTML) and a section's timeline.

Builders return rich renderables, strings or JSON values and never print. Redlines and
section objects come from the compare renderers, so a section's change reads the same in
``history`` as in ``compare``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from policydiff.core.diff_model import Op, Segment
from policydiff.core.model import Version
from policydiff.engine.history import Blame, Granularity, SectionChange, SectionHistory
from policydiff.engine.report import (
    Elided,
    Run,
    View,
    elided_text,
    empty_note,
    escape_controls,
    excerpt,
    join_path,
    redline_runs,
    section_notes,
)

# The compare formats' own pieces, so that a change reads the same in `history` as in
# `compare`. They are private to their modules for now: when they become public these
# imports are the only lines to change.
from policydiff.publish.render.html import HtmlParts, wrap_document
from policydiff.publish.render.html import escape as html_escape
from policydiff.publish.render.json_report import move_json, section_json
from policydiff.publish.render.markdown import escape as markdown_escape
from policydiff.publish.render.markdown import header_rows, headers_joined
from policydiff.publish.render.markdown import redline as markdown_redline

if TYPE_CHECKING:
    # rich loads for the terminal views only (build_*): the site needs none of it.
    from rich.console import RenderableType

BLAME_SCHEMA = "policydiff.blame/1"
HISTORY_SCHEMA = "policydiff.history/1"

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_GUTTER_NEW = "bold yellow"
_GUTTER_OLD = "cyan"
_NOTE_SEPARATOR = " \u00b7 "


def _iso(moment: datetime) -> str:
    """Return a capture time as ISO 8601 UTC with a Z suffix."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def version_ref_json(version: Version) -> dict[str, Any]:
    """Return the short JSON form of a version that history views refer to."""
    return {
        "version": version.number,
        "commit": version.commit,
        "captured_at": _iso(version.captured_at),
        "effective_date": (
            None if version.effective_date is None else version.effective_date.isoformat()
        ),
        "technical": version.technical,
    }


def version_tag(version: Version) -> str:
    """Return ``v3 2016-05-01``: a version number and its capture day."""
    return f"v{version.number} {version.captured_at.date().isoformat()}"


# --------------------------------------------------------------------------- blame


def blame_json(result: Blame) -> dict[str, Any]:
    """Return a blame as the ``policydiff.blame/1`` JSON value."""
    return {
        "schema": BLAME_SCHEMA,
        "policy": result.policy,
        "version": result.version.number,
        "by": result.by.value,
        "include_technical": result.include_technical,
        "versions": [version_ref_json(v) for v in result.chain],
        "units": [
            {
                "section": list(entry.path),
                "heading": entry.heading,
                "start": entry.start,
                "end": entry.end,
                "text": entry.text,
                "since": entry.since.number,
                "edited": entry.edited.number,
            }
            for entry in result.entries
        ],
    }


def blame_header(result: Blame) -> str:
    """Return the lines explaining a blame: what was annotated and how."""
    unit = result.by.value
    skipped = "" if result.include_technical else "; technical re-extractions skipped"
    return (
        f"Blame {result.version.label} by {unit}: the version since which each {unit} has "
        f"stood substantively unchanged ({len(result.chain)} version(s) followed{skipped}; "
        "* = edited cosmetically since)"
    )


def blame_legend(result: Blame) -> list[str]:
    """Return one line per version named in the gutter: its stated and archived dates."""
    named = {entry.since.number: entry.since for entry in result.entries}
    named.update({entry.edited.number: entry.edited for entry in result.entries})
    lines = []
    for number in sorted(named):
        version = named[number]
        valid = (
            f"valid from {version.effective_date.isoformat()}, "
            if version.effective_date is not None
            else ""
        )
        lines.append(
            f"  v{number}: {valid}archived {version.captured_at.date().isoformat()}"
            + (f" ({version.origin})" if version.origin else "")
        )
    return lines


def blame_gaps(result: Blame) -> list[bool]:
    """Return, per entry, whether a blank line (or a heading) separates it from the one before."""
    gaps: list[bool] = []
    end: int | None = None
    for entry in result.entries:
        between = result.text[end : entry.start] if end is not None else ""
        gaps.append(end is not None and (entry.heading or _BLANK_LINE.search(between) is not None))
        end = entry.end
    return gaps


def build_blame(result: Blame, *, color: bool) -> RenderableType:
    """Return a blame as the text beside a version gutter (``git blame`` style).

    Every source line gets the gutter, so ``grep`` finds a line with its version;
    lines too long for the terminal wrap under the text, not under the gutter.
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("since", no_wrap=True)
    table.add_column("", no_wrap=True, style="dim" if color else "")
    table.add_column("text", overflow="fold")
    sentences = result.by is Granularity.SENTENCE
    for entry, gap in zip(result.entries, blame_gaps(result), strict=True):
        if gap:
            table.add_row("", "", "")
        tag = version_tag(entry.since) + ("*" if entry.edited != entry.since else "")
        style = (_GUTTER_NEW if entry.since == result.version else _GUTTER_OLD) if color else ""
        # Sentences read one per line; paragraphs keep their lines as written.
        lines = [" ".join(entry.text.split())] if sentences else entry.text.split("\n")
        for line in lines:
            # Cells are Text, never str: rich would read "[...]" in policy text as markup.
            table.add_row(Text(tag, style=style), "\u2502", Text(escape_controls(line.rstrip())))
    legend = [Text(escape_controls(line)) for line in blame_legend(result)]
    return Group(Text(blame_header(result), style="bold" if color else ""), *legend, Text(), table)


def _header_parts(result: Blame) -> tuple[str, str]:
    """Return the blame header as a title and a sentence (for markdown and HTML)."""
    unit = result.by.value
    skipped = "" if result.include_technical else "; technical re-extractions skipped"
    lead = (
        f"Each {unit} with the version since which it has stood substantively unchanged "
        f"({len(result.chain)} version(s) followed{skipped}; * = edited cosmetically since)."
    )
    return f"Blame {result.version.label} by {unit}", lead


def blame_markdown(result: Blame) -> str:
    """Return a blame as a GitHub-flavoured markdown table: version, then the text as recorded.

    The policy's own markup is escaped: the table shows its text as recorded (``## Data``
    stays two hashes and a word), and nothing in it can end a cell or add a link.
    """
    title, lead = _header_parts(result)
    lines = [f"## {markdown_escape(title)}", "", f"*{markdown_escape(lead)}*", ""]
    lines += [f"- {markdown_escape(line.strip())}" for line in blame_legend(result)]
    lines += ["", "| Since | Text |", "| --- | --- |"]
    sentences = result.by is Granularity.SENTENCE
    for entry in result.entries:
        tag = version_tag(entry.since) + ("\\*" if entry.edited != entry.since else "")
        parts = [" ".join(entry.text.split())] if sentences else entry.text.split("\n")
        # A cell is one line: the paragraph's own line breaks become <br>.
        cell = "<br>".join(markdown_escape(part.rstrip()) for part in parts if part.strip())
        lines.append(f"| {tag} | {cell or ' '} |")
    return "\n".join(lines) + "\n"


BLAME_CSS = """\
.pd-blame-page { font: 15px/1.5 system-ui, sans-serif; max-width: 70rem; margin: 0 auto;
  padding: 1rem 1.5rem; color: #1f2328; background: #fff; }
.pd-blame-page h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
.pd-blame-page .pd-lead { color: #57606a; }
.pd-blame-page ul.pd-legend { padding-left: 1.2rem; color: #57606a; font-size: .9em; }
.pd-blame-page table { width: 100%; border-collapse: collapse; }
.pd-blame-page td { vertical-align: top; padding: .05rem .75rem .05rem 0; }
.pd-blame-page tr.pd-gap td { padding-top: .9rem; }
.pd-blame-page td.pd-gutter { white-space: nowrap; font-size: .85em;
  font-variant-numeric: tabular-nums; border-right: 3px solid #cbd5e1; padding-right: .5rem; }
.pd-blame-page tr.pd-new td.pd-gutter { border-right-color: #f59e0b; font-weight: 600; }
.pd-blame-page td.pd-unit { white-space: pre-wrap; overflow-wrap: anywhere; }
.pd-blame-page tr.pd-heading td.pd-unit { font-weight: 600; }
@media (prefers-color-scheme: dark) {
  .pd-blame-page { color: #e6edf3; background: #0d1117; }
  .pd-blame-page .pd-lead, .pd-blame-page ul.pd-legend { color: #9198a1; }
}
"""


def blame_html(result: Blame) -> str:
    """Return a blame as a standalone HTML page whose CSP allows only its own stylesheet.

    Every piece of policy text is escaped; the page loads nothing and runs no script.
    """
    sentences = result.by is Granularity.SENTENCE
    rows = []
    for entry, gap in zip(result.entries, blame_gaps(result), strict=True):
        classes = [
            name
            for name, wanted in (
                ("pd-gap", gap),
                ("pd-heading", entry.heading),
                ("pd-new", entry.since == result.version),
            )
            if wanted
        ]
        title = f"stands since version {entry.since.number} ({_iso(entry.since.captured_at)})"
        if entry.edited != entry.since:
            title += f"; cosmetic edits in version {entry.edited.number}"
        tag = version_tag(entry.since) + ("*" if entry.edited != entry.since else "")
        text = " ".join(entry.text.split()) if sentences else entry.text.rstrip()
        rows.append(
            f'<tr class="{" ".join(classes)}"><td class="pd-gutter" title="{html_escape(title)}">'
            f'{html_escape(tag)}</td><td class="pd-unit">{html_escape(text)}</td></tr>'
        )
    heading, lead = _header_parts(result)
    body = [
        '<main class="pd-blame-page">',
        f"<h1>{html_escape(heading)}</h1>",
        f'<p class="pd-lead">{html_escape(lead)}</p>',
        '<ul class="pd-legend">',
        *[f"<li>{html_escape(line.strip())}</li>" for line in blame_legend(result)],
        "</ul>",
        "<table><tbody>",
        *rows,
        "</tbody></table>",
        "</main>",
    ]
    title = f"Blame {result.version.label}"
    return wrap_document(HtmlParts(body="\n".join(body) + "\n", css=BLAME_CSS, title=title))


# --------------------------------------------------------------------------- history


def _change_notes(change: SectionChange) -> str:
    """Return the facts of one change: kind, rename, moves, word counts."""
    if change.previous is None:
        return "in the first version followed"
    return _NOTE_SEPARATOR.join(section_notes(change.section, change.document))


def history_heading(history: SectionHistory) -> list[str]:
    """Return the lines above a section's timeline (plain text)."""
    lines = [f"History of \u201c{join_path(history.path)}\u201d in {history.policy}"]
    older = [path for path in history.names if path != history.path]
    if older:
        names = "; ".join(f"\u201c{join_path(path)}\u201d" for path in older)
        lines.append(f"Also named: {names}")
    span = f"Present from version {history.first.number} ({history.first.captured_at.date()})"
    if history.removed_in is not None:
        span += f", removed in version {history.removed_in.number}"
        span += f" ({history.removed_in.captured_at.date()})"
    else:
        span += f" to version {history.last.number}"
    lines.append(span)
    # The first entry is the section as first seen (kind "initial"), not a change to it.
    count = sum(1 for change in history.changes if change.previous is not None)
    since = (
        "no changes" if not count else "1 change" if count == 1 else f"{count} changes"
    ) + " since the first version"
    skipped = "" if history.include_technical else " (technical re-extractions skipped)"
    lines.append(f"History: {since}{skipped}")
    return lines


def _initial_runs(change: SectionChange) -> tuple[Run, ...]:
    """Return the section's first text as unchanged runs (it is not an insertion)."""
    return redline_runs((Segment(Op.EQUAL, change.section.new_text),))


def _excerpt(change: SectionChange) -> list[tuple[Run, ...] | Elided | str]:
    """Return what to show of a change: redline paragraphs, folds, or a note if nothing."""
    if change.previous is None:
        return [_initial_runs(change)]
    pieces: list[tuple[Run, ...] | Elided | str] = [*excerpt(change.section, View())]
    return pieces or [empty_note(change.section)]


def _elided(piece: Elided) -> str:
    """Return the line standing for folded unchanged paragraphs."""
    return elided_text(piece)


def build_history(history: SectionHistory, *, color: bool) -> RenderableType:
    """Return a section's timeline: one titled block per change, with its redline."""
    from rich.console import Group
    from rich.rule import Rule
    from rich.text import Text

    from policydiff.publish.render.terminal import redline as terminal_redline

    parts: list[RenderableType] = [
        Text(escape_controls("\n".join(history_heading(history))), style="bold")
    ]
    for change in history.changes:
        title = f"{version_tag(change.version)} \u00b7 {change.kind}"
        parts.append(Text())
        parts.append(Rule(Text(escape_controls(title), style="bold"), align="left"))
        parts.append(Text(escape_controls(_change_notes(change)), style="italic"))
        for piece in _excerpt(change):
            if isinstance(piece, Elided):
                parts.append(Text("  " + _elided(piece), style="dim"))
            elif isinstance(piece, str):
                parts.append(Text(piece, style="dim"))
            else:
                parts.append(terminal_redline(piece, color=color))
    return Group(*parts)


def history_markdown(history: SectionHistory) -> str:
    """Return a section's timeline as markdown (``<del>``/``<ins>`` redlines)."""
    heading = history_heading(history)
    lines = [f"## {markdown_escape(heading[0])}", ""]
    lines += [f"- {markdown_escape(line)}" for line in heading[1:]]
    for change in history.changes:
        title = f"{version_tag(change.version)} \u00b7 {change.kind}"
        lines += ["", f"### {markdown_escape(title)}", ""]
        lines.append(f"*{markdown_escape(_change_notes(change))}*")
        section = change.section
        tables = section.table_rows is not None
        headers = header_rows(section) if tables else None
        pieces = _excerpt(change)
        if tables and not any(isinstance(piece, str) for piece in pieces):
            pieces = list(headers_joined([p for p in pieces if not isinstance(p, str)], section))
        for piece in pieces:
            lines.append("")
            if isinstance(piece, Elided):
                lines.append(f"*{_elided(piece)}*")
            elif isinstance(piece, str):
                lines.append(f"*{markdown_escape(piece)}*")
            else:
                lines.append(markdown_redline(piece, headers=headers))
    return "\n".join(lines) + "\n"


def history_json(history: SectionHistory, query: str) -> dict[str, Any]:
    """Return a section's timeline as the ``policydiff.history/1`` JSON value."""
    return {
        "schema": HISTORY_SCHEMA,
        "policy": history.policy,
        "query": query,
        "include_technical": history.include_technical,
        "section": {
            "path": list(history.path),
            "names": [list(path) for path in history.names],
            "first_version": history.first.number,
            "last_version": history.last.number,
            "removed_in": None if history.removed_in is None else history.removed_in.number,
        },
        "changes": [
            {
                "version": version_ref_json(change.version),
                "previous": None if change.previous is None else version_ref_json(change.previous),
                "kind": change.kind,
                "section": section_json(change.section),
                "moves": [move_json(move) for move in change.moves],
            }
            for change in history.changes
        ],
    }
