"""Test helper: a strict HTML nesting check and the raw markdown a reader must never see."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements without an end tag.
VOID = frozenset({"br", "hr", "input", "meta", "img", "wbr", "link", "col"})
# Markdown syntax that shows when text is printed instead of formatted: bold marks,
# underscore emphasis around a word or left at its edge, an ATX heading mark, a link's
# middle, an escaped asterisk, a table's delimiter row.
RAW_MARKUP = (
    re.compile(r"\*\*"),
    re.compile(r"(?<![\w_])_[^\s_][^_\n]*_(?![\w_])"),
    # ... or one underscore left at a word's edge (``username_``), not a ``____`` blank.
    re.compile(r"(?<=[^\W_])_(?!\w)|(?<!\w)_(?=[^\W_])"),
    re.compile(r"(?m)^[ \t]*#{1,6} "),
    re.compile(r"\]\("),
    re.compile(r"\\\*"),
    re.compile(r"\|[ \t]*:?-{3}"),
)


class _Nesting(HTMLParser):
    """Record every end tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.errors.append(f"<{tag}/> is not a void element")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"</{tag}> closes a void element")
        elif not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-3:]}")
        else:
            self.open.pop()


def nesting_errors(page: str) -> list[str]:
    """Return what is wrong with the nesting of ``page`` (empty when every element nests)."""
    parser = _Nesting()
    parser.feed(page)
    parser.close()
    return parser.errors + [f"<{tag}> never closed" for tag in parser.open]


def raw_markup(text: str) -> list[str]:
    """Return the pieces of markdown syntax found in rendered ``text``, with their context."""
    return [
        text[max(0, m.start() - 30) : m.end() + 30]
        for pattern in RAW_MARKUP
        for m in pattern.finditer(text)
    ]
