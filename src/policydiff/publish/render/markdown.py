"""The markdown format: a summary and a ``<del>``/``<ins>`` redline per section, for posts.

Policy text shows as GitHub shows the policy, its changes marked inside: list items stay
items, ``**bold**``/``_italic_`` pairs stay emphasis, headings become level-4 headings
(under the report's own), links to ``http``/``https``/``mailto`` targets stay links (any
other link shows its text alone) and table rows stay a table with marked cells. Everything
else is escaped so that it shows as written: ``&``, ``<`` and ``>`` become entities (no raw
HTML but ``<br>`` in a table cell), other markdown punctuation gets a backslash (no
images, code or stray emphasis), leading spaces become no-break spaces (no code blocks)
and list and setext markers that do not make an item are escaped. Every line of a run is
wrapped on its own so that a tag never spans a paragraph break. Cosmetic edits shown with
``--show-cosmetic`` read ``[~old→new~]`` and notes on cosmetic edits ``[~invisible
character U+2060 removed~]``, as plain text (markdown hosts drop classes and styles).
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, replace
from itertools import pairwise

from policydiff.core.diff_model import Op, SectionDiff
from policydiff.engine.report import (
    CompareReport,
    Elided,
    Excerpt,
    Run,
    View,
    effective_line,
    elided_text,
    empty_note,
    escape_controls,
    excerpt,
    hidden_lines,
    is_notable,
    join_path,
    paragraph_text,
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
# A list item's marker at a line start: indent, bullet or number, and the gap after it.
_LIST_ITEM = re.compile(r"([ \t]*)([*+-]|\d{1,9}[.)])[ \t]+")
_NOTE_SEPARATOR = " \u00b7 "
_TAGS = {Op.DELETE: ("<del>", "</del>"), Op.INSERT: ("<ins>", "</ins>")}


_ESCAPES = str.maketrans({**_ENTITIES, **{char: "\\" + char for char in _INLINE_SPECIAL}})


def escape(text: str) -> str:
    """Return ``text`` escaped for inline markdown (newlines become spaces)."""
    text = escape_controls(" ".join(text.split("\n")))
    if "\\" not in text:
        return text.translate(_ESCAPES)
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            escaped = False
            if char in string.punctuation:
                # The policy's own backslash escape: shown as the character it stands for.
                out[-1] = ""
        elif char == "\\":
            escaped = True
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
    lines += [f"- {escape(line)}" for line in hidden_lines(report, view)]
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
    pieces = headers_joined(excerpt(section, view, report.diff.moves), section)
    headers = header_rows(section) if section.table_rows is not None else None
    if not pieces:
        lines += ["", f"*{escape(empty_note(section))}*"]
    for piece in pieces:
        lines.append("")
        if isinstance(piece, Elided):
            lines.append(f"*{elided_text(piece)}*")
        else:
            lines.append(redline(piece, headers=headers))
    return lines


def header_rows(section: SectionDiff) -> frozenset[str]:
    """Return the header rows of a section's tables, old and new (each stripped)."""
    rows: set[str] = set()
    for text in (section.old_text, section.new_text):
        lines = text.split("\n")
        rows.update(
            line.strip()
            for line, below in pairwise(lines)
            if line.lstrip().startswith("|") and _DELIMITER.fullmatch(below)
        )
    return frozenset(rows)


def headers_joined(pieces: Excerpt, section: SectionDiff) -> Excerpt:
    """Return an excerpt where a table header shown alone joins the rows after the fold.

    A markdown table cannot be cut by a line of text: the header, "⋯ 5 unchanged rows",
    then the changed rows would make a table with no body and one with no header.
    """
    if section.table_rows is None:
        return pieces
    out: Excerpt = []
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        index += 1
        after = pieces[index + 1] if index + 1 < len(pieces) else None
        if (
            not isinstance(piece, Elided)
            and isinstance(pieces[index] if index < len(pieces) else None, Elided)
            and after is not None
            and not isinstance(after, Elided)
            and paragraph_text(piece).strip().startswith("|")
            and "\n" not in paragraph_text(piece).strip()
            and all(run.op is Op.EQUAL for run in piece)
            and paragraph_text(after).lstrip(" \t").startswith("|")
        ):
            header = paragraph_text(piece).rstrip("\n") + "\n"
            out += [pieces[index], (Run(Op.EQUAL, header), *after)]
            index += 2
            continue
        out.append(piece)
    return out


