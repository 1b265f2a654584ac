"""PDF policy documents: text lines with their fonts (pdfminer.six), then markdown.

The PDF bytes are kept as the raw source (``source.pdf``); this module owns turning them
into the policy text. pdfminer.six is imported only when a PDF is read, so that commands
that never meet one do not pay its import time.

Markdown is rebuilt from the layout: short lines set larger or bold than the body text
become headings (the biggest style ``#``, the next ``##``...), lines of one paragraph are
joined (undoing a hyphen that split a word at a line end), and running headers and
footers repeated on every page (``Page 3 of 12``) are dropped.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policydiff.core.errors import InputError
from policydiff.core.limits import bounded

if TYPE_CHECKING:
    from pdfminer.layout import LTChar

EXTRACTOR_VERSION = 1
"""Bumped whenever the text this module produces from the same PDF changes."""

MAX_PAGES = 500
"""Longer documents are refused: no policy is that long, and parsing costs time per page."""

TIME_BUDGET = 60.0
"""Seconds one PDF may take to extract before it is refused."""

MEMORY_BUDGET = 1 << 30
"""Bytes of address space one extraction may add: a small compressed stream can inflate
to gigabytes (pdfminer.six decompresses whole streams), which must fail, not exhaust RAM."""

_MAGIC_WINDOW = 1024  # The PDF spec lets the %PDF- header sit anywhere in the first KiB.
_HEADING_MAX_CHARS = 120
_HEADING_MAX_WORDS = 16
_BIGGER = 1.12  # A line this much larger than the body text is a heading candidate.
_MARGIN_BAND = 0.12  # Running headers and footers sit in the top or bottom 12% of a page.
_BOLD_NAMES = re.compile(r"bold|black|heavy|semibold|demibold|demi\b", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?#(?:\s*(?:of|/)\s*#)?$", re.IGNORECASE)
_BULLET = re.compile(r"^[\u2022\u25aa\u25e6\u2023\u2043\u25cf\u00b7]\s*")
_LIST_START = re.compile(r"^(?:\(?[0-9]{1,3}[.)]|\(?[a-z][.)]|\([ivx]{1,4}\))\s", re.IGNORECASE)
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi"})
_SENTENCE_END = (".", ":", ";", "!", "?")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of text on a page, with its font size, boldness and place (points)."""

    text: str
    size: float
    bold: bool
    page: int
    top: float
    bottom: float
    page_height: float


# --------------------------------------------------------------------------- reading


def check_pdf(raw: bytes) -> None:
    """Refuse bytes that do not start and end like a PDF file, before any parser sees them."""
    if b"%PDF-" not in raw[:_MAGIC_WINDOW]:
        raise InputError("not a PDF file (no %PDF- header)")
    # A cut-off download still parses up to the cut: refuse it rather than store half a policy.
    if b"%%EOF" not in raw[-_MAGIC_WINDOW:]:
        raise InputError("the PDF is truncated (no %%EOF marker at its end)")


def _is_bold(fontname: str) -> bool:
    """Whether a font name (``ABCDEF+Arial-BoldMT``) names a bold face."""
    return bool(_BOLD_NAMES.search(fontname.split("+", 1)[-1]))


class _OutOfTime(Exception):  # noqa: N818 - a signal, not an error shown to anyone
    """Raised by the alarm when an extraction runs past its time budget."""


def _limits(seconds: float, memory: int) -> contextlib.AbstractContextManager[None]:
    """Bound an extraction's time and memory (see ``policydiff.core.limits.bounded``).

    The alarm interrupts pdfminer inside a page, where the checks between pages cannot;
    off the main thread those checks are all there is.
    """
    return bounded(seconds, memory, _OutOfTime)


class _Collected(logging.Handler):
    """Keeps the library's log messages (they would reach stderr through logging's last resort)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # A malformed record must not stop extraction.
            if len(self.messages) < 10:
                self.messages.append(" ".join(record.getMessage().split())[:200])


@contextlib.contextmanager
def _quiet_library(collected: _Collected) -> Iterator[None]:
    """Route pdfminer's warnings into ``collected``: one Error line is all a refusal prints."""
    logger = logging.getLogger("pdfminer")
    propagate = logger.propagate
    logger.addHandler(collected)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(collected)
        logger.propagate = propagate


