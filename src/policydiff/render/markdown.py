"""The markdown format: a summary and a ``<del>``/``<ins>`` redline per section, for posts.

Policy text is escaped so that it always shows as written: ``&``, ``<`` and ``>`` become
entities (no raw HTML), markdown punctuation gets a backslash (no links, images, emphasis,
code or tables), leading spaces become no-break spaces (no code blocks) and list, heading
and setext markers at a line start are escaped. Every line of a run is wrapped on its own
so that a tag never spans a paragraph break. Cosmetic edits shown with ``--show-cosmetic``
read ``[~old→new~]`` and notes on cosmetic edits ``[~invisible character U+2060
removed~]``, as plain text (markdown hosts drop classes and styles).
"""

from __future__ import annotations

import re
from dataclasses import replace

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
    hidden_changes,
    is_notable,
    join_path,
    renumbered_line,
    section_notes,
    select_sections,
    status_words,
    summary_line,
    verdict_line,
    words_line,
)

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Characters that start markdown (or GitHub) syntax anywhere in a line: emphasis, code,
# links and images, headings, tables, strikethrough, math.
_INLINE_SPECIAL = frozenset("\\`*_[]#|~$")
_LINE_START_MARKER = re.compile(r"(\d{1,9})([.)])|([-+=])")
_NOTE_SEPARATOR = " \u00b7 "
_TAGS = {Op.DELETE: ("<del>", "</del>"), Op.INSERT: ("<ins>", "</ins>")}


def escape(text: str) -> str:
    """Return ``text`` escaped for inline markdown (newlines become spaces)."""
    out = []
    for char in escape_controls(" ".join(text.split("\n"))):
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char in _INLINE_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def render(report: CompareReport, view: View) -> str:
    """Return the report as a markdown document."""
    sections = select_sections(report, view)
    lines = [
        f"## Compare {escape(report.old.label)} \u2192 {escape(report.new.label)}",
        "",
        f"**{escape(verdict_line(report))}**",
        "",
        f"- {escape(summary_line(report.diff.summary))}",
        f"- {escape(words_line(report.diff.summary))}",
        *[f"- {escape(line)}" for line in [renumbered_line(report.diff)] if line],
        f"- {escape(effective_line(report))}",
    ]
    hidden = hidden_changes(report, view)
    if hidden:
        lines.append(
            f"- {hidden} changed section(s) hidden by \\-\\-section/\\-\\-ignore\\-cosmetic"
        )
    if sections:
        lines += ["", "| Status | Section | Words |", "| --- | --- | ---: |"]
        lines += [_table_row(section) for section in sections]
    blocks = ["\n".join(["", *_section(section, report, view)]) for section in sections]
    if view.max_chars <= 0:
        return "\n".join([*lines, *blocks]) + "\n"
    return _fit(lines, blocks, sections, view)


def _fit(lines: list[str], blocks: list[str], sections: tuple[SectionDiff, ...], view: View) -> str:
    """Return the head and as many whole sections as fit in ``view.max_chars``, in order."""
    head = "\n".join(lines)
    full = "\n".join([head, *blocks]) + "\n"
    if len(full) <= view.max_chars:
        return full
    out = head
    shown = 0
    for block in blocks:
        # Room is kept for the closing line naming what was left out (its count only shrinks).
        closing = _left_out_line(sections[shown:], view)
        if len(out) + 1 + len(block) + 2 + len(closing) + 1 > view.max_chars:
            break
        out += "\n" + block
        shown += 1
    out += "\n\n" + _left_out_line(sections[shown:], view) + "\n"
    if len(out) > view.max_chars:
        # Not even the summary fits: cut it at a line end (the closing line still says why),
        # with a blank line so that the closing line never reads as a table row.
        closing = "\n\n" + _left_out_line(sections[shown:], view) + "\n"
        kept = head[: max(0, view.max_chars - len(closing) + 1)]
        kept = kept[: kept.rfind("\n")] if "\n" in kept else ""
        out = (kept + closing if kept else closing.lstrip("\n"))[: view.max_chars]
    return out


