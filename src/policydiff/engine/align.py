"""Match old sections to new ones (renames, moves) and pair text moved between sections."""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policydiff.core.diff_model import SectionKind
from policydiff.engine.normalize import normalize_text

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Sequence

    from policydiff.engine.sections import Section

# Thresholds (rapidfuzz ratio, 0-100). Titles: "How we use data" vs "How we use your
# data" scores 86; unrelated short titles stay below 70. Content: a renamed section keeps
# most of its body.
TITLE_MIN = 85
CONTENT_MIN = 65
# Content shorter than this says too little to pair sections on content alone.
CONTENT_MIN_CHARS = 40
# Content similarity looks at this many leading normalised characters (cost bound).
CONTENT_PREFIX = 400
# Fuzzy matching compares every unmatched old section with every unmatched new one;
# beyond this many pairs only sections in the same gap between anchors are compared.
FUZZY_MAX_PAIRS = 10_000
# Sections longer than this are not normalised whole just to look for an equal twin.
NORMALISE_MAX = 3_000
# Moved blocks are paired by the Indel similarity of their word sequences (each word one
# symbol: 2 * common words in order / total words), which a few edited words or a
# rewritten sentence lower far less than unrelated text of the same length and topic.
# Measured on the corpus and on synthetic edits (notes of issue 13, "moves"): unrelated
# paragraphs of one document score under 60 (99th percentile 28); a paragraph with its
# last sentence rewritten scores 70 (median); near-copies of a paragraph elsewhere in a
# document (region variants) score 85-100 and are the same text, so a pair is a move at
# >= MOVE_MIN_RATIO when it shares >= MOVE_MIN_COMMON words in order, and at
# >= MOVE_SHORT_RATIO otherwise (short template sentences differ by a word or two).
MOVE_MIN_CHARS = 40
MOVE_MIN_WORDS = 8
MOVE_MIN_RATIO = 65
MOVE_SHORT_RATIO = 85
MOVE_MIN_COMMON = 16
MOVE_MAX_PAIRS = 250_000
# Longer blocks (a page without a blank line) are paired only when moved verbatim.
MOVE_FUZZY_MAX_CHARS = 10_000
# The fuzzy move search costs about len(a) * len(b) per pair (bit-parallel Indel on the
# word-symbol strings, in words). Symbols beyond Latin-1 cost rapidfuzz 5-20 times more
# per cell than ASCII (0.25-1 us per 1000 cells here, against 0.05 for ASCII), but a
# word string is about 6 times shorter than its text: this many cells take at most a few
# seconds on a loaded machine, whatever the block sizes.
MOVE_MAX_CELLS = 5 * 10**9


@dataclass(frozen=True, slots=True)
class Match:
    """An old section paired with a new one."""

    old: int
    new: int
    renamed: bool
    moved: bool


@dataclass(frozen=True, slots=True)
class Alignment:
    """How two section lists correspond, and the order to show them in."""

    matches: tuple[Match, ...]
    # (old index or None, new index or None): new order, removed sections where they stood.
    order: tuple[tuple[int | None, int | None], ...]