def read_lines(
    raw: bytes,
    *,
    max_pages: int = MAX_PAGES,
    budget: float = TIME_BUDGET,
    memory: int = MEMORY_BUDGET,
) -> list[Line]:
    """Return the text lines of a PDF in reading order, refusing what cannot be read."""
    check_pdf(raw)
    warnings = _Collected()
    try:
        with _limits(budget, memory), _quiet_library(warnings):
            lines = list(_pdfminer_lines(raw, max_pages=max_pages, budget=budget))
    except InputError:
        raise
    except _OutOfTime:
        raise InputError(f"extracting the PDF took over {budget:g} seconds; refused") from None
    except MemoryError:
        raise InputError(
            f"extracting the PDF needed over {memory >> 20} MiB of memory; refused"
        ) from None
    except Exception as err:  # noqa: BLE001  # an untrusted file may break the parser anywhere
        raise InputError(f"not a readable PDF ({type(err).__name__}: {err})"[:300]) from None
    if not lines and warnings.messages:
        # Damage, not a scan, is the likelier reason: say what the library met.
        raise InputError(f"the PDF has no readable text ({warnings.messages[0]})")
    return lines


def _pdfminer_lines(raw: bytes, *, max_pages: int, budget: float) -> Iterator[Line]:
    """Interpret each page with pdfminer.six and yield its text lines, built from glyphs."""
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    started = time.monotonic()
    parser = PDFParser(io.BytesIO(raw))
    try:
        document = PDFDocument(parser, password="")
    except PDFPasswordIncorrect:
        raise InputError(
            "the PDF is encrypted with a password; policydiff cannot read it"
        ) from None
    # A "no copying" permission flag (owner password only) is advisory and is not checked,
    # as pdfminer.six and pypdf do by default: every viewer shows the text, and terms
    # published with the flag set must still be trackable.
    declared = resolve1(resolve1(document.catalog.get("Pages")) or {}).get("Count")
    if isinstance(declared, int) and declared > max_pages:
        raise InputError(f"the PDF has {declared} pages, over the limit of {max_pages}")
    manager = PDFResourceManager(caching=True)
    # No layout analysis (laparams=None): pdfminer's grouping follows the order glyphs are
    # written in and is quadratic on pages of scattered words; lines are built from the
    # glyphs' positions below instead.
    device = PDFPageAggregator(manager, laparams=None)
    interpreter = PDFPageInterpreter(manager, device)
    number = 0
    for number, page in enumerate(PDFPage.create_pages(document), start=1):
        if number > max_pages:
            raise InputError(f"the PDF has more than {max_pages} pages, over the limit")
        if time.monotonic() - started > budget:
            raise InputError(
                f"extracting the PDF took over {budget:g} seconds (at page {number}); refused"
            )
        interpreter.process_page(page)
        layout = device.get_result()
        height = float(layout.height) or 1.0
        glyphs = [
            _Glyph(
                text=char.get_text(),
                x0=float(char.x0),
                x1=float(char.x1),
                top=height - float(char.y1),
                bottom=height - float(char.y0),
                size=round(float(char.size) * 2) / 2,
                bold=_is_bold(char.fontname),
            )
            for char in _chars(layout)
        ]
        for row in _rows(glyphs):
            yield row.line(number, height)
    if number == 0:
        raise InputError("the PDF has no pages")
    if time.monotonic() - started > budget:
        raise InputError(f"extracting the PDF took over {budget:g} seconds; refused")


def _chars(container: Iterable[object]) -> Iterator[LTChar]:
    """Yield the upright glyphs of a page, inside forms (figures) too."""
    from pdfminer.layout import LTChar, LTContainer

    for item in container:
        if isinstance(item, LTChar):
            # Rotated text (margin notes, watermarks) is not part of the running text.
            if item.upright and item.size > 0:
                yield item
        elif isinstance(item, LTContainer):
            yield from _chars(item)


