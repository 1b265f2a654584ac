"""Word-level diffs: complete, deterministic, bounded, cosmetic-aware."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policydiff.core.diff_model import Op, Segment
from policydiff.engine.worddiff import count_words, diff_words, tokenize

SRC = Path(__file__).resolve().parent.parent / "src" / "policydiff"

WORDS = st.lists(
    st.sampled_from(["the", "data", "we", "sell", "share", "policy", ".", ",", "\u201c", "\u2019"])
    | st.text(max_size=6),
    max_size=60,
).map(" ".join)


def old_side(segments: tuple[Segment, ...]) -> str:
    return "".join(s.text for s in segments if s.op is not Op.INSERT)


def new_side(segments: tuple[Segment, ...]) -> str:
    return "".join(s.text for s in segments if s.op is not Op.DELETE)


def changes(segments: tuple[Segment, ...]) -> list[tuple[str, str]]:
    return [(s.op.value, s.text) for s in segments if s.op is not Op.EQUAL and not s.cosmetic]


@given(st.text(), st.text())
def test_segments_rebuild_both_sides(old: str, new: str) -> None:
    result = diff_words(old, new)
    assert old_side(result.segments) == old
    assert new_side(result.segments) == new


@given(WORDS, WORDS)
def test_segments_rebuild_wordy_texts(old: str, new: str) -> None:
    result = diff_words(old, new)
    assert old_side(result.segments) == old
    assert new_side(result.segments) == new
    assert all(s.text for s in result.segments)


@given(st.text())
def test_identical_texts_are_one_equal_segment(text: str) -> None:
    result = diff_words(text, text)
    assert result.segments == ((Segment(Op.EQUAL, text),) if text else ())
    assert (result.words_inserted, result.words_deleted, result.approximate) == (0, 0, False)


@given(st.text())
def test_tokens_tile_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


def test_word_edit_is_reported_at_word_level() -> None:
    result = diff_words("We keep your data for 30 days.", "We keep your personal data for 60 days.")
    assert changes(result.segments) == [
        ("insert", "personal "),
        ("delete", "30 "),
        ("insert", "60 "),
    ]
    assert (result.words_inserted, result.words_deleted) == (2, 1)


def test_rewrap_and_spacing_are_cosmetic() -> None:
    old = "We keep your data\nfor thirty days  and then\ndelete it."
    new = "We keep your data for thirty days and then delete it."
    result = diff_words(old, new)
    assert changes(result.segments) == []
    assert any(s.cosmetic for s in result.segments)
    assert (result.words_inserted, result.words_deleted) == (0, 0)


def test_quote_and_dash_changes_are_cosmetic() -> None:
    result = diff_words("it\u2019s \u201cfree\u201d \u2014 really", 'it\'s "free" - really')
    assert changes(result.segments) == []
    assert (result.words_inserted, result.words_deleted) == (0, 0)


def test_markup_only_runs_are_cosmetic_inside_a_real_change() -> None:
    result = diff_words("a **bold** claim about cats", "a bold claim about dogs")
    assert changes(result.segments) == [("delete", "cats"), ("insert", "dogs")]


def test_cosmetic_flag_marks_every_change() -> None:
    result = diff_words("one two", "one three", cosmetic=True)
    assert all(s.cosmetic for s in result.segments if s.op is not Op.EQUAL)
    assert (result.words_inserted, result.words_deleted) == (0, 0)


def test_delete_comes_before_insert_in_a_change() -> None:
    result = diff_words("alpha beta gamma", "alpha delta gamma")
    ops = [s.op for s in result.segments]
    assert ops == [Op.EQUAL, Op.DELETE, Op.INSERT, Op.EQUAL]


def _long_text(seed: int, sentences: int) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{n}" for n in range(3000)]
    return [
        " ".join(rng.choice(vocab) for _ in range(rng.randrange(8, 20))) + "."
        for _ in range(sentences)
    ]


def test_long_text_with_few_edits_is_exact_and_complete() -> None:
    """No silent give-up: every edit of a ~100 KB text is found, nothing else changes."""
    sentences = _long_text(1, 1500)
    old = " ".join(sentences)
    edited = list(sentences)
    for index in (10, 400, 800, 1200, 1490):
        edited[index] = "completely new words here."
    new = " ".join(edited)
    result = diff_words(old, new)
    assert not result.approximate
    assert old_side(result.segments) == old
    assert new_side(result.segments) == new
    inserted = [s.text for s in result.segments if s.op is Op.INSERT]
    assert len(inserted) == 5
    assert all("completely new words here" in text for text in inserted)


def test_unrelated_long_texts_are_replaced_whole_and_marked_approximate() -> None:
    old = " ".join(_long_text(2, 400))
    new = " ".join(_long_text(3, 400)).replace("w", "v")
    result = diff_words(old, new)
    assert result.approximate
    # Only the final full stop is shared.
    assert changes(result.segments) == [("delete", old[:-1]), ("insert", new[:-1])]
    assert result.words_deleted == count_words(old)


def test_diff_is_deterministic() -> None:
    old = " ".join(_long_text(4, 300))
    new = old.replace("w1", "x1").replace("w22 ", "")
    assert diff_words(old, new) == diff_words(old, new)


def test_huge_single_line_does_not_hang() -> None:
    old = "x" * 300_000
    new = "x" * 150_000 + "y" + "x" * 150_000
    result = diff_words(old, new)
    assert new_side(result.segments) == new


@given(st.lists(st.sampled_from(["a", "b", "c", " ", "\n", ".", "é", "\u200b"]), max_size=400))
@settings(max_examples=50)
def test_repetitive_texts_rebuild(chars: list[str]) -> None:
    old = "".join(chars)
    new = old[::-1]
    result = diff_words(old, new)
    assert old_side(result.segments) == old
    assert new_side(result.segments) == new


def test_only_worddiff_imports_diff_match_patch() -> None:
    importers = [
        path.name
        for path in SRC.rglob("*.py")
        if re.search(r"^\s*(from|import)\s+diff_match_patch", path.read_text(), re.MULTILINE)
    ]
    assert importers == ["worddiff.py"]


def test_too_many_distinct_tokens_falls_back_to_whole_replace(monkeypatch) -> None:
    from policydiff.engine import worddiff

    monkeypatch.setattr(worddiff, "_MAX_KEYS", 3)
    result = worddiff.diff_words("a b c d e", "a b x d e f g h")
    assert result.approximate
    assert old_side(result.segments) == "a b c d e"
    assert new_side(result.segments) == "a b x d e f g h"


def test_rule_runs_are_single_tokens() -> None:
    assert tokenize("Title\n-----\n\n***bold*** ...") == [
        "Title\n",
        "-----",
        "\n\n",  # a paragraph break is a token of its own
        "***",
        "bold",
        "*** ",
        "...",
    ]


# The tokenizer as first written: the one whose tokens the engine's output rests on.
_ORIGINAL_TRAIL = r"[^\S\n]*(?:\n(?![^\S\n]*\n)[^\S\n]*)?"
_ORIGINAL_TOKEN = re.compile(
    rf"!?\[[^\[\]\n]{{0,300}}\]\([^()\s]{{0,1000}}\){_ORIGINAL_TRAIL}"
    rf"|\s+|[\w\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]+{_ORIGINAL_TRAIL}"
    rf"|(?:-+|=+|\*+|#+|\.+|~+|`+|[^\w\s]){_ORIGINAL_TRAIL}"
)


def test_spelled_out_line_spacing_is_whitespace_but_line_break() -> None:
    # The token regex lists the characters of `[^\S\n]` (faster to scan): the same set.
    from policydiff.engine.worddiff import _SPACE_IN_LINE

    every = "".join(map(chr, range(0x110000)))
    assert re.findall(f"[{_SPACE_IN_LINE}]", every) == re.findall(r"[^\S\n]", every)


@given(
    st.text(
        alphabet=st.sampled_from(
            " \t\n\r\x0b\x0c\x1c\x85\xa0\u2003\u2028\u3000\u200b\u00adab1_-=*#.~`[]()!,"
        )
    )
)
def test_tokens_as_the_original_tokenizer_cuts_them(text: str) -> None:
    assert tokenize(text) == _ORIGINAL_TOKEN.findall(text)
    assert count_words(text) == len(re.findall(r"\w+", re.sub(r"(\]\()[^()\s]*\)", "]()", text)))


def test_tokens_of_the_corpus_as_the_original_tokenizer_cuts_them() -> None:
    from engine_digests import CORPUS

    files = sorted(CORPUS.glob("*/*/*.md"))
    if not files:
        pytest.skip(f"no corpus at {CORPUS}")
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert tokenize(text) == _ORIGINAL_TOKEN.findall(text), path


@given(st.text(alphabet="abcdefghij", max_size=40), st.text(alphabet="abcdefghij", max_size=40))
def test_unique_anchors_are_the_unique_tokens_in_order(a: str, b: str) -> None:
    from collections import Counter

    from policydiff.engine.worddiff import _unique_anchors

    count_a, count_b = Counter(a), Counter(b)
    where_b = {char: j for j, char in enumerate(b) if count_b[char] == 1}
    pairs = [(i, where_b[c]) for i, c in enumerate(a) if count_a[c] == 1 and c in where_b]
    chain = _unique_anchors(a, b)
    assert set(chain) <= set(pairs)
    assert chain == sorted(chain)
    assert [j for _, j in chain] == sorted(j for _, j in chain)
    # The longest chain increasing in both: no longer one exists.
    best = [1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        best[k] += max((best[m] for m in range(k) if pairs[m][1] < j), default=0)
    assert len(chain) == max(best, default=0)
