"""Markdown laid out as HTML with a redline's runs over it: formatting shown, not markup.

The runs of an excerpt piece, old and new words alike, are joined into one markdown
source whose every character remembers the run it came from. markdown-it parses that
source; the walk over its tokens writes headings, lists, emphasis, links and code as
elements, and each visible character of text is wrapped by its run's style
(``<del>``, ``<ins>``, moved, cosmetic) *inside* the element it belongs to, so a run that
crosses a formatting boundary is split there and the HTML always nests. Markup
characters (``**``, ``#``, a link's target) are never shown; escapes show what they
escape. Tables are laid out here, row by row (an excerpt shows a table's changed rows
without its delimiter row, which markdown-it would need). Links are kept only for
``http``, ``https`` and ``mailto`` targets; any other link shows its text alone.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import groupby, pairwise
from typing import TYPE_CHECKING

from policydiff.core.diff_model import Op
from policydiff.engine.report import Run, escape_controls

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token


# Raw HTML is text (the policy's tags are shown, never obeyed); ``text_join`` off keeps
# escapes and entities as tokens of their own, whose source is their markup.
# Indented code is off: in policies a 4-space indent is a converter's leftover (an item's
# text after a stray line), never code; such lines read as paragraphs. Made on first use:
# a site re-run with nothing new formats nothing.
@functools.cache
def _parser() -> MarkdownIt:
    """Return the markdown parser of policy text."""
    from markdown_it import MarkdownIt

    return (
        MarkdownIt("commonmark", {"html": False, "maxNesting": 40})
        .enable("strikethrough")
        .disable(["text_join", "code"])
    )


# markdown-it's inline parse costs about 10-50 us per emphasis, link or code delimiter
# (1.2 MB of `a** b ` takes 15 s): a piece holding more markup characters than this is
# shown as plain text instead. The corpus' busiest piece holds 6,200 (233 KB, instagram).
_MARKUP_BUDGET = 20_000
_MARKUP_CHARS = "*_[]`|<"
# What a note run stands as in the source: one ordinary character, found by position
# (its owner), never by value, so policy text holding the same character is harmless.
_PLACEHOLDER = "\ufffc"
_SAFE_LINK = re.compile(r"(?:https?|mailto):", re.IGNORECASE)
_ROW = re.compile(r"[ \t]*\|")
_DELIMITER = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*\n?")
_CELL_PIPE = re.compile(r"(?<!\\)\|")
_PAREN_DEPTH = {"(": 1, ")": -1}
# A link target without nested parentheses (the usual one), matched at C speed.
_SIMPLE_TARGET = re.compile(r"\((?:[^()\\]|\\.)*\)")
_SPACING = re.compile(r"\s")
# A line and its break as markdown-it splits lines (str.splitlines also breaks at form
# feeds, U+2028 and others, which would shift every line number after them).
_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n|$)")
_BULLET = frozenset({"*", "-", "+", "\\*", "\\-", "\\+"})
# Emphasis marks at a word's edge (not the underscores inside snake_case).
_EDGE_MARKS = re.compile(r"(?<![\w*_\\])[*_]+(?=[^\s*_])|(?<=[^\s*_\\])[*_]+(?![\w*_])")
# Emphasis marks alone: a deleted one left in would stand unpaired and show as text.
_EMPHASIS_ONLY = re.compile(r"[*_~]+")
# Bold whose closing mark follows a space (``**Cookies. ** We``) is no bold to CommonMark
# and shows its asterisks; converters write it often. The space moves after the mark.
# A bold label is short: the content is bounded, so a line of many marks costs linear time.
_SPACED_CLOSE = re.compile(
    r"(?<![*_\w\\])(\*\*|__)(?=[^\s*_])((?:(?!\1)[^\n]){0,120}?[^\s*_\\])"
    r"([ \t\u00a0]+)\1(?![*_\w])"
)
# The same with the space after the opening mark (``as the** “Services”**``): it moves
# before the mark.
_SPACED_OPEN = re.compile(
    r"(?<=[^\s*_\\])(\*\*|__)([ \t\u00a0]+)(?=[^\s*_])"
    r"((?:(?!\1)[^\n]){0,120}?[^\s*_\\])\1(?![*_\w])"
)
_BOLD_MARK = re.compile(r"\*\*|__")
_ORDERED_MARKER = re.compile(r"[ \t>]*(\d{1,9}[.)])")
_ITEM_MARKER = re.compile(r"[ \t>]*([*+-])")

# (run index or -1, text) -> HTML of that text in the run's style; (before, after) ->
# the separator between two runs that touch, or "".
Styler = Callable[[int, str], str]
Separator = Callable[[int, int], str]


def table_headers(*texts: str) -> frozenset[str]:
    """Return the header rows (spacing collapsed) of the pipe tables in texts."""
    found: set[str] = set()
    for text in texts:
        if "|" not in text:
            continue
        lines = text.split("\n")
        for line, following in pairwise(lines):
            if _ROW.match(line) and _DELIMITER.fullmatch(following) and "-" in following:
                found.add(_collapse(line))
    return frozenset(found)


def _collapse(line: str) -> str:
    """Return a line with its spacing collapsed, for comparing table rows."""
    return " ".join(line.split())


class _Source:
    """Markdown source built from runs, each character tagged with its run (-1: none)."""

    def __init__(self, runs: Sequence[Run]) -> None:
        parts: list[str] = []
        owner: list[int] = []
        line_start = True
        skip = _marker_collisions(runs)
        trims = _shared_marks(runs)
        for index, run in enumerate(runs):
            if index in skip:
                continue
            if index in trims:
                head, tail = trims[index]
                run = replace(run, text=run.text[head : len(run.text) - tail])  # noqa: PLW2901
            elif run.op is Op.DELETE and run.note is None:
                # (A trimmed run's marks are unpaired on purpose: the insertion pairs them.)
                run = replace(run, text=_balanced(run.text))  # noqa: PLW2901
            if run.note is not None or run.cosmetic_note:
                text = _PLACEHOLDER
                if run.note is not None and run.note.direction == "from" and line_start:
                    # "moved from ..." heads the moved text as a line of its own, so
                    # that a moved heading or list still parses as one.
                    text += "\n\n"
                parts.append(text)
                owner.append(index)
                owner.extend([-1] * (len(text) - 1))
            else:
                parts.append(run.text)
                owner.extend([index] * len(run.text))
            if run.text:
                line_start = parts[-1].endswith("\n") or (line_start and not parts[-1].strip())
        self.text = "".join(parts)
        self.owner = owner
        self._dedent()
        self._close_spaced_bold()

    def _close_spaced_bold(self) -> None:
        """Move the spaces inside a bold's marks outside them (see _SPACED_CLOSE/_OPEN)."""
        if "** " not in self.text and "__ " not in self.text and "\u00a0" not in self.text:
            return
        for pattern, spaces in ((_SPACED_CLOSE, 3), (_SPACED_OPEN, 2)):
            order: list[int] = []
            position = 0
            # Marks seen on the current line, by kind: after an odd number, the next one
            # closes a bold and is not tried as an opening. Counted as the marks come,
            # so a long line with many marks costs one pass (plus a bounded match each).
            seen = {"**": 0, "__": 0}
            previous = 0
            for mark in _BOLD_MARK.finditer(self.text):
                start = mark.start()
                if self.text.find("\n", previous, start) != -1:
                    seen = {"**": 0, "__": 0}
                previous = start
                if start < position:
                    continue  # the closing mark of a bold already moved
                seen[mark.group()] += 1
                if seen[mark.group()] % 2 == 0:
                    continue
                found = pattern.match(self.text, start)
                if found is None:
                    continue
                seen[mark.group()] += 1
                order.extend(range(position, found.start()))
                if spaces == 3:
                    # mark, content, closing mark, spaces
                    order.extend(range(found.start(), found.start(3)))
                    order.extend(range(found.end(3), found.end()))
                    order.extend(range(found.start(3), found.end(3)))
                else:
                    # spaces, mark, content, closing mark
                    order.extend(range(found.start(2), found.end(2)))
                    order.extend(range(found.start(1), found.end(1)))
                    order.extend(range(found.end(2), found.end()))
                position = found.end()
            if order:
                order.extend(range(position, len(self.text)))
                self.text = "".join(self.text[k] for k in order)
                self.owner = [self.owner[k] for k in order]

    def _dedent(self) -> None:
        """Remove the indentation every line shares (an excerpt of a nested list item)."""
        lines = self.text.split("\n")
        indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
        cut = min(indents, default=0)
        if not cut:
            return
        keep: list[int] = []
        position = 0
        for line in lines:
            drop = min(cut, len(line) - len(line.lstrip(" ")))
            keep.extend(range(position + drop, position + len(line) + 1))
            position += len(line) + 1
        keep = [k for k in keep if k < len(self.text)]
        self.text = "".join(self.text[k] for k in keep)
        self.owner = [self.owner[k] for k in keep]