def _left_out_line(left_out: tuple[SectionDiff, ...], view: View) -> str:
    """Return the closing line: how many changed sections were cut, and where to read them."""
    changed = sum(1 for section in left_out if is_notable(section))
    noun = "section" if changed == 1 else "sections"
    line = f"*{changed} more changed {noun} not shown"
    if view.report_url:
        # Angle brackets: the URL is a link target whatever characters it holds (the CLI
        # checked it is http(s) without spaces, angle brackets or controls).
        return f"{line}: [full report](<{view.report_url}>)*"
    return f"{line}.*"


def _table_row(section: SectionDiff) -> str:
    """Return one row of the summary table."""
    status = status_words(section)
    words = f"+{section.words_inserted} \u2212{section.words_deleted}"
    return f"| {status} | {escape(join_path(section.path))} | {words} |"


def _section(section: SectionDiff, report: CompareReport, view: View) -> list[str]:
    """Return a section's heading, notes line and redline excerpt."""
    lines = [
        f"### {escape(join_path(section.path))}",
        "",
        f"*{escape(_NOTE_SEPARATOR.join(section_notes(section, report.diff)))}*",
    ]
    pieces = excerpt(section, view, report.diff.moves)
    if not pieces:
        lines += ["", f"*{escape(empty_note(section))}*"]
    for piece in pieces:
        lines.append("")
        if isinstance(piece, Elided):
            lines.append(f"*{elided_text(piece)}*")
        else:
            lines.append(redline(piece))
    return lines


def redline(runs: tuple[Run, ...]) -> str:
    """Return runs as markdown paragraphs with ``<del>``/``<ins>`` around the changes."""
    # Cut the runs into source lines; changed runs never hold a line break.
    lines: list[list[Run]] = [[]]
    for run in runs:
        for index, part in enumerate(run.text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].append(replace(run, text=part))
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if all(not run.text.strip() for run in line):
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        paragraphs[-1].append(_line(line))
    # A backslash at a line end is a hard line break, keeping the policy's line structure.
    return "\n\n".join("\\\n".join(paragraph) for paragraph in paragraphs if paragraph)


def _line(runs: list[Run]) -> str:
    """Return one source line as markdown: escaped text, changed runs in tags."""
    out: list[str] = []
    skip = False
    for index, run in enumerate(runs):
        if skip:
            skip = False
            continue
        body = escape(run.text)
        if index == 0:
            stripped = body.lstrip(" \t")
            indent = body[: len(body) - len(stripped)]
            marker = _LINE_START_MARKER.match(stripped)
            if marker is not None:
                stripped = _escape_marker(marker) + stripped[marker.end() :]
            # No-break spaces keep the indent without turning the line into a code block.
            body = indent.replace("\t", "    ").replace(" ", "&nbsp;") + stripped
        if run.note is not None:
            # A note on moved text, in italics: not policy text, and never struck out.
            out.append(f"*\u27e8{body}\u27e9*")
        elif run.op is Op.EQUAL:
            out.append(body)
        elif run.cosmetic_note:
            out.append(escape(f"[~{run.text}~]"))
        elif run.cosmetic and not run.moved:
            old = run.text if run.op is Op.DELETE else ""
            new = run.text if run.op is Op.INSERT else ""
            following = runs[index + 1] if index + 1 < len(runs) else None
            if (
                run.op is Op.DELETE
                and following is not None
                and following.op is Op.INSERT
                and following.cosmetic
                and not following.cosmetic_note
            ):
                new, skip = following.text, True
            out.append(escape(f"[~{old}\u2192{new}~]"))
        else:
            opening, closing = _TAGS[run.op]
            out.append(f"{opening}{body}{closing}")
    return "".join(out).rstrip()


def _escape_marker(match: re.Match[str]) -> str:
    """Backslash the character that would make a line a list item or setext underline."""
    if match[1] is not None:
        return f"{match[1]}\\{match[2]}"
    return "\\" + match[3]
