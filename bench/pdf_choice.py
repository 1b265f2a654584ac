"""Measure pdfminer.six against pypdf on generated policy PDFs (the choice in ingest/pdf.py).

Both libraries feed the same line-to-markdown rules (policydiff.sources.ingest.pdf.lines_to_markdown),
so what differs is what each library can say about the lines: text, order, font size, bold.
Run: pip install pypdf && python bench/pdf_choice.py (pypdf is measured, not a dependency;
without it only pdfminer.six is measured).
"""

from __future__ import annotations

import difflib
import importlib.util
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pdf_factory import long_policy, make_pdf
from policydiff.sources.ingest.pdf import Line, _is_bold, lines_to_markdown, read_lines

HYPHENATED = [
    ("h1", "Privacy Policy"),
    ("h2", "1. Data we collect"),
    (
        "p",
        [
            "We collect your name and the address you give when you open an ac-",
            "count with us, and the identifiers of the devices you use.",
        ],
    ),
    ("h3", "Cookies and similar tech-"),
    (
        "p",
        [
            "We use cookies to keep you signed in and to measure how our ser-",
            "vices are used. You can turn off optional cookies at any time.",
        ],
    ),
    ("h2", "2. Your rights"),
    ("p", ["You may ask for a copy of your data, its correction or its erasure."]),
]
HYPHENATED_EXPECTED = (
    "# Privacy Policy\n\n## 1. Data we collect\n\nWe collect your name and the address you "
    "give when you open an account with us, and the identifiers of the devices you use.\n\n"
    "### Cookies and similar tech-\n\nWe use cookies to keep you signed in and to measure how "
    "our services are used. You can turn off optional cookies at any time.\n\n"
    "## 2. Your rights\n\nYou may ask for a copy of your data, its correction or its erasure.\n"
)


def pypdf_lines(raw: bytes) -> list[Line]:
    """Lines from pypdf's text visitor (fragments on one baseline merged into a line)."""
    from pypdf import PdfReader

    out: list[Line] = []
    for number, page in enumerate(PdfReader(io.BytesIO(raw)).pages, start=1):
        height = float(page.mediabox.height)
        frags: list[tuple[float, float, str, float, bool]] = []

        def visit(text, cm, tm, font, size, frags=frags):  # type: ignore[no-untyped-def]
            if text.strip():
                scale = abs(tm[3] * cm[3]) or 1.0
                y = tm[5] * cm[3] + cm[5]
                x = tm[4] * cm[0] + cm[4]
                name = str(font.get("/BaseFont", "")) if font else ""
                frags.append((y, x, text.strip(), round(size * scale * 2) / 2, _is_bold(name)))

        page.extract_text(visitor_text=visit)
        frags.sort(key=lambda f: (-round(f[0]), f[1]))
        merged: list[list] = []
        for y, x, text, size, bold in frags:
            if merged and abs(merged[-1][0] - y) < 1:
                merged[-1][2] += " " + text
            else:
                merged.append([y, x, text, size, bold])
        for y, _x, text, size, bold in merged:
            out.append(Line(text, size, bold, number, height - y - size, height - y, height))
    return out


def pdfminer_lines(raw: bytes) -> list[Line]:
    return read_lines(raw)


def score(expected: str, got: str) -> tuple[float, float, int, int]:
    """Word recall, word-order similarity, headings recovered, footer lines left."""
    exp_words, got_words = expected.split(), got.split()
    matcher = difflib.SequenceMatcher(None, exp_words, got_words, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    exp_heads = {ln for ln in expected.splitlines() if ln.startswith("#")}
    got_heads = {ln for ln in got.splitlines() if ln.startswith("#")}
    return (
        matched / len(exp_words),
        matcher.ratio(),
        len(exp_heads & got_heads) * 100 // max(1, len(exp_heads)),
        got.count("Page "),
    )


READERS = [("pdfminer.six", pdfminer_lines)]
if importlib.util.find_spec("pypdf") is not None:
    READERS.append(("pypdf", pypdf_lines))


def main() -> None:
    long_blocks, long_expected = long_policy(sections=40, paragraphs=4)
    cases = {
        "hyphenated 1p": (make_pdf(HYPHENATED), HYPHENATED_EXPECTED),
        "long": (make_pdf(long_blocks), long_expected),
        **{
            f"{name}, words {mode}": (make_pdf(blocks, per_word=mode), expected)
            for mode in ("in order", "reversed", "split")
            for name, blocks, expected in (
                ("hyphenated 1p", HYPHENATED, HYPHENATED_EXPECTED),
                ("long", long_blocks, long_expected),
            )
        },
    }
    print(
        "| document | library | pages | words found | order | headings | footers left | ms/page |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (raw, expected) in cases.items():
        for lib, reader in READERS:
            started = time.perf_counter()
            lines = reader(raw)
            got = lines_to_markdown(lines)
            spent = time.perf_counter() - started
            pages = max(line.page for line in lines)
            found, order, heads, footers = score(expected, got)
            print(
                f"| {name} | {lib} | {pages} | {found:.1%} | {order:.3f} | {heads}% | "
                f"{footers} | {spent * 1000 / pages:.1f} |"
            )
            if got != expected and name.startswith("hyph") and "word" in name:
                print(
                    "\n".join(
                        difflib.unified_diff(expected.splitlines(), got.splitlines(), lineterm="")
                    ),
                    file=sys.stderr,
                )


if __name__ == "__main__":
    main()
