"""Find a markdown text's top-level blocks as markdown-it's commonmark block parser would.

A line scanner that follows markdown-it's block rules (rule order, ``blkIndent``,
``listIndent``, lazy continuation lines, the list item quirks) for the constructs
policies are made of: paragraphs, ATX and setext headings, thematic breaks, bullet
and ordered lists nested to any usual depth, indented and fenced code. It keeps no
tokens below the top level: nested blocks are followed only to learn where each
top-level block ends.

Whatever it is not built to read exactly (tabs, CR or NUL characters, block quotes,
HTML blocks, link reference definitions, very deep nesting) makes it give up and
return None, so the caller parses with markdown-it itself. Sectioning needs both
paths to agree on every top-level block; tests hold the two side by side on the
corpus and on generated documents.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

# markdown-it's mdTrim set (common.utils.MD_TRIM_CHARS): block contents are trimmed
# with it, not with str.strip's wider notion of whitespace.
_TRIM: Final = (
    "\t\n\x0b\x0c\r \xa0\u1680"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# Lists nest two token levels deep each; markdown-it stops parsing at level 20
# (maxNesting). Past this depth the scanner leaves the text to markdown-it.
_MAX_LIST_DEPTH: Final = 8

_HR: Final = re.compile(r"([-*_])(?: *\1){2,} *")
_ATX: Final = re.compile(r"#{1,6}(?![^ ])")
_UNDERLINE: Final = re.compile(r"(?:-+|=+) *")
_ORDERED: Final = re.compile(r"[0-9]{1,9}[.)](?![^ ])")
_BULLET: Final = re.compile(r"[-+*](?![^ ])")
_FENCE: Final = re.compile(r"`{3,}|~{3,}")
# A reference definition's label: markdown-it's reference rule reads one whenever a
# block opens with `[`, an unescaped `]` and then `:` follow, across lines. This
# matches every such label (and some the rule would reject): the scanner gives up.
_REFERENCE: Final = re.compile(r"\[(?:[^\[\]\\]|\\.)*\]:", re.DOTALL)
# GFM tables (markdown-it's table rule): a delimiter row holds only these characters,
# each of its cells is one alignment run, and cells split at pipes no backslash escapes.
_DELIMITER_CHARS: Final = re.compile(r"[-:| ]*")
_ALIGNMENT: Final = re.compile(r":?-+:?")
_CELL_PIPE: Final = re.compile(r"(?<!\\)\|")
# markdown-it stops a table after this many cells missing from its rows.
_MAX_AUTOCOMPLETED_CELLS: Final = 0x10000


class _UnsureError(Exception):
    """Raised where the text holds something the scanner does not read itself."""


class Block(NamedTuple):
    """One top-level block: kind, markdown-it's line map, and heading or paragraph text."""

    # "heading", "paragraph", "hr" or "other" (lists, code, and the like).
    kind: str
    # Line map [first, end) as markdown-it's opening token holds it.
    first: int
    end: int
    # Heading level 1-6; 0 for other kinds.
    level: int = 0
    # The inline source of a heading or paragraph, trimmed as markdown-it trims it.
    content: str = ""


