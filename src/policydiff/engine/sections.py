"""Cut a markdown policy into sections that tile the text exactly, at markdown-it's blocks."""

from __future__ import annotations

import importlib
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

from policydiff.core.diff_model import SectionKind
from policydiff.engine.blockscan import Block, scan_blocks, scan_tables
from policydiff.engine.normalize import normalize_text, split_label, title_key

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


class _QuietLogger:
    """Stands in for markdown-it's module logger inside the block rules of our parsers."""

    @staticmethod
    def debug(*_args: object) -> None:
        """Drop the message: every block rule logs each attempt at debug level."""


_QUIET = _QuietLogger()


def _quiet_rule(rule: Callable[..., bool]) -> Callable[..., bool]:
    """Return the same rule code with ``LOGGER`` bound to a logger that does nothing.

    Each block rule starts with ``LOGGER.debug(...)``, so every line costs several calls
    through logging's level check: 5-10% of the block parse time on the corpus.
    """
    if not isinstance(rule, types.FunctionType) or "LOGGER" not in rule.__globals__:
        return rule
    names = {**rule.__globals__, "LOGGER": _QUIET}
    return types.FunctionType(
        rule.__code__, names, rule.__name__, rule.__defaults__, rule.__closure__
    )


def _quieted(parser: MarkdownIt) -> MarkdownIt:
    """Give a parser's block rules the quiet logger (same rules, same options, same tokens)."""
    ruler = parser.block.ruler
    for rule in list(ruler.__rules__):
        quiet = _quiet_rule(rule.fn)
        if quiet is not rule.fn:
            ruler.at(rule.name, quiet, {"alt": list(rule.alt)})
    return parser


def _escaped_split(line: str) -> list[str]:
    """Split a table line at unescaped pipes, an escaped one read as a pipe (escapedSplit).

    Same result as markdown-it's character loop (a pipe after a backslash is escaped, the
    backslash dropped), at C speed: that loop took 0.3 us a character, 100 ms for the
    rows of one youtube table.
    """
    return [cell.replace("\\|", "|") for cell in _UNESCAPED_PIPE.split(line)]


def _fast_table_rule() -> Callable[..., bool] | None:
    """Return markdown-it's own table rule reading cells with _escaped_split, if it can."""
    module = importlib.import_module("markdown_it.rules_block.table")
    rule = getattr(module, "table", None)
    if not isinstance(rule, types.FunctionType) or not hasattr(module, "escapedSplit"):
        return None
    # The same code with one name bound differently, for this parser only.
    names = {**vars(module), "escapedSplit": _escaped_split}
    return types.FunctionType(
        rule.__code__, names, rule.__name__, rule.__defaults__, rule.__closure__
    )


class _Parsers(NamedTuple):
    """The markdown-it parsers sectioning uses, built on first need."""

    block: MarkdownIt
    block_lf: MarkdownIt
    inline: MarkdownIt
    table: MarkdownIt
    # markdown-it's table rule reading cells with _escaped_split (None if it cannot).
    fast_table: Callable[..., bool] | None


@cache
def _parsers() -> _Parsers:
    """Build the parsers: markdown-it is imported only for text the block scanner leaves to it.

    Most policies are read by blockscan alone, with plain heading titles: importing and
    configuring markdown-it would cost such a compare about 25 ms for nothing.
    """
    from markdown_it import MarkdownIt

    # Block structure only: inline parsing of every paragraph costs 2/3 of the parse time
    # and is needed just for heading titles and pseudo-heading candidates (parsed on demand).
    # Tables stay off (the commonmark preset's default): a table then parses as a
    # paragraph, which is all sectioning needs, and the table rule costs a quarter of the
    # parse time.
    block = _quieted(MarkdownIt("commonmark").disable(["inline", "text_join"]))
    # markdown-it's `normalize` rule only rewrites CR line breaks and NUL characters; text
    # without them skips that whole-text regex pass.
    block_lf = _quieted(MarkdownIt("commonmark").disable(["inline", "text_join", "normalize"]))
    # Tables are found on demand, only in the bodies of sections that changed (see
    # table_rows): turned on in the parsers above they cost a third more parse time on the
    # corpus and moved no section boundary there.
    table = MarkdownIt("commonmark").enable("table").disable(["inline", "text_join"])
    if (fast_table := _fast_table_rule()) is not None:
        table.block.ruler.at("table", fast_table, {"alt": ["paragraph", "reference"]})
    return _Parsers(block, block_lf, MarkdownIt("commonmark"), _quieted(table), fast_table)


