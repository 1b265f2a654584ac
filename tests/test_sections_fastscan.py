"""The block scanner cuts sections exactly where markdown-it's block parser does, or gives up."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import pseudo_heading_without_shortcut
from policydiff.engine import sections
from policydiff.engine.blockscan import Block, scan_blocks, scan_tables
from policydiff.engine.sections import Section, split_sections

REPO = Path(__file__).resolve().parent.parent
CORPUS = next(
    (
        path
        for path in (
            Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus")),
            REPO.parent.parent / "shared" / "corpus",
        )
        if (path / "MANIFEST.tsv").exists()
    ),
    None,
)

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def by_markdown_it(text: str) -> tuple[Section, ...]:
    """Sections cut at the blocks markdown-it finds (the path every text took before)."""
    return sections._sections_from(text, sections._parsed_blocks(text)) if text else ()


def assert_same_or_unsure(text: str) -> bool:
    """Scanner and markdown-it agree on blocks and sections; return whether the scanner read it."""
    scanned = scan_blocks(text)
    if scanned is None:
        return False
    assert scanned == sections._parsed_blocks(text)
    assert sections._sections_from(text, scanned) == by_markdown_it(text)
    return True


def assert_same_tables_or_unsure(text: str) -> bool:
    """Scanner and markdown-it's table parser find the same tables; return whether it read them."""
    scanned = scan_tables(text)
    if scanned is None:
        return False
    assert scanned == sections._parsed_tables(text)
    return True


# --------------------------------------------------------------------------- the corpus


@pytest.mark.skipif(CORPUS is None, reason="no shared corpus here")
def test_corpus_sections_are_markdown_its_and_mostly_scanned() -> None:
    """Every corpus file: same sections both ways; the scanner reads nearly all of them itself."""
    assert CORPUS is not None
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        paths = [CORPUS / row["path"] for row in csv.DictReader(manifest, delimiter="\t")]
    assert paths
    scanned = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if assert_same_or_unsure(text):
            scanned += 1
            assert assert_same_tables_or_unsure(text)
        assert split_sections(text) == by_markdown_it(text), path
    # 9 of the 118 files hold block quotes (left to markdown-it); a scanner that gave up
    # on everything would pass the equality above and fail here.
    assert scanned >= 0.85 * len(paths), (scanned, len(paths))


# --------------------------------------------------------------------------- generated documents

_INDENTS = st.sampled_from(["", "", "", " ", "  ", "   ", "    ", "     ", "      ", "        "])
_MARKERS = st.sampled_from(
    [
        "",
        "",
        "",
        "# ",
        "## ",
        "###### ",
        "####### ",
        "#",
        "#x ",
        "* ",
        "- ",
        "+ ",
        "*",
        "-",
        "1. ",
        "2. ",
        "1) ",
        "10. ",
        "1234567890. ",
        "-    ",
        "*      ",
        "- - ",
        "* 1. ",
        "1. - ",
        "---",
        "***",
        "* * *",
        "- - -",
        "___",
        "--",
        "===",
        "=",
        "= =",
        "```",
        "````",
        "~~~",
        "```js",
        "``` a`b",
        "~~~ a`b",
        "> ",
        "<div>",
        "<!-- ",
        "[ref]: /url",
        "[not a ref](x)",
        "[a\\]b]: /u",
        "| a | b |",
        "|---|---|",
        "--- | ---",
        "\t",
        "\\# ",
    ]
)
_WORDS = st.sampled_from(
    [
        "",
        "",
        "Text",
        "more words",
        "**Bold title**",
        "_Italic_",
        "*Title*",
        "a # b",
        " #",
        " ##",
        "#",
        "  ",
        "\u00a0x",
        "`code`",
        "end.",
    ]
)
_LINE = st.tuples(_INDENTS, _MARKERS, _WORDS).map("".join)


@settings(FUZZ, max_examples=1500)
@given(st.lists(_LINE, min_size=1, max_size=25), st.booleans())
def test_generated_documents_agree_or_fall_back(lines: list[str], final_newline: bool) -> None:
    """Headings, setext underlines, lists, code, rules, HTML, quotes, tabs in any mix."""
    text = "\n".join(lines) + ("\n" if final_newline else "")
    assert_same_or_unsure(text)