class _Matcher:
    """Greedy, staged one-to-one matching of section indexes."""

    def __init__(self, old: Sequence[Section], new: Sequence[Section]) -> None:
        self.old = old
        self.new = new
        self.old_to_new: dict[int, int] = {}
        self.new_to_old: dict[int, int] = {}
        self._content: dict[tuple[int, int], str] = {}

    def pair(self, i: int, j: int) -> None:
        self.old_to_new[i] = j
        self.new_to_old[j] = i

    def unmatched_old(self) -> list[int]:
        return [i for i in range(len(self.old)) if i not in self.old_to_new]

    def unmatched_new(self) -> list[int]:
        return [j for j in range(len(self.new)) if j not in self.new_to_old]

    def content(self, side: int, index: int) -> str:
        """Normalised content (heading excluded) of a section, memoised."""
        cached = self._content.get((side, index))
        if cached is None:
            section = (self.old if side == 0 else self.new)[index]
            # Only a prefix is compared, so only a prefix is normalised (long sections).
            cached = normalize_text(section.content[: 2 * CONTENT_PREFIX])[:CONTENT_PREFIX]
            self._content[(side, index)] = cached
        return cached

    def by_key(self, key: Callable[[int, int], Hashable | None]) -> None:
        """Pair unmatched sections with equal keys, in document order within each key.

        ``key(side, index)`` gets side 0 (old) or 1 (new) and the section's index.
        """
        groups_old: dict[Hashable, list[int]] = defaultdict(list)
        for i in self.unmatched_old():
            k = key(0, i)
            if k is not None:
                groups_old[k].append(i)
        if not groups_old:
            return
        groups_new: dict[Hashable, list[int]] = defaultdict(list)
        for j in self.unmatched_new():
            k = key(1, j)
            if k is not None and k in groups_old:
                groups_new[k].append(j)
        for k, new_indexes in groups_new.items():
            old_indexes = groups_old[k]
            olds, news = old_indexes, new_indexes
            if len(olds) != len(news):
                # Duplicates with unequal counts: pair identical bodies first.
                olds, news = self._pair_identical(olds, news)
            for i, j in zip(olds, news, strict=False):
                self.pair(i, j)

    def _pair_identical(self, olds: list[int], news: list[int]) -> tuple[list[int], list[int]]:
        """Pair byte-identical bodies among duplicates; return the rest to pair in order."""
        free_new = list(news)
        rest_old: list[int] = []
        for i in olds:
            body = self.old[i].body
            hit = next((j for j in free_new if self.new[j].body == body), None)
            if hit is None:
                rest_old.append(i)
            else:
                free_new.remove(hit)
                self.pair(i, hit)
        return rest_old, free_new

    def fuzzy(self, scorer: Callable[[list[int], list[int]], list[tuple[float, int, int]]]) -> None:
        """Pair the best-scoring candidates first, each section at most once."""
        olds, news = self.unmatched_old(), self.unmatched_new()
        if not olds or not news:
            return
        if len(olds) * len(news) <= FUZZY_MAX_PAIRS:
            groups = [(olds, news)]
        else:
            groups = self._gaps(olds, news)
        candidates: list[tuple[float, int, int]] = []
        for group_old, group_new in groups:
            if group_old and group_new and len(group_old) * len(group_new) <= FUZZY_MAX_PAIRS:
                candidates.extend(scorer(group_old, group_new))
        # Best score first; ties in document order, so results are deterministic.
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        for _, i, j in candidates:
            if i not in self.old_to_new and j not in self.new_to_old:
                self.pair(i, j)

    def parents_of_matched_children(self) -> None:
        """Pair unmatched headings whose children were matched to one new heading's children.

        A section renamed beyond recognition ("Your Rights" -> "Your Rights and Choices")
        is still the same section when its subsections moved under the new one together.
        """
        votes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for i, j in self.old_to_new.items():
            old_parent, new_parent = self.old[i].parent, self.new[j].parent
            if (
                old_parent is not None
                and new_parent is not None
                and old_parent not in self.old_to_new
                and new_parent not in self.new_to_old
            ):
                votes[old_parent][new_parent] += 1
        for old_parent in sorted(votes):
            ballot = votes[old_parent]
            # Most votes, then the earliest new parent, for a deterministic choice.
            new_parent = min(ballot, key=lambda j: (-ballot[j], j))
            if new_parent not in self.new_to_old:
                self.pair(old_parent, new_parent)

    def lone_paragraphs(self) -> None:
        """Pair an edited paragraph unit left alone between two matched neighbours.

        One unmatched paragraph on each side of the same gap is the same paragraph
        edited, however short; headed sections need a title or content match instead.
        """
        olds, news = self.unmatched_old(), self.unmatched_new()
        if not olds or not news:
            return
        for group_old, group_new in self._gaps(olds, news):
            if (
                len(group_old) == 1
                and len(group_new) == 1
                and self.old[group_old[0]].kind is SectionKind.PARAGRAPH
                and self.new[group_new[0]].kind is SectionKind.PARAGRAPH
            ):
                self.pair(group_old[0], group_new[0])

    def _gaps(self, olds: list[int], news: list[int]) -> list[tuple[list[int], list[int]]]:
        """Group unmatched sections by the stretch between consecutive matched anchors."""
        # A gap is numbered by how many matched sections come before it (on each side).
        old_anchors = sorted(self.old_to_new)
        new_anchors = sorted(self.new_to_old)
        old_gap = {i: bisect_left(old_anchors, i) for i in olds}
        new_gap = {j: bisect_left(new_anchors, j) for j in news}
        grouped: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for i, gap in old_gap.items():
            grouped[gap][0].append(i)
        for j, gap in new_gap.items():
            grouped[gap][1].append(j)
        return [grouped[gap] for gap in sorted(grouped)]

    def score_titles(self, olds: list[int], news: list[int]) -> list[tuple[float, int, int]]:
        """Candidate pairs whose own heading titles are similar."""
        olds = [i for i in olds if self.old[i].kind is SectionKind.HEADING and self.old[i].key]
        news = [j for j in news if self.new[j].kind is SectionKind.HEADING and self.new[j].key]
        if not olds or not news:
            return []
        return _similar_pairs(
            [self.old[i].key[-1] for i in olds],
            [self.new[j].key[-1] for j in news],
            olds,
            news,
            TITLE_MIN,
        )

    def score_content(self, olds: list[int], news: list[int]) -> list[tuple[float, int, int]]:
        """Candidate pairs whose content is similar (a renamed section keeps its body)."""
        olds = [i for i in olds if len(self.content(0, i)) >= CONTENT_MIN_CHARS]
        news = [j for j in news if len(self.content(1, j)) >= CONTENT_MIN_CHARS]
        if not olds or not news:
            return []
        return _similar_pairs(
            [self.content(0, i)[:CONTENT_PREFIX] for i in olds],
            [self.content(1, j)[:CONTENT_PREFIX] for j in news],
            olds,
            news,
            CONTENT_MIN,
        )