_PARSER_NAMES = {
    "_BLOCK_PARSER": "block",
    "_BLOCK_PARSER_LF": "block_lf",
    "_INLINE_PARSER": "inline",
    "_TABLE_PARSER": "table",
    "_FAST_TABLE": "fast_table",
}


def __getattr__(name: str) -> object:
    """Give the parsers under their former module names (built on first access)."""
    if name in _PARSER_NAMES:
        return getattr(_parsers(), _PARSER_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# A line that could be a table's delimiter row (`|---|:-:|`, `--- | ---`): without one
# there is no table and no parse.
_DELIMITER_ROW = re.compile(
    r"^[ \t>]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$", re.MULTILINE
)

# markdown-it's own line splitting (its `normalize` core rule): line numbers in token
# maps count these, so offsets must be computed with the same rule.
_NEWLINE = re.compile(r"\r\n?|\n")

# A bold/italic paragraph is a heading only if it reads like one: short, one line, and
# not a sentence (tumblr and snapchat have whole bold or italic paragraphs of prose).
_PSEUDO_MAX_SOURCE = 200
_PSEUDO_MAX_TITLE = 120
_SENTENCE_END = (".", "!", "?", ";", ",")
# Heading titles longer than this are not inline-parsed (pathological inputs).
_INLINE_MAX = 2000
_EXCERPT_WORDS = 8
# Characters that can start inline markup; titles without them are plain text already.
_INLINE_MARKUP = re.compile(r"[*_`\[\]<>&\\!]")
# What makes commonmark's inline rules do more than keep text (besides backslash escapes):
# line breaks, code spans, emphasis, links and images (`[`), autolinks and HTML (`<`),
# and entities (markdown-it's DIGITAL_RE and NAMED_RE shapes; an unknown name is
# taken here too). A lone `!`, `]`, `>` or `&` stays text.
_ACTIVE_MARKUP = re.compile(
    r"[\n\r\0`*_\[<]|&(?:#(?:x[0-9a-f]{1,6}|[0-9]{1,7})|[a-z][a-z0-9]{1,31});", re.IGNORECASE
)
# One emphasis around a whole inline source: its inner part may hold escapes and links.
_WRAPPING_EMPHASIS = re.compile(r"(?P<mark>\*\*|__|\*|_)(?=\S)(?P<inner>.*[^\s\\])(?P=mark)")
# A run starting with one emphasis, then spacing and more (`**Last updated:** May 5`).
_LEADING_EMPHASIS = re.compile(
    r"(?P<mark>\*\*|__|\*|_)(?=\S)(?P<inner>.*?[^\s\\])(?P=mark)(?P<rest>\s.*)?"
)
# A link markdown-it's inline parser surely reads as one: not an image or after a
# backslash; text without brackets, line breaks or a last backslash; a target without
# spacing, parentheses, angle brackets, backslashes or control characters; at most a
# plain double-quoted title.
_SAFE_LINK = re.compile(
    r"(?<![\\!])\[(?P<label>(?:[^\[\]\n]*[^\[\]\n\\])?)\]"
    r"\((?P<target>[^\s()<>\\\x00-\x1f\x7f]*)(?: +\"[^\"\\\n]*\")? *\)"
)
# Schemes markdown-it's validateLink always accepts.
_WEB = re.compile(r"(?:https?|mailto):", re.IGNORECASE)
# A backslash escape: the character after a backslash (none at the very end).
_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)
# The characters a backslash escapes (markdown-it's rules_inline.escape._ESCAPED): an
# escape of any other character keeps its backslash.
_ESCAPABLE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