def _emphasis(texts: list[str], kinds: list[str]) -> list[set[int]]:
    """Return, per run text, the offsets of the policy's emphasis delimiters kept as markup.

    ``kinds`` says per run "equal", "tag" (shown in ``<del>``/``<ins>``) or "other" (a note,
    a cosmetic edit: no text here). Delimiters pair as CommonMark pairs them (flanking
    rules, same character and length), and a pair is kept when both lie in one run or
    both in unchanged runs, so that emphasis and tags nest; every other ``*``/``_`` is
    escaped, and so is one next to a note (whose own ``*`` would join it).
    """
    line = "".join(texts)
    owner = [index for index, text in enumerate(texts) for _ in text]
    starts = [0]
    for text in texts:
        starts.append(starts[-1] + len(text))

    def neighbour(run: int, step: int) -> str | None:
        """Return what the output shows next to a run's edge: a tag's ``>``/``<``, or None."""
        other = run + step
        while 0 <= other < len(texts) and not texts[other] and kinds[other] != "other":
            other += step
        if not 0 <= other < len(texts):
            return ">" if kinds[run] == "tag" and step < 0 else "<" if kinds[run] == "tag" else " "
        if kinds[other] == "other":
            return None
        if kinds[run] == "tag" or kinds[other] == "tag":
            return ">" if step < 0 else "<"
        return line[starts[other + 1] - 1] if step < 0 else line[starts[other]]

    delimiters: list[tuple[int, int, bool, bool]] = []  # start, length, can open, can close
    at = 0
    while at < len(line):
        char = line[at]
        run = owner[at]
        if char not in "*_" or (at > starts[run] and line[at - 1] == "\\"):
            at += 1
            continue
        end = at
        while end < starts[run + 1] and line[end] == char:
            end += 1
        before = line[at - 1] if at > starts[run] else neighbour(run, -1)
        after = line[end] if end < starts[run + 1] else neighbour(run, 1)
        if end - at <= 2 and before is not None and after is not None:
            left = not after.isspace() and (not _punct(after) or before.isspace() or _punct(before))
            right = not before.isspace() and (
                not _punct(before) or after.isspace() or _punct(after)
            )
            if char == "*":
                delimiters.append((at, end - at, left, right))
            else:
                opens = left and (not right or _punct(before))
                closes = right and (not left or _punct(after))
                delimiters.append((at, end - at, opens, closes))
        at = end
    kept: list[set[int]] = [set() for _ in texts]
    used: set[int] = set()
    limits: list[int] = []  # closers of the pairs that enclose the current position
    for index, (start, length, opens, _) in enumerate(delimiters):
        while limits and limits[-1] <= start:
            limits.pop()
        if index in used or not opens:
            continue
        for other in range(index + 1, len(delimiters)):
            close, close_length, _, closes = delimiters[other]
            if limits and close >= limits[-1]:
                break
            if (
                other in used
                or not closes
                or close_length != length
                or line[close] != line[start]
                or close == start + length
            ):
                continue
            a, b = owner[start], owner[close]
            if a == b or (kinds[a] == "equal" and kinds[b] == "equal"):
                used.update((index, other))
                limits.append(close)
                for position in (*range(start, start + length), *range(close, close + length)):
                    kept[owner[position]].add(position - starts[owner[position]])
            break
    return kept


def _punct(char: str) -> bool:
    """Whether CommonMark counts ``char`` as punctuation (for emphasis flanking)."""
    return unicodedata.category(char)[0] in "PS"


def _escape_keeping(text: str, keep: dict[int, str]) -> str:
    """Return ``text`` escaped for inline markdown, the characters at ``keep`` replaced as given.

    ``keep`` maps an offset to what is shown there as markup: the character itself (an
    emphasis delimiter), a link's syntax, or nothing (dropped link syntax).
    """
    out: list[str] = []
    start = 0
    for at in sorted(keep):
        out += [escape(text[start:at]), keep[at]]
        start = at + 1
    out.append(escape(text[start:]))
    return "".join(out)


