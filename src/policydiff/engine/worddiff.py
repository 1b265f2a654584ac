"""Word-level diff of two texts: the only user of diff_match_patch."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from diff_match_patch import diff_match_patch

from policydiff.core.diff_model import Op, Segment, TableRows
from policydiff.engine.normalize import (
    describe_invisible,
    describe_link_change,
    fold_chars,
    normalize_text,
)

# A token is a word or a single other character, with the whitespace after it up to a
# blank line; a leading run of whitespace and a paragraph break (whitespace holding a
# blank line) stand alone, so that the diff aligns paragraph breaks like words. Runs of
# rule and emphasis characters (`-----`, `***`, `...`) are one token: a setext underline
# is one edit, not forty. Invisible characters (zero-width spaces, word joiners, soft
# hyphens) belong to the word around them, and a markdown link `[text](target)` is one
# token, so that no edit run splits its syntax. Tokens tile the text, so joining them
# gives it back.
_INVISIBLE_CLASS = "\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff"
# Whitespace but a line break, as the class `[^\S\n]` (the Unicode whitespace str.isspace
# knows) spelled out: the regex engine scans a listed set 2-3 times faster than it tests a
# negated category, and every token ends with this.
_SPACE_IN_LINE = "\t\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Quantifiers are possessive where giving characters back can never help a match (what
# follows matches the empty string): the same tokens, without backtracking bookkeeping.
_TRAIL = rf"[{_SPACE_IN_LINE}]*+(?:\n(?![{_SPACE_IN_LINE}]*+\n)[{_SPACE_IN_LINE}]*+)?+"
_TOKEN = re.compile(
    rf"!?\[[^\[\]\n]{{0,300}}\]\([^()\s]{{0,1000}}\){_TRAIL}"
    rf"|\s++|[\w{_INVISIBLE_CLASS}]++{_TRAIL}"
    rf"|(?:-++|=++|\*++|#++|\.++|~++|`++|[^\w\s]){_TRAIL}"
)
# Possessive: a word run never gives characters back, and the engine skips the
# backtracking bookkeeping (same matches, about a fifth faster on long texts).
_WORD = re.compile(r"\w++")
# A link's target is not read: words are counted in its text only.
_LINK_TARGET = re.compile(r"\]\([^()\s]*\)")
# A markdown link as the tokenizer takes it whole (for keeping cuts out of links).
_LINK_TOKEN = re.compile(r"!?\[[^\[\]\n]{0,300}\]\([^()\s]{0,1000}\)")
# One link token and its trailing spacing, in parts: opening, text, closing with target.
_LINK_PARTS = re.compile(r"(!?\[)([^\[\]\n]*)(\]\([^()\s]*\))(\s*)")
_LINK_REACH = 1310
# How much unchanged text on each side of a change, up to the line end, the cosmetic
# check looks at: escapes, emphasis and list markers depend on their near neighbours
# only (links are whole tokens), and normalising more costs time on every change.
_CONTEXT = 40
# Token keys: a paragraph break, and dash punctuation however typed (em dash, "--").
_BREAK_KEY = "\n\n"
_DASH_KEY = "--"
_DASH_TOKENS = frozenset({"\u2014", "\u2015"})
# Markup that hides or splits words in normalisation (link targets, tags, escapes, `_`).
# Characters without which two different word lists may still normalise equal: links,
# tags, and the emphasis and escape marks that normalisation removes from inside words.
_WORD_HIDERS = re.compile(r"[\[\]<_*~\\]")
# Dropped before comparing words (dropping brackets too only ever lets more through).
_JOINERS = ("_", "*", "~", "\\", "[", "]")
# What normalisation drops besides markup characters: link targets (and reference
# labels) and HTML tags; the words of two cosmetic variants are equal without them.
_LINK_HIDDEN = re.compile(r"(?<=\])\([^)\n]*\)|(?<=\])\[[^\]\n]*\]")
_TAG_HIDDEN = re.compile(r"</?[A-Za-z][^<>\n]*>")
# Cost bounds. diff_match_patch with Diff_Timeout = 0 is complete but its bisection costs
# about 0.03-0.09 us * (N + M) * D in CPython (N, M tokens, D tokens to edit): 1000 vs
# 1000 unrelated tokens take 0.36 s. So dmp only sees short stretches:
# * the raw texts' common prefix and suffix never reach the tokenizer;
# * stretches over _DIRECT_MAX tokens are cut at anchors (tokens occurring once on each
#   side, in increasing order on both: patience diff), recursively;
# * a short stretch that is different text on both sides (see _rewritten) is replaced
#   whole, as semantic cleanup would show it anyway;
# * a long stretch without anchors goes to dmp only if one side is short or most tokens
#   are shared; otherwise it is shown whole and the result is marked approximate;
# * every dmp call is charged its estimated work against a per-call budget, so no input
#   can make one diff_words call take more than about two seconds.
_DIRECT_MAX = 100
_NO_ANCHOR_MAX = 1500
# A side this short is cheap to diff against any length (a heading vs a whole new body).
_SHORT_SIDE = 20
# Stretches shorter than this on one side always go to dmp (cheap, and exact matters).
_REWRITE_MIN = 8
# In units of (N + M)^2, about 0.09 us each.
_BUDGET = 20_000_000
# Anchor recursion depth; deeper stretches take the no-anchor path.
_MAX_DEPTH = 40
# Keep below the surrogate block and above control/ASCII so dmp's char logic sees no
# line breaks in keys.
_FIRST_CODE = 0x100
_SURROGATES = range(0xD800, 0xE000)
_MAX_KEYS = 0x110000 - _FIRST_CODE - len(_SURROGATES)


# A segment's fields (op, text, cosmetic, move_id) before it is made a Segment: the diff
# yields many small runs that _merge_runs joins, and only the joined ones become objects.
_Run = tuple[Op, str, bool, int | None]


@dataclass(frozen=True, slots=True)
class WordDiff:
    """Segments of a word diff and what they amount to."""

    segments: tuple[Segment, ...]
    words_inserted: int
    words_deleted: int
    # Some region was too costly to diff word by word and is shown as delete + insert.
    approximate: bool


def _new_engine() -> diff_match_patch:
    """Make a dmp instance that never gives up silently (Diff_Timeout = 0, see notes above)."""
    engine = diff_match_patch()
    engine.Diff_Timeout = 0
    return engine


_DMP = _new_engine()


def tokenize(text: str) -> list[str]:
    """Split text into word/punctuation tokens, each with its trailing whitespace."""
    return _TOKEN.findall(text)


def count_words(text: str) -> int:
    """Count the words in text (a link's target is not read, so not counted)."""
    if "](" in text:
        # A literal replacement: sub with a group template runs Python code at each match.
        text = _LINK_TARGET.sub("]()", text)
    # subn counts the same matches as findall without making a string of each word: about
    # twice as fast on a whole added policy.
    return _WORD.subn("", text)[1]


def _token_key(token: str) -> str:
    """Return what a token is compared by: folded, spacing ignored, paragraph breaks kept."""
    core = token.rstrip()
    if not core:
        return _BREAK_KEY if token.count("\n") > 1 else ""
    first = core[0]
    if first == "-":
        return _DASH_KEY if len(core) > 1 and core.count("-") == len(core) else core
    if core.isascii() and "`" not in core:
        return core  # what fold_chars would return
    if core in _DASH_TOKENS:
        return _DASH_KEY
    return fold_chars(core)


class _TooManyTokensError(Exception):
    """More distinct tokens than there are characters to encode them."""


def _char(index: int) -> str:
    """Return the index-th key character: from U+0100 up, skipping the surrogate block."""
    code = _FIRST_CODE + index
    return chr(code + len(_SURROGATES) if code >= _SURROGATES.start else code)


def _encode(old_tokens: list[str], new_tokens: list[str]) -> tuple[str, str, str | None]:
    """One character per token; equal characters mean equal keys (folded, spacing ignored).

    The third value is the character of a paragraph break, if the texts hold one.
    """
    # Whitespace is left out of the key: re-wrapping or spacing never changes words.
    unique = dict.fromkeys(old_tokens)
    unique.update(dict.fromkeys(new_tokens))
    key_of: dict[str, str] = {}
    for token in unique:
        core = token.rstrip()
        # Most tokens are ASCII words: their key is the token without its spacing (what
        # _token_key returns for them, without the call).
        if core and core[0] != "-" and core.isascii() and "`" not in core:
            key_of[token] = core
        else:
            key_of[token] = _token_key(token)
    keys = dict.fromkeys(key_of.values())
    if len(keys) > _MAX_KEYS:
        raise _TooManyTokensError
    if len(keys) < _SURROGATES.start - _FIRST_CODE:
        # Everything below at C speed: one dict lookup per token.
        codes = range(_FIRST_CODE, _FIRST_CODE + len(keys))
        char_of_key = dict(zip(keys, map(chr, codes), strict=True))
    else:
        char_of_key = {key: _char(index) for index, key in enumerate(keys)}
    char_of_token = {token: char_of_key[key] for token, key in key_of.items()}
    lookup = char_of_token.__getitem__
    return (
        "".join(map(lookup, old_tokens)),
        "".join(map(lookup, new_tokens)),
        char_of_key.get(_BREAK_KEY),
    )


def _edit_lower_bound(a: str, b: str) -> int:
    """Fewest token inserts + deletes any alignment of a and b needs (multiset bound)."""
    common = sum((Counter(a) & Counter(b)).values())
    return len(a) + len(b) - 2 * common


def _rewritten(a: str, b: str) -> bool:
    """Whether a stretch between anchors is different text on each side.

    When under a third of the shorter side's tokens occur on the other side at all, the
    only matches are scattered function words ("the", "of"), which diff_cleanupSemantic
    folds into the surrounding edits: replacing the stretch whole gives the same
    result without dmp's most expensive case (D close to N + M).
    """
    short = min(len(a), len(b))
    if short < _REWRITE_MIN:
        return False
    common = (len(a) + len(b) - _edit_lower_bound(a, b)) // 2
    return common * 3 < short


def _dmp_cost(a: str, b: str) -> int | None:
    """Estimated dmp work for a stretch without anchors, or None if not worth it."""
    total = len(a) + len(b)
    short = min(len(a), len(b))
    if short <= _SHORT_SIDE:
        # Myers' search runs out of grid on the short side: work ~ total * short, at
        # about 0.3 us a unit (20 vs 100,000 tokens: 0.65 s), so 4 budget units each.
        return 4 * total * (short + 1)
    if total <= _DIRECT_MAX or (total <= _NO_ANCHOR_MAX and _mostly_shared(a, b)):
        return total * total
    return None


def _mostly_shared(a: str, b: str) -> bool:
    """Whether most tokens of the shorter side also occur in the longer one.

    If not, the two are different text: dmp would spend the most time to show the least.
    A pure insertion (short side entirely kept) counts as shared.
    """
    common = (len(a) + len(b) - _edit_lower_bound(a, b)) // 2
    return common * 2 >= min(len(a), len(b))


def _unique_anchors(a: str, b: str) -> list[tuple[int, int]]:
    """Positions (i, j) of tokens occurring once in a and once in b, increasing in both.

    The longest such chain (patience diff) splits a long stretch into short gaps.
    """
    count_a, count_b = Counter(a), Counter(b)
    # Each character's last position, built at C speed: a token found once is found there.
    last_a = dict(zip(a, range(len(a)), strict=True))
    last_b = dict(zip(b, range(len(b)), strict=True))
    pairs = sorted(
        (last_a[char], last_b[char])
        for char, count in count_a.items()
        if count == 1 and count_b.get(char) == 1
    )
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
        self.old_chars, self.new_chars, self.break_char = _encode(self.old_tokens, self.new_tokens)
        # (dmp op code, token characters), as diff_main returns them.
        self.diffs: list[tuple[int, str]] = []
        self.approximate = False
        self.budget = _BUDGET

    def run(self) -> None:
        """Diff the whole token streams, then clean up each paragraph for readable edit runs."""
        self._diff(self.old_chars, self.new_chars, 0)
        if self.break_char is None:
            # One semantic cleanup over everything also absorbs chance anchors (a unique
            # word that happens to sit inside two rewritten paragraphs).
            _DMP.diff_cleanupSemantic(self.diffs)
        else:
            self.diffs = _cleanup_paragraphs(self.diffs, self.break_char)

    def _diff(self, a: str, b: str, depth: int) -> None:
        """Append the diff of token strings a and b."""
        prefix = _common_prefix(a, b)
        suffix = _common_suffix(a[prefix:], b[prefix:])
        if prefix:
            self.diffs.append((0, a[:prefix]))
        middle_a = a[prefix : len(a) - suffix]
        middle_b = b[prefix : len(b) - suffix]
        total = len(middle_a) + len(middle_b)
        anchors = (
            _unique_anchors(middle_a, middle_b)
            if middle_a and middle_b and total > _DIRECT_MAX and depth < _MAX_DEPTH
            else []
        )
        if not middle_a or not middle_b:
            self._replace(middle_a, middle_b)
        elif anchors:
            i0 = j0 = 0
            for i, j in anchors:
                self._diff(middle_a[i0:i], middle_b[j0:j], depth + 1)
                self.diffs.append((0, middle_a[i]))
                i0, j0 = i + 1, j + 1
            self._diff(middle_a[i0:], middle_b[j0:], depth + 1)
        elif total <= _DIRECT_MAX and _rewritten(middle_a, middle_b):
            # Semantic cleanup would dissolve dmp's few scattered matches here anyway.
            self._replace(middle_a, middle_b)
        elif (cost := _dmp_cost(middle_a, middle_b)) is not None and cost <= self.budget:
            self.budget -= cost
            self.diffs.extend(_DMP.diff_main(middle_a, middle_b, checklines=False))
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

    def runs(self) -> list[_Run]:
        """Turn the token diff back into text runs, splitting cosmetic token differences."""
        out: list[_Run] = []
        i = j = 0
        old_tokens, new_tokens = self.old_tokens, self.new_tokens
        for op_code, chars in self.diffs:
            count = len(chars)
            if op_code < 0:
                out.append((Op.DELETE, "".join(old_tokens[i : i + count]), False, None))
                i += count
            elif op_code > 0:
                out.append((Op.INSERT, "".join(new_tokens[j : j + count]), False, None))
                j += count
            else:
                old_text = "".join(old_tokens[i : i + count])
                new_text = "".join(new_tokens[j : j + count])
                if old_text == new_text:
                    out.append((Op.EQUAL, old_text, False, None))
                else:
                    out.extend(_equal_by_key(old_tokens[i : i + count], new_tokens[j : j + count]))
                i += count
                j += count
        return out


def _cleanup_paragraphs(diffs: list[tuple[int, str]], brk: str) -> list[tuple[int, str]]:
    """Semantic cleanup within each paragraph: an equal paragraph break is never absorbed.

    One cleanup over the whole diff would fold a kept break between two edits into one
    run ("[-one year. <break> Beta-]{+two years. <break> Gamma+}"), moving new words into the
    wrong paragraph; cleaning the stretches between kept breaks one by one cannot.
    """
    chunks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for op, chars in diffs:
        if op or brk not in chars:
            current.append((op, chars))
            continue
        pieces = chars.split(brk)
        current.append((0, pieces[0] + brk))
        chunks.append(current)
        chunks.extend([(0, piece + brk)] for piece in pieces[1:-1])
        current = [(0, pieces[-1])] if pieces[-1] else []
    chunks.append(current)
    out: list[tuple[int, str]] = []
    for chunk in chunks:
        if any(op for op, _ in chunk):
            _DMP.diff_cleanupSemantic(chunk)
        for op, chars in chunk:
            if not chars:
                continue
            if out and out[-1][0] == op:
                out[-1] = (op, out[-1][1] + chars)
            else:
                out.append((op, chars))
    return _split_at_breaks(out, brk)


def _split_at_breaks(diffs: list[tuple[int, str]], brk: str) -> list[tuple[int, str]]:
    """Cut a replacement whose two sides both hold paragraph breaks at those breaks.

    A stretch replaced whole (rewritten, or past the cost bound) may span paragraphs: the
    k-th paragraph of its old side is paired with the k-th of its new side, and the
    break between them is kept equal, so no edit run reaches over a paragraph break
    that both texts have. Extra breaks on one side stay in the last pair.
    """
    out: list[tuple[int, str]] = []
    index = 0
    while index < len(diffs):
        op, chars = diffs[index]
        if op == 0:
            out.append((op, chars))
            index += 1
            continue
        end = index
        deleted: list[str] = []
        inserted: list[str] = []
        while end < len(diffs) and diffs[end][0] != 0:
            (deleted if diffs[end][0] < 0 else inserted).append(diffs[end][1])
            end += 1
        old, new = "".join(deleted), "".join(inserted)
        if brk in old and brk in new:
            old_parts, new_parts = old.split(brk), new.split(brk)
            shared = min(len(old_parts), len(new_parts)) - 1
            pieces: list[tuple[int, str]] = []
            for k in range(shared):
                pieces += [(-1, old_parts[k]), (1, new_parts[k]), (0, brk)]
            pieces += [(-1, brk.join(old_parts[shared:])), (1, brk.join(new_parts[shared:]))]
        else:
            pieces = [(-1, old), (1, new)]
        for piece in pieces:
            if not piece[1]:
                continue
            if out and out[-1][0] == 0 == piece[0]:
                out[-1] = (0, out[-1][1] + piece[1])
            else:
                out.append(piece)
        index = end
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


def _equal_by_key(old: list[str], new: list[str]) -> list[_Run]:
    """Return the runs of tokens equal by key but not by text: cosmetic delete + insert pairs."""
    out: list[_Run] = []
    for old_token, new_token in zip(old, new, strict=True):
        if old_token == new_token:
            out.append((Op.EQUAL, old_token, False, None))
            continue
        old_core, new_core = old_token.rstrip(), new_token.rstrip()
        if old_core == new_core:
            # Only the whitespace after the word differs (re-wrap, double space).
            out.append((Op.EQUAL, old_core, False, None))
            old_rest, new_rest = old_token[len(old_core) :], new_token[len(new_core) :]
        else:
            old_rest, new_rest = old_token, new_token
        out.append((Op.DELETE, old_rest, True, None))
        out.append((Op.INSERT, new_rest, True, None))
    return out


def _merge(segments: list[Segment]) -> list[Segment]:
    """Join neighbours with the same op and flags; put DELETE before INSERT in a change."""
    return _merge_runs([(s.op, s.text, s.cosmetic, s.move_id) for s in segments])


def _merge_runs(pieces: list[_Run]) -> list[Segment]:
    """_merge on (op, text, cosmetic, move_id) runs: segments are made once, for the result."""
    # Runs as [op, cosmetic, move_id, texts]: texts are joined once at the end.
    runs: list[list[object]] = []
    for op, text, cosmetic, move_id in pieces:
        if not text:
            continue
        if runs:
            last = runs[-1]
            if last[0] is op and last[1] == cosmetic and last[2] == move_id:
                last[3].append(text)  # type: ignore[attr-defined]
                continue
            if (
                op is Op.DELETE
                and last[0] is Op.INSERT
                and len(runs) >= 2
                and runs[-2][0] is Op.DELETE
                and runs[-2][1] == cosmetic
                and runs[-2][2] == move_id
            ):
                # DELETE INSERT DELETE -> DELETE DELETE INSERT, then join the deletes.
                runs[-2][3].append(text)  # type: ignore[attr-defined]
                continue
        runs.append([op, cosmetic, move_id, [text]])
    return [
        Segment(op, "".join(texts), cosmetic, move_id)  # type: ignore[arg-type]
        for op, cosmetic, move_id, texts in runs
    ]


def _visible_words(text: str) -> list[str]:
    """Return the words normalisation keeps: not in link targets or tags, numbers left out.

    Numbers are left out because a list renumbered at line start ("1." -> "2.") is markup.
    """
    if "](" in text or "][" in text:
        text = _LINK_HIDDEN.sub("", text)
    if "<" in text:
        text = _TAG_HIDDEN.sub(" ", text)
    for char in _JOINERS:  # emphasis and escapes: normalisation drops them
        if char in text:
            text = text.replace(char, "")
    return [word for word in _WORD.findall(text) if not word.isdigit()]


def _could_be_cosmetic(old: str, new: str) -> bool:
    """Cheap pre-check for _mark_cosmetic: False when the words plainly differ.

    Two cosmetic variants have the same words once compatibility forms and invisible
    characters are folded and link targets, tags and underscores are left out.
    """
    old, new = fold_chars(old), fold_chars(new)
    old_words = [word for word in _WORD.findall(old) if not word.isdigit()]
    new_words = [word for word in _WORD.findall(new) if not word.isdigit()]
    if old_words == new_words:
        return True
    old_hides, new_hides = _WORD_HIDERS.search(old), _WORD_HIDERS.search(new)
    if not old_hides and not new_hides:
        return False
    # Without a hiding character _visible_words finds the words found above.
    return (_visible_words(old) if old_hides else old_words) == (
        _visible_words(new) if new_hides else new_words
    )


def _context(segments: list[Segment], index: int, step: int) -> tuple[str, str]:
    """Return the old and new text beside a change, out to the line's edge where known.

    Walks from segment ``index`` in direction ``step`` over unchanged text and cosmetic
    changes (each side read as written on that side), stopping at a line break in
    unchanged text, at a substantive change, or after _CONTEXT characters. Where it
    stopped short of the line's edge, a stand-in word keeps the change off the edge: a
    "-" in mid-line is a dash, not a list marker.
    """
    old: list[str] = []
    new: list[str] = []
    size = 0
    at = index
    edge = False
    while True:
        if not 0 <= at < len(segments):
            edge = True  # section bodies begin at a line start and end at a line end
            break
        segment = segments[at]
        if size >= _CONTEXT or not (segment.op is Op.EQUAL or segment.cosmetic):
            break
        text = segment.text
        cut = text.rfind("\n") if step < 0 else text.find("\n")
        if cut != -1:
            if segment.op is not Op.EQUAL:
                break
            text = text[cut + 1 :] if step < 0 else text[:cut]
            edge = True
        if segment.op is not Op.INSERT:
            old.append(text)
        if segment.op is not Op.DELETE:
            new.append(text)
        size += len(text)
        if edge:
            break
        at += step
    if step < 0:
        old.reverse()
        new.reverse()
        stand_in = "" if edge else "x "
        return stand_in + "".join(old), stand_in + "".join(new)
    stand_in = "" if edge else " x"
    return "".join(old) + stand_in, "".join(new) + stand_in


def _mark_cosmetic(segments: list[Segment]) -> list[Segment]:
    """Flag change runs that differ only cosmetically from their counterpart.

    Each change is judged with the unchanged rest of its line around it: whether a
    backslash, an asterisk or a dash is markup depends on what stands next to it.
    """
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
        if _could_be_cosmetic(old, new):
            old_before, new_before = _context(out, index - 1, -1)
            old_after, new_after = _context(out, end, 1)
            if normalize_text(old_before + old + old_after) == normalize_text(
                new_before + new + new_after
            ):
                out[index:end] = [Segment(s.op, s.text, cosmetic=True) for s in change]
        index = end
    return out


def _annotate(segments: list[Segment]) -> list[Segment]:
    """Give cosmetic changes that look the same on both sides a note saying what changed."""
    out = list(segments)
    index = 0
    while index < len(out):
        if out[index].op is Op.EQUAL or not out[index].cosmetic:
            index += 1
            continue
        end = index + 1
        while end < len(out) and out[end].op is not Op.EQUAL and out[end].cosmetic:
            end += 1
        old = "".join(s.text for s in out[index:end] if s.op is Op.DELETE)
        new = "".join(s.text for s in out[index:end] if s.op is Op.INSERT)
        note = None
        if not (old.isascii() and new.isascii()):
            note = describe_invisible(old, new)
        if note is None and "](" in old:
            note = describe_link_change(old, new)
        if note is not None:
            first = out[index]
            out[index] = Segment(first.op, first.text, first.cosmetic, first.move_id, note)
        index = end
    return out


def _refine_links(segments: list[Segment]) -> list[Segment]:
    """Diff inside a link whose text changed but whose target did not.

    A link is one token, so "[My Xbox](u)" -> "[My XBOX](u)" comes as a whole delete and
    insert; its brackets and target are kept equal around a word diff of its text, so
    that one changed word counts as one and the link syntax is still never split.
    """
    out: list[Segment] = []
    index = 0
    while index < len(segments):
        segment = segments[index]
        following = segments[index + 1] if index + 1 < len(segments) else None
        if (
            segment.op is Op.DELETE
            and following is not None
            and following.op is Op.INSERT
            and "](" in segment.text
            and "](" in following.text
            and (old := _LINK_PARTS.fullmatch(segment.text)) is not None
            and (new := _LINK_PARTS.fullmatch(following.text)) is not None
            and old[1] == new[1]
            and old[3] == new[3]
        ):
            out.append(Segment(Op.EQUAL, old[1]))
            out.extend(diff_words(old[2], new[2]).segments)
            out.append(Segment(Op.EQUAL, old[3]))
            if old[4] == new[4]:
                out.append(Segment(Op.EQUAL, old[4]))
            else:
                out += [Segment(Op.DELETE, old[4]), Segment(Op.INSERT, new[4])]
            index += 2
            continue
        out.append(segment)
        index += 1
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


def _token_boundary(text: str, position: int) -> bool:
    """Whether a token starts at position (whitespace before it, none at it) or it is an end."""
    if position in {0, len(text)}:
        return True
    return text[position - 1].isspace() and not text[position].isspace()


def _trim_common(old: str, new: str) -> tuple[int, int]:
    """Lengths of the common prefix and suffix of old and new, cut at token boundaries.

    Long sections usually change in a few places: comparing the raw strings first keeps
    the untouched start and end out of tokenising, encoding and diffing.
    """
    prefix = _common_prefix(old, new)
    while prefix > 0:
        while prefix > 0 and not (_token_boundary(old, prefix) and _token_boundary(new, prefix)):
            prefix -= 1
        # Never inside a link (one token): the link goes to the changed middle whole.
        inside = _link_around(old, prefix)
        if inside is None:
            break
        prefix = inside[0]
    limit = min(len(old), len(new)) - prefix
    suffix = _common_suffix(old[len(old) - limit :], new[len(new) - limit :]) if limit else 0
    while suffix > 0:
        while suffix > 0 and not (
            _token_boundary(old, len(old) - suffix) and _token_boundary(new, len(new) - suffix)
        ):
            suffix -= 1
        inside = _link_around(old, len(old) - suffix)
        if inside is None:
            break
        suffix = len(old) - inside[1]
    return prefix, suffix


def _link_around(text: str, position: int) -> tuple[int, int] | None:
    """Return the span of the link token that position falls strictly inside, if any."""
    if "](" not in text:
        return None
    start = max(text.rfind("\n", 0, position) + 1, position - _LINK_REACH)
    stop = text.find("\n", position)
    stop = min(len(text) if stop == -1 else stop, position + _LINK_REACH)
    for match in _LINK_TOKEN.finditer(text, start, stop):
        if match.start() < position < match.end():
            return match.start(), match.end()
        if match.start() >= position:
            break
    return None


def diff_words(old: str, new: str, *, cosmetic: bool = False) -> WordDiff:
    """Word-diff old against new; with cosmetic=True every change run is flagged cosmetic."""
    if old == new:
        segments = [Segment(Op.EQUAL, old)] if old else []
        return WordDiff(tuple(segments), 0, 0, approximate=False)
    prefix, suffix = _trim_common(old, new)
    old_middle, new_middle = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    try:
        differ = _Differ(old_middle, new_middle)
    except _TooManyTokensError:
        # Over a million distinct words: no character encoding left, show it whole.
        middle: list[_Run] = [
            (Op.DELETE, old_middle, False, None),
            (Op.INSERT, new_middle, False, None),
        ]
        approximate = True
    else:
        differ.run()
        middle = differ.runs()
        approximate = differ.approximate
    if prefix:
        middle.insert(0, (Op.EQUAL, old[:prefix], False, None))
    if suffix:
        middle.append((Op.EQUAL, old[len(old) - suffix :], False, None))
    merged = _merge_runs(middle)
    if any(s.op is Op.DELETE and "](" in s.text for s in merged):
        merged = _merge(_refine_links(merged))
    if cosmetic:
        merged = [s if s.op is Op.EQUAL else Segment(s.op, s.text, cosmetic=True) for s in merged]
    else:
        merged = _merge(_mark_cosmetic(merged))
    if not (old_middle.isascii() and new_middle.isascii()) or "](" in old_middle:
        merged = _annotate(merged)  # else no invisible character and no link to note
    inserted, deleted = count_changed_words(merged)
    return WordDiff(tuple(merged), inserted, deleted, approximate)


# --------------------------------------------------------------------------- tables
# A section holding a markdown table is diffed in units: each table row (one source line)
# is a unit, and so is each stretch of other text between tables. Units are aligned first,
# then word-diffed pairwise, so that no change run spans two rows and a row gained or lost
# is one whole insert or delete, not words spread over its neighbours.

# Cells split at pipes that are not escaped (GFM splits inside code spans too).
_CELL_PIPE = re.compile(r"(?<!\\)\|")
# A delimiter row: only pipes, dashes and colons (GFM: every cell `:?-+:?`).
_DELIMITER_ROW = re.compile(
    r"[ \t>]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*(?:\r\n|\r|\n)?"
)
_LETTER = re.compile(r"[^\W_]")
_TAG_OR_TARGET = re.compile(r"<[^<>\n]*>|\]\([^)\n]*\)")
# Quote markers and indentation before a row (a table in a block quote or list item).
_ROW_LEAD = re.compile(r"[ \t>]*")
# Rows changed in place are paired when one of these holds (measured on the corpus's
# changed tables, see the notes file of the tables work):
# * their words (cell borders and markup left out) have an LCS similarity 2*LCS/(a+b) of
#   at least 0.5: versions of one row scored 0.52-1.0, the best wrong pair 0.46;
# * they start with the same label (their first cell holding words), found once in the
#   stretch on each side: "Transactional information" rewritten whole scores 0.43;
# * the shorter row's words, at least 8 of them, stand in the longer one in order for
#   at least 0.9 of them (a row cut down or grown): true pairs 0.94-1.0, wrong ones
#   up to 0.80.
_ROW_PAIR_MIN = 0.5
_ROW_CONTAINED_MIN = 0.9
_ROW_CONTAINED_WORDS = 8
# A row longer than this many words is compared on its first and last words only, so
# one comparison stays cheap whatever the cell sizes (400 vs 400 words: about 30 us).
# Shorter signatures lose true pairs: at 120 + 40, a 119-word row grown to 213 words in
# its middle no longer pairs.
_SIGNATURE_HEAD, _SIGNATURE_TAIL = 300, 100
# Pairing rows is a dynamic programme over every old x new unit of a changed stretch,
# each cell one row comparison costing about 0.04-0.08 us per word of the two signatures:
# past this many words compared, rows are paired by position when the counts agree
# (else not at all) and the section is marked approximate.
_PAIR_MAX_WORDS = 4_000_000
# More units than this on a side: the plain word diff is used (no row report).
_MAX_UNITS = 20_000

_PROSE, _ROW, _DELIMITER = 0, 1, 2


class _Unit:
    """A table row or a stretch of other text, with what aligning it needs (computed lazily)."""

    __slots__ = ("_key", "_label", "_words", "kind", "text")

    def __init__(self, text: str, kind: int) -> None:
        self.text = text
        self.kind = kind
        self._key: tuple[object, ...] | None = None
        self._words: tuple[str, ...] | None = None
        self._label = ""

    @property
    def key(self) -> tuple[object, ...]:
        """Alignment key: units with equal keys differ only in spacing, quotes or dashes."""
        if self._key is None:
            if self.kind == _PROSE:
                self._key = ("p", self.text)
            elif self.kind == _DELIMITER:
                self._key = ("d", self.cells)
            else:
                self._key = ("r", *(" ".join(fold_chars(c).split()) for c in _cells(self.text)))
        return self._key

    @property
    def cells(self) -> int:
        """How many cells the row has (0 for other text)."""
        return len(_cells(self.text)) if self.kind != _PROSE else 0

    @property
    def words(self) -> tuple[str, ...]:
        """The row's words, markup left out and casefolded."""
        if self._words is None:
            self._words = ()
            if self.kind == _ROW:
                normalised = [normalize_text(cell) for cell in _cells(self.text)]
                self._words = tuple(" ".join(normalised).casefold().split())
                # The label: the first cell holding words.
                self._label = next((c.casefold() for c in normalised if _WORD.search(c)), "")
        return self._words

    @property
    def label(self) -> str:
        """The row's first cell holding words, normalised and casefolded ("" if none)."""
        _ = self.words
        return self._label

    @property
    def size(self) -> int:
        """A cheap estimate of the row's word count, for cost bounds."""
        return self.text.count(" ") + 1

    @property
    def counts(self) -> bool:
        """Whether the unit is a row that counts when added or removed: one with words.

        Words are letters or digits outside HTML tags and link targets (`|  <br>  |` has
        none): what normalize_text keeps, without its cost on rows removed by the hundred.
        """
        return self.kind == _ROW and _LETTER.search(_TAG_OR_TARGET.sub("", self.text)) is not None


def _cells(line: str) -> list[str]:
    """Return a table row's cells as written (border pipes and line break left out)."""
    body = line[_ROW_LEAD.match(line).end() :].rstrip()  # type: ignore[union-attr]
    cells = _CELL_PIPE.split(body)
    # Leading and trailing pipes are borders, not empty cells.
    if len(cells) > 1 and not cells[0].strip():
        cells = cells[1:]
    if len(cells) > 1 and not cells[-1].strip():
        cells = cells[:-1]
    return cells


def _units(text: str, rows: tuple[tuple[int, int], ...]) -> list[_Unit]:
    """Cut text into row units (at the given spans) and the text between them."""
    units: list[_Unit] = []
    position = 0
    for start, end in rows:
        if start > position:
            units.append(_Unit(text[position:start], _PROSE))
        line = text[start:end]
        units.append(_Unit(line, _DELIMITER if _DELIMITER_ROW.fullmatch(line) else _ROW))
        position = end
    if position < len(text):
        units.append(_Unit(text[position:], _PROSE))
    return units


def _signature(words: tuple[str, ...]) -> tuple[str, ...]:
    """Return the words two rows are compared on: all of them, or the first and last ones."""
    if len(words) <= _SIGNATURE_HEAD + _SIGNATURE_TAIL:
        return words
    return words[:_SIGNATURE_HEAD] + words[-_SIGNATURE_TAIL:]


def _pair_weight(a: _Unit, b: _Unit, labels: set[str]) -> float:
    """Return how well two units pair (higher is better); 0 when they must not pair.

    ``labels`` are the row labels found once on each side of the stretch.
    """
    if a.kind != b.kind or a.kind == _PROSE:
        # Text between tables is diffed with whatever else is left over around it.
        return 0.0
    if a.kind == _DELIMITER:
        return 1.0
    if not a.words or not b.words:
        return 1.0 if a.words == b.words else 0.0
    from rapidfuzz.distance import LCSseq  # on first use: only table rows get here

    old, new = _signature(a.words), _signature(b.words)
    common = LCSseq.similarity(old, new)
    score = 2 * common / (len(old) + len(new))
    if score >= _ROW_PAIR_MIN:
        return score
    shorter = min(len(old), len(new))
    if (a.label and a.label == b.label and a.label in labels) or (
        shorter >= _ROW_CONTAINED_WORDS and common >= _ROW_CONTAINED_MIN * shorter
    ):
        return _ROW_PAIR_MIN
    return 0.0


def _unique_labels(units: list[_Unit]) -> set[str]:
    """Return the row labels that occur exactly once among units."""
    counts = Counter(u.label for u in units if u.kind == _ROW and u.label)
    return {label for label, count in counts.items() if count == 1}


def _pair_units(old: list[_Unit], new: list[_Unit]) -> tuple[list[tuple[int, int]], bool]:
    """Pair the units of a changed stretch in order, best total weight first.

    Returns the (old, new) index pairs and whether the pairing was cut short by the
    cost bound (rows then pair by position only).
    """
    # Words per unit compared, plus the programme's own step per cell (about 1 us).
    old_words = sum(min(u.size, _SIGNATURE_HEAD + _SIGNATURE_TAIL) + 8 for u in old)
    new_words = sum(min(u.size, _SIGNATURE_HEAD + _SIGNATURE_TAIL) + 8 for u in new)
    if not any(u.kind != _PROSE for u in old) or not any(u.kind != _PROSE for u in new):
        return [], False  # nothing to pair: only rows pair
    labels = _unique_labels(old) & _unique_labels(new)
    if len(new) * old_words + len(old) * new_words > _PAIR_MAX_WORDS:
        if len(old) == len(new):
            same = [(i, i) for i in range(len(old)) if _pair_weight(old[i], new[i], labels) > 0]
            return same, True
        return [], True
    # best[i][j]: best total weight pairing old[i:] with new[j:].
    rows, cols = len(old), len(new)
    best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    weight = [[_pair_weight(a, b, labels) for b in new] for a in old]
    for i in range(rows - 1, -1, -1):
        here, below = best[i], best[i + 1]
        for j in range(cols - 1, -1, -1):
            value = max(below[j], here[j + 1])
            if weight[i][j] > 0:
                value = max(value, weight[i][j] + below[j + 1])
            here[j] = value
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < rows and j < cols:
        if weight[i][j] > 0 and best[i][j] == weight[i][j] + best[i + 1][j + 1]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs, False


def _row_pieces(line: str) -> list[str]:
    """Cut a row into cells and the pipes between them (pipes are pieces of their own)."""
    pieces: list[str] = []
    position = 0
    for match in _CELL_PIPE.finditer(line):
        pieces.append(line[position : match.start()])
        pieces.append("|")
        position = match.end()
    pieces.append(line[position:])
    return pieces


class _TableDiffer:
    """One unit-wise diff of a section: segments, flags and row counts as they are built."""

    def __init__(self, *, cosmetic: bool) -> None:
        self.cosmetic = cosmetic
        self.segments: list[Segment] = []
        self.approximate = False
        self.added = self.removed = self.changed = 0
        self.columns_added = self.columns_removed = 0

    def equal(self, text: str) -> None:
        """Append unchanged text, joined to an unchanged run before it."""
        if self.segments and self.segments[-1].op is Op.EQUAL:
            self.segments[-1] = Segment(Op.EQUAL, self.segments[-1].text + text)
        else:
            self.segments.append(Segment(Op.EQUAL, text))

    def extend(self, segments: list[Segment] | tuple[Segment, ...]) -> None:
        """Append segments, joining unchanged runs at the seam."""
        for segment in segments:
            if segment.op is Op.EQUAL:
                self.equal(segment.text)
            else:
                self.segments.append(segment)

    def whole(self, old: list[_Unit], new: list[_Unit]) -> None:
        """Append units removed and added whole: one delete, then one insert."""
        change = [
            Segment(op, "".join(u.text for u in units))
            for op, units in ((Op.DELETE, old), (Op.INSERT, new))
            if units
        ]
        if self.cosmetic:
            change = [Segment(s.op, s.text, cosmetic=True) for s in change]
        else:
            change = _mark_cosmetic(change)
        self.extend(change)
        if not any(s.cosmetic for s in change):
            # Rows without words (`|   |   |`) are layout, not rows gained or lost.
            self.removed += sum(1 for u in old if u.counts)
            self.added += sum(1 for u in new if u.counts)

    def pair(self, old: _Unit, new: _Unit) -> None:
        """Append the word diff of two paired units; a row's cells are diffed one by one."""
        if old.text == new.text:
            self.equal(old.text)
            return
        if old.kind == _DELIMITER:
            self.columns_added += max(0, new.cells - old.cells)
            self.columns_removed += max(0, old.cells - new.cells)
        old_pieces, new_pieces = _row_pieces(old.text), _row_pieces(new.text)
        if old.kind == _PROSE or len(old_pieces) != len(new_pieces):
            old_pieces, new_pieces = [old.text], [new.text]
        segments: list[Segment] = []
        for old_piece, new_piece in zip(old_pieces, new_pieces, strict=True):
            words = diff_words(old_piece, new_piece, cosmetic=self.cosmetic)
            self.approximate = self.approximate or words.approximate
            segments.extend(words.segments)
        self.extend(segments)
        if old.kind == _ROW and any(s.op is not Op.EQUAL and not s.cosmetic for s in segments):
            self.changed += 1

    def gap(self, old: list[_Unit], new: list[_Unit]) -> None:
        """Append units left unpaired between two pairs of a changed stretch.

        Rows alone are added or removed whole. With other text among them (a list turned
        into a table, a paragraph rewritten next to a new row) the two sides are word-diffed
        as one text, so that words kept across the change still show as kept.
        """
        if not old or not new or all(u.kind != _PROSE for u in (*old, *new)):
            self.whole(old, new)
            return
        words = diff_words(
            "".join(u.text for u in old), "".join(u.text for u in new), cosmetic=self.cosmetic
        )
        self.approximate = self.approximate or words.approximate
        self.extend(words.segments)
        if any(s.op is not Op.EQUAL and not s.cosmetic for s in words.segments):
            self.removed += sum(1 for u in old if u.counts)
            self.added += sum(1 for u in new if u.counts)

    def stretch(self, old: list[_Unit], new: list[_Unit]) -> None:
        """Append a changed stretch: paired rows word-diffed, the rest by gap()."""
        pairs, bounded = _pair_units(old, new) if old and new else ([], False)
        self.approximate = self.approximate or bounded
        i = j = 0
        for a, b in [*pairs, (len(old), len(new))]:
            self.gap(old[i:a], new[j:b])
            if a < len(old):
                self.pair(old[a], new[b])
            i, j = a + 1, b + 1


def diff_table_words(
    old: str,
    new: str,
    old_rows: tuple[tuple[int, int], ...],
    new_rows: tuple[tuple[int, int], ...],
    *,
    cosmetic: bool = False,
) -> tuple[WordDiff, TableRows]:
    """Word-diff two texts holding tables, each table row a unit (see the notes above).

    ``old_rows``/``new_rows`` are the row spans of sections.table_rows. Equal-keyed units
    are aligned first (difflib on normalised cells), the stretches between them paired by
    similarity; rows left unpaired are added or removed whole.
    """
    old_units, new_units = _units(old, old_rows), _units(new, new_rows)
    if len(old_units) > _MAX_UNITS or len(new_units) > _MAX_UNITS:
        return diff_words(old, new, cosmetic=cosmetic), TableRows()
    differ = _TableDiffer(cosmetic=cosmetic)
    # Identical units at both ends need no key (keys fold every cell: the costly part).
    limit = min(len(old_units), len(new_units))
    head = 0
    while head < limit and old_units[head].text == new_units[head].text:
        head += 1
    tail = 0
    while tail < limit - head and old_units[-1 - tail].text == new_units[-1 - tail].text:
        tail += 1
    if head:
        differ.equal("".join(u.text for u in old_units[:head]))
    old_middle = old_units[head : len(old_units) - tail]
    new_middle = new_units[head : len(new_units) - tail]
    if all(u.kind == _PROSE for u in old_middle) or all(u.kind == _PROSE for u in new_middle):
        # Rows on one side only (a table added or removed with the text around it): no
        # row can align, and keys would fold every cell for nothing.
        opcodes: Sequence[tuple[str, int, int, int, int]] = [
            ("replace", 0, len(old_middle), 0, len(new_middle))
        ]
    else:
        from difflib import SequenceMatcher  # on first use: only table rows get here

        keys = [u.key for u in old_middle], [u.key for u in new_middle]
        opcodes = SequenceMatcher(None, *keys, autojunk=True).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            for a, b in zip(old_middle[i1:i2], new_middle[j1:j2], strict=True):
                differ.pair(a, b)
        else:
            differ.stretch(old_middle[i1:i2], new_middle[j1:j2])
    if tail:
        differ.equal("".join(u.text for u in old_units[len(old_units) - tail :]))
    segments = tuple(differ.segments)
    inserted, deleted = count_changed_words(segments)
    rows = TableRows(
        added=differ.added,
        removed=differ.removed,
        changed=differ.changed,
        columns_added=differ.columns_added,
        columns_removed=differ.columns_removed,
    )
    return WordDiff(segments, inserted, deleted, differ.approximate), rows