@dataclass(frozen=True, slots=True)
class Section:
    """One section: its heading identity and the exact slice of source text it owns."""

    kind: SectionKind
    # Plain-text heading titles from the top, numbering included; () for the preamble.
    path: tuple[str, ...]
    # Normalised, label-stripped title keys of the path, for matching across versions.
    key: tuple[str, ...]
    # Heading level: 1-6 for ATX/setext, nearest real level + 1 (bold) or + 2 (italic).
    level: int
    label: str | None
    # Own heading title as written, label stripped.
    title: str
    # Index of the enclosing section in the same list, None at the top.
    parent: int | None
    # Source slice: body = text[start:end]; the heading line(s) are text[start:content_start].
    start: int
    content_start: int
    body: str

    @property
    def end(self) -> int:
        """Offset just past the section's last character."""
        return self.start + len(self.body)

    @property
    def heading(self) -> str:
        """The heading line(s) as written (empty for the preamble and paragraph units)."""
        return self.body[: self.content_start - self.start]

    @property
    def content(self) -> str:
        """The body without its heading line(s)."""
        return self.body[self.content_start - self.start :]


@dataclass(frozen=True, slots=True)
class _Cut:
    """A place where a new section starts."""

    line: int
    content_line: int
    kind: SectionKind
    level: int
    plain: str
    real: bool


def _line_starts(text: str) -> list[int]:
    """Offsets of the first character of every line, as markdown-it numbers lines."""
    if "\r" in text:
        return [0, *(m.end() for m in _NEWLINE.finditer(text))]
    # Same result for LF-only text, computed at C speed (a 1 MB text has 20,000 lines).
    return list(accumulate(map((1).__add__, map(len, text.split("\n"))), initial=0))[:-1]


def _plain_text(children: list[Token] | None) -> str:
    """Concatenate the visible text of inline tokens (link and emphasis markup dropped)."""
    parts: list[str] = []
    for child in children or ():
        if child.type in {"text", "code_inline"}:
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
        elif child.type == "image":
            parts.append(_plain_text(child.children))
    return " ".join("".join(parts).split())


def _inline_title(content: str) -> str:
    """Plain text of a heading's inline source."""
    if len(content) > _INLINE_MAX or not _INLINE_MARKUP.search(content):
        # Nothing for the inline parser to strip (the usual heading), or too long to try.
        return " ".join(content.split())
    read = _read_without_parser(content)
    if read is not None:
        return " ".join(read[1].split())
    return _parsed_title(content)


def _unescaped(content: str) -> str | None:
    """Inline source with its backslash escapes resolved, or None if it holds other markup.

    Titles such as "Maintain & improve our services" or an escaped "1." read the same
    without markdown-it, which then need not be imported at all.
    """
    if "\\" not in content:
        return None if _ACTIVE_MARKUP.search(content) else content
    parts: list[str] = []
    last = 0
    for escape in _ESCAPE.finditer(content):
        if _ACTIVE_MARKUP.search(content, last, escape.start()):
            return None
        escaped = escape.group(1)
        if escaped == "\n":
            return None  # a hard line break
        parts.append(content[last : escape.start()])
        parts.append(escaped if escaped in _ESCAPABLE else escape.group(0))
        last = escape.end()
    if _ACTIVE_MARKUP.search(content, last):
        return None
    parts.append(content[last:])
    return "".join(parts)


def _linked_text(content: str, *, emphasis: bool = True) -> str | None:
    """Visible text of inline source holding only escapes and plain links, else None.

    Policies put links in headings (`[](#anchor)1. Scope`, `[**Scope**](#scope)`) and
    whole linked pseudo-headings; reading those here keeps markdown-it (about 50 ms of
    a compare process) unloaded for a third of the corpus. ``emphasis`` False: the runs
    between links must be plain (inside an emphasis around the whole source, one of
    theirs would be nested in it, or merge with its delimiters).
    """
    run_text = _run_text if emphasis else _unescaped
    parts: list[str] = []
    last = 0
    for link in _SAFE_LINK.finditer(content):
        before = run_text(content[last : link.start()])
        # Emphasis in a link's text is its own: a link starts a new delimiter scope.
        label_text = _run_text(link.group("label"))
        target = link.group("target")
        if before is None or label_text is None or (":" in target and not _WEB.match(target)):
            # A scheme markdown-it may refuse (javascript:, data:) leaves the link as text.
            return None
        parts += (before, label_text)
        last = link.end()
    rest = run_text(content[last:])
    if rest is None:
        return None
    parts.append(rest)
    return "".join(parts)


