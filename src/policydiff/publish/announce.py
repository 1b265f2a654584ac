"""Draft a policy-change announcement: the context that the announcement templates render.

The context says what changed section by section and quotes whole sentences of the
policy, never invents a reason or a date, and leaves marked ``[TODO: ...]`` places for
the maintainer. Rendering (Jinja2, sandboxed) and the e-mail message are built here too;
files, the store and the clock stay in the CLI.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
import textwrap
import time
import uuid
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    KeysView,
    Mapping,
    Sequence,
    Sized,
    ValuesView,
)
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum
from importlib import resources
from typing import TYPE_CHECKING, Any, NoReturn

from policydiff import __version__
from policydiff.core.config import plain_url
from policydiff.core.diff_model import (
    DocumentDiff,
    MovedBlock,
    Op,
    SectionDiff,
    SectionKind,
    SectionStatus,
    Segment,
)
from policydiff.core.errors import UsageError
from policydiff.core.limits import bounded
from policydiff.engine.normalize import describe_invisible
from policydiff.engine.report import PATH_SEPARATOR, CompareReport, Run, Side
from policydiff.engine.sections import split_sections

if TYPE_CHECKING:
    # E-mail and markdown-it load where they are used: the site loads this module for its
    # templates' sandbox and needs neither on a re-run with nothing new.
    from email.headerregistry import Address
    from email.message import EmailMessage

    from jinja2.sandbox import SandboxedEnvironment
    from markdown_it import MarkdownIt
    from markupsafe import Markup

SCHEMA = "policydiff.announce/1"
FORMATS = ("email", "text", "markdown", "html")
TEMPLATE_PACKAGE = "policydiff.publish"
TEMPLATE_DIR = "templates"

# Caps keep a notice readable; the pointer to the full diff covers the rest.
MAX_QUOTES_PER_SECTION = 3
MAX_QUOTES = 12
MAX_QUOTE_CHARS = 300
MAX_TITLE_CHARS = 150
# Plain-text bodies are hard-wrapped here (RFC 5322 asks for at most 78).
WRAP_WIDTH = 72

TODO_WHY = "[TODO: why did this change?]"
TODO_ACTIONS = "[TODO: what can readers do?]"
TODO_EFFECTIVE = "[TODO: when do these changes take effect?]"
TODO_READ_URL = "[TODO: where to read the full policy]"
TODO_DIFF_URL = "[TODO: link to the full list of changes, or remove this line]"
INTRODUCTION = "Introduction"
ELISION = "[\u2026]"
ARROW = "->"

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Characters that could smuggle a line break, a terminal escape or reordered text into a
# header, a terminal or a page: C0/C1 controls and the bidirectional overrides.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# --------------------------------------------------------------------------- values


class ChangeKind(Enum):
    """What happened to a section, as the notice words it."""

    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    MOVED = "moved"
    CHANGED = "changed"
    TEXT_MOVED = "text_moved"
    EDITORIAL = "editorial"


class QuoteKind(Enum):
    """Whether a quote shows new sentences, removed ones, or both sides of an edit."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Quote:
    """Whole sentences of the policy quoted for one change (``old``/``new`` per kind)."""

    kind: QuoteKind
    old: str | None
    new: str | None
    # For a changed quote: each side cut into (text, changed) runs, and the edits in
    # short ("full name" -> "username"), so a reader finds the change in a long sentence.
    old_parts: tuple[tuple[str, bool], ...] = ()
    new_parts: tuple[tuple[str, bool], ...] = ()
    edits: tuple[tuple[str, str], ...] = ()
    # Each side's markdown, for the HTML notice to show it formatted (see passage_html).
    old_passage: Passage | None = None
    new_passage: Passage | None = None


@dataclass(frozen=True, slots=True)
class Passage:
    """One side of a quote as markdown: whole sentences, the part quoted, the edit's words.

    ``shown`` is the ``[start, end)`` of ``text`` the quote keeps (a long one is cut
    around its changes); ``changed`` the spans of ``text`` the edit changed.
    """

    text: str
    shown: tuple[int, int]
    changed: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SectionChange:
    """One line of "what changed" and the quotes that back it."""

    kind: ChangeKind
    line: str
    # The section as shown ("What we collect > Websites"); the old name for renames.
    section: str
    old_section: str | None
    # Words of the section changed, besides a rename or a move.
    content_changed: bool
    words_inserted: int
    words_deleted: int
    quotes: tuple[Quote, ...] = ()
    more_quotes: int = 0


@dataclass(frozen=True, slots=True)
class Links:
    """Where readers can go, and who sends the notice (from the store's config)."""

    read_url: str | None = None
    diff_url: str | None = None
    list_name: str | None = None
    compare_command: str | None = None
    # Setting announce.footer: text at the end of every notice (may span lines).
    footer: str | None = None


@dataclass(frozen=True, slots=True)
class Effective:
    """What the new version says about when it takes effect.

    ``status``: ``stated`` (a date that differs from the old version's), ``unchanged``
    (the same date as before: the text was not updated), ``phrase`` (a date phrase that is
    not a full date) or ``not_stated``.
    """

    status: str
    on: date | None
    phrase: str | None
    previous: date | None
    text: str


@dataclass(frozen=True, slots=True)
class Announcement:
    """Everything a template needs (``as_context`` gives the documented dict)."""

    policy: str | None
    title: str
    subject: str
    old: Side
    new: Side
    effective: Effective
    links: Links
    changes: tuple[SectionChange, ...]
    editorial: tuple[str, ...]
    # Words changed or a section was renamed (see has_news): not an editorial-only notice.
    substantive: bool
    quotes_omitted: int
    generator: str = f"policydiff {__version__}"

    def as_context(self) -> dict[str, Any]:
        """Return the template context and JSON document (see docs/templates.md)."""
        counts = {kind.value: 0 for kind in ChangeKind}
        for change in self.changes:
            counts[change.kind.value] += 1
        # Editorial sections are listed apart when the notice has substantive changes.
        counts["editorial"] = len(self.editorial)
        counts["quotes"] = sum(len(change.quotes) for change in self.changes)
        counts["quotes_omitted"] = self.quotes_omitted
        return {
            "schema": SCHEMA,
            "policy": self.policy,
            "title": self.title,
            "subject": self.subject,
            "old": _side_context(self.old),
            "new": _side_context(self.new),
            "effective": {
                "status": self.effective.status,
                "date": _iso(self.effective.on),
                "display": _display_day(self.effective.on),
                "phrase": self.effective.phrase,
                "previous": _iso(self.effective.previous),
                "text": self.effective.text,
            },
            "read_url": self.links.read_url,
            "diff_url": self.links.diff_url,
            "compare_command": self.links.compare_command,
            "list_name": self.links.list_name,
            "footer": self.links.footer,
            "substantive": self.substantive,
            "changes": [_change_context(change) for change in self.changes],
            "editorial": list(self.editorial),
            "counts": counts,
            "todo": {
                "why": TODO_WHY,
                "actions": TODO_ACTIONS,
                "effective": TODO_EFFECTIVE,
                "read_url": TODO_READ_URL,
                "diff_url": _todo_diff_url(self.links.compare_command),
            },
            "generator": self.generator,
        }


def _todo_diff_url(compare_command: str | None) -> str:
    """Return the placeholder for the diff link, saying how to make one."""
    if compare_command is None:
        return TODO_DIFF_URL
    return (
        f"[TODO: link to the full list of changes ('{compare_command} --format html' "
        "makes a page to publish), or remove this line]"
    )


def _side_context(side: Side) -> dict[str, Any]:
    """Return one side as the template sees it."""
    captured = side.captured_at.date() if side.captured_at is not None else None
    return {
        "label": side.label,
        "version": side.version,
        "captured": _iso(captured),
        "captured_display": _display_day(captured),
        "effective": _iso(side.effective_date),
        "effective_display": _display_day(side.effective_date),
        "origin": side.origin,
        "sha256": side.sha256,
        "provenance": _provenance(side),
        "known_as": _known_as(side.effective_date, captured),
    }


def _known_as(effective: date | None, captured: date | None) -> str | None:
    """Name a version as subscribers know it: by the date it was valid from, then archived.

    "the policy valid from 8 February 2016 (archived 22 April 2017)"; None with no date.
    """
    if effective is not None:
        named = f"the policy valid from {display_day(effective)}"
        if captured is not None and captured != effective:
            named += f" (archived {display_day(captured)})"
        return named
    if captured is not None:
        return f"the version archived {display_day(captured)}"
    return None


def _provenance(side: Side) -> str | None:
    """Return one line naming a stored version, its dates, source and hash; None for a file."""
    if side.version is None:
        return None
    parts = [f"version {side.version}"]
    if side.effective_date is not None:
        parts.append(f"valid from {_display_day(side.effective_date)}")
    if side.captured_at is not None:
        parts.append(f"archived {_display_day(side.captured_at.date())}")
    if side.origin:
        parts.append(f"from {side.origin}")
    parts.append(f"SHA-256 {side.sha256[:16]}")
    return ", ".join(parts)


def _change_context(change: SectionChange) -> dict[str, Any]:
    """Return one change as the template sees it."""
    return {
        "kind": change.kind.value,
        "line": change.line,
        "label": change.line.partition(": ")[0],
        "what": change.line.partition(": ")[2],
        "section": change.section,
        "old_section": change.old_section,
        "content_changed": change.content_changed,
        "words_inserted": change.words_inserted,
        "words_deleted": change.words_deleted,
        "quotes": [_quote_context(quote) for quote in change.quotes],
        "more_quotes": change.more_quotes,
    }


