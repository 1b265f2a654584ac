"""Word-level diff of two texts: the only user of diff_match_patch."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass

from diff_match_patch import diff_match_patch

from policydiff.diff_model import Op, Segment
from policydiff.normalize import fold_chars, normalize_text

# A token is a word or a single other character, with the whitespace after it; only a
# leading run of whitespace stands alone. Tokens tile the text, so joining them gives it back.
_TOKEN = re.compile(r"\s+|\w+\s*|[^\w\s]\s*")
_WORD = re.compile(r"\w+")
# Cost bounds. diff_match_patch with Diff_Timeout = 0 is complete but its bisection costs
# about 0.09 us * D^2 in CPython (D = tokens to edit): 1000 vs 1000 unrelated tokens take
# 0.36 s. So dmp only sees short stretches: longer ones are first cut at anchors (tokens
# occurring once on each side, in increasing order on both: patience diff), and a long
# stretch without anchors is diffed only if its lower bound on D is small; otherwise it is
# shown whole as delete + insert and the result is marked approximate.
_DIRECT_MAX = 400
_NO_ANCHOR_MAX = 4000
_NO_ANCHOR_EDIT = 200
# Anchor recursion depth; deeper stretches take the no-anchor path.
_MAX_DEPTH = 40
# Keep below the surrogate block and above control/ASCII so dmp's char logic sees no
# line breaks in keys.
_FIRST_CODE = 0x100
_SURROGATES = range(0xD800, 0xE000)


@dataclass(frozen=True, slots=True)
class WordDiff:
    """Segments of a word diff and what they amount to."""

    segments: tuple[Segment, ...]
    words_inserted: int
    words_deleted: int
    # Some region was too costly to diff word by word and is shown as delete + insert.
    approximate: bool


def _new_engine() -> diff_match_patch:
    """A dmp instance that never gives up silently (Diff_Timeout = 0, see module notes)."""
    engine = diff_match_patch()
    engine.Diff_Timeout = 0
    return engine


_DMP = _new_engine()


def tokenize(text: str) -> list[str]:
    """Split text into word/punctuation tokens, each with its trailing whitespace."""
    return _TOKEN.findall(text)


def count_words(text: str) -> int:
    """Number of words in text."""
    return len(_WORD.findall(text))


class _Encoder:
    """Map tokens to single characters by their folded key, whitespace ignored."""

    __slots__ = ("_by_key", "_by_token")

    def __init__(self) -> None:
        self._by_token: dict[str, str] = {}
        self._by_key: dict[str, str] = {}

    def _char_for(self, token: str) -> str:
        # Whitespace is left out of the key: re-wrapping or spacing never changes words.
        key = fold_chars(token.rstrip())
        char = self._by_key.get(key)
        if char is None:
            code = _FIRST_CODE + len(self._by_key)
            if code >= _SURROGATES.start:
                code += len(_SURROGATES)
            char = chr(code)
            self._by_key[key] = char
        self._by_token[token] = char
        return char

    def encode(self, tokens: list[str]) -> str:
        """One character per token; equal characters mean cosmetically equal tokens."""
        by_token = self._by_token
        return "".join([by_token.get(t) or self._char_for(t) for t in tokens])


def _edit_lower_bound(a: str, b: str) -> int:
    """Fewest token inserts + deletes any alignment of a and b needs (multiset bound)."""
    common = sum((Counter(a) & Counter(b)).values())
    return len(a) + len(b) - 2 * common


def _unique_anchors(a: str, b: str) -> list[tuple[int, int]]:
    """Positions (i, j) of tokens occurring once in a and once in b, increasing in both.

    The longest such chain (patience diff) splits a long stretch into short gaps.
    """
    count_a, count_b = Counter(a), Counter(b)
    where_b = {char: j for j, char in enumerate(b) if count_b[char] == 1}
    pairs = [
        (i, where_b[char])
        for i, char in enumerate(a)
        if count_a[char] == 1 and char in where_b
    ]
    if not pairs:
        return []
    # Longest increasing subsequence of the b positions (pairs are sorted by i).
    tails: list[int] = []  # b position ending the best chain of each length
    tail_index: list[int] = []
    parent = [-1] * len(pairs)
    for index, (_, j) in enumerate(pairs):
        length = bisect_left(tails, j)
        if length == len(tails):
            tails.append(j)
            tail_index.append(index)
        else:
            tails[length] = j
            tail_index[length] = index
        parent[index] = tail_index[length - 1] if length > 0 else -1
    chain: list[tuple[int, int]] = []
    index = tail_index[-1]
    while index != -1:
        chain.append(pairs[index])
        index = parent[index]
    chain.reverse()
    return chain


class _Differ:
    """One word diff: token streams, their encodings, and the dmp-style diff built."""

    def __init__(self, old: str, new: str) -> None:
        self.old_tokens = tokenize(old)
        self.new_tokens = tokenize(new)
        encoder = _Encoder()
        self.old_chars = encoder.encode(self.old_tokens)
        self.new_chars = encoder.encode(self.new_tokens)
        # (dmp op code, token characters), as diff_main returns them.
        self.diffs: list[tuple[int, str]] = []
        self.approximate = False

    def run(self) -> None:
        """Diff the whole token streams, then clean up once for readable edit runs."""
        self._diff(self.old_chars, self.new_chars, 0)
        # One semantic cleanup over everything also absorbs chance anchors (a unique word
        # that happens to sit inside two rewritten paragraphs).
        _DMP.diff_cleanupSemantic(self.diffs)

    def _diff(self, a: str, b: str, depth: int) -> None:
        """Append the diff of token strings a and b."""
        prefix = _common_prefix(a, b)
        suffix = _common_suffix(a[prefix:], b[prefix:])
        if prefix:
            self.diffs.append((0, a[:prefix]))
        middle_a = a[prefix : len(a) - suffix]
        middle_b = b[prefix : len(b) - suffix]
        if not middle_a or not middle_b:
            self._replace(middle_a, middle_b)
        elif len(middle_a) + len(middle_b) <= _DIRECT_MAX:
            self.diffs.extend(_DMP.diff_main(middle_a, middle_b, False))
        else:
            anchors = _unique_anchors(middle_a, middle_b) if depth < _MAX_DEPTH else []
            if anchors:
                i0 = j0 = 0
                for i, j in anchors:
                    self._diff(middle_a[i0:i], middle_b[j0:j], depth + 1)
                    self.diffs.append((0, middle_a[i]))
                    i0, j0 = i + 1, j + 1
                self._diff(middle_a[i0:], middle_b[j0:], depth + 1)
            elif (
                len(middle_a) + len(middle_b) <= _NO_ANCHOR_MAX
                and _edit_lower_bound(middle_a, middle_b) <= _NO_ANCHOR_EDIT
            ):
                self.diffs.extend(_DMP.diff_main(middle_a, middle_b, False))
            else:
                self.approximate = True
                self._replace(middle_a, middle_b)
        if suffix:
            self.diffs.append((0, a[len(a) - suffix :]))

    def _replace(self, a: str, b: str) -> None:
        if a:
            self.diffs.append((-1, a))
        if b:
            self.diffs.append((1, b))

    def segments(self) -> list[Segment]:
        """Turn the token diff back into text segments, splitting cosmetic token differences."""
        out: list[Segment] = []
        i = j = 0
        old_tokens, new_tokens = self.old_tokens, self.new_tokens
        for op_code, chars in self.diffs:
            count = len(chars)
            if op_code < 0:
                out.append(Segment(Op.DELETE, "".join(old_tokens[i : i + count])))
                i += count
            elif op_code > 0:
                out.append(Segment(Op.INSERT, "".join(new_tokens[j : j + count])))
                j += count
            else:
                old_text = "".join(old_tokens[i : i + count])
                new_text = "".join(new_tokens[j : j + count])
                if old_text == new_text:
                    out.append(Segment(Op.EQUAL, old_text))
                else:
                    out.extend(_equal_by_key(old_tokens[i : i + count], new_tokens[j : j + count]))
                i += count
                j += count
        return out


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of a and b."""
    limit = min(len(a), len(b))
    if a[:limit] == b[:limit]:
        return limit
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _common_suffix(a: str, b: str) -> int:
    """Length of the common suffix of a and b."""
    return _common_prefix(a[::-1], b[::-1])


