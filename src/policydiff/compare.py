"""Compare two versions of a policy text: the diff engine's public entry point."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from policydiff.align import Block, align_sections, pair_moved_blocks
from policydiff.diff_model import (
    DocumentDiff,
    MovedBlock,
    Op,
    SectionDiff,
    SectionKind,
    SectionStatus,
    Segment,
    Summary,
)
from policydiff.normalize import normalize_text, same_words
from policydiff.sections import Section, split_sections
from policydiff.worddiff import count_words, diff_words

if TYPE_CHECKING:
    from policydiff.align import Match

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:{_MONTH}\s+{_DAY},?\s+\d{{4}}"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"
    r"|\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}[./]\d{1,2}[./]\d{2,4}"
    rf"|{_MONTH}\s+\d{{4}})"
)
# A date phrase: one of the usual lead-ins, then a date.
_EFFECTIVE = re.compile(
    r"(?:valid\s+from|effective(?:\s+date)?(?:\s+(?:as\s+of|from|on))?"
    r"|(?:last\s+)?(?:updated?|modified|revised|changed)(?:\s+(?:on|as\s+of))?"
    r"|(?:date\s+of\s+)?last\s+revision)"
    # Then punctuation, emphasis or escaped brackets ("Effective Date: \\[19 November 2023\\]"),
    # or a short qualifier before a colon ("Effective Date outside EEA & UK: March 13").
    r"(?:[^:\n\d.]{1,40}:)?"
    rf"[\s:*_\-\u2013\u2014\\\[(]{{0,12}}(?:(?:on|as\s+of|is)\s+)?{_DATE}",
    re.IGNORECASE,
)
# Lower-case anchors for the lead-ins: the regex is tried only where one occurs, so a
# 1 MB text costs a few str.find calls instead of a regex attempt at every offset.
_EFFECTIVE_ANCHORS = ("valid", "effective", "update", "modified", "revised", "changed", "revision")
# Where find_effective_date looks first, and the longest phrase it can match.
_HEAD = 8192
_PHRASE_MAX = 200
_EMPHASIS = re.compile(r"[*_\\\[]+")
_WORD = re.compile(r"\w")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# The blank lines (and spaces) that end a section body.
_TRAILING = " \t\r\n"
_CHANGED = frozenset({SectionStatus.MODIFIED, SectionStatus.ADDED, SectionStatus.REMOVED})


@dataclass(frozen=True, slots=True)
class _Analysis:
    """What compare needs from one text, computed once per text."""

    sections: tuple[Section, ...]
    effective: str | None


def _first_effective(text: str, limit: int) -> str | None:
    """Find the first effective-date phrase starting before offset limit, if any."""
    lowered = text[: limit + _PHRASE_MAX].lower()
    positions: list[int] = []
    for anchor in _EFFECTIVE_ANCHORS:
        position = lowered.find(anchor)
        while position != -1 and position < limit:
            positions.append(position)
            position = lowered.find(anchor, position + 1)
    for position in sorted(set(positions)):
        # "last updated" starts before the "updated" anchor; try the word before too.
        start = lowered.rfind("last", max(0, position - 6), position)
        for begin in (start, position) if start != -1 else (position,):
            match = _EFFECTIVE.match(text, begin)
            if match is not None:
                # As written, minus emphasis and escapes: "**Effective:** \\[1 May" reads
                # "Effective: 1 May".
                return " ".join(_EMPHASIS.sub("", match.group(0)).split())
    return None


def find_effective_date(text: str) -> str | None:
    """Find the first effective-date phrase in text ("Last updated: May 1, 2024")."""
    # Policies state the date near the top: look there first, the whole text only if not.
    return _first_effective(text, _HEAD) or (
        _first_effective(text, len(text)) if len(text) > _HEAD else None
    )


@lru_cache(maxsize=4)
def _analyse(text: str) -> _Analysis:
    """Cut a text into sections and find its effective date, once per text.

    Cached: comparing consecutive versions (v1-v2, v2-v3, ...) parses each text once.
    """
    return _Analysis(split_sections(text), find_effective_date(text))


def _same_words(old: Section, new: Section) -> bool:
    """Whether two matched sections differ only cosmetically.

    The numbering label is left out, so a section renumbered by an insertion above is
    not modified by that alone.
    """
    if old.kind is SectionKind.HEADING or new.kind is SectionKind.HEADING:
        if normalize_text(old.title) != normalize_text(new.title):
            return False
        return same_words(old.content, new.content)
    return same_words(old.body, new.body)


def _section_diff(
    old: Section | None,
    new: Section | None,
    old_index: int | None,
    new_index: int | None,
    match: Match | None,
) -> SectionDiff:
    """Diff one matched pair, or one added or removed section."""
    either = new if new is not None else old
    if either is None:
        msg = "a section diff needs an old or a new section"
        raise ValueError(msg)
    approximate = False
    if old is None and new is not None:
        # A one-sided section without words (a rule, stray markup) is only cosmetic.
        wordless = _WORD.search(new.body) is None
        status = SectionStatus.COSMETIC if wordless else SectionStatus.ADDED
        segments: tuple[Segment, ...] = (Segment(Op.INSERT, new.body, cosmetic=wordless),)
        inserted, deleted = (0 if wordless else count_words(new.body)), 0
    elif new is None and old is not None:
        wordless = _WORD.search(old.body) is None
        status = SectionStatus.COSMETIC if wordless else SectionStatus.REMOVED
        segments = (Segment(Op.DELETE, old.body, cosmetic=wordless),)
        inserted, deleted = 0, (0 if wordless else count_words(old.body))
    elif old is not None and new is not None:  # pragma: no branch - either is set
        if old.body == new.body:
            status = SectionStatus.UNCHANGED
            segments = (Segment(Op.EQUAL, old.body),)
            inserted = deleted = 0
        elif old.body.rstrip(_TRAILING) == new.body.rstrip(_TRAILING):
            # Only the blank lines after the text differ: they separate this section
            # from the next one (a section added after it brings one), so the section
            # itself is unchanged. The segments still rebuild both bodies exactly.
            status = SectionStatus.UNCHANGED
            segments = diff_words(old.body, new.body, cosmetic=True).segments
            inserted = deleted = 0
        else:
            cosmetic = _same_words(old, new)
            words = diff_words(old.body, new.body, cosmetic=cosmetic)
            segments, approximate = words.segments, words.approximate
            inserted, deleted = words.words_inserted, words.words_deleted
            substantive = any(s.op is not Op.EQUAL and not s.cosmetic for s in segments)
            status = SectionStatus.MODIFIED if substantive else SectionStatus.COSMETIC
    return SectionDiff(
        status=status,
        kind=either.kind,
        renamed=match.renamed if match is not None else False,
        moved=match.moved if match is not None else False,
        approximate=approximate,
        old_path=old.path if old is not None else None,
        new_path=new.path if new is not None else None,
        old_label=old.label if old is not None else None,
        new_label=new.label if new is not None else None,
        old_title=old.title if old is not None else None,
        new_title=new.title if new is not None else None,
        old_index=old_index,
        new_index=new_index,
        segments=segments,
        words_inserted=inserted,
        words_deleted=deleted,
    )


@dataclass(frozen=True, slots=True)
class _Piece:
    """A paragraph-sized slice of one change segment, a candidate for move pairing."""

    section: int
    segment: int
    start: int
    end: int


def _pieces(diffs: list[SectionDiff], op: Op, statuses: frozenset[SectionStatus]) -> list[_Piece]:
    """Cut the non-cosmetic `op` segments of sections with those statuses at blank lines."""
    pieces: list[_Piece] = []
    for k, diff in enumerate(diffs):
        if diff.status not in statuses:
            continue
        for s, segment in enumerate(diff.segments):
            if segment.op is not op or segment.cosmetic:
                continue
            start = 0
            for match in _PARAGRAPH_BREAK.finditer(segment.text):
                pieces.append(_Piece(k, s, start, match.end()))
                start = match.end()
            if start < len(segment.text):
                pieces.append(_Piece(k, s, start, len(segment.text)))
    return pieces


def _apply_moves(diffs: list[SectionDiff]) -> tuple[list[SectionDiff], tuple[MovedBlock, ...]]:
    """Find paragraphs that left one place and reappear in another; tag their segments."""
    deleted = _pieces(diffs, Op.DELETE, frozenset({SectionStatus.MODIFIED, SectionStatus.REMOVED}))
    inserted = _pieces(diffs, Op.INSERT, frozenset({SectionStatus.MODIFIED, SectionStatus.ADDED}))
    if not deleted or not inserted:
        return diffs, ()

    def text(piece: _Piece) -> str:
        return diffs[piece.section].segments[piece.segment].text[piece.start : piece.end]

    pairs = pair_moved_blocks(
        [Block(p.section, text(p)) for p in deleted],
        [Block(p.section, text(p)) for p in inserted],
    )
    if not pairs:
        return diffs, ()
    # Order moves by where their text lands, so ids read top to bottom in the new text.
    pairs.sort(key=lambda pair: (inserted[pair[1]].section, inserted[pair[1]].start))
    cuts: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    moves: list[MovedBlock] = []
    moved_out: dict[int, list[int]] = {}
    moved_in: dict[int, list[int]] = {}
    for move_id, (d, i, score) in enumerate(pairs):
        src, dst = deleted[d], inserted[i]
        cuts.setdefault((src.section, src.segment), []).append((src.start, src.end, move_id))
        cuts.setdefault((dst.section, dst.segment), []).append((dst.start, dst.end, move_id))
        moved_out.setdefault(src.section, []).append(move_id)
        moved_in.setdefault(dst.section, []).append(move_id)
        moves.append(
            MovedBlock(
                id=move_id,
                old_section=src.section,
                new_section=dst.section,
                old_path=diffs[src.section].old_path or (),
                new_path=diffs[dst.section].new_path or (),
                old_text=text(src),
                new_text=text(dst),
                similarity=round(score, 1),
            )
        )
    result: list[SectionDiff] = []
    for k, diff in enumerate(diffs):
        if k not in moved_out and k not in moved_in:
            result.append(diff)
            continue
        segments: list[Segment] = []
        for s, segment in enumerate(diff.segments):
            spans = sorted(cuts.get((k, s), ()))
            position = 0
            for start, end, move_id in spans:
                segments.append(Segment(segment.op, segment.text[position:start]))
                segments.append(Segment(segment.op, segment.text[start:end], move_id=move_id))
                position = end
            if spans:
                segments.append(Segment(segment.op, segment.text[position:]))
            else:
                segments.append(segment)
        result.append(
            replace(
                diff,
                segments=tuple(s for s in segments if s.text),
                moved_out=tuple(moved_out.get(k, ())),
                moved_in=tuple(moved_in.get(k, ())),
            )
        )
    return result, tuple(moves)


def _summarise(diffs: list[SectionDiff], moves: int) -> Summary:
    """Count statuses, flags and words over all section diffs."""
    counts = dict.fromkeys(SectionStatus, 0)
    for diff in diffs:
        counts[diff.status] += 1
    return Summary(
        substantive=any(d.status in _CHANGED for d in diffs),
        unchanged=counts[SectionStatus.UNCHANGED],
        cosmetic=counts[SectionStatus.COSMETIC],
        modified=counts[SectionStatus.MODIFIED],
        added=counts[SectionStatus.ADDED],
        removed=counts[SectionStatus.REMOVED],
        renamed=sum(d.renamed for d in diffs),
        moved=sum(d.moved for d in diffs),
        moved_blocks=moves,
        approximate=sum(d.approximate for d in diffs),
        words_inserted=sum(d.words_inserted for d in diffs),
        words_deleted=sum(d.words_deleted for d in diffs),
    )


def sections_of(text: str) -> tuple[Section, ...]:
    """Return a text's sections from the parse cache (no second parse after a compare)."""
    return _analyse(text).sections


def compare_texts(old: str, new: str) -> DocumentDiff:
    """Section-level diff of two versions of a text (see diff_model for the contract)."""
    old_doc, new_doc = _analyse(old), _analyse(new)
    alignment = align_sections(old_doc.sections, new_doc.sections)
    by_old = {m.old: m for m in alignment.matches}
    diffs: list[SectionDiff] = []
    for old_index, new_index in alignment.order:
        match = by_old.get(old_index) if old_index is not None else None
        diffs.append(
            _section_diff(
                old_doc.sections[old_index] if old_index is not None else None,
                new_doc.sections[new_index] if new_index is not None else None,
                old_index,
                new_index,
                match,
            )
        )
    diffs, moves = _apply_moves(diffs)
    return DocumentDiff(
        sections=tuple(diffs),
        summary=_summarise(diffs, len(moves)),
        moves=moves,
        old_effective=old_doc.effective,
        new_effective=new_doc.effective,
        identical=old == new,
        paragraph_mode=any(
            s.kind is SectionKind.PARAGRAPH for s in (*old_doc.sections, *new_doc.sections)
        ),
    )
