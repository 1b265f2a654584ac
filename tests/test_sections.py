"""Cutting markdown into sections that tile the text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import pseudo_heading_without_shortcut
from policydiff.core.diff_model import SectionKind
from policydiff.engine.sections import split_sections

FIXTURES = Path(__file__).parent / "fixtures" / "engine"
SEED = (FIXTURES / "seed.md").read_text(encoding="utf-8")
TOP = "SME Server:Privacy policy - SME Server"

MARKDOWN_PIECES = st.sampled_from(
    [
        "# Title\n",
        "## 1. Numbered\n",
        "### Deep\n",
        "####### seven hashes\n",
        "**Bold heading**\n",
        "_Italic heading_\n",
        "***both***\n",
        "Setext\n---\n",
        "Setext\n===\n",
        "1\\. Escaped\n-----\n",
        "plain paragraph text. ",
        "\n",
        "\n\n",
        "* item\n",
        "    * nested\n",
        "1. ordered\n",
        "> quote\n",
        "> # quoted heading\n",
        "```\n# fenced\n```\n",
        "    indented code\n",
        "* * *\n",
        "---\n",
        "| a | b |\n|---|---|\n| c | d |\n",
        "<div>\n# in html\n</div>\n",
        "[ref]: http://x\n",
        "\r\n",
        "\r",
        "\t",
        "\u200b",
        "\u05e9\u05dc\u05d5\u05dd ",
        "\U0001f600",
        "\x00",
    ]
)
MARKDOWNISH = st.lists(MARKDOWN_PIECES | st.text(max_size=10), max_size=40).map("".join)


def bodies(text: str) -> str:
    return "".join(s.body for s in split_sections(text))


def test_seed_paths_follow_bold_and_italic_pseudo_headings() -> None:
    sections = split_sections(SEED)
    assert [s.path for s in sections] == [
        (),
        (TOP,),
        (TOP, "What we collect"),
        (TOP, "What we collect", "Websites"),
        (TOP, "What we collect", "Forums and mailinglists"),
        (TOP, "What we collect", "Non-personally identifying information"),
        (TOP, "What we collect", "General"),
    ]
    assert sections[0].kind is SectionKind.PREAMBLE
    assert sections[2].heading == "**What we collect**\n"
    assert sections[3].level == sections[2].level + 1
    assert bodies(SEED) == SEED


def test_body_includes_heading_and_following_blank_lines() -> None:
    text = "intro\n\n# One\n\nbody one\n\n\n## Two\nbody two"
    sections = split_sections(text)
    assert [s.body for s in sections] == [
        "intro\n\n",
        "# One\n\nbody one\n\n\n",
        "## Two\nbody two",
    ]
    assert sections[1].heading == "# One\n"
    assert sections[1].content == "\nbody one\n\n\n"
    assert sections[2].path == ("One", "Two")


def test_setext_headings_and_numbered_labels() -> None:
    text = "Terms\n=====\n\n1\\. Accepting the Terms\n------------------\n\ntext\n\n## 2. Changes\n"
    sections = split_sections(text)
    assert [s.path for s in sections] == [
        ("Terms",),
        ("Terms", "1. Accepting the Terms"),
        ("Terms", "2. Changes"),
    ]
    assert [s.label for s in sections] == [None, "1.", "2."]
    assert [s.title for s in sections] == ["Terms", "Accepting the Terms", "Changes"]
    assert sections[1].key == ("terms", "accepting the terms")


def test_heading_markup_is_dropped_from_titles() -> None:
    sections = split_sections("## [**Privacy** `Policy`](#top) &amp; more\n")
    assert sections[0].path == ("Privacy Policy & more",)


def test_pseudo_heading_levels_sit_below_the_real_heading() -> None:
    text = "#### Real\n\n**Bold**\n\n_Italic_\n\n**Bold two**\n\n##### Real five\n"
    paths = [s.path for s in split_sections(text)]
    assert paths == [
        ("Real",),
        ("Real", "Bold"),
        ("Real", "Bold", "Italic"),
        ("Real", "Bold two"),
        ("Real", "Real five"),
    ]


@pytest.mark.parametrize(
    "paragraph",
    [
        "**Personal Data You Provide:** We collect data when you sign up.",
        "**THESE TERMS CONTAIN LIMITATIONS OF LIABILITY IN SECTION 15.**",
        "_In summary: " + "long italic prose " * 20 + "_",
        "**two** **bolds**",
        "**bold\nover two lines**",
        "* * *",
    ],
)
def test_prose_and_rules_are_not_pseudo_headings(paragraph: str) -> None:
    text = "# Top\n\n" + paragraph + "\n\nafter\n"
    assert [s.path for s in split_sections(text)] == [("Top",)]


def test_headings_inside_code_quotes_lists_and_html_are_ignored() -> None:
    text = (
        "# Real\n\n```\n# fenced\n```\n\n    # indented\n\n> # quoted\n\n"
        "* # in list\n\n<div>\n# in html\n</div>\n"
    )
    assert [s.path for s in split_sections(text)] == [("Real",)]


def test_duplicate_titles_are_kept_apart() -> None:
    text = "# A\n\n## Details\n\none\n\n# B\n\n## Details\n\ntwo\n"
    sections = split_sections(text)
    assert [s.path for s in sections] == [("A",), ("A", "Details"), ("B",), ("B", "Details")]


def test_thematic_break_is_not_a_setext_underline_after_blank_line() -> None:
    text = "# T\n\nText\n\n---\n\nMore\n"
    assert [s.path for s in split_sections(text)] == [("T",)]
    assert [s.path for s in split_sections("# T\n\nText\n---\n")] == [("T",), ("T", "Text")]


def test_documents_without_headings_fall_back_to_paragraph_units() -> None:
    text = "* * *\n\nFirst paragraph with words.\n\n* a\n* b\n\n---\n\nLast one here"
    sections = split_sections(text)
    assert all(s.kind is SectionKind.PARAGRAPH for s in sections[1:])
    assert sections[0].kind is SectionKind.PREAMBLE
    assert sections[0].body == "* * *\n\n"
    assert [s.body for s in sections[1:]] == [
        "First paragraph with words.\n\n",
        "* a\n* b\n\n---\n\n",
        "Last one here",
    ]
    assert sections[1].path == ("First paragraph with words.",)
    assert bodies(text) == text


def test_paragraph_excerpt_is_short() -> None:
    text = "one two three four five six seven eight nine ten eleven\n"
    (section,) = split_sections(text)
    assert section.path == ("one two three four five six seven eight \u2026",)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "# only",
        "# a\r\n\r\ntext\r\n## b\r\n",
        "# a\r\rtext\r## b\rmore",
        "x\n" * 3 + "# h",
        "# h\n\x00\n## i",
        "\u2028# not a line break for markdown\n# h",
    ],
)
def test_odd_line_endings_still_tile(text: str) -> None:
    assert bodies(text) == text


def test_empty_text_has_no_sections() -> None:
    assert split_sections("") == ()


@given(MARKDOWNISH)
@settings(max_examples=300)
def test_sections_tile_any_markdownish_text(text: str) -> None:
    sections = split_sections(text)
    assert "".join(s.body for s in sections) == text
    position = 0
    for section in sections:
        assert section.start == position
        assert section.start <= section.content_start <= section.end
        assert section.body
        position = section.end


@given(st.text())
def test_sections_tile_any_text(text: str) -> None:
    assert bodies(text) == text


def test_deep_nesting_and_many_headings() -> None:
    deep = "> " * 200 + "# deep\n" + "* " * 200 + "x\n"
    assert bodies(deep) == deep
    many = "".join(f"## {i}. Heading {i}\n\ntext {i}\n\n" for i in range(3000))
    sections = split_sections(many)
    assert len(sections) == 3000
    assert sections[500].label == "500."
    # Labels are at most three digits; longer numbers still drop out of the match key.
    assert sections[-1].key == ("heading 2999",)


@given(
    st.sampled_from(["*", "**", "_", "__", "***"]),
    st.text(alphabet="ab .:*_ \t!&[]", max_size=12),
    st.sampled_from(["*", "**", "_", "__", "***", ""]),
)
def test_simple_emphasis_shortcut_agrees_with_inline_parser(
    open_mark: str, inner: str, close_mark: str
) -> None:
    from policydiff.engine import sections

    content = (open_mark + inner + close_mark).strip()
    fast = sections._pseudo_heading(content)
    assert fast == pseudo_heading_without_shortcut(content)
