"""Cosmetic normalisation and heading-title normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policydiff.engine.normalize import (
    fold_chars,
    normalize_text,
    normalize_title,
    same_words,
    split_label,
    title_key,
)

MARKDOWNISH = st.lists(
    st.sampled_from(
        [
            "word ",
            "Word",
            "\n",
            "\n\n",
            "# ",
            "## ",
            "**",
            "_",
            "* ",
            "- ",
            "1. ",
            "1\\. ",
            "[link](http://x.y/z)",
            "[",
            "](",
            ")",
            "<br>",
            "\u201c",
            "\u2019",
            "\u2014",
            "\u00a0",
            "\u200b",
            "---",
            "===",
            "|",
            "`",
            "\\",
            " ",
            "\t",
            "\r\n",
        ]
    )
    | st.text(max_size=8),
    max_size=40,
).map("".join)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\u201cquoted\u201d it\u2019s", '"quoted" it\'s'),
        ("a \u2014 b \u2013 c", "a - b - c"),
        ("no\u00a0break", "no break"),
        ("zero\u200bwidth", "zerowidth"),
        ("re-\nwrapped   text\n\nhere", "re- wrapped text here"),
        ("**bold** and _italic_", "bold and italic"),
        ("1\\. escaped", "1. escaped"),
        ("* item one\n* item two", "- item one\n- item two"),
        ("1. first\n2. second", "1) first\n1) second"),
        ("# Title", "Title\n====="),
        ("## Title ##", "Title\n-----"),
        ("see [the policy](https://x.example/p)", "see the policy"),
        ("[](#anchor)**Spotify Privacy**", "[**Spotify Privacy**](#anchor)"),
        ("cell<br>next", "cell next"),
        ("para\n\n* * *\n\nnext", "para\n\nnext"),
        ("> quoted line", "quoted line"),
        ("| a | b |\n|---|---|\n| c | d |", "a b\nc d"),
        ("\ufb01le", "file"),  # NFKC ligature
    ],
)
def test_cosmetic_variants_normalise_equal(old: str, new: str) -> None:
    assert normalize_text(old) == normalize_text(new)
    assert same_words(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("we sell data", "we do not sell data"),
        ("30 days", "60 days"),
        ("Effective 1 May 2024", "Effective 2 May 2024"),
        ("data-driven", "data driven!"),
    ],
)
def test_word_changes_are_not_cosmetic(old: str, new: str) -> None:
    assert normalize_text(old) != normalize_text(new)
    assert not same_words(old, new)


def test_fold_chars_keeps_ascii_and_folds_typography() -> None:
    assert fold_chars("plain ascii") == "plain ascii"
    assert fold_chars("`tick`") == "'tick'"
    assert fold_chars("\u2018a\u2019 \u201cb\u201d \u2013\u2014\u2212") == "'a' \"b\" ---"
    assert fold_chars("x\u00ady\ufeff") == "xy"


@pytest.mark.parametrize(
    ("title", "label", "rest"),
    [
        ("1. Data controller", "1.", "Data controller"),
        ("12. Data controller", "12.", "Data controller"),
        ("1.2 Sharing", "1.2", "Sharing"),
        ("1.2.3. Deep", "1.2.3.", "Deep"),
        ("3) Rights", "3)", "Rights"),
        ("Section 3 Your Rights", "Section 3", "Your Rights"),
        ("Section 3: Your Rights", "Section 3", "Your Rights"),
        ("SECTION 3 - Your Rights", "SECTION 3", "Your Rights"),
        ("Article IV - Liability", "Article IV", "Liability"),
        ("§ 5 Haftung", "§ 5", "Haftung"),
        ("§5. Haftung", "§5.", "Haftung"),
        ("(a) Children", "(a)", "Children"),
        ("(iv) Sub-item", "(iv)", "Sub-item"),
        ("b) Letter", "b)", "Letter"),
        ("IV. Roman", "IV.", "Roman"),
        ("A. Lettered", "A.", "Lettered"),
        ("Data controller", None, "Data controller"),
        ("2024 Update", None, "2024 Update"),
        ("2024", None, "2024"),
        ("Section 7", "Section 7", ""),
        ("", None, ""),
    ],
)
def test_split_label(title: str, label: str | None, rest: str) -> None:
    assert split_label(title) == (label, rest)


def test_normalize_title_strips_label_case_and_punctuation() -> None:
    assert normalize_title("12. Data Controller:") == ("12.", "data controller")
    assert normalize_title("1. Data controller") == ("1.", "data controller")
    assert normalize_title("Children\u2019s Privacy") == (None, "children's privacy")
    assert title_key("**Eligibility:**") == "eligibility"


@given(MARKDOWNISH, MARKDOWNISH)
def test_same_words_agrees_with_full_normalisation(old: str, new: str) -> None:
    assert same_words(old, new) == (normalize_text(old) == normalize_text(new))


@given(MARKDOWNISH, MARKDOWNISH, MARKDOWNISH)
def test_same_words_with_shared_context(prefix: str, old: str, new: str) -> None:
    before, after = prefix + "\n", "\n" + prefix
    assert same_words(before + old + after, before + new + after) == (
        normalize_text(before + old + after) == normalize_text(before + new + after)
    )


@given(
    st.lists(MARKDOWNISH, min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), MARKDOWNISH), max_size=6),
)
def test_same_words_line_by_line_agrees_with_full_normalisation(
    lines: list[str], edits: list[tuple[int, str]]
) -> None:
    # same_words reads long stretches line by line, skipping lines equal on both sides.
    changed = list(lines)
    for index, text in edits:
        changed[index % len(changed)] = text
    old, new = "\n".join(lines), "\n".join(changed)
    assert same_words(old, new) == (normalize_text(old) == normalize_text(new))


@given(st.text())
def test_normalize_is_idempotent_enough_and_total(text: str) -> None:
    once = normalize_text(text)
    assert isinstance(once, str)
    assert once == once.strip()
    assert "  " not in once