def _quote_context(quote: Quote) -> dict[str, Any]:
    """Return one quote as the template sees it (marked runs and edits for a changed one)."""
    return {
        "kind": quote.kind.value,
        "old": quote.old,
        "new": quote.new,
        "old_marked": [{"text": text, "changed": changed} for text, changed in quote.old_parts],
        "new_marked": [{"text": text, "changed": changed} for text, changed in quote.new_parts],
        "edits": [{"old": old, "new": new} for old, new in quote.edits],
        "in_short": _in_short(quote),
        "old_html": passage_html(quote.old_passage, "del"),
        "new_html": passage_html(quote.new_passage, "ins"),
    }


# A Before/Now pair this long gets a line saying its edits in short (plain-text formats).
IN_SHORT_AFTER = 80
MAX_IN_SHORT_CHARS = 160
EDIT_ARROW = "\u2192"


def _in_short(quote: Quote) -> str | None:
    """Return "full name \u2192 username" for a long changed quote with a few short edits."""
    if quote.kind is not QuoteKind.CHANGED or not quote.edits:
        return None
    if max(len(quote.old or ""), len(quote.new or "")) < IN_SHORT_AFTER:
        return None
    said: list[str] = []
    for old_words, new_words in quote.edits:
        # ", and never post ..." reads as an addition without its joining comma.
        old, new = old_words.strip(" ,;"), new_words.strip(" ,;")
        if old and new:
            said.append(f"{old} {EDIT_ARROW} {new}")
        elif new:
            said.append(f"added \u201c{new}\u201d")
        else:
            said.append(f"removed \u201c{old}\u201d")
    line = "; ".join(said)
    return line if len(line) <= MAX_IN_SHORT_CHARS else None


def _iso(value: date | None) -> str | None:
    """Return an ISO date or None."""
    return None if value is None else value.isoformat()


def display_day(value: date) -> str:
    """Return a date as ``1 May 2024``: unambiguous in every locale."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def _display_day(value: date | None) -> str | None:
    """Return ``display_day`` of a date, or None."""
    return None if value is None else display_day(value)


# --------------------------------------------------------------------------- safe text


def one_line(text: str, *, limit: int = MAX_TITLE_CHARS) -> str:
    r"""Return text as one clean line: controls dropped, all whitespace collapsed, capped.

    Every value bound for a header goes through here, so a title holding ``\\r\\nBcc:``
    stays inside its header.
    """
    line = " ".join(_UNSAFE.sub(" ", text).split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "\u2026"
    return line


def safe_url(url: str | None) -> str | None:
    """Return ``url`` if it is a plain http(s) URL, else None (never a script or a header)."""
    # The same rule 'config set' checks announce.url and announce.diff_url with.
    return None if url is None else plain_url(url)


def check_url(url: str | None, what: str) -> str | None:
    """Return a configured URL, or raise ``UsageError`` if it is not a plain http(s) URL."""
    if url is None or not url.strip():
        return None
    checked = safe_url(url)
    if checked is None:
        raise UsageError(f"{what} must be an http:// or https:// URL without spaces: {url[:80]!r}")
    return checked


# --------------------------------------------------------------------------- sentences

# Markdown markers that start a line: list items and block quotes.
_LINE_MARKER = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:(?:[*+-]|\d{1,9}[.)])[ \t]+)?", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[*+-]|\d{1,9}[.)])[ \t]+", re.MULTILINE)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Inline links ``[text](target)``: a sentence never ends inside one.
_LINK = re.compile(
    r"!?\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]"  # [text], one level of [brackets] inside
    r"\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"\n]*\")?\)"  # (target "title")
)
# What is left of a link cut by a quote's edge: "Data controller](#data-controller)".
_LINK_TAIL = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*(?:\)|$)")
# A table line: a row starting with "|", or a delimiter row ("---|:--:").
_TABLE_LINE = re.compile(
    r"^[ \t]*\|.*$"  # | a | b |
    r"|^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$"  # ---|:--:
)
_SETEXT = re.compile(r"[ \t]{0,3}(?:=+|-+)[ \t]*\n?")
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]*_]*(?=\s)")
# A sentence ends only if the next one starts like one (a capital, a digit, a quote).
_NEXT_START = re.compile(r"\s+[\"'\u201c\u2018(\[*_]*[A-Z0-9\u00c0-\u00de]")
_ABBREVIATIONS = frozenset(
    {
        *("e.g.", "i.e.", "cf.", "vs.", "approx.", "incl.", "no.", "nr.", "art.", "sec."),
        *("para.", "mr.", "mrs.", "ms.", "dr.", "st.", "inc.", "ltd.", "co.", "corp."),
        *("u.s.", "u.k.", "e.u.", "fig.", "p.", "pp."),
    }
)


@functools.cache
def _inline_parser() -> MarkdownIt:
    """Return the parser of a passage's inline markdown."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


@dataclass(frozen=True, slots=True)
class _Sentence:
    """A sentence of a section body: ``[start, end)`` holds its words, no edge spaces."""

    start: int
    end: int
    unit: int


def heading_end(section_text: str, kind: SectionKind) -> int:
    """Return where a section body's heading line (and setext underline) ends."""
    if kind is not SectionKind.HEADING:
        return 0
    first = section_text.find("\n")
    if first == -1:
        return len(section_text)
    underline = _SETEXT.match(section_text, first + 1)
    if underline is not None and underline.end() > first + 1:
        return underline.end()
    return first + 1


def _units(text: str, start: int) -> list[tuple[int, int]]:
    """Cut ``text[start:]`` into paragraphs and list items (quotes never join two)."""
    cuts = {start, len(text)}
    cuts.update(m.end() for m in _BLANK_LINE.finditer(text, start))
    cuts.update(m.start() for m in _LIST_ITEM.finditer(text, start))
    points = sorted(c for c in cuts if c >= start)
    return [
        (a, b)
        for a, b in itertools.pairwise(points)
        if text[a:b].strip() and not _is_table(text[a:b])
    ]


def _is_table(unit: str) -> bool:
    """Whether a paragraph is a table: flattened into one line, it would quote as debris."""
    lines = [line for line in unit.splitlines() if line.strip()]
    if not lines or not all("|" in line for line in lines):
        return False
    return any(_TABLE_LINE.fullmatch(line) for line in lines)


def _table_words(text: str) -> str:
    """Return a table's cell texts, in reading order, without pipes or delimiter rows."""
    cells = (
        cell.strip()
        for line in text.splitlines()
        if line.strip() and not _DELIMITER_ROW.fullmatch(line)
        for cell in line.strip().strip("|").split("|")
    )
    return " ".join(cell for cell in cells if cell)


_DELIMITER_ROW = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")


def _is_abbreviation(text: str, unit_start: int, stop: int) -> bool:
    """Whether the word ending at ``stop`` (a full stop) is an abbreviation or an initial."""
    word = text[unit_start:stop].rsplit(None, 1)[-1].lstrip("(\"'\u201c\u2018").lower()
    return word in _ABBREVIATIONS or (len(word) == 2 and word[0].isalpha())


def split_sentences(text: str, start: int = 0) -> list[tuple[int, int]]:
    """Return the ``[start, end)`` spans of the sentences in ``text[start:]``.

    Paragraphs and list items always end a sentence; inside them a sentence ends at
    ``.``, ``!`` or ``?`` (with closing quotes or emphasis) before what starts like a new
    sentence, except after common abbreviations ("e.g.", "Inc.") and initials.
    """
    return [(s.start, s.end) for s in _sentences(text, start)]


def _sentences(text: str, start: int) -> list[_Sentence]:
    """Sentences of ``text[start:]`` with the unit (paragraph or item) each belongs to."""
    found: list[_Sentence] = []
    for number, (unit_start, unit_end) in enumerate(_units(text, start)):
        begin = unit_start
        links = [m.span() for m in _LINK.finditer(text, unit_start, unit_end)]
        for match in _SENTENCE_END.finditer(text, unit_start, unit_end):
            if _NEXT_START.match(text, match.end(), unit_end) is None:
                continue
            if any(lo < match.start() < hi for lo, hi in links):
                continue  # "[Art. 4. Data controller](#data-controller)" is one link
            if text[match.start()] == "." and _is_abbreviation(text, begin, match.start() + 1):
                continue
            found.append(_trimmed(text, begin, match.end(), number))
            begin = match.end()
        if text[begin:unit_end].strip():
            found.append(_trimmed(text, begin, unit_end, number))
    return [s for s in found if s.end > s.start]