def _marker_collisions(runs: Sequence[Run]) -> set[int]:
    """Return the deleted markup to leave out of the source.

    A bullet replaced by another at a line start: ``* item`` -> ``- item`` joined reads
    ``*- item``, which is no list item; the new bullet alone keeps it one (the bullet's
    shape is not shown anyway). Deleted emphasis marks on their own (the old side's bold
    where the new side has none): joined with the new text they stand unpaired.
    """
    skip: set[int] = set()
    for index, run in enumerate(runs):
        following = runs[index + 1].text if index + 1 < len(runs) else ""
        bullet = run.text == "*" and following[:1] in {" ", "\t"}
        if (
            run.op is Op.DELETE
            and not run.note
            and _EMPHASIS_ONLY.fullmatch(run.text)
            and not bullet
        ):
            skip.add(index)
    for index in range(len(runs) - 1):
        a, b = runs[index], runs[index + 1]
        if a.text not in _BULLET or b.text not in _BULLET or a.op is b.op:
            continue
        if Op.EQUAL in (a.op, b.op) or a.note or b.note:
            continue
        before = "".join(r.text for r in runs[max(0, index - 2) : index])
        if before and before.rsplit("\n", 1)[-1].strip():
            continue
        skip.add(index if a.op is Op.DELETE else index + 1)
    return skip