class _Scanner:
    """markdown-it's block state for one LF-only text, with the rules the scanner knows."""

    def __init__(self, text: str, *, tables: bool = False) -> None:
        self.src = text
        # With tables, the table rule is on (markdown-it's table parser, not the
        # sectioning one) and every table's line map is kept, at any depth.
        self.tables = tables
        self.table_maps: list[tuple[int, int]] = []
        # The depth whose blocks are kept: the top level, or none when reading tables.
        self.kept_depth = -1 if tables else 0
        lines = text.split("\n")
        # markdown-it gives a last line of only spaces (or nothing) after the final
        # line break no line of its own.
        if not lines[-1].strip(" "):
            lines.pop()
        begins: list[int] = []
        indents: list[int] = []
        ends: list[int] = []
        position = 0
        for line in lines:
            begins.append(position)
            indents.append(len(line) - len(line.lstrip(" ")))
            position += len(line)
            ends.append(position)
            position += 1
        # The fake line past the end that markdown-it keeps for bounds checks.
        begins.append(len(text))
        ends.append(len(text))
        indents.append(0)
        self.begins = begins
        self.ends = ends
        # With no tabs, markdown-it's tShift and sCount are the same number: one list.
        self.indents = indents
        self.line_max = len(lines)
        self.blocks: list[Block] = []

    def empty(self, line: int) -> bool:
        """Whether a line holds only spaces (markdown-it's isEmpty)."""
        return self.begins[line] + self.indents[line] >= self.ends[line]

    def skip_empty(self, line: int) -> int:
        """First line at or after line that is not empty."""
        begins, indents, ends = self.begins, self.indents, self.ends
        while line < self.line_max and begins[line] + indents[line] >= ends[line]:
            line += 1
        return line

    def tokenize(self, line: int, blk: int, list_indent: int, depth: int) -> int:
        """Read blocks from line on at indent blk; return markdown-it's state.line after."""
        end = self.line_max
        state_line = line
        while line < end:
            line = state_line = self.skip_empty(line)
            if line >= end or self.indents[line] < blk:
                break
            line = state_line = self.block(line, blk, list_indent, depth)
            if line < end and self.empty(line):
                line = state_line = line + 1
        return state_line

    def block(self, line: int, blk: int, list_indent: int, depth: int) -> int:
        """Read the one block starting at line, trying markdown-it's rules in its order."""
        src = self.src
        indent = self.indents[line]
        pos = self.begins[line] + indent
        end = self.ends[line]
        if self.tables and (columns := self.table_columns(line, blk)):
            return self.table(line, blk, list_indent, columns)
        if indent - blk >= 4:
            return self.code(line, blk, depth)
        char = src[pos]
        if char in "`~" and (length := self.fence_length(pos, end)):
            return self.fence(line, blk, depth, length)
        if char in "<>":
            raise _UnsureError
        if char in "*-_" and _HR.fullmatch(src, pos, end):
            self.record(depth, "hr", line, line + 1)
            return line + 1
        if char in "*-+" or "0" <= char <= "9":
            found = self.list(line, blk, list_indent, depth)
            if found >= 0:
                return found
        if char == "[" and _REFERENCE.match(src, pos):
            raise _UnsureError
        if char == "#" and (heading := _ATX.match(src, pos, end)) is not None:
            if depth == self.kept_depth:
                self.blocks.append(
                    Block(
                        "heading",
                        line,
                        line + 1,
                        heading.end() - pos,
                        _atx_content(src, heading.end(), end),
                    )
                )
            return line + 1
        return self.paragraph(line, blk, list_indent, depth)

    def record(self, depth: int, kind: str, first: int, end: int) -> None:
        """Keep a block of the top level."""
        if depth == self.kept_depth:
            self.blocks.append(Block(kind, first, end))

    def code(self, line: int, blk: int, depth: int) -> int:
        """Read an indented code block: lines indented 4 past blk, blank lines between."""
        last = following = line + 1
        while following < self.line_max:
            if self.empty(following):
                following += 1
            elif self.indents[following] - blk >= 4:
                following += 1
                last = following
            else:
                break
        self.record(depth, "other", line, last)
        return last

    def fence(self, line: int, blk: int, depth: int, length: int) -> int:
        """Read a fenced code block whose opening run is length markers long."""
        src, begins, indents, ends = self.src, self.begins, self.indents, self.ends
        marker = src[begins[line] + indents[line]]
        following = line
        closed = False
        while True:
            following += 1
            if following >= self.line_max:
                break
            pos = begins[following] + indents[following]
            end = ends[following]
            if pos < end and indents[following] < blk:
                break
            if pos >= len(src):
                break
            if src[pos] != marker:
                continue
            if indents[following] - blk >= 4:
                continue
            run = len(src[pos:end]) - len(src[pos:end].lstrip(marker))
            if run < length or src[pos + run : end].strip(" "):
                continue
            closed = True
            break
        after = following + (1 if closed else 0)
        self.record(depth, "other", line, after)
        return after

    def list(self, line: int, blk: int, list_indent: int, depth: int) -> int:
        """Read a list starting at line (markdown-it's list_block); -1 if none starts there."""
        src, begins, indents, ends = self.src, self.begins, self.indents, self.ends
        if list_indent >= 0 and indents[line] - list_indent >= 4 and indents[line] < blk:
            return -1
        pos = begins[line] + indents[line]
        marker = _ORDERED.match(src, pos, ends[line]) if ends[line] - pos >= 2 else None
        ordered = marker is not None
        if marker is None:
            marker = _BULLET.match(src, pos, ends[line])
            if marker is None:
                return -1
        if depth >= _MAX_LIST_DEPTH:
            raise _UnsureError
        after_marker = marker.end()
        marker_char = src[after_marker - 1]
        first = item = line
        while True:
            start = begins[item] + indents[item]
            end = ends[item]
            initial = indents[item] + after_marker - start
            content = after_marker
            while content < end and src[content] == " ":
                content += 1
            offset = initial + content - after_marker
            after = 1 if content >= end else offset - initial
            if after > 4:
                after = 1
            saved = indents[item]
            # The item's first line now starts at its content (markdown-it moves tShift).
            indents[item] = content - begins[item]
            if content >= end and self.empty(item + 1):
                next_line = min(item + 2, self.line_max)
            else:
                next_line = self.tokenize(item, initial + after, blk, depth + 1)
            indents[item] = saved
            item = next_line
            if item >= self.line_max:
                break
            if indents[item] < blk or indents[item] - blk >= 4:
                break
            pos = begins[item] + indents[item]
            end = ends[item]
            # Of the list's terminator rules (fence, blockquote, hr) only a rule can also
            # read as a list item (`* * *`): the other two never start with a marker.
            if src[pos] in "*-_" and _HR.fullmatch(src, pos, end):
                break
            if ordered:
                marker = _ORDERED.match(src, pos, end) if end - pos >= 2 else None
            else:
                marker = _BULLET.match(src, pos, end)
            if marker is None:
                break
            after_marker = marker.end()
            if src[after_marker - 1] != marker_char:
                break
        self.record(depth, "other", first, item)
        return item

    def fence_length(self, pos: int, end: int) -> int:
        """Return the length of the fence opening at pos, or 0 (markdown-it's fence check)."""
        src = self.src
        opening = _FENCE.match(src, pos, end)
        if opening is None or (src[pos] == "`" and "`" in src[opening.end() : end]):
            return 0
        return opening.end() - pos

    def interrupts(self, line: int, blk: int, list_indent: int) -> bool:
        """Whether a line ends a paragraph (markdown-it's paragraph terminator rules)."""
        src = self.src
        indent = self.indents[line]
        pos = self.begins[line] + indent
        end = self.ends[line]
        if self.tables and self.table_columns(line, blk):
            return True
        char = src[pos]
        if char == ">":
            return True
        if char == "<":
            raise _UnsureError
        if char in "`~":
            return self.fence_length(pos, end) > 0
        if char == "#":
            return _ATX.match(src, pos, end) is not None
        if char in "*-_" and _HR.fullmatch(src, pos, end):
            return True
        if char in "*-+" or "0" <= char <= "9":
            if list_indent >= 0 and indent - list_indent >= 4 and indent < blk:
                return False
            terminating = indent >= blk
            ordered = _ORDERED.match(src, pos, end) if end - pos >= 2 else None
            if ordered is not None:
                if terminating and int(src[pos : ordered.end() - 1]) != 1:
                    return False
                marker = ordered
            else:
                bullet = _BULLET.match(src, pos, end)
                if bullet is None:
                    return False
                marker = bullet
            return not (terminating and not src[marker.end() : end].strip(" "))
        return False

    def table_columns(self, line: int, blk: int) -> int:
        """Return the column count of a table whose header is line, or 0 (validation mode)."""
        src, begins, indents, ends = self.src, self.begins, self.indents, self.ends
        delimiter = line + 1
        if line + 2 > self.line_max or not 0 <= indents[delimiter] - blk < 4:
            return 0
        pos = begins[delimiter] + indents[delimiter]
        end = ends[delimiter]
        if (
            end - pos < 2
            or src[pos] not in "|-:"
            or src[pos : pos + 2] == "- "
            or not _DELIMITER_CHARS.fullmatch(src, pos, end)
        ):
            return 0
        cells = src[pos:end].split("|")
        aligns = 0
        for index, raw in enumerate(cells):
            cell = raw.strip(_TRIM)
            if not cell:
                if index in {0, len(cells) - 1}:
                    continue
                return 0
            if not _ALIGNMENT.fullmatch(cell):
                return 0
            aligns += 1
        header = src[begins[line] + indents[line] : ends[line]].strip(_TRIM)
        if "|" not in header or indents[line] - blk >= 4:
            return 0
        return aligns if _row_cells(header) == aligns else 0

    def table(self, line: int, blk: int, list_indent: int, columns: int) -> int:
        """Read a table (header and delimiter rows known good) and keep its line map."""
        src, begins, indents, ends = self.src, self.begins, self.indents, self.ends
        following = line + 2
        missing = 0
        while following < self.line_max:
            indent = indents[following]
            if indent < blk or indent - blk >= 4:
                break
            pos = begins[following] + indent
            end = ends[following]
            row = src[pos:end].strip(_TRIM)
            if not row:
                break
            # The table ends where a block quote's terminator rules would end a quote.
            char = src[pos]
            if char == "<":
                raise _UnsureError
            if char == ">" or (char in "`~" and self.fence_length(pos, end)):
                break
            if char == "#" and _ATX.match(src, pos, end):
                break
            if char in "*-_" and _HR.fullmatch(src, pos, end):
                break
            if (char in "*-+" or "0" <= char <= "9") and self.list_starts(
                following, blk, list_indent
            ):
                break
            missing += columns - _row_cells(row)
            if missing > _MAX_AUTOCOMPLETED_CELLS:
                break
            following += 1
        self.table_maps.append((line, following))
        return following

    def list_starts(self, line: int, blk: int, list_indent: int) -> bool:
        """markdown-it's list rule in validation mode outside a paragraph."""
        indent = self.indents[line]
        if list_indent >= 0 and indent - list_indent >= 4 and indent < blk:
            return False
        pos = self.begins[line] + indent
        end = self.ends[line]
        if end - pos >= 2 and _ORDERED.match(self.src, pos, end):
            return True
        return _BULLET.match(self.src, pos, end) is not None

    def paragraph(self, line: int, blk: int, list_indent: int, depth: int) -> int:
        """Read a paragraph, or a setext heading if an underline ends it (lheading, paragraph)."""
        src, begins, indents, ends = self.src, self.begins, self.indents, self.ends
        following = line + 1
        level = 0
        while following < self.line_max:
            indent = indents[following]
            pos = begins[following] + indent
            end = ends[following]
            if pos >= end:
                break
            if indent - blk > 3:
                following += 1
                continue
            if indent >= blk and src[pos] in "-=" and _UNDERLINE.fullmatch(src, pos, end):
                level = 1 if src[pos] == "=" else 2
                break
            if self.interrupts(following, blk, list_indent):
                break
            following += 1
        if level:
            if depth == self.kept_depth:
                content = src[begins[line] : ends[following - 1]].strip(_TRIM)
                self.blocks.append(Block("heading", line, following + 1, level, content))
            return following + 1
        if depth == self.kept_depth:
            content = src[begins[line] : ends[following - 1]].strip(_TRIM)
            self.blocks.append(Block("paragraph", line, following, 0, content))
        return following