def _trimmed(text: str, start: int, end: int, unit: int) -> _Sentence:
    """Return the span without its edge whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return _Sentence(start, end, unit)


def _without_link_debris(source: str) -> str:
    """Drop the halves of links a quote's edges cut ("Data controller](#data-controller)").

    Whole links are left to the markdown parser (it keeps their words); run marks in a
    dropped target are kept (see ``_marked_clip``).
    """
    if "[" not in source and "](" not in source:
        return source
    pieces: list[str] = []
    at = 0
    whole = [m.span() for m in _LINK.finditer(source)]
    for lo, hi in [*whole, (len(source), len(source))]:
        between = _LINK_TAIL.sub(lambda m: "".join(_RUN_MARKS.findall(m.group())), source[at:lo])
        pieces += [between, source[lo:hi]]
        at = hi
    return "".join(pieces)


def plain_text(markdown: str) -> str:
    """Return inline markdown as plain words: markers, emphasis and link targets dropped."""
    # Keep a cut link's words, not its target (the run marks inside stay: _marked_clip).
    source = _without_link_debris(_LINE_MARKER.sub("", markdown))
    parts: list[str] = []
    for token in _inline_parser().parseInline(source):
        for child in token.children or ():
            if child.type in {"text", "code_inline", "image"}:
                parts.append(child.content)
            elif child.type in {"softbreak", "hardbreak"}:
                parts.append(" ")
    return " ".join(_UNSAFE.sub(" ", "".join(parts)).split())


def _clip(text: str, start: int, end: int, focus: tuple[int, int] | None) -> str:
    """Return plain text of ``text[start:end]``, at most MAX_QUOTE_CHARS long.

    A longer quote keeps a window around ``focus`` (the changed words), cut at spaces and
    marked with "[...]" where text was left out.
    """
    left, right = _window(text, start, end, focus)
    if (left, right) == (start, end):
        return plain_text(text[start:end])
    budget = MAX_QUOTE_CHARS - 2 * (len(ELISION) + 1)
    shown = plain_text(text[left:right])
    if len(shown) > budget:
        shown = shown[:budget].rsplit(" ", 1)[0]
    prefix = f"{ELISION} " if left > start else ""
    suffix = f" {ELISION}" if right < end else ""
    return prefix + shown + suffix


def _window(text: str, start: int, end: int, focus: tuple[int, int] | None) -> tuple[int, int]:
    """Return the ``[left, right)`` of ``text[start:end]`` a quote keeps (see ``_clip``)."""
    # Run marks (see ``_marked_clip``) take no room in the quote.
    if len(_RUN_MARKS.sub("", plain_text(text[start:end]))) <= MAX_QUOTE_CHARS:
        return start, end
    budget = MAX_QUOTE_CHARS - 2 * (len(ELISION) + 1)
    first, last = focus if focus is not None else (start, start)
    first, last = max(start, min(first, end)), max(start, min(last, end))
    room = max(0, budget - (last - first))
    left = max(start, first - room // 3)
    right = min(end, max(last, left + budget))
    if right - left > budget:
        right = left + budget
    # Snap inwards to spaces so that no word is cut in half.
    if left > start:
        space = text.find(" ", left, right)
        left = space + 1 if space != -1 else left
    if right < end:
        space = text.rfind(" ", left, right)
        right = space if space > left else right
        # A link cut at the right would leave its "[": end the quote before the link.
        for lo, hi in (m.span() for m in _LINK.finditer(text, start, end)):
            if lo < right < hi and lo > left:
                right = lo
    return left, right


# Private-use characters bracketing changed runs while a quote is made plain text; they
# never reach a notice (policy text holding them is cleaned first, see ``_marked_clip``).
_RUN_START = "\ue000"
_RUN_END = "\ue001"
_RUN_MARKS = re.compile(f"[{_RUN_START}{_RUN_END}]")
_RUN_EDGES = " \t\n,;:"


def _marked_clip(
    text: str, start: int, end: int, focus: tuple[int, int] | None, runs: list[tuple[int, int]]
) -> tuple[str, tuple[tuple[str, bool], ...], Passage]:
    """Return ``_clip`` of a quote, the same words cut into (text, changed) runs, its source."""
    cuts: list[tuple[int, str]] = []
    for run_lo, run_hi in runs:
        lo, hi = max(run_lo, start), min(run_hi, end)
        if hi > lo:
            cuts += [(lo, _RUN_START), (hi, _RUN_END)]
    cuts.sort(key=lambda cut: (cut[0], cut[1] == _RUN_START))
    pieces: list[str] = []
    at = 0
    for offset, mark in cuts:
        pieces.append(_RUN_MARKS.sub(" ", text[at:offset]))
        pieces.append(mark)
        at = offset
    pieces.append(_RUN_MARKS.sub(" ", text[at:]))
    marked = "".join(pieces)

    def moved(point: int, *, inclusive: bool = False) -> int:
        """Where ``point`` of ``text`` is in ``marked`` (after the marks at it, if inclusive)."""
        return point + sum(1 for o, _ in cuts if o < point or (inclusive and o == point))

    shifted = None if focus is None else (moved(focus[0]), moved(focus[1], inclusive=True))
    marked_start, marked_end = moved(start), moved(end, inclusive=True)
    clipped = _clip(marked, marked_start, marked_end, shifted)
    left, right = _window(marked, marked_start, marked_end, shifted)
    passage = Passage(
        text[start:end],
        (_unmarked(marked, left) - start, _unmarked(marked, right) - start),
        tuple(
            (max(lo, start) - start, min(hi, end) - start)
            for lo, hi in runs
            if min(hi, end) > max(lo, start)
        ),
    )
    return _RUN_MARKS.sub("", clipped), _runs_of(clipped), passage


def _unmarked(marked: str, point: int) -> int:
    """Return where ``point`` of text holding run marks is in the text without them."""
    return point - len(_RUN_MARKS.findall(marked, 0, point))


def _runs_of(marked: str) -> tuple[tuple[str, bool], ...]:
    """Cut text holding run marks into (text, changed) runs, spaces kept out of changed ones."""
    runs: list[tuple[str, bool]] = []
    first = _RUN_MARKS.search(marked)
    changed = first is not None and first.group() == _RUN_END
    for piece in re.split(f"([{_RUN_START}{_RUN_END}])", marked):
        if piece in (_RUN_START, _RUN_END):
            changed = piece == _RUN_START
            continue
        if not piece:
            continue
        if changed and piece.strip(_RUN_EDGES):
            # Joining commas stay outside a marked run: "areas, **and never post**"
            # renders as bold where "areas**, and never post**" would not.
            lead = piece[: len(piece) - len(piece.lstrip(_RUN_EDGES))]
            tail = piece[len(piece.rstrip(_RUN_EDGES)) :]
            runs += [(lead, False), (piece.strip(_RUN_EDGES), True), (tail, False)]
        else:
            runs.append((piece, False))
    joined: list[tuple[str, bool]] = []
    for piece, flag in runs:
        if not piece:
            continue
        if joined and joined[-1][1] == flag:
            joined[-1] = (joined[-1][0] + piece, flag)
        else:
            joined.append((piece, flag))
    return tuple(joined)


# Empty inline elements left where a cut quote's hidden words were (a link cut off).
_EMPTY_INLINE = re.compile(r"<(strong|em|s|code)>\s*</\1>|<a [^>]*>\s*</a>")
# What a formatted quote must be: one paragraph (its content is the quote's HTML).
_PARAGRAPH = re.compile(r"<p>((?:(?!</?p>).)*)</p>", re.DOTALL)


def passage_html(passage: Passage | None, tag: str) -> Markup | None:
    """Return a quoted side as inline HTML: its formatting shown, the edit's words in ``tag``.

    The sentences are laid out by the compare report's renderer (render.mdhtml): bold,
    italic, code and links (``http``, ``https`` and ``mailto`` only) are elements, markup
    is never shown, everything else is escaped. List markers and line breaks are dropped
    as in the plain quote, so the quote is one line; a long quote parses its whole
    sentences and shows only the words it keeps, so a cut never leaves a mark unpaired.
    """
    if passage is None:
        return None
    from markupsafe import Markup

    from policydiff.publish.render.html import escape
    from policydiff.publish.render.mdhtml import render_runs

    text = passage.text
    changed = [False] * len(text)
    for lo, hi in passage.changed:
        changed[lo:hi] = [True] * (hi - lo)
    shown_lo, shown_hi = passage.shown
    kept = [True] * len(text)
    for match in _LINE_MARKER.finditer(text):
        kept[match.start() : match.end()] = [False] * (match.end() - match.start())
    chars = [
        (" " if char in "\r\n" else char, changed[at], shown_lo <= at < shown_hi)
        for at, char in enumerate(text)
        if kept[at]
    ]
    _unmark_edges(chars)
    runs: list[Run] = []
    shown: list[bool] = []
    for (flag, visible), group in itertools.groupby(chars, key=lambda c: (c[1], c[2])):
        runs.append(Run(Op.INSERT if flag else Op.EQUAL, "".join(c[0] for c in group)))
        shown.append(visible)

    def style(index: int, words: str) -> str:
        if index < 0:
            return escape(words)
        run, visible = runs[index], shown[index]
        if not visible:
            return ""
        return f"<{tag}>{escape(words)}</{tag}>" if run.op is Op.INSERT else escape(words)

    def no_separator(_before: int, _after: int) -> str:
        return ""  # one side of a quote: a deletion never meets an insertion

    found = _PARAGRAPH.fullmatch(render_runs(runs, style, no_separator))
    if found is None and runs:
        # A line that parses as a block (``# ``, ``***``, a fence): its first mark escaped.
        runs.insert(0, Run(Op.EQUAL, "\\"))
        shown.insert(0, False)
        found = _PARAGRAPH.fullmatch(render_runs(runs, style, no_separator))
    if found is not None:
        body = found.group(1)
        while (emptied := _EMPTY_INLINE.sub("", body)) != body:
            body = emptied
    else:
        body = "".join(style(index, run.text) for index, run in enumerate(runs))
    body = " ".join(body.split())
    prefix = f"{ELISION} " if shown_lo > 0 and text[:shown_lo].strip() else ""
    suffix = f" {ELISION}" if shown_hi < len(text) and text[shown_hi:].strip() else ""
    return Markup(escape(prefix) + body + escape(suffix))  # noqa: S704 - built escaped


def _unmark_edges(chars: list[tuple[str, bool, bool]]) -> None:
    """Leave spaces and joining commas at a changed stretch's edges unmarked (as ``_runs_of``)."""
    index = 0
    while index < len(chars):
        if not chars[index][1]:
            index += 1
            continue
        end = index
        while end < len(chars) and chars[end][1]:
            end += 1
        lo, hi = index, end
        while lo < hi and chars[lo][0] in _RUN_EDGES:
            lo += 1
        while hi > lo and chars[hi - 1][0] in _RUN_EDGES:
            hi -= 1
        for at in (*range(index, lo), *range(hi, end)):
            chars[at] = (chars[at][0], False, chars[at][2])
        index = end


# --------------------------------------------------------------------------- quotes


@dataclass(slots=True)
class _Group:
    """Changes that touch the same sentences: old and new sentence index ranges, focus."""

    old: set[int]
    new: set[int]
    old_focus: list[tuple[int, int]]
    new_focus: list[tuple[int, int]]
    # Each changed run as (old_lo, old_hi, new_lo, new_hi): the edits said in short.
    edits: list[tuple[int, int, int, int]] = field(default_factory=list)