def _shared_marks(runs: Sequence[Run]) -> dict[int, tuple[int, int]]:
    """Return how many characters to cut off each end of runs, for emphasis both sides share.

    Emphasis marks belong to the words they touch: ``_display name_`` -> ``_username_``
    is one replaced run each, and joined they read ``_display name__username_`` (the
    middle marks shown). The opening marks both runs share are kept on the deletion
    only, the closing ones on the insertion only: ``_display name`` + ``username_``.
    """
    trims: dict[int, tuple[int, int]] = {}
    for index in range(len(runs) - 1):
        old, new = runs[index], runs[index + 1]
        if old.op is not Op.DELETE or new.op is not Op.INSERT or old.note or new.note:
            continue
        head = _common_marks(old.text, new.text)
        tail = _common_marks(old.text[::-1], new.text[::-1])
        if head + tail == 0 or head + tail >= min(len(old.text), len(new.text)):
            continue
        trims[index] = (0, tail)
        trims[index + 1] = (head, 0)
    return trims


def _balanced(text: str) -> str:
    """Return deleted text without its emphasis marks if they do not pair up within it.

    A deletion that opens or closes a bold the new text closes or opens elsewhere
    (``**your data** for one`` -> ``**your data** for two``: the old closing marks sit in
    the deleted ``data** for one``) would leave one mark too many; the new text's marks
    are the ones kept, and the deleted words are shown in the new text's formatting.
    """
    if "*" not in text and "_" not in text:
        return text
    marks = _EDGE_MARKS.findall(text)
    if len(marks) % 2 == 0:
        return text
    return _EDGE_MARKS.sub("", text)