@dataclass(frozen=True, slots=True)
class _Glyph:
    """One glyph's text, box (points from the page top), size and weight."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool


def _rows(glyphs: list[_Glyph]) -> list[_RowLine]:
    """Group glyphs into rows by position, whatever order the page wrote them in.

    Glyphs that overlap vertically form a band; a band is cut where the horizontal gap is
    wider than a word space by far (a column gutter), and a space goes where the gap is
    a word space or the page wrote a space glyph.
    """
    bands: list[list[_Glyph]] = []
    band_top = band_bottom = 0.0
    for glyph in sorted(glyphs, key=lambda g: (g.top + g.bottom, g.x0)):
        height = glyph.bottom - glyph.top
        overlap = min(band_bottom, glyph.bottom) - max(band_top, glyph.top)
        if bands and overlap > 0.5 * min(height, band_bottom - band_top):
            bands[-1].append(glyph)
            band_top, band_bottom = min(band_top, glyph.top), max(band_bottom, glyph.bottom)
        else:
            bands.append([glyph])
            band_top, band_bottom = glyph.top, glyph.bottom
    rows: list[list[_Glyph]] = []
    for band in bands:
        band.sort(key=lambda g: g.x0)
        start = len(rows)
        for glyph in band:
            if len(rows) > start and glyph.x0 - rows[-1][-1].x1 <= 2.5 * glyph.size:
                rows[-1].append(glyph)
            elif not glyph.text.isspace():
                rows.append([glyph])
    return [_row_line(row) for row in rows if any(not g.text.isspace() for g in row)]


class _RowLine:
    """A row of glyphs on its way to a ``Line`` (the page is known later)."""

    __slots__ = ("bold", "bottom", "size", "text", "top")

    def __init__(self, text: str, size: float, bold: bool, top: float, bottom: float) -> None:
        self.text, self.size, self.bold, self.top, self.bottom = text, size, bold, top, bottom

    def line(self, page: int, page_height: float) -> Line:
        """Return this row as a ``Line`` of ``page``."""
        return Line(self.text, self.size, self.bold, page, self.top, self.bottom, page_height)


def _row_line(row: list[_Glyph]) -> _RowLine:
    """Return one row's text (spaces put back from the gaps), size, boldness and extent."""
    inked = [g for g in row if not g.text.isspace()]
    parts: list[str] = []
    previous: _Glyph | None = None
    spaced = False
    for glyph in row:
        if glyph.text.isspace():
            spaced = previous is not None
            continue
        if previous is not None and (spaced or glyph.x0 - previous.x1 > 0.15 * glyph.size):
            parts.append(" ")
        parts.append(glyph.text)
        previous, spaced = glyph, False
    sizes = Counter(g.size for g in inked)
    return _RowLine(
        text="".join(parts).strip(),
        size=sizes.most_common(1)[0][0],
        bold=sum(1 for g in inked if g.bold) >= 0.8 * len(inked),
        top=min(g.top for g in inked),
        bottom=max(g.bottom for g in inked),
    )


# --------------------------------------------------------------------------- markdown


def _running_key(line: Line) -> str | None:
    """Return the text a running header or footer keeps from page to page, if in a margin."""
    band = line.page_height * _MARGIN_BAND
    if line.top > band and line.bottom < line.page_height - band:
        return None
    return re.sub(r"\d+", "#", " ".join(line.text.split())).lower()


def drop_running_lines(lines: Sequence[Line]) -> list[Line]:
    """Remove headers and footers: margin lines repeated on most pages, and page numbers."""
    pages = len({line.page for line in lines})
    seen: dict[str, set[int]] = {}
    for line in lines:
        key = _running_key(line)
        if key is not None:
            seen.setdefault(key, set()).add(line.page)
    repeated = {key for key, where in seen.items() if pages >= 2 and len(where) * 2 >= pages}
    kept: list[Line] = []
    for line in lines:
        key = _running_key(line)
        if key is not None and (key in repeated or _PAGE_NUMBER.match(key)):
            continue
        kept.append(line)
    return kept


def _body_size(lines: Iterable[Line]) -> float:
    """Return the font size most of the text is set in."""
    weight: Counter[float] = Counter()
    for line in lines:
        weight[line.size] += len(line.text)
    return weight.most_common(1)[0][0] if weight else 0.0