def _touched(sentences: list[_Sentence], lo: int, hi: int) -> set[int]:
    """Return the sentences a change ``[lo, hi)`` touches (a point: strictly inside one)."""
    if lo == hi:
        return {i for i, s in enumerate(sentences) if s.start < lo < s.end}
    return {i for i, s in enumerate(sentences) if s.start < hi and lo < s.end}


def _hunks(section: SectionDiff) -> list[tuple[int, int, int, int]]:
    """Return changed runs as ``(old_lo, old_hi, new_lo, new_hi)`` body offsets.

    Cosmetic runs and text moved to or from another section are left out: the first are
    not changes of wording, the second are reported as moves.
    """
    hunks: list[tuple[int, int, int, int]] = []
    old_at = new_at = 0
    open_hunk: list[int] | None = None
    for segment in section.segments:
        size = len(segment.text)
        counts = segment.op is not Op.EQUAL and not segment.cosmetic and segment.move_id is None
        if not counts:
            if open_hunk is not None and segment.op is Op.EQUAL:
                hunks.append((open_hunk[0], open_hunk[1], open_hunk[2], open_hunk[3]))
                open_hunk = None
        else:
            if open_hunk is None:
                open_hunk = [old_at, old_at, new_at, new_at]
            if segment.op is Op.DELETE:
                open_hunk[1] = old_at + size
            else:
                open_hunk[3] = new_at + size
        if segment.op is not Op.INSERT:
            old_at += size
        if segment.op is not Op.DELETE:
            new_at += size
    if open_hunk is not None:
        hunks.append((open_hunk[0], open_hunk[1], open_hunk[2], open_hunk[3]))
    return hunks


# How far a change may slide; a new sentence rarely shares more with its neighbour.
_MAX_SLIDE = 200


def _slide(text: str, lo: int, hi: int, point: int, other: list[_Sentence]) -> tuple[int, int, int]:
    """Slide a pure insertion (or deletion) to where it sits between sentences, if it can.

    ``text[lo:hi]`` was inserted at ``point`` of the other side. A word diff may place a
    new sentence after the first word of the next one ("We [share them. We] never sell"):
    the same edit shifted by a few characters reads "[We share them.] We never sell",
    which touches no old sentence and is quoted as an addition.
    """
    if not _touched(other, point, point):
        return lo, hi, point
    # The run can move left by k while the k characters before it equal its last k.
    left = 0
    while left < _MAX_SLIDE and lo - left > 0 and text[lo - left - 1] == text[hi - left - 1]:
        left += 1
    right = 0
    while right < _MAX_SLIDE and hi + right < len(text) and text[lo + right] == text[hi + right]:
        right += 1
    for shift in range(1, max(left, right) + 1):
        for step in (-shift, shift):
            if -left <= step <= right and not _touched(other, point + step, point + step):
                return lo + step, hi + step, point + step
    return lo, hi, point


def _groups(
    section: SectionDiff, old_sentences: list[_Sentence], new_sentences: list[_Sentence]
) -> list[_Group]:
    """Group the changed runs of a section by the sentences they touch."""
    groups: list[_Group] = []
    old_text, new_text = section.old_text, section.new_text
    for hunk in _hunks(section):
        old_lo, old_hi, new_lo, new_hi = hunk
        if old_lo == old_hi:
            new_lo, new_hi, old_lo = _slide(new_text, new_lo, new_hi, old_lo, old_sentences)
            old_hi = old_lo
        elif new_lo == new_hi:
            old_lo, old_hi, new_lo = _slide(old_text, old_lo, old_hi, new_lo, new_sentences)
            new_hi = new_lo
        old = _touched(old_sentences, old_lo, old_hi)
        new = _touched(new_sentences, new_lo, new_hi)
        if not old and not new:
            continue  # heading or layout only
        last = groups[-1] if groups else None
        if last is not None and (last.old & old or last.new & new):
            last.old |= old
            last.new |= new
        else:
            last = _Group(old, new, [], [])
            groups.append(last)
        last.edits.append((old_lo, old_hi, new_lo, new_hi))
        # A pure insertion's place on the old side (and a deletion's on the new) is the
        # focus too, so that a long Before quote shows where the words went in.
        if old_hi > old_lo or old:
            last.old_focus.append((old_lo, old_hi))
        if new_hi > new_lo or new:
            last.new_focus.append((new_lo, new_hi))
    return groups


def _span(sentences: list[_Sentence], indices: set[int]) -> tuple[int, int]:
    """Return the text span from the first to the last of the given sentences."""
    return sentences[min(indices)].start, sentences[max(indices)].end