# An inline link ``[text](target "title")`` (not an image): its text may hold escapes, its
# target one level of balanced parentheses.
_LINK = re.compile(
    r"(?<!!)\[((?:[^\[\]\\\n]|\\.)*)\]\(([^()\s]*(?:\([^()\s]*\)[^()\s]*)*)"
    r"(?:[ \t]+\"[^\"\n]*\")?\)"
)
# Targets kept as links: web and mail addresses with nothing that could end or escape
# the ``<...>`` destination they are written in.
_LINK_TARGET = re.compile(r"(?:https?://[^\s<>\\/]|mailto:[^\s<>\\])[^\s<>\\]*", re.IGNORECASE)


def _links(texts: list[str], kinds: list[str]) -> list[dict[int, str]]:
    """Return, per run text, the offsets of the policy's link syntax and what to show there.

    A link whose target is http(s) or mailto stays a link when its ``[`` and its
    ``](target)`` lie each in one run, in the same run or both in unchanged runs (so that
    the link and the tags nest): the changed words of its text are marked inside it. Any
    other link shows its text alone, without brackets or target (no ``](#a)`` debris).
    """
    line = "".join(texts)
    out: list[dict[int, str]] = [{} for _ in texts]
    if "](" not in line:
        return out
    owner = [index for index, text in enumerate(texts) for _ in text]
    starts = [0]
    for text in texts:
        starts.append(starts[-1] + len(text))
    for match in _LINK.finditer(line):
        opening, close, end = match.start(), match.end(1), match.end()
        tail = {owner[at] for at in range(close, end)}
        if len({owner[at] for at in range(close, match.end(2))}) != 1 or any(
            kinds[run] == "other" for run in {*tail, owner[opening]}
        ):
            continue  # cut by runs, or beside a note: left as text, escaped
        a, b = owner[opening], owner[close]
        target = match[2]
        keep = (a == b or kinds[a] == kinds[b] == "equal") and _LINK_TARGET.fullmatch(target)
        out[a][opening - starts[a]] = "[" if keep else ""
        # The title (a tooltip, not read on the page) goes with the target.
        for at in range(close, end):
            run = owner[at]
            out[run][at - starts[run]] = f"](<{target}>)" if keep and at == close else ""
    return out


def redline(runs: tuple[Run, ...], *, headers: frozenset[str] | None = None) -> str:
    """Return runs as markdown blocks with ``<del>``/``<ins>`` around the changes.

    The policy's list items stay items, its headings become level-4 headings (under the
    report's own), and its table rows a table, when the source has a delimiter row or
    ``headers`` (the header rows of a section whose tables the engine diffed row by row)
    says rows are shown without theirs: an excerpt drops unchanged delimiter rows.
    """
    # Cut the runs into source lines; changed runs never hold a line break.
    lines: list[list[Run]] = [[]]
    for run in runs:
        for index, part in enumerate(run.text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].append(replace(run, text=part))
    paragraphs: list[str] = [""]
    # The content column of the last list item, so that a nested item is indented under it
    # and never by four spaces more (which would make it a code block).
    content: int | None = None
    kind: str | None = None
    at = 0
    while at < len(lines):
        line = lines[at]
        at += 1
        if all(not run.text.strip() for run in line):
            if paragraphs[-1]:
                paragraphs.append("")
            continue
        if _is_row(line):
            block = [line]
            while at < len(lines) and _is_row(lines[at]):
                block.append(lines[at])
                at += 1
            table = _table(block, headers)
            if table is not None:
                paragraphs[-1:] = [*([paragraphs[-1]] if paragraphs[-1] else []), table, ""]
                continue
            at -= len(block) - 1
        heading = _heading(line)
        if heading is not None:
            text = "#### " + _line(_drop_head(line, heading), 0, items=False)[0]
            paragraphs[-1:] = [*([paragraphs[-1]] if paragraphs[-1] else []), text, ""]
            continue
        text, item = _line(line, 3 if content is None else content + 3)
        if not paragraphs[-1]:
            # A paragraph that does not open with an item ends the list.
            kind = item.kind if item is not None else None
            content = item.content if item is not None else None
            paragraphs[-1] = text
            continue
        # A backslash at a line end is a hard line break, keeping the policy's line
        # structure; a list item starts its own line instead, where markdown lets it end
        # a paragraph (otherwise it reads on as text, "2. ..." included).
        starts_item = item is not None and (item.kind == kind or item.interrupts)
        if item is not None and not starts_item:
            # Text, then: its indent in no-break spaces, which never make a code block.
            stripped = text.lstrip(" ")
            text = "&nbsp;" * (len(text) - len(stripped)) + stripped
        paragraphs[-1] += ("\n" if starts_item else "\\\n") + text
        if starts_item and item is not None:
            kind, content = item.kind, item.content
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


