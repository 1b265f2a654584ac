"""Word-level diff of two texts: the only user of diff_match_patch."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from diff_match_patch import diff_match_patch

from policydiff.diff_model import Op, Segment
from policydiff.normalize import fold_chars, normalize_text

# A token is a word or a single other character, with the whitespace after it; only a
# leading run of whitespace stands alone. Tokens tile the text, so joining them gives it back.
_TOKEN = re.compile(r"\s+|\w+\s*|[^\w\s]\s*")
_WORD = re.compile(r"\w+")
# Sentence units for the coarse first pass on long texts: up to a sentence end or a
# line break. Their keys are whitespace-collapsed, so a re-wrap still matches.
_SENTENCE_END = frozenset({".", "!", "?", ";", ":"})

# Cost bounds. diff_match_patch with Diff_Timeout = 0 is complete but its bisection costs
# about 0.09 us * D^2 (D = tokens to edit) in CPython: 1000 vs 1000 unrelated tokens take
# 0.36 s. Texts up to _DIRECT_MAX tokens are diffed word by word at once; longer ones are
# first diffed sentence by sentence, then word by word inside each changed region. A
# region whose lower bound on D exceeds _MAX_EDIT is shown whole (approximate) instead.
_DIRECT_MAX = 1200
_MAX_EDIT = 1500
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


def _sentence_units(tokens: list[str], start: int, end: int) -> list[int]:
    """Boundaries (token indexes) of sentence units in tokens[start:end]."""
    cuts = [start]
    for index in range(start, end - 1):
        token = tokens[index]
        if "\n" in token or (token.rstrip() in _SENTENCE_END and token[-1:].isspace()):
            cuts.append(index + 1)
    cuts.append(end)
    return cuts


class _Differ:
    """One word diff: token streams, their encodings, and the ops collected so far."""

    def __init__(self, old: str, new: str) -> None:
        self.old_tokens = tokenize(old)
        self.new_tokens = tokenize(new)
        encoder = _Encoder()
        self.old_chars = encoder.encode(self.old_tokens)
        self.new_chars = encoder.encode(self.new_tokens)
        # (op, token count) runs over the token streams, in order.
        self.runs: list[tuple[Op, int]] = []
        self.approximate = False

    def run(self) -> None:
        """Diff the whole token streams."""
        a, b = self.old_chars, self.new_chars
        prefix = _common_prefix(a, b)
        suffix = _common_suffix(a[prefix:], b[prefix:])
        self._emit(Op.EQUAL, prefix)
        self._diff_middle(prefix, len(a) - suffix, prefix, len(b) - suffix)
        self._emit(Op.EQUAL, suffix)

    def _emit(self, op: Op, count: int) -> None:
        if count <= 0:
            return
        if self.runs and self.runs[-1][0] is op:
            self.runs[-1] = (op, self.runs[-1][1] + count)
        else:
            self.runs.append((op, count))

    def _replace(self, old_count: int, new_count: int) -> None:
        self._emit(Op.DELETE, old_count)
        self._emit(Op.INSERT, new_count)

    def _diff_middle(self, a0: int, a1: int, b0: int, b1: int) -> None:
        """Diff old[a0:a1] against new[b0:b1] (no common prefix or suffix)."""
        if a0 == a1 or b0 == b1:
            self._replace(a1 - a0, b1 - b0)
            return
        a = self.old_chars[a0:a1]
        b = self.new_chars[b0:b1]
        if len(a) + len(b) <= _DIRECT_MAX:
            self._diff_tokens(a, b)
            return
        self._diff_sentences(a0, a1, b0, b1)

    def _diff_tokens(self, a: str, b: str) -> None:
        """Word-level dmp diff with semantic cleanup, within the cost bound."""
        if _edit_lower_bound(a, b) > _MAX_EDIT:
            self.approximate = True
            self._replace(len(a), len(b))
            return
        diffs = _DMP.diff_main(a, b, False)
        _DMP.diff_cleanupSemantic(diffs)
        for op_code, chars in diffs:
            self._emit(_OPS[op_code], len(chars))

    def _diff_sentences(self, a0: int, a1: int, b0: int, b1: int) -> None:
        """Coarse pass over sentence units, then word diffs inside changed regions."""
        old_cuts = _sentence_units(self.old_tokens, a0, a1)
        new_cuts = _sentence_units(self.new_tokens, b0, b1)
        keys: dict[str, str] = {}

        def encode(chars: str, cuts: list[int]) -> str:
            out: list[str] = []
            for start, end in zip(cuts, cuts[1:], strict=False):
                unit = chars[start:end]
                char = keys.get(unit)
                if char is None:
                    code = _FIRST_CODE + len(keys)
                    char = chr(code + len(_SURROGATES) if code >= _SURROGATES.start else code)
                    keys[unit] = char
                out.append(char)
            return "".join(out)

        sa = encode(self.old_chars, old_cuts)
        sb = encode(self.new_chars, new_cuts)
        if _edit_lower_bound(sa, sb) > _MAX_EDIT:
            self.approximate = True
            self._replace(a1 - a0, b1 - b0)
            return
        diffs = _DMP.diff_main(sa, sb, False)
        _DMP.diff_cleanupSemantic(diffs)
        i = j = 0  # sentence indexes into old_cuts / new_cuts
        pending_old = pending_new = 0
        for op_code, units in diffs:
            count = len(units)
            if op_code == 0:
                self._flush_region(old_cuts, new_cuts, i, pending_old, j, pending_new)
                i += pending_old
                j += pending_new
                pending_old = pending_new = 0
                self._emit(Op.EQUAL, old_cuts[i + count] - old_cuts[i])
                i += count
                j += count
            elif op_code < 0:
                pending_old += count
            else:
                pending_new += count
        self._flush_region(old_cuts, new_cuts, i, pending_old, j, pending_new)

    def _flush_region(
        self, old_cuts: list[int], new_cuts: list[int], i: int, di: int, j: int, dj: int
    ) -> None:
        """Word-diff one changed region found by the sentence pass."""
        if di == 0 and dj == 0:
            return
        a0, a1 = old_cuts[i], old_cuts[i + di]
        b0, b1 = new_cuts[j], new_cuts[j + dj]
        a = self.old_chars[a0:a1]
        b = self.new_chars[b0:b1]
        prefix = _common_prefix(a, b)
        suffix = _common_suffix(a[prefix:], b[prefix:])
        self._emit(Op.EQUAL, prefix)
        middle_a = a[prefix : len(a) - suffix]
        middle_b = b[prefix : len(b) - suffix]
        if not middle_a or not middle_b:
            self._replace(len(middle_a), len(middle_b))
        else:
            self._diff_tokens(middle_a, middle_b)
        self._emit(Op.EQUAL, suffix)

    def segments(self) -> list[Segment]:
        """Turn token runs back into text segments, splitting cosmetic token differences."""
        out: list[Segment] = []
        i = j = 0
        old_tokens, new_tokens = self.old_tokens, self.new_tokens
        for op, count in self.runs:
            if op is Op.DELETE:
                out.append(Segment(Op.DELETE, "".join(old_tokens[i : i + count])))
                i += count
            elif op is Op.INSERT:
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


_OPS = {0: Op.EQUAL, -1: Op.DELETE, 1: Op.INSERT}


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