def _focus(spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    """Return the span covering all changed runs on one side, if any."""
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


def _chunks(
    text: str, sentences: list[_Sentence], indices: Iterable[int], kind: QuoteKind
) -> list[Quote]:
    """Quote added or removed sentences, joining neighbours of one paragraph up to the cap."""
    quotes: list[Quote] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            start, end = sentences[run[0]].start, sentences[run[-1]].end
            quote = _clip(text, start, end, None)
            if quote:
                left, right = _window(text, start, end, None)
                passage = Passage(text[start:end], (left - start, right - start))
                if kind is QuoteKind.ADDED:
                    quotes.append(Quote(kind, None, quote, new_passage=passage))
                else:
                    quotes.append(Quote(kind, quote, None, old_passage=passage))
            run.clear()

    for index in sorted(indices):
        if run:
            previous = sentences[run[-1]]
            joined = len(plain_text(text[sentences[run[0]].start : sentences[index].end]))
            adjacent = index == run[-1] + 1 and sentences[index].unit == previous.unit
            if not adjacent or joined > MAX_QUOTE_CHARS:
                flush()
        run.append(index)
    flush()
    return quotes


def section_quotes(section: SectionDiff) -> list[Quote]:
    """Quote the whole sentences a section's wording changes touch, in document order."""
    old_text, new_text = section.old_text, section.new_text
    old_sentences = (
        _sentences(old_text, heading_end(old_text, section.kind))
        if section.old_index is not None
        else []
    )
    new_sentences = (
        _sentences(new_text, heading_end(new_text, section.kind))
        if section.new_index is not None
        else []
    )
    quotes: list[Quote] = []
    for group in _groups(section, old_sentences, new_sentences):
        if group.old and group.new:
            old_start, old_end = _span(old_sentences, group.old)
            new_start, new_end = _span(new_sentences, group.new)
            before, old_parts, old_passage = _marked_clip(
                old_text, old_start, old_end, _focus(group.old_focus), group.old_focus
            )
            after, new_parts, new_passage = _marked_clip(
                new_text, new_start, new_end, _focus(group.new_focus), group.new_focus
            )
            # Quotes that differ only by invisible characters would read the same.
            if before != after and describe_invisible(before, after) is None:
                edits = tuple(
                    (plain_text(old_text[a:b]), plain_text(new_text[c:d]))
                    for a, b, c, d in group.edits
                    if plain_text(old_text[a:b]) or plain_text(new_text[c:d])
                )
                quotes.append(
                    Quote(
                        QuoteKind.CHANGED,
                        before,
                        after,
                        old_parts,
                        new_parts,
                        edits,
                        old_passage,
                        new_passage,
                    )
                )
        elif group.new:
            quotes += _chunks(new_text, new_sentences, group.new, QuoteKind.ADDED)
        else:
            quotes += _chunks(old_text, old_sentences, group.old, QuoteKind.REMOVED)
    return quotes


def _allot(wanted: Sequence[int]) -> list[int]:
    """Share MAX_QUOTES among sections round-robin, at most MAX_QUOTES_PER_SECTION each.

    Every changed section gets its first quote before any gets a second, so one long
    rewrite cannot crowd out a short but important change further down.
    """
    given = [0] * len(wanted)
    total = 0
    for round_number in range(1, MAX_QUOTES_PER_SECTION + 1):
        for index, count in enumerate(wanted):
            if total >= MAX_QUOTES:
                return given
            if count >= round_number:
                given[index] += 1
                total += 1
    return given


# --------------------------------------------------------------------------- sections


def common_root(paths: Iterable[tuple[str, ...] | None]) -> str | None:
    """Return the top heading every path starts under (the document title), if any.

    Policies often open with one top-level title; naming it in every line
    ("Privacy Policy > What we collect > Websites") only adds noise.
    """
    roots = {path[0] for path in paths if path}
    return next(iter(roots)) if len(roots) == 1 else None


@dataclass(frozen=True, slots=True)
class Namer:
    """Turns section paths into the names a notice shows, with the title root dropped."""

    old_root: str | None
    new_root: str | None

    @classmethod
    def for_diff(cls, diff: DocumentDiff) -> Namer:
        """Return the namer for a diff: each side's common root is dropped."""
        return cls(
            common_root(s.old_path for s in diff.sections if s.kind is SectionKind.HEADING),
            common_root(s.new_path for s in diff.sections if s.kind is SectionKind.HEADING),
        )

    def name(self, path: tuple[str, ...] | None, *, old: bool = False) -> str:
        """Return the shown name of a path on the old or new side."""
        root = self.old_root if old else self.new_root
        shown = path or ()
        if root is not None and shown and shown[0] == root:
            shown = shown[1:]
        if not shown:
            return INTRODUCTION
        return one_line(PATH_SEPARATOR.join(shown), limit=300)


def _leaf(path: tuple[str, ...] | None) -> str:
    """Return a path's last title."""
    return one_line(path[-1], limit=300) if path else INTRODUCTION


def _placement(diff: DocumentDiff, section: SectionDiff, namer: Namer) -> tuple[str, str]:
    """Say where a moved section now stands: its shown name and "now follows X".

    The section just before it may be its parent heading ("General now comes first under
    What we collect", not "now after What we collect"), a sibling, or the last
    subsection of a sibling: then the sibling is the one it follows.
    """
    name = namer.name(section.new_path)
    path = section.new_path or ()
    previous = None
    if section.new_index:
        previous = next((s for s in diff.sections if s.new_index == section.new_index - 1), None)
    if previous is None:
        return name, "now comes first"
    before = previous.new_path or ()
    if path and before == path[:-1] and before and namer.name(before) != INTRODUCTION:
        return _leaf(path), f"now comes first under {namer.name(before)}"
    if path and len(before) >= len(path) and before[: len(path) - 1] == path[:-1]:
        return name, f"now follows {_leaf(before[: len(path)])}"
    if path and before == path[:-1]:
        return name, "now comes first"
    return name, f"now follows {namer.name(before)}"


def describe_section(
    section: SectionDiff, diff: DocumentDiff, namer: Namer
) -> SectionChange | None:
    """Return the notice line for one section, without quotes (None if nothing to say)."""
    paragraph = section.kind is SectionKind.PARAGRAPH
    noun = "paragraph" if paragraph else "section"
    name = namer.name(section.path, old=section.new_path is None)

    def change(
        kind: ChangeKind, line: str, *, content: bool, old_name: str | None = None
    ) -> SectionChange:
        return SectionChange(
            kind=kind,
            line=line,
            section=name,
            old_section=old_name,
            content_changed=content,
            words_inserted=section.words_inserted,
            words_deleted=section.words_deleted,
        )

    if section.status is SectionStatus.ADDED:
        if section.split_from is not None and not _content_changes(section):
            # Its heading and text moved in: the move's line names it as a new section.
            return None
        return change(ChangeKind.ADDED, f"New {noun}: {name}", content=True)
    if section.status is SectionStatus.REMOVED:
        line = f"Removed {noun}: {name}" if paragraph else f"Removed: {name}"
        if section.merged_into is not None:
            line += f" (its text moved to {namer.name(section.merged_into)})"
        return change(ChangeKind.REMOVED, line, content=True)
    modified = section.status is SectionStatus.MODIFIED
    content = modified and bool(_content_changes(section))
    old_name = namer.name(section.old_path, old=True)
    if section.renamed and section.old_path != section.new_path:
        old_path, new_path = section.old_path or (), section.new_path or ()
        if old_path[:-1] == new_path[:-1]:
            names = f"{_leaf(old_path)} {ARROW} {_leaf(new_path)}"
        else:
            names = f"{old_name} {ARROW} {name}"
        verb = "Renamed and changed" if content else "Renamed"
        return change(ChangeKind.RENAMED, f"{verb}: {names}", content=content, old_name=old_name)
    if section.moved:
        shown, where = _placement(diff, section, namer)
        verb = "Moved and changed" if content else "Moved"
        line = f"{verb}: {shown} {where}"
        return change(ChangeKind.MOVED, line, content=content, old_name=old_name)
    # Text moved in or out alone is reported by its own "Moved text" line.
    if content or (modified and not (section.moved_in or section.moved_out)):
        label = f"Changed {noun}" if paragraph else "Changed"
        return change(ChangeKind.CHANGED, f"{label}: {name}", content=True)
    if section.status is SectionStatus.COSMETIC and _cosmetic_edits(section):
        # Say what an edit the eye cannot see did ("invisible character U+2060 removed").
        notes = list(dict.fromkeys(s.note for s in section.segments if s.note is not None))
        said = f" ({'; '.join(notes)})" if notes else ""
        return change(ChangeKind.EDITORIAL, f"Editorial: {name}{said}", content=False)
    return None


def _cosmetic_edits(section: SectionDiff) -> bool:
    """Whether a section has edits of its own that are not text moved in or out."""
    return any(s.op is not Op.EQUAL and s.move_id is None for s in section.segments)


def _content_changes(section: SectionDiff) -> list[tuple[int, int, int, int]]:
    """Return the changed runs past the heading line (a rename changes only the heading)."""
    old_start = heading_end(section.old_text, section.kind)
    new_start = heading_end(section.new_text, section.kind)
    old_text, new_text = section.old_text, section.new_text
    return [
        (a, b, c, d)
        for a, b, c, d in _hunks(section)
        if (b > old_start and old_text[max(a, old_start) : b].strip())
        or (d > new_start and new_text[max(c, new_start) : d].strip())
    ]


# How many words of a moved text the notice quotes to say which text moved.
MOVED_OPENING_WORDS = 10
_ORDINALS = ("first", "second", "third", "fourth", "fifth")


def moved_section(move: MovedBlock) -> SectionDiff:
    """Return a moved text's own diff (old against new wording) as a paragraph section.

    Quoting works on sections; this one holds the moved text alone, so the notice quotes
    the sentences changed on the way and nothing else.
    """
    return SectionDiff(
        status=SectionStatus.MODIFIED if move.edited else SectionStatus.UNCHANGED,
        kind=SectionKind.PARAGRAPH,
        renamed=False,
        moved=False,
        approximate=False,
        old_path=move.old_path,
        new_path=move.new_path,
        old_label=None,
        new_label=None,
        old_title=None,
        new_title=None,
        old_index=0,
        new_index=0,
        segments=move.segments or ((Segment(Op.EQUAL, move.new_text),) if move.new_text else ()),
        words_inserted=move.words_inserted,
        words_deleted=move.words_deleted,
    )


def _what_changed(move: MovedBlock) -> str:
    """Say which sentences of a moved text were edited on its way ("its last sentence")."""
    inner = moved_section(move)
    old_sentences = _sentences(inner.old_text, 0)
    new_sentences = _sentences(inner.new_text, 0)
    touched: set[int] = set()
    removed = False
    for group in _groups(inner, old_sentences, new_sentences):
        touched |= group.new
        removed = removed or not group.new
    count = len(new_sentences)
    if not touched:
        return "part of it was removed" if removed else "its wording changed"
    if len(touched) == 1 and count > 1:
        (index,) = touched
        if index == count - 1:
            return "its last sentence changed"
        if index < len(_ORDINALS):
            return f"its {_ORDINALS[index]} sentence changed"
    if count == 1 or len(touched) == count:
        return "its wording changed"
    return f"{len(touched)} of its {count} sentences changed"


# Emphasis marks at a word's edge (not the underscores of snake_case), as render.mdhtml.
_EDGE_MARKS = re.compile(r"(?<![\w*_\\])[*_]+(?=[^\s*_])|(?<=[^\s*_\\])[*_]+(?![\w*_])")


def _paired(text: str) -> str:
    """Return text without its emphasis marks if they do not pair up.

    Text moved out of a bold phrase ("Publishers.** Our ad partners") keeps one of its
    marks, which would show as two asterisks in every format.
    """
    if len(_EDGE_MARKS.findall(text)) % 2 == 0:
        return text
    return _EDGE_MARKS.sub("", text)


def describe_move(
    move: MovedBlock, namer: Namer, diff: DocumentDiff | None = None
) -> SectionChange:
    """Return the notice line for text moved from one place to another, maybe edited.

    "Moved text: the paragraph \u201cWhen you register \u2026\u201d moved from Forums to the
    new section Payments; its last sentence changed" (quotes of the edits come apart).
    """
    old_name = namer.name(move.old_path, old=True)
    new_name = namer.name(move.new_path)
    origin = diff.sections[move.old_section] if diff is not None else None
    target = diff.sections[move.new_section] if diff is not None else None
    table = _is_table(move.new_text)
    words = plain_text(_table_words(move.new_text) if table else _paired(move.new_text)).split()
    opening = " ".join(words[:MOVED_OPENING_WORDS]) + (
        " \u2026" if len(words) > MOVED_OPENING_WORDS else ""
    )
    noun = "list item" if _LIST_ITEM.match(move.new_text.lstrip("\n")) else "paragraph"
    noun = "table" if table else noun
    if move.old_section == move.new_section:
        where = f"moved within {new_name}"
    else:
        source = old_name
        if origin is not None and origin.status is SectionStatus.REMOVED:
            source = f"the removed section {old_name}"
        destination = new_name
        if target is not None and target.status is SectionStatus.ADDED:
            destination = f"a new section, {new_name}"
        where = f"moved from {source} to {destination}"
    line = f"the {noun} \u201c{one_line(opening, limit=300)}\u201d {where}"
    if move.edited:
        line += f"; {_what_changed(move)}"
    verb = "Moved and edited text" if move.edited else "Moved text"
    return SectionChange(
        kind=ChangeKind.TEXT_MOVED,
        line=f"{verb}: {line}",
        section=new_name,
        old_section=old_name,
        content_changed=move.edited,
        words_inserted=move.words_inserted,
        words_deleted=move.words_deleted,
    )


def described_sections(diff: DocumentDiff) -> list[tuple[SectionChange, SectionDiff | None]]:
    """Return each notice line with its section, in new-document order.

    A text move comes with its own diff as a section (see ``moved_section``), so that the
    edits made on its way are quoted like any change. Editorial (cosmetic-only) sections
    come last.
    """
    namer = Namer.for_diff(diff)
    moves_into: dict[int, list[MovedBlock]] = {}
    for move in diff.moves:
        moves_into.setdefault(move.new_section, []).append(move)
    changes: list[tuple[SectionChange, SectionDiff | None]] = []
    editorial: list[tuple[SectionChange, SectionDiff | None]] = []
    for index, section in enumerate(diff.sections):
        change = describe_section(section, diff, namer)
        if change is not None:
            (editorial if change.kind is ChangeKind.EDITORIAL else changes).append(
                (change, section)
            )
        changes.extend(
            (describe_move(move, namer, diff), moved_section(move))
            for move in moves_into.get(index, ())
        )
    return changes + editorial


def describe_changes(diff: DocumentDiff) -> list[SectionChange]:
    """Return one line per notable section (and per moved block), in new-document order.

    Shared by announcements, the changelog and the feed so that all three word a change
    the same way. Editorial (cosmetic-only) sections come last.
    """
    return [change for change, _ in described_sections(diff)]


# --------------------------------------------------------------------------- context


def document_title(diff: DocumentDiff) -> str | None:
    """Return the new document's first heading, if it has headings."""
    headings = [
        s
        for s in diff.sections
        if s.kind is SectionKind.HEADING and s.new_index is not None and s.new_path
    ]
    if not headings:
        return None
    first = min(headings, key=lambda s: s.new_index or 0)
    return first.new_path[0] if first.new_path else None


# A page title's site suffix: " - SME Server", " | Example", short and at the very end.
_SITE_SUFFIX = re.compile(r"\s+[-|\u2013\u2014]\s+(?P<site>[^-|\u2013\u2014]{1,40})$")
_SITE_WORDS = 5


def without_site_name(heading: str) -> str:
    """Return a first heading without the site name a page title adds to it.

    "SME Server:Privacy policy - SME Server" is "Privacy policy": the suffix is dropped
    when it is short (a site name, not half a title), and with it a wiki namespace prefix
    that repeats the site name. Anything else is kept as written.
    """
    match = _SITE_SUFFIX.search(heading)
    if match is None:
        return heading
    site = match.group("site").strip()
    rest = heading[: match.start()].strip()
    if not rest or not site or len(site.split()) > _SITE_WORDS:
        return heading
    if rest.startswith(f"{site}:") and rest[len(site) + 1 :].strip():
        rest = rest[len(site) + 1 :].strip()
    return rest


def text_title(text: str) -> str | None:
    """Return a text's first heading, if it has headings."""
    for section in split_sections(text):
        if section.kind is SectionKind.HEADING and section.path:
            return section.path[0]
    return None


def effective_of(report: CompareReport) -> Effective:
    """Say when the new version takes effect, from what the versions state (never guessed)."""
    new, old = report.new.effective_date, report.old.effective_date
    phrase = report.diff.new_effective
    if new is not None and new == old:
        return Effective(
            "unchanged",
            new,
            phrase,
            old,
            f"The new version still states the previous effective date ({display_day(new)}), "
            "so the text does not say when these changes take effect.",
        )
    if new is not None:
        return Effective(
            "stated", new, phrase, old, f"{display_day(new)}, as stated in the new version."
        )
    if phrase is not None:
        if report.diff.old_effective is not None and not report.diff.effective_changed:
            return Effective(
                "unchanged",
                None,
                phrase,
                None,
                f"The new version still says \u201c{one_line(phrase)}\u201d, as the previous "
                "one did, so the text does not say when these changes take effect.",
            )
        return Effective(
            "phrase", None, phrase, old, f"The new version says \u201c{one_line(phrase)}\u201d."
        )
    return Effective("not_stated", None, None, old, "Not stated in the text.")


def subject_for(title: str, effective: Effective) -> str:
    """Return the e-mail subject: ``[ANNOUNCE] <title>: changes effective <date>``."""
    if effective.status == "stated" and effective.on is not None:
        return f"[ANNOUNCE] {title}: changes effective {display_day(effective.on)}"
    if effective.status == "unchanged":
        return f"[ANNOUNCE] {title}: changes (effective date not updated)"
    return f"[ANNOUNCE] {title}: changes (effective date not stated)"


def has_news(diff: DocumentDiff) -> bool:
    """Whether a diff is worth a notice: words changed, or a section was really renamed.

    A rename alone is not substantive (``--exit-code``), but readers navigate by section
    names: a notice says it. A title changed only in spacing or markup is editorial.
    """
    return diff.summary.substantive or diff.summary.renamed > 0


def announcement_title(diff: DocumentDiff, title: str | None, fallback: str) -> str:
    """Return the title a notice names: the configured one, else the first heading.

    The first heading of a captured page often is its HTML title ("Privacy policy - SME
    Server"); its site suffix is dropped (see ``without_site_name``).
    """
    if title is not None and title.strip():
        return one_line(title)
    heading = document_title(diff)
    if heading is not None and heading.strip():
        return one_line(without_site_name(heading.strip()))
    return one_line(fallback)


def build_announcement(
    report: CompareReport,
    *,
    policy: str | None,
    links: Links = Links(),
    title: str | None = None,
) -> Announcement:
    """Build the announcement of a comparison: change lines, capped quotes, dates, links.

    ``title`` is the policy's configured title (setting ``policy.<id>.title``), if any.
    """
    diff = report.diff
    title = announcement_title(diff, title, policy or report.new.label)
    described = described_sections(diff)
    substantive = has_news(diff)
    editorial = tuple(c.section for c, _ in described if c.kind is ChangeKind.EDITORIAL)
    if substantive:
        # Editorial sections are only counted when there is more to say.
        described = [(c, s) for c, s in described if c.kind is not ChangeKind.EDITORIAL]
    wanted = [
        section_quotes(section) if section is not None and change_quoted(change) else []
        for change, section in described
    ]
    allotted = _allot([len(quotes) for quotes in wanted])
    quoted = tuple(
        replace(change, quotes=tuple(quotes[:given]), more_quotes=len(quotes) - given)
        for (change, _), quotes, given in zip(described, wanted, allotted, strict=True)
    )
    effective = effective_of(report)
    return Announcement(
        policy=policy,
        title=title,
        subject=one_line(subject_for(title, effective), limit=250),
        old=report.old,
        new=report.new,
        effective=effective,
        links=Links(
            read_url=safe_url(links.read_url),
            diff_url=safe_url(links.diff_url),
            list_name=one_line(links.list_name) if links.list_name else None,
            compare_command=links.compare_command,
            footer=footer_text(links.footer),
        ),
        changes=quoted,
        editorial=editorial,
        substantive=substantive,
        quotes_omitted=sum(c.more_quotes for c in quoted),
    )


def footer_text(text: str | None) -> str | None:
    """Return a footer as templates get it: lines kept, controls dropped, none blank at ends."""
    if text is None:
        return None
    lines = [" ".join(_UNSAFE.sub(" ", line).split()) for line in text.splitlines()]
    cleaned = "\n".join(lines).strip("\n")
    return cleaned or None


def change_quoted(change: SectionChange) -> bool:
    """Whether a change's wording is quoted (not for editorial edits nor text moved unedited)."""
    return change.content_changed and change.kind is not ChangeKind.EDITORIAL


def fill_url(template: str | None, *, policy: str | None, old: Side, new: Side) -> str | None:
    """Fill ``{policy}``, ``{old}`` and ``{new}`` (version numbers) into a configured URL."""
    if template is None:
        return None
    values = {
        "{policy}": policy or "",
        "{old}": str(old.version) if old.version is not None else "",
        "{new}": str(new.version) if new.version is not None else "",
    }
    filled = template
    for placeholder, value in values.items():
        filled = filled.replace(placeholder, value)
    return filled


# --------------------------------------------------------------------------- rendering


def default_template(fmt: str) -> str:
    """Return the packaged template source for an output format."""
    if fmt not in FORMATS:
        raise UsageError(f"no announcement template for format {fmt!r}")
    name = template_name(fmt)
    return resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR, name).read_text("utf-8")