def _run_text(run: str) -> str | None:
    """Visible text of a run between links (or a link's text): plain, or starting with emphasis.

    An emphasis at the start of the run opens (before it: the start of the source or a
    link's bracket) and, with no other delimiter in the run, closes where spacing, the
    run's end or a link's bracket follows it (CommonMark 6.2's flanking rules).
    """
    leading = _LEADING_EMPHASIS.fullmatch(run)
    if leading is None:
        return _unescaped(run)
    inner = _unescaped(leading.group("inner"))
    rest = _unescaped(leading.group("rest") or "")
    return None if inner is None or rest is None else inner + rest


def _read_without_parser(content: str) -> tuple[str | None, str] | None:
    """(emphasis mark or None, visible text) of inline source read without markdown-it.

    The mark is set when one emphasis wraps the whole source; None: the source is not
    one this reader can be sure of, and markdown-it must read it.
    """
    wrapped = _WRAPPING_EMPHASIS.fullmatch(content)
    if wrapped is not None:
        # Delimiters at the very start and end of inline source always open and close
        # (CommonMark 6.2); inside, only plain text, escapes and links (their own scope).
        inner = _linked_text(wrapped.group("inner"), emphasis=False)
        return None if inner is None else (wrapped.group("mark"), inner)
    plain = _linked_text(content)
    return None if plain is None else (None, plain)


def _parsed_title(content: str) -> str:
    """Plain text of inline source as markdown-it's inline parser reads it."""
    tokens = _parsers().inline.parseInline(content)
    return _plain_text(tokens[0].children if tokens else None)


def _pseudo_candidate(content: str) -> bool:
    """Whether a paragraph may be a pseudo-heading: one short line with emphasis at both ends."""
    return (
        len(content) <= _PSEUDO_MAX_SOURCE
        and "\n" not in content
        and content[:1] in {"*", "_"}
        and content[-1:] in {"*", "_"}
    )


def _pseudo_heading(content: str) -> tuple[str, str] | None:
    """Return ("bold" | "italic", title) if a paragraph is only bold or only italic text."""
    if not _pseudo_candidate(content):
        return None
    read = _read_without_parser(content)
    if read is not None and read[0] is not None:
        # One emphasis around plain text, links and escapes (`**Title**`,
        # `_[Effective May 1](https://...)_`): nothing the inline parser is needed for.
        style = "bold" if len(read[0]) == 2 else "italic"
        return _checked_title(style, " ".join(read[1].split()))
    return _parsed_pseudo_heading(content)


def _parsed_pseudo_heading(content: str) -> tuple[str, str] | None:
    """``_pseudo_heading`` of a candidate, as markdown-it's inline parser reads it."""
    tokens = _parsers().inline.parseInline(content)
    # The inline parser leaves empty text tokens around the emphasis delimiters.
    children = [
        child
        for child in (tokens[0].children or [] if tokens else [])
        if child.type != "text" or child.content
    ]
    if not children or children[0].type not in {"strong_open", "em_open"}:
        return None
    depth = 0
    for index, child in enumerate(children):
        depth += child.nesting if child.type.endswith(("_open", "_close")) else 0
        if depth == 0 and index != len(children) - 1:
            # The emphasis closes before the paragraph ends: mixed text, not a heading.
            return None
    if depth != 0 or children[-1].type not in {"strong_close", "em_close"}:
        return None
    bold = children[0].type == "strong_open" or (
        len(children) > 2 and children[1].type == "strong_open"
    )
    return _checked_title("bold" if bold else "italic", _plain_text(children))