def _looks_like_heading(line: Line, body: float) -> bool:
    """Whether a line is set as a heading: short, and larger or bold than the body text."""
    text = line.text
    if len(text) > _HEADING_MAX_CHARS or len(text.split()) > _HEADING_MAX_WORDS:
        return False
    if text.endswith((",", ";")) or _BULLET.match(text):
        return False
    larger = line.size >= body * _BIGGER
    return larger or (line.bold and line.size >= body * 0.95)


def _join(left: str, right: str) -> str:
    """Join two lines of one paragraph, undoing a hyphen that split a word at the line end."""
    if left.endswith("\u00ad"):
        return left[:-1] + right
    if len(left) >= 2 and left[-1] in "-\u2010" and left[-2].isalpha():
        # "ac-" + "count" was one word; "COVID-" + "19" keeps its hyphen.
        return (left[:-1] if right[:1].islower() else left) + right
    return f"{left} {right}"


def _escape_start(text: str) -> str:
    """Keep a paragraph that starts with ``#`` or ``>`` from reading as markdown syntax."""
    return "\\" + text if text.startswith(("#", ">")) else text


def lines_to_markdown(lines: Sequence[Line]) -> str:
    """Rebuild markdown from layout lines: headings by style, joined paragraphs."""
    lines = drop_running_lines(lines)
    body = _body_size(lines)
    headings = {id(line) for line in lines if _looks_like_heading(line, body)}
    styles = sorted(
        {(line.size, line.bold) for line in lines if id(line) in headings},
        key=lambda style: (-style[0], not style[1]),
    )
    level = {style: min(rank + 1, 6) for rank, style in enumerate(styles)}
    blocks: list[str] = []
    current: str | None = None  # The paragraph or heading being built.
    current_style: tuple[float, bool] | None = None
    previous: Line | None = None
    for line in lines:
        text = " ".join(line.text.translate(_LIGATURES).split())
        is_heading = id(line) in headings
        style = (line.size, line.bold) if is_heading else None
        if previous is None or current is None:
            starts_new = True
        elif line.page != previous.page:
            # A paragraph runs on over a page break when it stopped mid-sentence.
            starts_new = (
                is_heading
                or style != current_style
                or current.endswith(_SENTENCE_END)
                or not text[:1].islower()
            )
        else:
            gap = line.top - previous.bottom
            starts_new = (
                style != current_style
                or gap > 0.8 * max(line.size, previous.size)
                or gap < -0.5 * line.size  # Went back up the page: a new column or block.
                or bool(_BULLET.match(text) or _LIST_START.match(text))
            )
        if current is not None and not starts_new:
            current = _join(current, text)
        else:
            if current is not None:
                blocks.append(current)
            if is_heading:
                current = "#" * level[line.size, line.bold] + " " + text
            elif _BULLET.match(text):
                current = "- " + _BULLET.sub("", text)
            else:
                current = _escape_start(text)
            current_style = style
        previous = line
    if current is not None:
        blocks.append(current)
    return "\n\n".join(blocks) + "\n" if blocks else ""


def pdf_to_markdown(
    raw: bytes,
    *,
    max_pages: int = MAX_PAGES,
    budget: float = TIME_BUDGET,
    memory: int = MEMORY_BUDGET,
) -> str:
    """Extract a PDF's text as markdown, or raise ``InputError`` saying why it cannot be."""
    lines = read_lines(raw, max_pages=max_pages, budget=budget, memory=memory)
    if not lines:
        raise InputError(
            "the PDF has no text layer (a scanned document?); policydiff does not do OCR"
        )
    undecodable = sum(line.text.count("(cid:") for line in lines)
    if undecodable * 4 > sum(len(line.text.split()) for line in lines):
        raise InputError(
            "the PDF's fonts do not map their glyphs to text; policydiff does not do OCR"
        )
    text = unicodedata.normalize("NFC", lines_to_markdown(lines))
    if not text.strip():
        raise InputError("the PDF has no text besides page headers and footers")
    return text