def _equal_by_key(old: list[str], new: list[str]) -> list[Segment]:
    """Segments for tokens equal by key but not by text: cosmetic delete + insert pairs."""
    out: list[Segment] = []
    for old_token, new_token in zip(old, new, strict=True):
        if old_token == new_token:
            out.append(Segment(Op.EQUAL, old_token))
            continue
        old_core, new_core = old_token.rstrip(), new_token.rstrip()
        if old_core == new_core:
            # Only the whitespace after the word differs (re-wrap, double space).
            out.append(Segment(Op.EQUAL, old_core))
            old_token, new_token = old_token[len(old_core) :], new_token[len(new_core) :]
        out.append(Segment(Op.DELETE, old_token, cosmetic=True))
        out.append(Segment(Op.INSERT, new_token, cosmetic=True))
    return out


def _merge(segments: list[Segment]) -> list[Segment]:
    """Join neighbours with the same op and flags; put DELETE before INSERT in a change."""
    merged: list[Segment] = []
    for segment in segments:
        if not segment.text:
            continue
        if merged:
            last = merged[-1]
            if (last.op, last.cosmetic, last.move_id) == (
                segment.op,
                segment.cosmetic,
                segment.move_id,
            ):
                merged[-1] = Segment(last.op, last.text + segment.text, last.cosmetic, last.move_id)
                continue
            if (
                len(merged) >= 2
                and last.op is Op.INSERT
                and segment.op is Op.DELETE
                and merged[-2].op is Op.DELETE
                and (merged[-2].cosmetic, merged[-2].move_id) == (segment.cosmetic, segment.move_id)
            ):
                # DELETE INSERT DELETE -> DELETE DELETE INSERT, then join the deletes.
                before = merged[-2]
                merged[-2] = Segment(
                    Op.DELETE, before.text + segment.text, before.cosmetic, before.move_id
                )
                continue
        merged.append(segment)
    return merged