def _similar_pairs(
    queries: list[str], choices: list[str], olds: list[int], news: list[int], cutoff: float
) -> list[tuple[float, int, int]]:
    """(score, old, new) for every query/choice pair with rapidfuzz ratio >= cutoff."""
    # rapidfuzz is imported on first use: most compares have no section left to pair.
    from rapidfuzz import fuzz, process

    found: list[tuple[float, int, int]] = []
    for row, query in enumerate(queries):
        # extract scores the whole choice list in C, skipping pairs whose lengths alone
        # rule out the cutoff.
        for _, score, column in process.extract(
            query, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
        ):
            found.append((float(score), olds[row], news[column]))
    return found


def _heaviest_increasing(pairs: list[tuple[int, int]], weights: list[int]) -> set[int]:
    """Indexes (into pairs, sorted by new) of the heaviest subsequence increasing in old.

    A Fenwick tree over old indexes gives, for each pair, the best chain ending below it.
    Weighting by size makes the small section that jumped count as moved, not the many
    it jumped over.
    """
    size = max((old for old, _ in pairs), default=-1) + 2
    tree_best = [0] * (size + 1)
    tree_arg = [-1] * (size + 1)
    best_at: list[int] = []
    parent: list[int] = []
    for index, (old, _) in enumerate(pairs):
        # Query the best chain over old positions < old (1-based Fenwick prefix max).
        position, best, arg = old, 0, -1
        while position > 0:
            if tree_best[position] > best:
                best, arg = tree_best[position], tree_arg[position]
            position -= position & -position
        total = best + weights[index]
        best_at.append(total)
        parent.append(arg)
        position = old + 1
        while position <= size:
            if tree_best[position] < total:
                tree_best[position], tree_arg[position] = total, index
            position += position & -position
    if not best_at:
        return set()
    end = max(range(len(best_at)), key=lambda k: (best_at[k], -k))
    chain: set[int] = set()
    while end != -1:
        chain.add(end)
        end = parent[end]
    return chain


def _order(
    old_count: int, new_count: int, matches: dict[int, Match]
) -> tuple[tuple[int | None, int | None], ...]:
    """Order sections as in the new text, each removed one after its nearest kept predecessor."""
    new_to_old = {m.new: m.old for m in matches.values()}
    removed_after: dict[int, list[int]] = defaultdict(list)
    anchor = -1
    for i in range(old_count):
        match = matches.get(i)
        if match is None:
            removed_after[anchor].append(i)
        elif not match.moved:
            anchor = match.new
    order: list[tuple[int | None, int | None]] = [(i, None) for i in removed_after[-1]]
    for j in range(new_count):
        order.append((new_to_old.get(j), j))
        order.extend((i, None) for i in removed_after.get(j, ()))
    return tuple(order)