# An ATX heading's marker; setext underlines are escaped like any line-start marker.
_HEADING = re.compile(r" {0,3}#{1,6}[ \t]+")


def _heading(line: list[Run]) -> int | None:
    """Return the length of a heading line's marker, if the line is a heading shown as one.

    The marker must be unchanged text, or the whole line one insertion or deletion (a
    heading added or removed), so that the marker never sits inside a tag.
    """
    joined = "".join(run.text for run in line)
    marker = _HEADING.match(joined)
    if marker is None or not joined[marker.end() :].strip():
        return None
    if not all(_is_plain(run) for run in line):
        return None
    ops = {run.op for run in line if run.text.strip()}
    head = {run.op for run in _head(line, marker.end())}
    return marker.end() if head == {Op.EQUAL} or len(ops) == 1 else None


def _is_row(line: list[Run]) -> bool:
    """Whether a source line is a table row (it starts with a pipe)."""
    return "".join(run.text for run in line).lstrip(" \t").startswith("|")


def _sides(line: list[Run]) -> tuple[str, str]:
    """Return a line's old and new text."""
    old = "".join(run.text for run in line if run.op is not Op.INSERT or not _is_plain(run))
    new = "".join(run.text for run in line if run.op is not Op.DELETE or not _is_plain(run))
    return old, new


def _table(block: list[list[Run]], headers: frozenset[str] | None) -> str | None:
    """Return table rows as a markdown table (cells marked inside), or None if not a table.

    The header is the first row; the delimiter row is written anew for the widest row
    (a column added or removed shows as its cells marked), and ``<br>`` in a cell stays
    a line break.
    """
    rows: list[list[list[Run]]] = []
    delimiter = False
    for line in block:
        old, new = _sides(line)
        if all(not side.strip() or _DELIMITER.fullmatch(side) for side in (old, new)):
            delimiter = True
            continue
        rows.append(_cells(line))
    if not rows or not (delimiter or headers is not None):
        return None
    if (
        not delimiter
        and headers is not None
        and not set(map(str.strip, _sides(block[0]))) & headers
    ):
        # Changed rows shown without their header (folded above): markdown needs one, so
        # an empty one stands in.
        rows.insert(0, [])
    width = max(len(row) for row in rows)
    out = []
    for number, row in enumerate(rows):
        cells = [_line(cell, 0, items=False, cell=True)[0] for cell in row]
        cells += [""] * (width - len(cells))
        out.append("| " + " | ".join(cells) + " |")
        if number == 0:
            out.append("|" + " --- |" * width)
    return "\n".join(out)


_DELIMITER = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?\s*")


def _cells(line: list[Run]) -> list[list[Run]]:
    """Cut a table row's runs at its unescaped pipes into cells (outer pipes dropped)."""
    cells: list[list[Run]] = [[]]
    for run in line:
        if not _is_plain(run):
            cells[-1].append(run)
            continue
        start = 0
        text = run.text
        for at, char in enumerate(text):
            if char == "|" and (at == 0 or text[at - 1] != "\\"):
                if at > start:
                    cells[-1].append(replace(run, text=text[start:at]))
                cells.append([])
                start = at + 1
        if start < len(text):
            cells[-1].append(replace(run, text=text[start:]))
    if cells and all(not run.text.strip() for run in cells[0]):
        cells.pop(0)
    if cells and all(not run.text.strip() for run in cells[-1]):
        cells.pop()
    return [_trimmed(cell) for cell in cells]


def _trimmed(cell: list[Run]) -> list[Run]:
    """Return a cell's runs without the spacing at its edges (inside a tag or not)."""
    cell = [run for run in cell if run.text]
    while cell and not cell[0].text.strip() and _is_plain(cell[0]):
        cell.pop(0)
    while cell and not cell[-1].text.strip() and _is_plain(cell[-1]):
        cell.pop()
    if cell and _is_plain(cell[0]):
        cell[0] = replace(cell[0], text=cell[0].text.lstrip())
    if cell and _is_plain(cell[-1]):
        cell[-1] = replace(cell[-1], text=cell[-1].text.rstrip())
    return cell


