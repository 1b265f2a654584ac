"""The section splitter's markdown-it parsers give the stock parsers' tokens exactly."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from policydiff.engine import sections
from policydiff.engine.sections import split_sections, table_rows

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))

# Every block rule at work: ATX and setext headings, nested and lazy lists, block
# quotes holding lists, fences, indented code, HTML blocks, reference definitions,
# rules, tables, bold pseudo-headings, and CR/CRLF line breaks.
SAMPLES = (
    (
        "# Policy\n\nIntro text.\n\n## Data\n\n- one\n- two\n  - nested\n    continued\nlazy line\n\n"
        "1. first\n2) second\n\n> quoted\n> - item\n>\n> more\n\n```\ncode\n\n# not a heading\n```\n\n"
        "    indented code\n\n<div>\nhtml\n</div>\n\n[ref]: https://example.com 'title'\n\n"
        "Setext\n======\n\n***\n\n**Bold title**\n\nText | more\n--- | ---\na | b\n"
    ),
    "Title\r\n-----\r\n\r\n* a\r\n* b\r\n\r\npara\rnext\r\n",
    "no headings\n\nsecond paragraph\n\n---\n\n- list\n",
    "\x00 nul\n\n# H\n\n~~~ js\nx\n~~~\n",
    "",
)


def stock(parser: MarkdownIt) -> MarkdownIt:
    """A parser with the same rules enabled as ``parser``, built from markdown-it as shipped."""
    fresh = MarkdownIt("commonmark")
    enabled = {
        name
        for ruler in (parser.core.ruler, parser.block.ruler, parser.inline.ruler)
        for name in ruler.get_active_rules()
    }
    fresh.disable(fresh.get_all_rules()["core"] + fresh.get_all_rules()["block"], True)
    fresh.enable(sorted(enabled), True)
    return fresh


def tokens(parser: MarkdownIt, text: str) -> list[dict[str, object]]:
    """Every token of a parse, as plain data."""
    return [token.as_dict() for token in parser.parse(text)]


@pytest.mark.parametrize("name", ["_BLOCK_PARSER", "_BLOCK_PARSER_LF", "_TABLE_PARSER"])
@pytest.mark.parametrize("text", SAMPLES)
def test_quiet_parsers_give_the_stock_tokens(name: str, text: str) -> None:
    """Same rules on, same tokens, maps included: only the debug logging is gone."""
    ours = getattr(sections, name)
    if name == "_BLOCK_PARSER_LF" and ("\r" in text or "\0" in text):
        return  # split_sections never gives this parser such text
    assert tokens(ours, text) == tokens(stock(ours), text)


def test_quiet_parsers_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """The rules markdown-it logs from at debug level are silent in ours."""
    with caplog.at_level(logging.DEBUG, logger="markdown_it"):
        sections._BLOCK_PARSER.parse(SAMPLES[0])
        assert caplog.records == []
        stock(sections._BLOCK_PARSER).parse(SAMPLES[0])
        assert caplog.records  # the stock rules do log: the check above means something


def test_sections_of_samples_tile_the_text() -> None:
    """Sections still tile each sample exactly and tables are still found."""
    for text in SAMPLES:
        assert "".join(section.body for section in split_sections(text)) == text
    assert table_rows(SAMPLES[0])


@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(), reason="no shared corpus here")
def test_quiet_parsers_match_stock_on_the_corpus() -> None:
    """Every corpus version parses to the same block tokens as with markdown-it's own rules."""
    pairs = {
        False: (sections._BLOCK_PARSER, stock(sections._BLOCK_PARSER)),
        True: (sections._BLOCK_PARSER_LF, stock(sections._BLOCK_PARSER_LF)),
    }
    files = sorted(CORPUS.glob("*/*/*.md"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        ours, reference = pairs["\r" not in text and "\0" not in text]
        assert tokens(ours, text) == tokens(reference, text), path