def _atx_content(src: str, pos: int, end: int) -> str:
    """Return an ATX heading's text: trailing spaces and a closing run of #s cut."""
    kept = src[pos:end].rstrip(" ")
    closed = kept.rstrip("#")
    if closed and closed[-1] == " ":
        kept = closed
    return kept.strip(_TRIM)


def _row_cells(row: str) -> int:
    """Count a table row's cells: pipes split them, edge pipes open or close none."""
    cells = _CELL_PIPE.split(row)
    return len(cells) - (cells[0] == "") - (len(cells) > 1 and cells[-1] == "")


def scan_tables(text: str) -> list[tuple[int, int]] | None:
    """Return the line maps of text's tables as markdown-it's table parser finds them.

    None if markdown-it must read the text. Tables nested in lists are included, in
    text order.
    """
    if "\t" in text or "\r" in text or "\0" in text:
        return None
    scanner = _Scanner(text, tables=True)
    try:
        scanner.tokenize(0, 0, -1, 0)
    except _UnsureError:
        return None
    return scanner.table_maps


def scan_blocks(text: str) -> list[Block] | None:
    """Return the top-level blocks of text, or None if markdown-it must read it."""
    if "\t" in text or "\r" in text or "\0" in text:
        return None
    scanner = _Scanner(text)
    try:
        scanner.tokenize(0, 0, -1, 0)
    except _UnsureError:
        return None
    return scanner.blocks