def template_name(fmt: str) -> str:
    """Return the file name of a format's template (``announce.email.j2``)."""
    return f"announce.{fmt}.j2"


# "<" and "&" could start HTML or an entity; the rest start markdown syntax mid-line.
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;"}
_MD_SPECIAL = frozenset("\\`*_[]#|~$!")
# At a line start these make a list, a heading underline or a block quote.
_MD_LINE_START = re.compile(r"^(?:\d{1,9}[.)]|[-+=>])")


def markdown_escape(text: object) -> str:
    """Return text escaped for inline markdown: it shows as written, never as markup.

    Like ``render.markdown.escape`` (a higher layer), except that ``>`` stays readable
    mid-line ("What we collect > Websites") and is escaped only where it would quote.
    """
    out = []
    for char in " ".join(str(text).splitlines()):
        if char in _MD_ENTITIES:
            out.append(_MD_ENTITIES[char])
        elif char in _MD_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    escaped = "".join(out)
    return _MD_LINE_START.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], escaped)


def _filters() -> dict[str, Callable[..., str]]:
    """Return the filters every announcement template may use."""
    return {"md": markdown_escape}


# --------------------------------------------------------------------------- template budget

# A template from a store's templates/ folder (or --template) is data from whoever wrote
# it, so it runs in Jinja's immutable sandbox, reaches no other file, and renders within a
# budget. Real announcements are 1-25 KB (23 KB for two unrelated corpus policies of 800
# and 340 KB), so 1,000,000 characters of output, or of any one value a template builds,
# is far past every real one; 5 s is some 50 times a real render.
MAX_TEMPLATE_CHARS = 1_000_000
TEMPLATE_SECONDS = 5.0
# What a render may add to the process's address space where the kernel enforces a limit
# (Linux): a backstop for any way of building a huge value that the checks below miss.
TEMPLATE_MEMORY = 1 << 30
# Bits of an integer a template may compute: 2 ** 10 ** 9 would take minutes in C.
_MAX_INT_BITS = 100_000
# Digits that can set a field width in a %-format or str.format spec.
_FORMAT_NUMBER = re.compile(r"\d+")
# The character budget of the render under way: MAX_TEMPLATE_CHARS, plus room for the data
# of a site page, whose texts alone can be longer (see SandboxedTemplates.render).
_BUDGET: ContextVar[int] = ContextVar("template_budget", default=MAX_TEMPLATE_CHARS)


class _OutOfTime(BaseException):
    """Raised by the render alarm; a BaseException so no ``except Exception`` swallows it."""


def _weight(value: object, limit: int | None = None) -> int:
    """Return about how many characters ``str(value)`` makes, stopping once past ``limit``.

    Walks containers (their repr holds every element, once per reference), so a list
    repeating one big list is weighed before anything turns it into text.
    """
    from jinja2.utils import Namespace

    limit = _BUDGET.get() if limit is None else limit
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, bool | float | None):
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(itertools.chain.from_iterable(item.items()))
        elif isinstance(item, list | tuple | set | frozenset | KeysView | ValuesView | ItemsView):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        elif isinstance(item, Namespace):
            stack.append(getattr(item, "_Namespace__attrs", {}))  # its repr shows them
        else:
            total += 40
    return total