def align_sections(old: Sequence[Section], new: Sequence[Section]) -> Alignment:
    """Match sections: same title and place, identical body, similar title, similar content."""
    matcher = _Matcher(old, new)

    sides = (old, new)

    def full_key(side: int, index: int) -> Hashable | None:
        section = sides[side][index]
        if section.kind is SectionKind.PARAGRAPH:
            return None
        return (section.kind, section.key)

    def body_key(side: int, index: int) -> Hashable | None:
        return sides[side][index].body

    def own_title_key(side: int, index: int) -> Hashable | None:
        section = sides[side][index]
        if section.kind is not SectionKind.HEADING or not section.key or not section.key[-1]:
            return None
        return section.key[-1]

    def words_key(side: int, index: int) -> Hashable | None:
        section = sides[side][index]
        if len(section.body) > NORMALISE_MAX:
            return None
        words = normalize_text(section.content)
        return (section.kind is SectionKind.HEADING, words) if words else None

    def content_key(side: int, index: int) -> Hashable | None:
        section = sides[side][index]
        content = section.content.strip()
        if section.kind is not SectionKind.HEADING or len(content) < CONTENT_MIN_CHARS:
            return None
        return content

    matcher.by_key(full_key)  # same title path (numbering ignored)
    matcher.by_key(body_key)  # byte-identical section (moved under a renamed parent)
    matcher.by_key(own_title_key)  # same own title, parent renamed
    matcher.by_key(content_key)  # same body under a new title
    matcher.by_key(words_key)  # same words, other markup (paragraph units mostly)
    matcher.fuzzy(matcher.score_titles)
    matcher.fuzzy(matcher.score_content)
    matcher.parents_of_matched_children()
    matcher.lone_paragraphs()

    pairs = sorted(matcher.old_to_new.items(), key=lambda p: p[1])
    weights = [len(old[i].body) + 1 for i, _ in pairs]
    kept = _heaviest_increasing(pairs, weights)
    matches: dict[int, Match] = {}
    for index, (i, j) in enumerate(pairs):
        renamed = old[i].kind is SectionKind.HEADING and (
            not old[i].key or not new[j].key or old[i].key[-1] != new[j].key[-1]
        )
        matches[i] = Match(i, j, renamed=renamed, moved=index not in kept)
    return Alignment(
        matches=tuple(sorted(matches.values(), key=lambda m: m.new)),
        order=_order(len(old), len(new), matches),
    )


@dataclass(frozen=True, slots=True)
class Block:
    """A candidate piece of deleted or inserted text for move detection."""

    section: int
    text: str


def _non_space_length(text: str) -> int:
    """Count the characters in text other than spaces, tabs and line breaks."""
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t")


# Words for move pairing: runs of letters and digits, so that punctuation, quote and dash
# styles, markup and link targets are left out (no folding needed: none of them is a
# letter); case is kept, so a capital changed is an edit.
_MOVE_WORD = re.compile(r"[^\W_]++")  # possessive: same runs, faster (see worddiff._WORD)
_LINK_TARGET = re.compile(r"\]\([^)\n]*\)")


def move_words(text: str) -> list[str]:
    """Return the words of a block as move pairing compares them."""
    if "](" in text:
        text = _LINK_TARGET.sub(" ", text)
    return _MOVE_WORD.findall(text)


def _code(number: int) -> str:
    """Return the number-th symbol for a word: from U+0100 up, skipping the surrogates."""
    number += 0x100
    return chr(number + 0x800 if number >= 0xD800 else number)


def _encode_words(blocks: list[list[str]]) -> list[str]:
    """Encode word lists as strings, one character per distinct word, for rapidfuzz."""
    vocabulary = dict.fromkeys(itertools.chain.from_iterable(blocks))
    code_of = dict(zip(vocabulary, map(_code, range(len(vocabulary))), strict=True))
    lookup = code_of.__getitem__
    return ["".join(map(lookup, words)) for words in blocks]


def _accepted(score: float, a: str, b: str) -> bool:
    """Whether a similarity score between two encoded blocks makes them one moved block."""
    if score >= MOVE_SHORT_RATIO:
        return True
    common = score * (len(a) + len(b)) / 200
    return score >= MOVE_MIN_RATIO and common >= MOVE_MIN_COMMON


def _length_window(n: int) -> tuple[float, float]:
    """Lengths (in words) a block of n words can be paired with under ``_accepted``.

    A ratio >= r needs lengths within a factor of r / (200 - r); the lower ratio also
    needs MOVE_MIN_COMMON words in common, so both blocks that long.
    """
    short = MOVE_SHORT_RATIO / (200 - MOVE_SHORT_RATIO)
    if n < MOVE_MIN_COMMON:
        return n * short, n / short
    ratio = MOVE_MIN_RATIO / (200 - MOVE_MIN_RATIO)
    return min(max(MOVE_MIN_COMMON, n * ratio), n * short), n / ratio