def _checked_title(style: str, title: str) -> tuple[str, str] | None:
    """Keep a pseudo-heading only if its text reads like a title, not a sentence."""
    if not title or len(title) > _PSEUDO_MAX_TITLE or title.endswith(_SENTENCE_END):
        return None
    return style, title


def _parsed_blocks(text: str) -> list[Block]:
    """Return the top-level blocks of text as markdown-it's block parser finds them."""
    parsers = _parsers()
    plain = "\r" not in text and "\0" not in text
    tokens = (parsers.block_lf if plain else parsers.block).parse(text)
    blocks: list[Block] = []
    for index, token in enumerate(tokens):
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        first, end = token.map
        if token.type == "heading_open":
            blocks.append(
                Block("heading", first, end, int(token.tag[1:]), tokens[index + 1].content)
            )
        elif token.type == "paragraph_open":
            blocks.append(Block("paragraph", first, end, 0, tokens[index + 1].content))
        else:
            blocks.append(Block("hr" if token.type == "hr" else "other", first, end))
    return blocks


def top_blocks(text: str) -> list[Block]:
    """Return text's top-level blocks: by the block scanner, by markdown-it where it gives up."""
    scanned = scan_blocks(text)
    return _parsed_blocks(text) if scanned is None else scanned


def _heading_cuts(blocks: list[Block]) -> list[_Cut]:
    """Find top-level headings and bold/italic pseudo-headings, with their levels."""
    cuts: list[_Cut] = []
    real_level = 0
    for block in blocks:
        if block.kind == "heading":
            real_level = block.level
            title = _inline_title(block.content)
            cuts.append(
                _Cut(block.first, block.end, SectionKind.HEADING, real_level, title, real=True)
            )
        elif block.kind == "paragraph":
            found = _pseudo_heading(block.content)
            if found is not None:
                style, title = found
                level = real_level + (1 if style == "bold" else 2)
                cuts.append(
                    _Cut(block.first, block.end, SectionKind.HEADING, level, title, real=False)
                )
    return cuts


def _paragraph_cuts(blocks: list[Block], text: str, starts: list[int]) -> list[_Cut]:
    """Cut a document without headings at its top-level blocks (rules stay with the block above)."""
    cuts: list[_Cut] = []
    for block in blocks:
        if block.kind == "hr":
            continue
        line = block.first
        source = text[_offset(starts, line, len(text)) : _offset(starts, block.end, len(text))]
        words = normalize_text(source[:400]).split()
        excerpt = " ".join(words[:_EXCERPT_WORDS])
        if len(words) > _EXCERPT_WORDS:
            excerpt += " \u2026"
        cuts.append(_Cut(line, line, SectionKind.PARAGRAPH, 1, excerpt, real=False))
    return cuts


def _offset(starts: list[int], line: int, length: int) -> int:
    """Character offset of a markdown-it line number (the text length past the last line)."""
    return starts[line] if line < len(starts) else length


def _block_start(text: str, position: int) -> int:
    """Return the start of the line after the last blank line before position (or 0)."""
    line = text.rfind("\n", 0, position) + 1
    while line > 0:
        previous = text.rfind("\n", 0, line - 1) + 1
        if not text[previous : line - 1].strip():
            return line
        line = previous
    return 0


def _block_end(text: str, position: int) -> int:
    """Return the end of the first blank line at or after position's line (or the end)."""
    line = text.rfind("\n", 0, position) + 1
    while line < len(text):
        end = text.find("\n", line)
        end = len(text) if end == -1 else end + 1
        if not text[line:end].strip():
            return end
        line = end
    return len(text)