_PLAIN_LINE = st.tuples(
    st.sampled_from(["", "", " ", "  ", "   ", "    ", "      "]),
    st.sampled_from(
        [
            "",
            "",
            "# ",
            "## ",
            "* ",
            "- ",
            "-  ",
            "-    ",
            "1. ",
            "2) ",
            "10.   ",
            "---",
            "===",
            "```",
            "**B**",
        ]
    ),
    st.sampled_from(["", "Text", "Title", "x ##"]),
).map("".join)


@settings(FUZZ, max_examples=800)
@given(st.lists(_PLAIN_LINE, min_size=1, max_size=30))
def test_generated_plain_documents_are_scanned_and_agree(lines: list[str]) -> None:
    """The constructs the scanner reads itself: it must not give up on them, and must agree."""
    assert assert_same_or_unsure("\n".join(lines) + "\n")


_TABLE_LINE = st.tuples(
    st.sampled_from(["", "", " ", "  ", "    "]),
    st.sampled_from(["", "", "- ", "1. ", "# ", "> ", "```", "<b>"]),
    st.sampled_from(
        [
            "| a | b |",
            "a | b",
            "|a|",
            "| a \\| b |",
            "|---|---|",
            "| :-- | --: |",
            "--- | ---",
            "-- | --",
            "- | -",
            ":-:",
            "|-|-|-|",
            "| --- |",
            "|",
            "||",
            "| - - |",
            "---",
            "text",
            "",
            "\u00a0",
        ]
    ),
).map("".join)


@settings(FUZZ, max_examples=800)
@given(st.lists(_TABLE_LINE, min_size=1, max_size=20))
def test_generated_tables_agree_or_fall_back(lines: list[str]) -> None:
    """Pipe tables at any depth, interrupting paragraphs, ended by other blocks."""
    text = "\n".join(lines) + "\n"
    assert_same_tables_or_unsure(text)
    assert_same_or_unsure(text)


_ROW_INDENT = st.sampled_from(["", "", "", " ", "   ", "    ", "      "])