def _refuse(what: str) -> NoReturn:
    """Stop the render: ``what`` would build a value beyond the budget."""
    from jinja2.exceptions import SecurityError

    raise SecurityError(f"{what}: over the budget of {_BUDGET.get():,} characters")


def _check_size(what: str, size: int) -> None:
    """Refuse ``what`` if it would make more than the budget of characters."""
    if size > _BUDGET.get():
        _refuse(f"{what} would make {size:,} characters")


def _check_numbers(what: str, values: Iterable[object]) -> None:
    """Refuse integer arguments larger than any template needs (widths, counts, sizes)."""
    from jinja2.exceptions import SecurityError

    for value in values:
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and abs(value) > MAX_TEMPLATE_CHARS
        ):
            raise SecurityError(
                f"{what} is given {value:,}: templates may use numbers up to "
                f"{MAX_TEMPLATE_CHARS:,} as widths, counts and sizes"
            )


def _format_size(spec: str, values: object) -> int:
    """Return at most how many characters formatting ``values`` with ``spec`` makes."""
    widths = sum(int(number) for number in _FORMAT_NUMBER.findall(spec) if len(number) < 12)
    if any(len(number) >= 12 for number in _FORMAT_NUMBER.findall(spec)):
        widths = _BUDGET.get() + 1
    return len(spec) + widths + _weight(values)


def _check_binop(operator: str, left: object, right: object) -> None:
    """Refuse a ``*``, ``**``, ``%`` or ``+`` whose result would be over the budget."""
    sequence = (str, bytes, list, tuple)
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, sequence) and isinstance(count, int):
                _check_size(f"repeating a value {count:,} times", _weight(seq) * max(count, 0))
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > _MAX_INT_BITS
        ):
            _refuse("multiplying numbers this large")
    elif operator == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right * abs(left).bit_length() > _MAX_INT_BITS
        ):
            _refuse(f"raising {left:,} to the power {right:,}")
    elif operator == "%" and isinstance(left, str):
        numbers = right if isinstance(right, tuple) else (right,)
        size = _format_size(left, right)
        if "*" in left:  # widths taken from the arguments
            size += sum(abs(n) for n in numbers if isinstance(n, int))
        _check_size("this % formatting", size)
    elif operator == "+" and isinstance(left, sequence) and isinstance(right, sequence):
        _check_size("adding these values", _weight(left) + _weight(right))


def _check_str_method(name: str, text: str | bytes, args: tuple[Any, ...]) -> None:
    """Refuse a str (or bytes) method call whose result would be over the budget."""
    size = len(text)
    if name == "join" and args:
        items = args[0]
        size = len(text) * len(items) + _weight(items)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        hits = text.count(old) if old else len(text) + 1
        size += hits * max(0, _weight(new) - len(old))
    elif name == "expandtabs" and args and isinstance(args[0], int):
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        size += tabs * args[0]
    elif name == "translate" and args and isinstance(args[0], Mapping):
        size *= max((_weight(v) for v in args[0].values()), default=1)
    elif name in {"format", "format_map"} and isinstance(text, str):
        size = _format_size(text, args)
    _check_size(f"{type(text).__name__}.{name}()", size)