def _common_marks(a: str, b: str) -> int:
    """Return the length of the emphasis marks both texts start with."""
    count = 0
    while count < min(len(a), len(b)) and a[count] == b[count] and a[count] in "*_~":
        count += 1
    return count


class _Writer:
    """Writes one piece's HTML: blocks from markdown-it tokens, text in its runs' styles."""

    def __init__(
        self,
        source: _Source,
        runs: Sequence[Run],
        style: Styler,
        separator: Separator,
        headers: frozenset[str],
        tables: bool,
        folds: frozenset[int] = frozenset(),
    ) -> None:
        self.folds = folds
        self.source = source
        self.runs = runs
        self.style = style
        self.separator = separator
        self.headers = headers
        self.tables = tables
        self.out: list[str] = []
        # The last run whose text was shown in the current flow (for separators).
        self.last = -1
        self.links = 0
        # The run, text and output length of the last text written (to extend it).
        self.tail: tuple[int, str, int] | None = None

    # -- text in the runs' styles ------------------------------------------------------

    def text(self, visible: str, positions: Sequence[int]) -> None:
        """Write visible characters, each in the style of the run its source position has."""
        owner = self.source.owner
        if not positions:
            return
        first, last = positions[0], positions[-1]
        if first >= 0 and last < len(owner) and last - first == len(positions) - 1:
            # Positions only grow, so these are one stretch of source: sliced at C speed.
            owners = owner[first : last + 1]
        else:
            owners = [owner[p] if 0 <= p < len(owner) else -1 for p in positions]
        start = 0
        for key, group in groupby(owners):
            count = len(list(group))
            chunk = visible[start : start + count]
            start += count
            if key >= 0 and self.last >= 0 and key != self.last:
                self.out.append(self.separator(self.last, key))
            run = self.runs[key] if key >= 0 else None
            if run is not None and (run.note is not None or run.cosmetic_note):
                if run.note is not None and self.links:
                    # No link inside a link: the note is shown as its words.
                    self.out.append(html.escape(escape_controls(run.text)))
                else:
                    self.out.append(self.style(key, run.text))
                self.tail = None
            elif self.tail is not None and self.tail[0] == key and self.tail[2] == len(self.out):
                # The same run right after itself (an escape, an entity): one element.
                chunk = self.tail[1] + chunk
                self.out[-1] = self.style(key, chunk)
                self.tail = (key, chunk, len(self.out))
            else:
                self.out.append(self.style(key, chunk))
                self.tail = (key, chunk, len(self.out))
            if key >= 0:
                self.last = key

    # -- blocks -----------------------------------------------------------------------

    def piece(self) -> str:
        """Return the HTML of the whole source: tables laid out here, the rest parsed."""
        text = self.source.text
        lines = _split_lines(text)
        offset = 0
        chunk_start = 0
        index = 0
        while index < len(lines):
            if not _ROW.match(lines[index]):
                offset += len(lines[index])
                index += 1
                continue
            end = index
            group_end = offset
            while end < len(lines) and _ROW.match(lines[end]):
                group_end += len(lines[end])
                end += 1
            group = lines[index:end]
            if self.tables or any(_DELIMITER.fullmatch(line) and "-" in line for line in group):
                self.markdown(chunk_start, offset)
                self.table(offset, group)
                chunk_start = group_end
            offset = group_end
            index = end
        self.markdown(chunk_start, len(text))
        return "".join(self.out).strip()

    def markdown(self, start: int, end: int) -> None:
        """Write the blocks of ``source[start:end]``."""
        chunk = self.source.text[start:end]
        if not chunk.strip():
            return
        starts = [start]
        for line in _split_lines(chunk):
            starts.append(starts[-1] + len(line))
        tokens = _parser().parse(chunk)
        stack: list[str] = []
        for token in tokens:
            self.block(token, starts, stack)

    def block(self, token: Token, starts: list[int], stack: list[str]) -> None:
        """Write one block token."""
        kind = token.type
        if kind == "inline":
            self.last = -1
            self.inline_block(token, starts)
            return
        if kind.endswith("_close"):
            closing = stack.pop() if stack else ""
            if closing:
                self.out.append(f"</{closing}>\n")
            return
        tag = ""
        attrs = ""
        if kind == "heading_open":
            # Body headings sit under the section's own <h2>.
            tag = f"h{min(6, int(token.tag[1:]) + 2)}"
            attrs = f' class="pd-md-h{token.tag[1:]}"'
        elif kind == "paragraph_open":
            tag = "" if token.hidden else "p"
        elif kind == "bullet_list_open":
            tag = "ul"
        elif kind == "ordered_list_open":
            tag, attrs = "ol", ' class="pd-ol"'
        elif kind == "list_item_open":
            tag = "li"
        elif kind == "blockquote_open":
            tag = "blockquote"
        elif kind in {"code_block", "fence"}:
            self.code_block(token, starts)
            return
        elif kind == "hr":
            self.out.append("<hr>\n")
            return
        elif not kind.endswith("_open"):
            return
        if kind == "list_item_open" and token.map is not None:
            attrs = self.marker_class(starts[token.map[0]], starts[token.map[0] + 1])
        stack.append(tag)
        if tag:
            self.out.append(f"<{tag}{attrs}>")
        if kind == "list_item_open" and token.markup in {".", ")"} and token.map is not None:
            self.ordered_marker(starts[token.map[0]], starts[token.map[0] + 1])

    def marker_class(self, start: int, end: int) -> str:
        """Return the class of an item whose marker was inserted or deleted (else "")."""
        found = _ITEM_MARKER.match(self.source.text, start, end)
        if found is None:
            return ""
        key = self.source.owner[found.start(1)]
        run = self.runs[key] if key >= 0 else None
        if run is None or run.op is Op.EQUAL:
            return ""
        name = "pd-marker-ins" if run.op is Op.INSERT else "pd-marker-del"
        return f' class="{name}{" pd-cosmetic" if run.cosmetic else ""}"'

    def ordered_marker(self, start: int, end: int) -> None:
        """Write an ordered item's number as text, so a renumbered item shows its edit."""
        line = self.source.text[start:end]
        found = _ORDERED_MARKER.match(line)
        if found is None:
            return
        self.last = -1
        self.out.append('<span class="pd-marker">')
        first = start + found.start(1)
        self.text(found.group(1), range(first, first + len(found.group(1))))
        self.out.append("</span> ")

    def code_block(self, token: Token, starts: list[int]) -> None:
        """Write a code block: its text as is, in the runs' styles."""
        if token.map is None:
            return
        first = token.map[0] + (1 if token.type == "fence" else 0)
        positions = _line_positions(self.source.text, starts, first, token.content)
        self.last = -1
        self.out.append("<pre><code>")
        self.text(token.content.rstrip("\n"), positions[: len(token.content.rstrip("\n"))])
        self.out.append("</code></pre>\n")

    def inline_block(self, token: Token, starts: list[int]) -> None:
        """Write a block's inline content (paragraph, heading) with its formatting."""
        if token.map is None:
            return
        positions = _line_positions(self.source.text, starts, token.map[0], token.content)
        self.inline(token.children or [], token.content, positions, 0)

    # -- inline -----------------------------------------------------------------------

    def inline(
        self, children: list[Token], content: str, positions: Sequence[int], cursor: int
    ) -> int:
        """Write inline tokens whose source is ``content``; return the cursor after them."""
        links: list[bool] = []
        for child in children:
            kind = child.type
            if kind == "text":
                cursor = self.literal(child.content, content, positions, cursor)
            elif kind == "text_special":
                found = content.find(child.markup, cursor)
                if found == -1:
                    self.text(child.content, [-1] * len(child.content))
                    continue
                # An escape or entity shows what it stands for, in its own run's style.
                last = found + len(child.markup) - 1
                self.text(child.content, [positions[last]] * len(child.content))
                cursor = found + len(child.markup)
            elif kind in {"softbreak", "hardbreak"}:
                found = content.find("\n", cursor)
                cursor = cursor if found == -1 else found + 1
                self.out.append("<br>\n" if kind == "hardbreak" else "\n")
            elif kind in {"strong_open", "em_open", "s_open"}:
                cursor = _skip(content, child.markup, cursor)
                self.out.append(f"<{child.tag}>")
            elif kind in {"strong_close", "em_close", "s_close"}:
                cursor = _skip(content, child.markup, cursor)
                self.out.append(f"</{child.tag}>")
            elif kind == "link_open":
                auto = child.markup == "autolink"
                cursor = _skip(content, "<" if auto else "[", cursor)
                href = str(child.attrs.get("href", ""))
                shown = bool(_SAFE_LINK.match(href)) and not self.links
                links.append(shown)
                if shown:
                    self.links += 1
                    self.out.append(
                        f'<a class="pd-link" href="{html.escape(href, quote=True)}" '
                        'rel="nofollow noopener noreferrer">'
                    )
            elif kind == "link_close":
                if links and links.pop():
                    self.links -= 1
                    self.out.append("</a>")
                cursor = _after_link(content, cursor, child.markup == "autolink")
            elif kind == "image":
                cursor = _skip(content, "![", cursor)
                self.out.append('<span class="pd-image">')
                cursor = self.inline(child.children or [], content, positions, cursor)
                self.out.append("</span>")
                cursor = _after_link(content, cursor, autolink=False)
            elif kind == "code_inline":
                cursor = _skip(content, child.markup, cursor)
                # The closing run is the next one of exactly as many backticks.
                ticks = re.compile(rf"(?<!`){re.escape(child.markup)}(?!`)")
                found_close = ticks.search(content, cursor)
                close = -1 if found_close is None else found_close.start()
                self.out.append("<code>")
                self.literal(
                    child.content,
                    content[: len(content) if close == -1 else close],
                    positions,
                    cursor,
                )
                self.out.append("</code>")
                cursor = cursor if close == -1 else close + len(child.markup)
            else:
                cursor = self.literal(child.content, content, positions, cursor)
        return cursor

    def literal(self, visible: str, content: str, positions: Sequence[int], cursor: int) -> int:
        """Write text found in ``content`` from ``cursor`` on; return the cursor after it."""
        if not visible:
            return cursor
        found = content.find(visible, cursor)
        if found != -1:
            self.text(visible, positions[found : found + len(visible)])
            return found + len(visible)
        # Normalised by the parser (a code span's line breaks read as spaces): match
        # character by character, a space standing for any spacing.
        mapped: list[int] = []
        for char in visible:
            at = _find_spacing(content, cursor) if char == " " else content.find(char, cursor)
            if at == -1:
                mapped.append(-1)
                continue
            mapped.append(positions[at])
            cursor = at + 1
        self.text(visible, mapped)
        return cursor

    # -- tables -----------------------------------------------------------------------

    def table(self, start: int, lines: list[str]) -> None:
        """Write a group of pipe-table lines as a table (delimiter rows are layout only)."""
        rows: list[tuple[int, str]] = []
        header: int | None = None
        offset = start
        for line in lines:
            if _DELIMITER.fullmatch(line) and "-" in line:
                if rows and header is None and len(rows) == 1:
                    header = 0
            else:
                rows.append((offset, line))
            offset += len(line)
        if header is None and rows and self._is_header(*rows[0]):
            header = 0
        self.out.append('<table class="pd-md-table">')
        for number, (position, line) in enumerate(rows):
            if number == 0 and header == 0:
                self.out.append("<thead>")
            if number == (1 if header == 0 else 0):
                self.out.append("<tbody>")
            cell = "th" if number == 0 and header == 0 else "td"
            lead = position + len(line) - len(line.lstrip(" \t|"))
            if lead < len(self.source.owner) and self.source.owner[lead] in self.folds:
                # Unchanged rows left out: one row saying so, across the table.
                words = line.strip(" \t|\n")
                self.out.append(
                    f'<tr class="pd-fold"><td colspan="{len(_cells(lines[0]))}">'
                    f"{html.escape(words)}</td></tr>\n"
                )
                continue
            self.out.append("<tr>")
            for cell_start, cell_end in _cells(line):
                self.out.append(f"<{cell}>")
                self.cell(position + cell_start, position + cell_end)
                self.out.append(f"</{cell}>")
            self.out.append("</tr>\n")
            if number == 0 and header == 0:
                self.out.append("</thead>")
        if rows and not (header == 0 and len(rows) == 1):
            self.out.append("</tbody>")
        self.out.append("</table>\n")

    def _is_header(self, position: int, line: str) -> bool:
        """Whether a row is its table's header row on the old or the new side."""
        owner = self.source.owner
        old: list[str] = []
        new: list[str] = []
        for index, char in enumerate(line):
            key = owner[position + index]
            op = self.runs[key].op if key >= 0 else Op.EQUAL
            if op is not Op.INSERT:
                old.append(char)
            if op is not Op.DELETE:
                new.append(char)
        return _collapse("".join(old)) in self.headers or _collapse("".join(new)) in self.headers

    def cell(self, start: int, end: int) -> None:
        """Write one cell's inline content."""
        text = self.source.text[start:end]
        if not text:
            return
        tokens = _parser().parseInline(text)
        self.last = -1
        children = tokens[0].children if tokens else None
        self.inline(children or [], text, range(start, end), 0)