def pair_moved_blocks(
    deleted: Sequence[Block], inserted: Sequence[Block]
) -> list[tuple[int, int, float]]:
    """Pair deleted and inserted blocks that are the same text moved elsewhere, maybe edited.

    Returns (deleted index, inserted index, similarity), best pairs first, each block
    used once. Blocks inside one section are paired too (a paragraph moved within it).
    The similarity is the word-sequence Indel ratio (100: the same words, punctuation
    and markup aside).
    """
    long_enough = [
        [k for k, b in enumerate(blocks) if _non_space_length(b.text) >= MOVE_MIN_CHARS]
        for blocks in (deleted, inserted)
    ]
    used_del: set[int] = set()
    used_ins: set[int] = set()
    result: list[tuple[int, int, float]] = []
    # Verbatim moves first, by hash of the whitespace-collapsed text: the common case,
    # and no pair budget needed.
    exact: dict[str, list[int]] = defaultdict(list)
    for k in long_enough[1]:
        exact[" ".join(inserted[k].text.split())].append(k)
    for k in long_enough[0]:
        targets = exact.get(" ".join(deleted[k].text.split()))
        if targets:
            target = targets.pop(0)
            used_del.add(k)
            used_ins.add(target)
            result.append((k, target, 100.0))
    # Fuzzy candidates: blocks not paired yet, not beyond the size where a paragraph is a
    # whole page (those only move verbatim), and with a block of about its length on the
    # other side: words are extracted only for those (a large added section has
    # thousands of paragraphs, and often nothing deleted left to pair them with).
    sides = [
        [k for k in long_enough[0] if k not in used_del],
        [k for k in long_enough[1] if k not in used_ins],
    ]
    proxies = [
        {k: len(b[k].text.split()) for k in side if len(b[k].text) <= MOVE_FUZZY_MAX_CHARS}
        for side, b in zip(sides, (deleted, inserted), strict=True)
    ]
    keys: list[tuple[int, int]] = []
    word_lists: list[list[str]] = []
    for side, blocks in ((0, deleted), (1, inserted)):
        others = sorted(proxies[1 - side].values())
        for k, proxy in proxies[side].items():
            # Whitespace tokens stand in for words here: within a factor of 2 either way.
            low = bisect_left(others, proxy * MOVE_MIN_RATIO / (200 - MOVE_MIN_RATIO) / 2)
            if (
                low == len(others)
                or others[low] > proxy * (200 - MOVE_MIN_RATIO) / MOVE_MIN_RATIO * 2
            ):
                continue
            words = move_words(blocks[k].text)
            if len(words) >= MOVE_MIN_WORDS:
                keys.append((side, k))
                word_lists.append(words)
    dels: list[tuple[int, str]] = []
    ins: list[tuple[int, str]] = []
    for (side, k), encoded in zip(keys, _encode_words(word_lists), strict=True):
        (ins if side else dels).append((k, encoded))
    if not dels or not ins:
        return result
    from rapidfuzz import fuzz, process  # on first use, as in _similar_pairs

    # The similarity is symmetric: the smaller side gives the queries (one rapidfuzz call
    # each), the other the choices; each query is compared only with the choices whose
    # length can reach the acceptance rule (see _length_window).
    swapped = len(ins) < len(dels)
    queries, choices = (ins, dels) if swapped else (dels, ins)
    choices.sort(key=lambda p: len(p[1]))
    texts = [t for _, t in choices]
    lengths = [len(t) for t in texts]
    # Running totals of the lengths: the cost of a window without summing it.
    totals = [0, *itertools.accumulate(lengths)]
    candidates: list[tuple[float, int, int]] = []
    compared = 0
    cells = 0
    for k, t in queries:
        shortest, longest = _length_window(len(t))
        low, high = bisect_left(lengths, shortest), bisect_right(lengths, longest)
        cost = len(t) * (totals[high] - totals[low])
        if cells + cost > MOVE_MAX_CELLS:
            # Too costly for what is left of the budget: leave this block unpaired (it
            # shows as a plain delete and insert) and keep looking at cheaper ones.
            continue
        compared += high - low
        if compared > MOVE_MAX_PAIRS:
            break
        cells += cost
        for _, score, column in process.extract(
            t, texts[low:high], scorer=fuzz.ratio, score_cutoff=MOVE_MIN_RATIO, limit=None
        ):
            j, other = choices[low + column]
            if _accepted(score, t, other):
                candidates.append((float(score), *((j, k) if swapped else (k, j))))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    for score, d, i in candidates:
        if d in used_del or i in used_ins:
            continue
        used_del.add(d)
        used_ins.add(i)
        result.append((d, i, score))
    return result