def _filter_size(name: str, arguments: Mapping[str, object], value: object) -> int:
    """Return at most how many characters an amplifying built-in filter makes."""
    size = _weight(value)
    if name == "join" and isinstance(value, Sized):
        size += _weight(arguments.get("d", "")) * len(value)
    elif name == "indent":
        width = arguments.get("width", 4)
        lines = str(value).count("\n") + 1
        size += lines * (len(width) if isinstance(width, str) else _number(width))
    elif name == "replace":
        old, new = str(arguments.get("old", "")), arguments.get("new", "")
        text = str(value)
        hits = text.count(old) if old else len(text) + 1
        size += hits * max(0, _weight(new) - len(old))
    elif name == "wordwrap":
        text = str(value)
        wrap = str(arguments.get("wrapstring") or "\n")
        width = max(1, _number(arguments.get("width", 79)))
        size += (len(text) // width + text.count("\n") + 1) * len(wrap)
    elif name == "format":
        size = _format_size(str(value), (arguments.get("args"), arguments.get("kwargs")))
    return size


def _number(value: object) -> int:
    """Return an integer argument as a number (anything else counts as 0)."""
    return value if isinstance(value, int) else 0


def _budgeted_filter(name: str, func: Callable[..., Any], clock: _Clock) -> Callable[..., Any]:
    """Wrap a filter so that it refuses inputs that would build a value over the budget."""
    import functools
    import inspect

    signature = inspect.signature(func)
    # Filters marked pass_context/eval_context/environment get that object first.
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def run(*args: object, **kwargs: object) -> object:
        clock.tick()
        data = args[skip:]
        if not data:
            return func(*args, **kwargs)
        value = data[0]
        if name == "join" and isinstance(value, Iterable) and not isinstance(value, Sequence):
            value = list(value)  # a generator (map, select): weigh it, then join the list
            args = (*args[:skip], value, *data[1:])
        _check_numbers(f"the {name} filter", [*data[1:], *kwargs.values()])
        try:
            bound = signature.bind(*args, **kwargs).arguments
        except TypeError:
            return func(*args, **kwargs)  # let the filter report its own misuse
        _check_size(f"the {name} filter", _filter_size(name, bound, value))
        return func(*args, **kwargs)

    return run


@dataclass(slots=True)
class _Clock:
    """A render's deadline, checked at every call, filter, operator and output piece."""

    deadline: float

    def tick(self) -> None:
        """Stop the render if it has run past its deadline (the alarm's fallback)."""
        if time.monotonic() > self.deadline:
            raise _OutOfTime


def _render_limits(seconds: float) -> contextlib.AbstractContextManager[None]:
    """Bound the render's time with an alarm (main thread) and its memory (Linux)."""
    return bounded(seconds, TEMPLATE_MEMORY, _OutOfTime)


def _template_environment(
    clock: _Clock,
    *,
    autoescape: bool,
    sources: Mapping[str, str],
    refusal: str,
    escape: Callable[[str], str] | None = None,
) -> SandboxedEnvironment:
    """Return the environment templates render in: sandboxed, budgeted, no files.

    ``sources`` are the only other templates one may extend, include or import (by
    name); any other name is refused with ``refusal``. ``escape``, if given, replaces
    autoescaping's own for plain strings (values that are already markup pass as they are).
    """
    import jinja2
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.exceptions import SecurityError
    from jinja2.nodes import Concat, EvalContext
    from jinja2.runtime import Context, markup_join, str_join
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from markupsafe import Markup

    class Known(jinja2.BaseLoader):
        """Reaches no file: serves the named sources it was given, and nothing else."""

        def get_source(
            self,
            environment: jinja2.Environment,  # noqa: ARG002 - the loader protocol's
            template: str,
        ) -> tuple[str, str | None, Callable[[], bool] | None]:
            if template in sources:
                return sources[template], None, lambda: True
            raise SecurityError(f"cannot include, import or extend {template[:80]!r}: {refusal}")

    class Generator(CodeGenerator):
        """Compiles ``a ~ b`` so that the parts are weighed before they become text."""

        def visit_Concat(self, node: Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's name
            self.write("environment.joined((")
            for part in node.nodes:
                self.visit(part, frame)
                self.write(", ")
            self.write("), context.eval_ctx)")

    class Sandbox(ImmutableSandboxedEnvironment):
        """Jinja's immutable sandbox, refusing every value over the budget before it is made."""

        # Intercepted operators are also never folded at compile time.
        intercepted_binops = frozenset({"*", "**", "%", "+"})
        code_generator_class = Generator

        def joined(self, parts: tuple[Any, ...], eval_ctx: EvalContext) -> str:
            """Join the parts of ``a ~ b`` as Jinja does, once their size is known."""
            clock.tick()
            _check_size("joining these values with ~", sum(_weight(part) for part in parts))
            return markup_join(parts) if eval_ctx.autoescape else str_join(parts)

        def call_binop(
            self, context: Context, operator: str, left: object, right: object
        ) -> object:
            """Run an operator unless its result would be over the budget."""
            clock.tick()
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def call(self, context: Context, obj: object, /, *args: object, **kwargs: object) -> object:
            """Call a function or method unless its arguments or result are over the budget."""
            clock.tick()
            # The sandbox hands str.format out wrapped; the wrapped method names its string.
            target = getattr(obj, "__wrapped__", obj)
            name = getattr(target, "__name__", "a function")
            name = "range" if name == "safe_range" else name  # the sandbox's own range()
            _check_numbers(f"{name}()", [*args, *kwargs.values()])
            _check_size(f"the arguments of {name}()", sum(map(_weight, (*args, *kwargs.values()))))
            owner = getattr(target, "__self__", None)
            if isinstance(owner, str | bytes):
                first = args[0] if args else None
                if name == "join" and isinstance(first, Iterable) and not isinstance(first, Sized):
                    args = (list(first), *args[1:])  # a generator: weigh it, join the list
                _check_str_method(name, owner, args)
            return super().call(context, obj, *args, **kwargs)

    def finalize(value: object) -> object:
        clock.tick()
        # Most values are text: their length is their weight (and pages print thousands).
        _check_size("this value", len(value) if isinstance(value, str) else _weight(value))
        if escape is not None and isinstance(value, str) and not hasattr(value, "__html__"):
            return Markup(escape(value))  # noqa: S704 - escaped just now
        return value

    environment = Sandbox(
        loader=Known(),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.pop("lipsum", None)  # paragraphs by the million, and no use here
    environment.filters.update(_filters())
    environment.filters = {
        name: _budgeted_filter(name, func, clock) for name, func in environment.filters.items()
    }
    return environment


class SandboxedTemplates:
    """Templates rendered in Jinja's immutable sandbox within the budget of time, memory, size.

    Announcements render one template given as text; the site renders named templates
    (``sources``) that extend one another. Each render gets its own deadline and budget.
    """

    def __init__(
        self,
        sources: Mapping[str, str],
        *,
        autoescape: bool,
        refusal: str,
        shown: Mapping[str, str] | None = None,
        escape: Callable[[str], str] | None = None,
    ) -> None:
        self._clock = _Clock(0.0)
        self._shown = dict(shown or {})
        self._environment = _template_environment(
            self._clock, autoescape=autoescape, sources=sources, refusal=refusal, escape=escape
        )

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        *,
        source: str | None = None,
        chars: int = MAX_TEMPLATE_CHARS,
        seconds: float = TEMPLATE_SECONDS,
    ) -> str:
        """Render template ``name`` (or ``source``, named so) into at most ``chars`` characters.

        Every failure of the template (syntax, undefined variable, sandbox, budget, time,
        memory) becomes one ``UsageError`` naming the template.
        """
        import jinja2

        shown = self._shown.get(name, name)
        self._clock.deadline = time.monotonic() + seconds
        budget = _BUDGET.set(chars)
        try:
            with _render_limits(seconds):
                if source is not None:
                    template = self._environment.from_string(source)
                else:
                    template = self._environment.get_template(name)
                pieces: list[str] = []
                size = 0
                for piece in template.generate(**context):
                    size += len(piece)
                    if size > chars:
                        raise UsageError(
                            f"template {shown}: the output is over the budget of "
                            f"{chars:,} characters"
                        )
                    self._clock.tick()
                    pieces.append(piece)
                return "".join(pieces)
        except _OutOfTime:
            raise UsageError(
                f"template {shown}: stopped after {seconds:g} s, the time a template "
                "may take to render"
            ) from None
        except jinja2.TemplateSyntaxError as err:
            where = self._shown.get(err.name, err.name) if err.name else shown
            raise UsageError(f"template {where}, line {err.lineno}: {err.message}") from None
        except jinja2.TemplateError as err:
            raise UsageError(f"template {shown}: {err}") from None
        except RecursionError:
            raise UsageError(
                f"template {shown}: calls nested too deeply (a macro that calls itself?)"
            ) from None
        except MemoryError:
            raise UsageError(
                f"template {shown}: stopped: it needs more than {TEMPLATE_MEMORY >> 20} MiB"
            ) from None
        except (ArithmeticError, LookupError, TypeError, ValueError) as err:
            # Raised by the template's own expressions (1/0, range(10**6), int('x'*5000)).
            raise UsageError(f"template {shown}: {type(err).__name__}: {err}") from None
        finally:
            _BUDGET.reset(budget)


def render_announcement(
    context: Mapping[str, Any], fmt: str, *, source: str | None = None, name: str | None = None
) -> str:
    """Render the context with a template (the packaged one unless ``source`` is given).

    Templates run in Jinja's immutable sandbox with strict undefined variables, read no
    other file, and render within a budget of time, memory and size (see
    ``MAX_TEMPLATE_CHARS``): a template that came with a shared store cannot reach Python
    internals or the disk, nor run for minutes, and a misspelt variable is an error.
    Email and text output is hard-wrapped at 72 columns afterwards.
    """
    shown = name or template_name(fmt)
    code = source if source is not None else default_template(fmt)
    if len(code) > MAX_TEMPLATE_CHARS:
        raise UsageError(f"template {shown} is longer than {MAX_TEMPLATE_CHARS:,} characters")
    templates = SandboxedTemplates(
        {},
        autoescape=fmt == "html",
        refusal="an announcement template is one file and reads no other",
    )
    text = templates.render(shown, context, source=code)
    text = _UNSAFE.sub("", text.replace("\r\n", "\n"))
    if fmt in {"email", "text"}:
        text = wrap_text(text)
    if fmt == "html":
        text = with_csp(text)
    return text.rstrip("\n") + "\n"


# The start of an HTML page up to where its head's content begins: doctype, <html ...>,
# <head ...> and <meta charset ...> (kept in the first 1024 bytes), each optional, quoted
# attribute values skipped whole. Anchored at the start,
# so nothing a template writes later (a comment holding "<head>") can move the CSP.
_ATTRIBUTES = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""
_PAGE_START = re.compile(
    rf"\A\s*(?:<!doctype{_ATTRIBUTES}>\s*)?(?:<html\b{_ATTRIBUTES}>\s*)?(?:<head\b{_ATTRIBUTES}>)?"
    rf"(?:\s*<meta\s+charset{_ATTRIBUTES}>)?",
    re.IGNORECASE,
)


def stylesheets(page: str) -> list[str]:
    """Return the text of each ``<style>`` element, in one pass (no regex backtracking)."""
    lower = page.lower()
    found: list[str] = []
    at = 0
    while (start := lower.find("<style", at)) != -1:
        opened = lower.find(">", start)
        closed = lower.find("</style", opened)
        if opened == -1 or closed == -1:
            break
        # "<styles>" is another element; a ">" inside an attribute only makes a hash that
        # matches nothing, so that stylesheet is blocked: the CSP fails closed.
        if lower[start + len("<style")] in " \t\n\r\f/>":
            found.append(page[opened + 1 : closed])
        at = closed + len("</style")
    return found


def with_csp(page: str) -> str:
    """Return an HTML page with the compare pages' Content-Security-Policy first in its head.

    The policy allows the page's own ``<style>`` elements, by hash, and nothing else: no
    script, image, font, form or base URL, whatever a store's template writes.
    """
    from policydiff.publish.render.html import content_security_policy
    from policydiff.publish.render.html import escape as html_escape

    csp = content_security_policy(*stylesheets(page))
    meta = (
        f'\n<meta http-equiv="Content-Security-Policy" content="{html_escape(csp)}">\n'
        '<meta name="referrer" content="no-referrer">'
    )
    start = _PAGE_START.match(page)
    at = start.end() if start is not None else 0
    return page[:at] + meta + page[at:]


_PREFIX = re.compile(r"^(?P<quote>(?:> ?)*)(?P<indent>[ \t]*)(?P<bullet>(?:[-*+]|\d{1,9}[.)]) )?")


def wrap_text(text: str, width: int = WRAP_WIDTH) -> str:
    """Hard-wrap lines longer than ``width``, keeping quote marks, indents and bullets.

    Words longer than the line (URLs) are never broken, so a link stays clickable.
    The signature separator ``-- `` keeps its trailing space.
    """
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        match = _PREFIX.match(line)
        quote = match["quote"] if match else ""
        indent = match["indent"] if match else ""
        bullet = match["bullet"] if match and match["bullet"] else ""
        first = quote + indent + bullet
        rest = quote + indent + " " * len(bullet)
        body = line[len(first) :]
        lines.extend(
            textwrap.wrap(
                body,
                width=width,
                initial_indent=first,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [line]
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- e-mail


def parse_address(value: str, what: str) -> Address:
    """Return one validated mailbox (``Name <user@example.org>`` or ``user@example.org``)."""
    addresses = parse_addresses(value, what)
    if len(addresses) != 1:
        raise UsageError(f"{what} must be one address, not {len(addresses)}")
    return addresses[0]


def parse_addresses(value: str, what: str) -> tuple[Address, ...]:
    """Return the validated mailboxes of a comma-separated address list.

    CR, LF and other controls are refused outright rather than cleaned: an address is
    configuration, and a line break in it is an injection attempt or a mistake.
    """
    from email import policy

    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UsageError(f"{what} must be one line without control characters")
    if not value.strip():
        raise UsageError(f"{what} is empty")
    try:
        header = policy.default.header_factory("To", value)
        addresses = tuple(header.addresses)
    except (ValueError, IndexError, TypeError):
        addresses = ()
        header = None
    defects = getattr(header, "defects", ()) if header is not None else ()
    if (
        not addresses
        or defects
        or any(not a.username or "." not in a.domain or " " in a.addr_spec for a in addresses)
    ):
        raise UsageError(f"{what} is not a valid e-mail address: {value[:80]!r}")
    for address in addresses:
        _check_ascii_address(address, what)
    return addresses


def _check_ascii_address(address: Address, what: str) -> None:
    """Refuse a non-ASCII address: the message is sent without SMTPUTF8, so it must be ASCII.

    A display name may be non-ASCII (it is RFC 2047-encoded); a domain must be given in its
    ASCII (``xn--``) form, which the error names, and a user name must be ASCII.
    """
    if not address.username.isascii():
        raise UsageError(f"{what} has a non-ASCII user name {address.addr_spec!r:.80}")
    if not address.domain.isascii():
        try:
            ascii_domain = address.domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise UsageError(
                f"{what} has a domain that is not a valid host name: {address.domain!r:.80}"
            ) from None
        raise UsageError(
            f"{what} has a non-ASCII domain {address.domain!r:.80}; "
            f"write it as {address.username}@{ascii_domain}"
        )


def message_id_domain(sender: Address) -> str:
    """Return the domain for Message-ID: the sender's, never this machine's host name."""
    return sender.domain


def build_email(
    body: str,
    *,
    subject: str,
    sender: Address,
    to: Sequence[Address],
    when: datetime,
    message_id: str | None = None,
    reply_to: Address | None = None,
) -> EmailMessage:
    """Return the announcement as an RFC 5322 message (UTF-8 plain text).

    The subject is reduced to one clean line before it reaches the header, so nothing
    in a policy title can add a header; non-ASCII is encoded by ``EmailMessage`` (RFC 2047
    in the subject, 8bit or quoted-printable in the body).
    """
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    message = EmailMessage()
    message["From"] = sender
    message["To"] = tuple(to)
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Subject"] = one_line(subject, limit=250)
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id or make_msgid(
        idstring=uuid.uuid4().hex[:12], domain=message_id_domain(sender)
    )
    message.set_content(body, charset="utf-8")
    return message