def _cells(line: str) -> list[tuple[int, int]]:
    """Return the ``[start, end)`` of each cell of a table row, spacing trimmed."""
    body_start = len(line) - len(line.lstrip(" \t"))
    body = line.rstrip()
    if body[body_start : body_start + 1] == "|":
        body_start += 1
    pipes = [m.start() for m in _CELL_PIPE.finditer(body, body_start)]
    bounds = [body_start - 1, *pipes]
    if not pipes or pipes[-1] != len(body) - 1:
        bounds.append(len(body))
    cells = []
    for left, right in pairwise(bounds):
        start, end = left + 1, right
        while start < end and line[start] in " \t":
            start += 1
        while end > start and line[end - 1] in " \t":
            end -= 1
        cells.append((start, end))
    return cells


def _find_spacing(content: str, cursor: int) -> int:
    """Return where the next space or line break is in ``content`` from ``cursor`` (-1: none)."""
    found = _SPACING.search(content, cursor)
    return -1 if found is None else found.start()


def _split_lines(text: str) -> list[str]:
    """Return text's lines with their breaks, as markdown-it counts lines (CR, LF, CRLF only)."""
    return [line for line in _LINE.findall(text) if line]


def _skip(content: str, markup: str, cursor: int) -> int:
    """Return the cursor past the next ``markup`` (unchanged when it is not found)."""
    if not markup:
        return cursor
    found = content.find(markup, cursor)
    return cursor if found == -1 else found + len(markup)