def _mark_cosmetic(segments: list[Segment]) -> list[Segment]:
    """Flag change runs that differ only cosmetically from their counterpart."""
    out = list(segments)
    index = 0
    while index < len(out):
        segment = out[index]
        if segment.op is Op.EQUAL or segment.cosmetic:
            index += 1
            continue
        # A change is a DELETE, an INSERT, or a DELETE followed by an INSERT.
        end = index + 1
        if (
            segment.op is Op.DELETE
            and end < len(out)
            and out[end].op is Op.INSERT
            and not out[end].cosmetic
        ):
            end += 1
        change = out[index:end]
        old = "".join(s.text for s in change if s.op is Op.DELETE)
        new = "".join(s.text for s in change if s.op is Op.INSERT)
        if normalize_text(old) == normalize_text(new):
            out[index:end] = [Segment(s.op, s.text, cosmetic=True) for s in change]
        index = end
    return out


def count_changed_words(segments: tuple[Segment, ...] | list[Segment]) -> tuple[int, int]:
    """(words inserted, words deleted) over non-cosmetic change runs."""
    inserted = deleted = 0
    for segment in segments:
        if segment.cosmetic or segment.op is Op.EQUAL:
            continue
        if segment.op is Op.INSERT:
            inserted += count_words(segment.text)
        else:
            deleted += count_words(segment.text)
    return inserted, deleted


def diff_words(old: str, new: str, *, cosmetic: bool = False) -> WordDiff:
    """Word-diff old against new; with cosmetic=True every change run is flagged cosmetic."""
    if old == new:
        segments = [Segment(Op.EQUAL, old)] if old else []
        return WordDiff(tuple(segments), 0, 0, approximate=False)
    differ = _Differ(old, new)
    differ.run()
    merged = _merge(differ.segments())
    if cosmetic:
        merged = [s if s.op is Op.EQUAL else Segment(s.op, s.text, cosmetic=True) for s in merged]
    else:
        merged = _merge(_mark_cosmetic(merged))
    inserted, deleted = count_changed_words(merged)
    return WordDiff(tuple(merged), inserted, deleted, differ.approximate)