@st.composite
def _table_rows(draw: st.DrawFn) -> str:
    """A header, a delimiter row and body rows, each shape varied on its own."""

    def row(cells: list[str]) -> str:
        edges = draw(st.sampled_from([("|", "|"), ("", ""), ("|", ""), ("", "|")]))
        return draw(_ROW_INDENT) + edges[0] + "|".join(cells) + edges[1]

    columns = draw(st.integers(1, 3))
    header = row([draw(st.sampled_from([" a ", "b", " c \\| d ", " "])) for _ in range(columns)])
    aligns = draw(st.integers(max(1, columns - 1), columns + 1))
    delimiter = row(
        [
            draw(st.sampled_from(["---", " :-- ", "--:", ":-:", " - ", "", "-x-", "- -"]))
            for _ in range(aligns)
        ]
    )
    body = [
        row(
            [
                draw(st.sampled_from([" 1 ", "2", "", " x \\| y "]))
                for _ in range(draw(st.integers(0, 4)))
            ]
        )
        if draw(st.booleans())
        else draw(
            st.sampled_from(["", "# H", "- item", "1. item", "> q", "```", "text", "***", "\u00a0"])
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    return "\n".join([header, delimiter, *body])


@settings(FUZZ, max_examples=1000)
@given(st.lists(st.one_of(_table_rows(), _TABLE_LINE), min_size=1, max_size=6))
def test_generated_table_shapes_agree_or_fall_back(parts: list[str]) -> None:
    """Headers and delimiter rows that match or not, rows that continue a table or end it."""
    text = "\n".join(parts) + "\n"
    assert_same_tables_or_unsure(text)


TABLES = {
    "simple": "| a | b |\n|---|---|\n| 1 | 2 |\n\nafter\n",
    "no edge pipes": "a | b\n--- | ---\n1 | 2\n",
    "interrupts a paragraph": "text\n| a | b |\n| - | - |\n",
    "header and delimiter disagree": "| a | b |\n|---|\n| 1 | 2 |\n",
    "escaped pipe": "| a \\| b |\n|---|\n",
    "in a list item": "- | a |\n  |---|\n  | 1 |\nlazy\n",
    "ended by a heading": "| a |\n|---|\n# H\n| b |\n",
    "ended by a list item": "| a |\n|---|\n- x\n",
    "delimiter cannot start with a dash and a space": "a | b\n- | -\n",
    "indented delimiter is code": "| a |\n    |---|\n",
    # 999 cells missing a row: markdown-it stops the table past 65,536 in all.
    "autocompleted cells limit": "|" + "a|" * 1000 + "\n|" + "-|" * 1000 + "\n" + "|x|\n" * 70,
}


@pytest.mark.parametrize("text", TABLES.values(), ids=TABLES.keys())
def test_tables_are_scanned_like_markdown_it(text: str) -> None:
    """Each table shape, found (or not) where markdown-it's table rule finds it."""
    assert assert_same_tables_or_unsure(text)


# --------------------------------------------------------------------------- read natively

NATIVE = {
    "atx levels and closing hashes": "# One #\n\n## Two ##   \n\n### Three#\n###### Six\n####### Seven\n#\n# #\n",
    "setext headings": "Title\n=====\n\nSub\ntitle\n---\n\nNot\n* * *\n",
    "setext underline inside a list item is lazy text": "- item\n===\n\nafter\n",
    "thematic breaks": "text\n***\n\n- - -\n\n___\n\n---\n",
    "bullet list with nested and lazy lines": "- one\n  - two\nlazy\n- three\n\n  more\n\nNext\n",
    "ordered list interrupting and not": "para\n1. interrupts\n\npara\n2. does not\n",
    "empty bullet cannot interrupt a paragraph": "para\n-\nnext\n",
    "list marker changes end the list": "- a\n+ b\n* c\n1. d\n1) e\n",
    "empty list item workaround": "-\n\n  foo\n\n# H\n",
    "five spaces after a marker": "-     code\n  text\n\n# H\n",
    "four spaces after a marker": "-    a\n\n  b\n\n    c\n",
    "indented code at the top level": "    code\n\n      more\n\n# After\n",
    "indented line continues a paragraph": "para\n    not code\n# H\n",
    "fenced code hides headings": "```\n# not a heading\n```\n# heading\n~~~~\n~~~\n# inside\n~~~~\n",
    "unclosed fence runs to the end": "# H\n```\n# hidden\n",
    "fence inside a list item ends with the item": "- ```\n  code\n# out\n",
    "bold and italic pseudo-headings": "# Top\n\n**Bold**\n\ntext\n\n_Italic_\n\ntext\n",
    "no headings: paragraph units": "first para\n\n- a list\n\n---\n\n    code\n\nlast para\n",
    "deep but bounded nesting": "".join(f"{'  ' * d}- level {d}\n" for d in range(8)) + "# H\n",
    "spaces-only last line": "# H\n\ntext\n   ",
    "non-breaking space is not indentation": "\u00a0# not a heading\n\n# H\n",
}


@pytest.mark.parametrize("text", NATIVE.values(), ids=NATIVE.keys())
def test_native_constructs_are_scanned_like_markdown_it(text: str) -> None:
    """Each construct the scanner reads itself, read the same."""
    assert assert_same_or_unsure(text)


def test_scanner_reports_headings_with_their_text() -> None:
    """The blocks carry markdown-it's map and trimmed inline source."""
    assert scan_blocks("Title\n===\n\n## Sub ##\n\n- a\n- b\n\ntext\n") == [
        Block("heading", 0, 2, 1, "Title"),
        Block("heading", 3, 4, 2, "Sub"),
        Block("other", 5, 8, 0, ""),
        Block("paragraph", 8, 9, 0, "text"),
    ]


# --------------------------------------------------------------------------- left to markdown-it

FALLBACK = {
    "block quote": "# H\n\n> quoted\n",
    "block quote interrupting a paragraph": "text\n> quoted\n",
    "html block": "# H\n\n<div>\n# x\n</div>\n",
    "html in a list item": "- <div>\n",
    "reference definition": "[ref]: https://example.com\n\n# H\n",
    "reference label over two lines": "[a\nb]: /url\n",
    "tab": "#\tTitle\n",
    "carriage return": "# H\r\n\r\ntext\r\n",
    "nul": "# H\n\x00\n",
    "nesting past markdown-it's limit": "".join(f"{'  ' * d}- level {d}\n" for d in range(12)),
}


@pytest.mark.parametrize("text", FALLBACK.values(), ids=FALLBACK.keys())
def test_unsure_constructs_fall_back_to_markdown_it(text: str) -> None:
    """The scanner gives up; split_sections then gives markdown-it's sections."""
    assert scan_blocks(text) is None
    assert scan_tables(text) is None
    assert split_sections(text) == by_markdown_it(text)


def test_a_text_is_cut_once_while_recent() -> None:
    """An equal text asked for again (the changelog's title after its compare) is not parsed again."""
    text = "# Policy\n\nWe collect data.\n"
    first = split_sections(text)
    again = text[:9] + text[9:]  # equal, but another string object
    assert split_sections(again) is first


@pytest.mark.parametrize(
    ("old", "new", "loaded"),
    [
        ("# Policy\n\n## Data\n\n- a\n- b\n", "# Policy\n\n## Data\n\n- a\n- c\n", False),
        (
            "# Policy\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            "# Policy\n\n| a | b |\n|---|---|\n| 1 | 3 |\n",
            False,
        ),
        ("# Policy\n\n> a\n", "# Policy\n\n> b\n", True),
        ("# [Policy](x)\n\ntext\n", "# [Policy](x)\n\nmore\n", False),
        ("# `Policy`\n\ntext\n", "# `Policy`\n\nmore\n", True),
        (
            "# Data & you\n\n## 1\\. Use\n\n**Keep & mind**\n\nx\n",
            "# Data & you\n\n## 1\\. Use\n\nx y\n",
            False,
        ),
    ],
    ids=[
        "plain",
        "table",
        "block quote",
        "heading with a link",
        "heading with code",
        "titles with & and escapes",
    ],
)
def test_markdown_it_is_imported_only_when_needed(old: str, new: str, loaded: bool) -> None:
    """A compare of plain markdown runs without importing markdown-it at all."""
    code = (
        "import sys\n"
        "from policydiff.engine.compare import compare_texts\n"
        f"compare_texts({old!r}, {new!r})\n"
        "print('markdown_it' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == str(loaded)


_TITLE = st.text(alphabet="ab 1.&;#x!]>[<`*_\\\n", max_size=16)


@settings(FUZZ, max_examples=1500)
@given(_TITLE)
def test_titles_read_without_markdown_it_are_its_reading(content: str) -> None:
    """Escapes, lone `&`, `!`, `]`, `>` and whole emphasis read as markdown-it's inline parser does."""
    assert sections._inline_title(content) == sections._parsed_title(content)


@settings(FUZZ, max_examples=800)
@given(st.sampled_from(["*", "**", "_", "__"]), _TITLE, st.sampled_from(["*", "**", "_", "__", ""]))
def test_pseudo_headings_with_entities_and_escapes_agree(
    opening: str, inner: str, closing: str
) -> None:
    """The whole-emphasis shortcut leaves entities to the inline parser."""
    content = (opening + inner + closing).strip()
    fast = sections._pseudo_heading(content)
    assert fast == pseudo_heading_without_shortcut(content)


@pytest.mark.parametrize(
    "content",
    ["How to control & manage your data", "1\\. Accessing", "**Contact Us**", "a \\q b", "end \\"],
)
def test_common_titles_are_read_without_markdown_it(content: str) -> None:
    """The corpus's usual markup in titles needs no parser, and reads as the parser reads it."""
    assert sections._read_without_parser(content) is not None
    assert sections._inline_title(content) == sections._parsed_title(content)


@pytest.mark.parametrize(
    "content",
    ["Tom &amp; Jerry", "&#38; more", "`code`", "a *b* c", "<b>x</b>", "a\\\nb"],
)
def test_titles_with_active_markup_go_to_markdown_it(content: str) -> None:
    """Entities, links, code, emphasis, HTML and hard breaks are left to the inline parser."""
    assert sections._read_without_parser(content) is None
    assert sections._inline_title(content) == sections._parsed_title(content)


# Link syntax and its near misses: images, escapes, titles, nested and unclosed brackets,
# targets with spaces or refused schemes, emphasis around and inside links.
_HAZARD = st.sampled_from(
    [
        "[",
        "]",
        "(",
        ")",
        "](",
        "a",
        "b c",
        " ",
        "*",
        "**",
        "_",
        "__",
        "\\",
        "!",
        ".",
        "#x",
        "http://e.org/a_b*c",
        "javascript:x",
        "data:x",
        "mailto:m",
        "x:y",
        "\\.",
        "&amp;",
        "`",
        "<",
        ">",
        '"t"',
        "1\\.",
        "\n",
        "\\[",
        "\\]",
        "\\*",
    ]
)
# Mostly plain pieces, so that half the sources are ones the reader takes on itself.
_PLAIN = st.sampled_from(["a", "b c", "Scope", "1\\.", " ", "#x", "http://e.org/a_b", "."])
_RUN = st.lists(st.one_of(_PLAIN, _PLAIN, _PLAIN, _HAZARD), max_size=4).map("".join)
_MARK = st.sampled_from(["", "", "*", "**", "_", "__"])
_EMPHASIS = st.tuples(_MARK, _RUN).map(lambda p: p[0] + p[1] + p[0])
_LINK = st.tuples(
    st.sampled_from(["", "", "!", "\\"]),
    _EMPHASIS,
    _RUN,
    st.sampled_from(["", "", " ", '"t"', ' "t"', " 't'", ' "a\\"b"', ' "t" ']),
).map(lambda p: f"{p[0]}[{p[1]}]({p[2]}{p[3]})")
_LINKY = st.lists(st.one_of(_LINK, _EMPHASIS, _RUN), max_size=4).map("".join)


@settings(FUZZ, max_examples=1500)
@given(_LINKY)
def test_titles_with_links_read_as_markdown_it_reads_them(content: str) -> None:
    """Links, escapes and emphasis read without the parser give the parser's text."""
    assert sections._inline_title(content) == sections._parsed_title(content)


@settings(FUZZ, max_examples=1500)
@given(st.sampled_from(["*", "**", "_", "__"]), _LINKY, st.sampled_from(["*", "**", "_", "__"]))
def test_linked_pseudo_headings_read_as_markdown_it_reads_them(
    opening: str, inner: str, closing: str
) -> None:
    """One emphasis around links is a pseudo-heading exactly when the parser says so."""
    content = (opening + inner + closing).strip()
    assert sections._pseudo_heading(content) == pseudo_heading_without_shortcut(content)


@pytest.mark.parametrize(
    "content",
    [
        "[](#1-about-this-policy)**1\\. About this Policy**",
        "[**3\\. Personal data we collect about you**](#3-personal-data)",
        "[](#3-1-basic-account-data)3.1. Basic Account Data",
        "If the [Keep Activity](https://myactivity.google.com/x?utm_source=help) setting is on:",
        "**Last updated:** April 29, 2026",
    ],
)
def test_corpus_link_titles_are_read_without_markdown_it(content: str) -> None:
    """The corpus's linked headings (Spotify, Telegram, Gemini) need no parser."""
    assert sections._read_without_parser(content) is not None
    assert sections._inline_title(content) == sections._parsed_title(content)


def test_linked_pseudo_heading_is_read_without_markdown_it() -> None:
    content = "_[Effective November 3, 2025](https://www.linkedin.com/help/a1341216)_"
    assert sections._read_without_parser(content) == ("_", "Effective November 3, 2025")
    assert sections._pseudo_heading(content) == ("italic", "Effective November 3, 2025")
    assert sections._pseudo_heading(content) == pseudo_heading_without_shortcut(content)
    titled = '**[Learn\xa0what we collect & how](#chapter1 "1. Information We Collect")**'
    assert sections._read_without_parser(titled) == ("**", "Learn\xa0what we collect & how")
    assert sections._pseudo_heading(titled) == pseudo_heading_without_shortcut(titled)