def _after_link(content: str, cursor: int, autolink: bool) -> int:
    """Return the cursor past a link's closing syntax: ``>``, ``](target)``, ``][label]``, ``]``."""
    if autolink:
        return _skip(content, ">", cursor)
    found = content.find("]", cursor)
    if found == -1:
        return cursor
    cursor = found + 1
    if content[cursor : cursor + 1] == "(":
        simple = _SIMPLE_TARGET.match(content, cursor)
        if simple is not None:
            return simple.end()
        depth = 0
        index = cursor
        while index < len(content):
            char = content[index]
            if char == "\\":
                index += 2
                continue
            depth += _PAREN_DEPTH.get(char, 0)
            index += 1
            if depth == 0:
                return index
        return cursor
    if content[cursor : cursor + 1] == "[":
        close = content.find("]", cursor)
        return cursor if close == -1 else close + 1
    return cursor


def _line_positions(text: str, starts: list[int], first: int, content: str) -> list[int]:
    """Return, for each character of a block's content, its position in the source.

    markdown-it's content is the block's lines, one per source line from ``first`` on,
    with container prefixes (indentation, ``>``) and the block's edge spacing removed:
    each content line is found at the end of its source line, else anywhere in it. The
    edge trim also drops leading lines of Unicode spacing (a no-break space is no blank
    line to markdown but is spacing to trim): those source lines are skipped.
    """
    positions: list[int] = []
    content_lines = content.split("\n")
    line_no = first
    for number, piece in enumerate(content_lines):
        if line_no + 1 >= len(starts):
            positions.extend([-1] * len(piece))
        else:
            begin, end = starts[line_no], starts[line_no + 1]
            source = text[begin:end].rstrip("\n").rstrip("\r")
            while number == 0 and piece and piece not in source and not source.strip():
                if line_no + 2 >= len(starts):
                    break
                line_no += 1
                begin, end = starts[line_no], starts[line_no + 1]
                source = text[begin:end].rstrip("\n").rstrip("\r")
            trimmed = source.rstrip()
            if source.endswith(piece):
                at = len(source) - len(piece)
            elif trimmed.endswith(piece):
                at = len(trimmed) - len(piece)
            else:
                at = source.find(piece)
            if at == -1:
                positions.extend(_greedy(source, piece, begin))
            else:
                positions.extend(range(begin + at, begin + at + len(piece)))
        if number + 1 < len(content_lines):
            positions.append(starts[line_no + 1] - 1 if line_no + 1 < len(starts) else -1)
        line_no += 1
    return positions