@dataclass(frozen=True, slots=True)
class _Item:
    """A line made a list item: where its text starts, and whether it can end a paragraph."""

    content: int
    interrupts: bool
    # The bullet, or "." / ")" for a numbered item: another kind starts another list.
    kind: str


def _line(
    runs: list[Run], max_indent: int, *, items: bool = True, cell: bool = False
) -> tuple[str, _Item | None]:
    """Return one source line as markdown (escaped text, changed runs in tags), and its item.

    ``items``: a list marker at the start makes an item (not in a heading or a cell);
    ``cell``: the line is a table cell, where ``<br>`` stays a line break.
    """
    out: list[str] = []
    skip = False
    item: _Item | None = None
    joined = "".join(run.text for run in runs)
    marker = _LIST_ITEM.match(joined) if items else None
    if (
        marker is not None
        and joined[marker.end() :].strip()
        and all(_is_plain(run) for run in _head(runs, marker.end()))
    ):
        # The policy's list item stays a list item: its marker (kept as written, one space
        # after it, outside any tag: a new item reads as a bullet and inserted words) and
        # its indent in real spaces, capped.
        width = min(len(marker[1].replace("\t", "    ")), max_indent)
        prefix = " " * width + marker[2] + " "
        number = marker[2][:-1]
        item = _Item(len(prefix), not number.isdigit() or int(number) == 1, marker[2][-1])
        out.append(prefix)
        runs = _drop_head(runs, marker.end())
    plain = [_is_plain(run) for run in runs]
    texts = [run.text if ok else "" for run, ok in zip(runs, plain, strict=True)]
    kinds = [
        "other" if not ok else "equal" if run.op is Op.EQUAL else "tag"
        for run, ok in zip(runs, plain, strict=True)
    ]
    links = _links(texts, kinds)
    # Link syntax and targets hold no emphasis ("_" in a URL pairs with nothing).
    masked = [
        "".join("x" if at in link and char in "*_" else char for at, char in enumerate(text))
        if link
        else text
        for text, link in zip(texts, links, strict=True)
    ]
    emphasis = [
        {at: text[at] for at in kept} | link
        for text, kept, link in zip(texts, _emphasis(masked, kinds), links, strict=True)
    ]
    for index, run in enumerate(runs):
        if skip:
            skip = False
            continue
        if not run.text:
            continue
        body = _escape_keeping(run.text, emphasis[index])
        if not body and run.text:
            continue  # all link syntax, dropped: no empty tags
        if cell:
            body = _BREAK.sub("<br>", body)
        elif index == 0 and items:
            stripped = body.lstrip(" \t")
            indent = body[: len(body) - len(stripped)]
            start = _LINE_START_MARKER.match(stripped)
            if start is not None:
                stripped = _escape_marker(start) + stripped[start.end() :]
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
    return "".join(out).rstrip(), item


# A line break written in a table cell (markdown tables have no other), once escaped.
_BREAK = re.compile(r"&lt;br ?/?&gt;", re.IGNORECASE)


def _is_plain(run: Run) -> bool:
    """Whether a run shows its own text (not a note, nor a ``[~old→new~]`` cosmetic edit)."""
    return run.note is None and not run.cosmetic_note and not (run.cosmetic and not run.moved)


def _head(runs: list[Run], length: int) -> list[Run]:
    """Return the runs that hold the first ``length`` characters of a line."""
    head: list[Run] = []
    for run in runs:
        if length <= 0:
            break
        head.append(run)
        length -= len(run.text)
    return head


def _drop_head(runs: list[Run], length: int) -> list[Run]:
    """Return the runs of a line without its first ``length`` characters."""
    rest: list[Run] = []
    for run in runs:
        if length >= len(run.text):
            length -= len(run.text)
            continue
        rest.append(replace(run, text=run.text[max(length, 0) :]))
        length = 0
    return rest


def _escape_marker(match: re.Match[str]) -> str:
    """Backslash the character that would make a line a list item or setext underline."""
    if match[1] is not None:
        return f"{match[1]}\\{match[2]}"
    return "\\" + match[3]