def table_rows(text: str, start: int = 0, end: int | None = None) -> tuple[tuple[int, int], ...]:
    """Return the ``[start, end)`` offsets of every line of the markdown tables in text.

    Each span is one row (header, delimiter or body row) with its line break; spans come
    in text order. Tables are GFM pipe tables as markdown-it's table rule reads them.
    With ``start``/``end``, only the tables in the blocks (runs of lines between blank
    lines) overlapping ``text[start:end]`` are looked for: markdown-it's table rule costs
    about 0.2 ms per kilobyte of rows, so a long section is not parsed for a one-row edit.
    A table never holds a blank line, so a block holds whole tables; a block is parsed
    out of its context (a table inside a list item reads the same; a blank line inside a
    fenced code block can make its lines read as a table).
    """
    begin = _block_start(text, start) if start else 0
    finish = len(text) if end is None else _block_end(text, max(end, start))
    chunk = text[begin:finish]
    if "|" not in chunk:
        return ()
    # The pre-check reads lines as markdown-it does: CR and CRLF end lines too.
    lines = _NEWLINE.sub("\n", chunk) if "\r" in chunk else chunk
    if _DELIMITER_ROW.search(lines) is None:
        return ()
    starts = _line_starts(chunk)
    length = len(chunk)
    return tuple(
        (begin + _offset(starts, line, length), begin + _offset(starts, line + 1, length))
        for first, last in table_maps(chunk)
        for line in range(first, last)
    )


def table_maps(text: str) -> list[tuple[int, int]]:
    """Return the line maps of text's tables: by the block scanner, or markdown-it's parse."""
    scanned = scan_tables(text)
    return _parsed_tables(text) if scanned is None else scanned


def _parsed_tables(text: str) -> list[tuple[int, int]]:
    """Return the line maps of text's tables as markdown-it's table parser finds them."""
    return [
        (token.map[0], token.map[1])
        for token in _parsers().table.parse(text)
        if token.type == "table_open" and token.map is not None
    ]


def split_sections(text: str) -> tuple[Section, ...]:
    """Cut text into sections whose bodies, joined in order, give the text back exactly."""
    if not text:
        return ()
    return _split_once(text)


def clear_section_cache() -> None:
    """Forget the texts cut so far (see _split_once)."""
    _split_once.cache_clear()


@lru_cache(maxsize=8)
def _split_once(text: str) -> tuple[Section, ...]:
    """Cut a text once per process while it is among the last few cut.

    The changelog compares each version with the one before (which cuts both texts),
    then asks for the new text's title (which cut it again): a second parse of the
    same text, up to 800 KB of markdown, for nothing. Sections are immutable.
    """
    return _sections_from(text, top_blocks(text))


def _sections_from(text: str, blocks: list[Block]) -> tuple[Section, ...]:
    """Cut text into sections at its top-level blocks (headings, or else every block)."""
    starts = _line_starts(text)
    cuts = _heading_cuts(blocks)
    if not cuts:
        cuts = _paragraph_cuts(blocks, text, starts)
    length = len(text)
    sections: list[Section] = []
    first = _offset(starts, cuts[0].line, length) if cuts else length
    if first > 0:
        sections.append(
            Section(SectionKind.PREAMBLE, (), (), 0, None, "", None, 0, 0, text[:first]),
        )
    # (level, plain title, title key, index in sections) of the open headings.
    stack: list[tuple[int, str, str, int]] = []
    for index, cut in enumerate(cuts):
        start = _offset(starts, cut.line, length)
        end = _offset(starts, cuts[index + 1].line, length) if index + 1 < len(cuts) else length
        if end <= start:
            continue
        content_start = min(_offset(starts, cut.content_line, length), end)
        parent: int | None = None
        if cut.kind is SectionKind.PARAGRAPH:
            label, title = None, cut.plain
            path: tuple[str, ...] = (cut.plain,)
            keys: tuple[str, ...] = ()
        else:
            label, title = split_label(cut.plain)
            while stack and stack[-1][0] >= cut.level:
                stack.pop()
            parent = stack[-1][3] if stack else None
            stack.append((cut.level, cut.plain, title_key(title), len(sections)))
            path = tuple(entry[1] for entry in stack)
            keys = tuple(entry[2] for entry in stack)
        sections.append(
            Section(
                cut.kind,
                path,
                keys,
                cut.level,
                label,
                title,
                parent,
                start,
                content_start,
                text[start:end],
            )
        )
    return tuple(sections)