def _greedy(source: str, piece: str, begin: int) -> list[int]:
    """Match a content line to its source line character by character (tabs expanded)."""
    mapped: list[int] = []
    cursor = 0
    for char in piece:
        at = source.find(char, cursor)
        if at == -1:
            mapped.append(-1)
            continue
        mapped.append(begin + at)
        cursor = at + 1
    return mapped


def render_runs(
    runs: Sequence[Run],
    style: Styler,
    separator: Separator,
    *,
    headers: frozenset[str] = frozenset(),
    tables: bool = False,
    folds: frozenset[int] = frozenset(),
) -> str:
    """Return runs as formatted HTML: their markdown's blocks, each run's text in its style.

    ``style(index, text)`` gives the HTML of some of run ``index``'s text (``-1``: text of
    no run, e.g. a bullet); ``separator(a, b)`` what goes between two runs that touch.
    ``headers`` are the collapsed header rows of the section's tables; ``tables`` says
    that lines starting with a pipe are table rows even without a delimiter row; a row
    whose text is one of the ``folds`` runs stands for rows left out (``| ⋯ 2 rows |``).
    """
    if sum(run.text.count(char) for run in runs for char in _MARKUP_CHARS) > _MARKUP_BUDGET:
        return _plain(runs, style, separator)
    source = _Source(runs)
    return _Writer(source, runs, style, separator, headers, tables, folds).piece()


def _plain(runs: Sequence[Run], style: Styler, separator: Separator) -> str:
    """Return runs as their text, unparsed, in their styles (one pre-wrapped block)."""
    out = ['<div class="pd-plain">']
    previous = -1
    for index, run in enumerate(runs):
        if previous >= 0:
            out.append(separator(previous, index))
        out.append(style(index, run.text))
        previous = index
    out.append("</div>")
    return "".join(out)
