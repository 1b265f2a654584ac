"""Real-shaped policy PDFs for the tests and the extractor benchmark, made with fpdf2.

A document is a list of blocks: ``("h1", text)``, ``("h2", text)``, ``("h3", text)`` for
headings (bigger or bold fonts) and ``("p", [line, ...])`` for a paragraph laid out line by
line exactly as given (so a test decides where a word is hyphenated). Every page gets a
running header and a ``Page N of M`` footer, as real terms PDFs have.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import AccessPermission

Block = tuple[str, str | Sequence[str]]

_STYLES = {"h1": ("B", 18), "h2": ("B", 14), "h3": ("B", 11), "p": ("", 11)}


class _PolicyPdf(FPDF):
    """An A4 document with a running header and a numbered footer on every page."""

    def __init__(self, header_text: str) -> None:
        super().__init__(format="A4")
        self.header_text = header_text
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=True, margin=25)

    def header(self) -> None:
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, self.header_text, new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")


def make_pdf(
    blocks: Sequence[Block],
    *,
    header_text: str = "Acme Ltd - Privacy Policy",
    user_password: str | None = None,
    no_copying: bool = False,
    per_word: str | None = None,
) -> bytes:
    """Return the bytes of a PDF laying out ``blocks``.

    With ``per_word`` each word of a paragraph is placed on its own and justified to the
    right margin, as typesetters that position every word do: ``"in order"`` writes them
    left to right, ``"reversed"`` right to left (the file's text order is then not the
    reading order), ``"split"`` in order with longer words cut into two pieces (as a
    font change or kerning inside a word does).
    """
    pdf = _PolicyPdf(header_text)
    if user_password is not None or no_copying:
        # Without a user password anyone may open it; the permissions only ask for printing.
        permissions = AccessPermission.PRINT_LOW_RES if no_copying else AccessPermission.all()
        pdf.set_encryption(
            owner_password="owner", user_password=user_password or "", permissions=permissions
        )
    pdf.add_page()
    for kind, content in blocks:
        style, size = _STYLES[kind]
        pdf.set_font("Helvetica", style, size)
        if kind == "p":
            lines = [content] if isinstance(content, str) else list(content)
            for index, line in enumerate(lines):
                if per_word:
                    _place_words(pdf, line, per_word, justify=index < len(lines) - 1)
                pdf.cell(0, size * 0.5, "" if per_word else line, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        else:
            assert isinstance(content, str)
            pdf.ln(2)
            pdf.cell(0, size * 0.6, content, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    return bytes(pdf.output())


def _place_words(pdf: FPDF, line: str, mode: str, *, justify: bool) -> None:
    """Write a line word by word as ``mode`` says, spread to the full width if ``justify``."""
    items = line.split()
    widths = [pdf.get_string_width(word) for word in items]
    room = pdf.epw - sum(widths)
    gap = room / (len(items) - 1) if justify and len(items) > 1 else pdf.get_string_width(" ")
    baseline = pdf.get_y() + pdf.font_size_pt * 0.5 / pdf.k * 1.1
    places: list[tuple[float, str]] = []
    x = pdf.l_margin
    for word, width in zip(items, widths, strict=True):
        places.append((x, word))
        x += width + gap
    if mode == "reversed":
        places.reverse()
    for x, word in places:
        if mode == "split" and len(word) > 5:
            pdf.text(x, baseline, word[:3])
            pdf.text(x + pdf.get_string_width(word[:3]), baseline, word[3:])
        else:
            pdf.text(x, baseline, word)


def make_blank_pdf(pages: int = 1, *, text: str | None = None) -> bytes:
    """Return a PDF of ``pages`` pages with only drawings (a scan's shape) or one word each."""
    pdf = FPDF(format=(105, 148))  # A6, small: hundreds of pages stay quick
    pdf.set_font("Helvetica", "", 10)
    for _ in range(pages):
        pdf.add_page()
        if text is None:
            pdf.rect(10, 10, 50, 30, style="F")
        else:
            pdf.cell(0, 5, text)
    return bytes(pdf.output())


def write_pdf(path: Path, blocks: Sequence[Block], **options: str | None) -> Path:
    """Write ``make_pdf(blocks)`` to ``path`` and return ``path``."""
    path.write_bytes(make_pdf(blocks, **options))
    return path


def words(count: int, seed: int = 0) -> list[str]:
    """Return ``count`` plain words, deterministic for ``seed``."""
    stock = [
        "we",
        "collect",
        "process",
        "store",
        "share",
        "personal",
        "data",
        "information",
        "about",
        "you",
        "when",
        "use",
        "our",
        "services",
        "including",
        "account",
        "details",
        "payment",
        "records",
        "device",
        "identifiers",
        "location",
        "cookies",
        "analytics",
        "partners",
        "vendors",
        "retention",
        "period",
        "rights",
        "access",
        "correction",
        "erasure",
        "objection",
        "portability",
        "complaint",
        "authority",
        "contact",
        "officer",
        "security",
        "measures",
        "transfer",
    ]  # a sentence of words reads better than 41 quoted ones
    return [stock[(seed * 7 + i * 13) % len(stock)] for i in range(count)]


def paragraph_lines(text_words: Sequence[str], width: int = 80) -> list[str]:
    """Wrap words into lines of at most ``width`` characters (no hyphenation)."""
    lines: list[str] = []
    current = ""
    for word in text_words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def long_policy(sections: int, paragraphs: int = 3, seed: int = 0) -> tuple[list[Block], str]:
    """Return the blocks of a many-page policy and its expected markdown."""
    blocks: list[Block] = [("h1", "Privacy Policy")]
    expected = ["# Privacy Policy"]
    for number in range(1, sections + 1):
        title = f"{number}. Section {number}"
        blocks.append(("h2", title))
        expected.append(f"## {title}")
        for index in range(paragraphs):
            body = words(60, seed + number * 10 + index)
            body[-1] += "."
            blocks.append(("p", paragraph_lines(body)))
            expected.append(" ".join(body))
    return blocks, "\n\n".join(expected) + "\n"


def inflating_pdf(inflated: int) -> bytes:
    """Return a one-page PDF whose content stream inflates from little to ``inflated`` bytes."""
    packer = zlib.compressobj(1)
    chunk = b"\0" * (1 << 20)
    packed = b"".join(packer.compress(chunk) for _ in range(inflated >> 20)) + packer.flush()
    return raw_pdf(packed, stream_filter=b"/Filter /FlateDecode")


def raw_pdf(content: bytes, *, stream_filter: bytes = b"") -> bytes:
    """Return a one-page PDF (Helvetica as /F1) with ``content`` as its page's content stream.

    Written by hand, so that a test can put in it what no PDF library would write.
    """
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 " + font + b" >> >> >>",
        b"<< /Length %d %s >>\nstream\n" % (len(content), stream_filter) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
