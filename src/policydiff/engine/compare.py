"""Compare two versions of a policy text: the diff engine's public entry point."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from policydiff.core.datetext import find_written_date
from policydiff.core.diff_model import (
    DocumentDiff,
    MovedBlock,
    Op,
    RenumberedRange,
    SectionDiff,
    SectionKind,
    SectionStatus,
    Segment,
    Summary,
    TableRows,
    TitleChange,
)
from policydiff.engine.align import Block, _heaviest_increasing, align_sections, pair_moved_blocks
from policydiff.engine.normalize import fold_chars, normalize_text, same_words, title_key
from policydiff.engine.sections import Section, clear_section_cache, split_sections, table_rows
from policydiff.engine.worddiff import WordDiff, count_words, diff_table_words, diff_words

if TYPE_CHECKING:
    from policydiff.engine.align import Match

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
# What may stand before a date line's label: quote and heading marks, emphasis, bullets.
_LINE_LEAD = re.compile(r"[\s>#*_\-+|\\\[(]*")
# Lead-ins that are about the policy wherever they stand.
_STRONG_LEADS = ("valid", "effective", "last", "date of")
_COLON_AFTER_LEAD = re.compile(r"[a-z\s]+[*_]*:", re.IGNORECASE)
_WORD = re.compile(r"\w")
# The blank lines (and spaces) that end a section body.
_TRAILING = " \t\r\n"
_CHANGED = frozenset({SectionStatus.MODIFIED, SectionStatus.ADDED, SectionStatus.REMOVED})
# What separates a page title from the site's name in HTML <title>s ("Privacy - Example",
# "Example | Privacy"), after fold_chars (en and em dashes read "-").
_SITE_SEPARATORS = (" - ", " | ", " :: ", " \u00b7 ", " \u2022 ")
# A site name is short; a longer tail is a real change of the document's title.
_SITE_NAME_MAX = 60
# Characters that may stand at both ends of a changed heading run without being part of
# the change: emphasis and code marks, and spacing.
_SNAP = frozenset("*_~` \t")
# A word before a label's number ("Section 3", "Article IV", "§ 5"), and a label's parts.
_LABEL_WORD = re.compile(r"(?:[A-Za-z]+\s+|\u00a7+\s*)")
_LABEL_PART = re.compile(r"\d+|[A-Za-z]+")
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


@dataclass(frozen=True, slots=True)
class _Analysis:
    """What compare needs from one text, computed once per text."""

    sections: tuple[Section, ...]
    effective: str | None


def _about_the_policy(text: str, match: re.Match[str], *, line_start_only: bool) -> bool:
    """Whether a matched date phrase is a statement about the policy itself.

    "Last updated", "Effective", "Valid from" are; a bare "revised on" or "changed" is one
    only when it starts a line or is followed by a colon (a date line such as "Revised:
    1 May 2024"), never mid-sentence ("(as revised on July 24, 1971)" in a licence text).
    Beyond the head of the text only date lines count.
    """
    start = match.start()
    line = text.rfind("\n", 0, start) + 1
    at_line_start = _LINE_LEAD.fullmatch(text, line, start) is not None
    if line_start_only and not at_line_start:
        return False
    lead = match.group(0).lower()
    if lead.startswith(_STRONG_LEADS):
        return True
    return at_line_start or _COLON_AFTER_LEAD.match(match.group(0)) is not None


def _first_effective(text: str, limit: int, *, line_start_only: bool = False) -> str | None:
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
            if match is not None and _about_the_policy(
                text, match, line_start_only=line_start_only
            ):
                # As written, minus emphasis and escapes: "**Effective:** \\[1 May" reads
                # "Effective: 1 May".
                return " ".join(_EMPHASIS.sub("", match.group(0)).split())
    return None


def find_effective_date(text: str) -> str | None:
    """Find the first effective-date phrase in text ("Last updated: May 1, 2024")."""
    # Policies state the date near the top: look there first, the whole text only if not.
    return _first_effective(text, _HEAD) or (
        _first_effective(text, len(text), line_start_only=True) if len(text) > _HEAD else None
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


def _title_form(title: str) -> str:
    """Reduce a title to its letters and digits: no case, markup, punctuation or spacing."""
    return "".join(char for char in title_key(title) if char.isalnum())


def _site_name_only(old: str, new: str) -> bool:
    """Whether one title is the other plus a site name after a separator ("X - Site")."""
    a, b = (" ".join(fold_chars(title).casefold().split()) for title in (old, new))
    short, long = sorted((a, b), key=len)
    if not short or short == long:
        return False
    for separator in _SITE_SEPARATORS:
        tail = len(long) - len(short) - len(separator)
        if 0 < tail <= _SITE_NAME_MAX and (
            long.startswith(short + separator) or long.endswith(separator + short)
        ):
            return True
    return False


def _heading_without_label(section: Section) -> str:
    """Return the heading line(s) with the numbering label taken out and spacing collapsed."""
    heading = section.heading
    if section.label:
        # The source may escape the label's punctuation (`3\.` keeps a list from starting).
        pattern = "".join(
            re.escape(char) if char.isalnum() or char.isspace() else "\\\\?" + re.escape(char)
            for char in section.label
        )
        heading = re.sub(pattern, "", heading, count=1)
    return " ".join(heading.split())


def _labelled_title(section: Section) -> str:
    """Return a heading's plain text with its numbering label, as written."""
    return f"{section.label} {section.title}" if section.label else section.title


def title_change(old: Section, new: Section, *, document_title: bool = False) -> TitleChange:
    """How a matched heading's own title changed: not at all, cosmetically, or renamed.

    The numbering label is left out (renumbering is reported on its own). Titles with the
    same letters and digits, differing only in spacing (inside words too: "mailinglists"
    -> "mailing lists"), case, markup or punctuation ("[19 May 2024]" -> "19 May 2024"),
    are a cosmetic change; so is a site name added to or dropped from the document's
    title ("Privacy - Example" -> "Privacy"), as an HTML page's <title> carries it and
    its markdown copy does not. Only titles get this leniency: in the text under a
    heading, "a lot" -> "alot" stays a change of words.
    """
    if _heading_without_label(old) == _heading_without_label(new):
        return TitleChange.NONE
    same_title = _title_form(old.title) == _title_form(new.title)
    # Case alone can decide what is a label ("SECTION CV" is Section 105, "section cv" a
    # title), so the same words may split differently into label and title.
    same_labelled = _title_form(_labelled_title(old)) == _title_form(_labelled_title(new))
    if same_title or same_labelled:
        return TitleChange.COSMETIC
    if document_title and _site_name_only(old.title, new.title):
        return TitleChange.COSMETIC
    return TitleChange.RENAMED


def _joined(segments: list[Segment]) -> list[Segment]:
    """Drop empty segments and join neighbours with the same op and flags."""
    out: list[Segment] = []
    for segment in segments:
        if not segment.text:
            continue
        last = out[-1] if out else None
        if (
            last is not None
            and last.op is segment.op
            and last.cosmetic == segment.cosmetic
            and last.move_id == segment.move_id
        ):
            out[-1] = Segment(last.op, last.text + segment.text, last.cosmetic, last.move_id)
        else:
            out.append(segment)
    return out


def _snap_edges(old: str, new: str) -> tuple[int, int]:
    """Lengths of the common prefix and suffix of old and new made of markup and spacing."""
    limit = min(len(old), len(new))
    lead = 0
    while lead < limit and old[lead] == new[lead] and old[lead] in _SNAP:
        lead += 1
    trail = 0
    while (
        trail < limit - lead
        and old[len(old) - 1 - trail] == new[len(new) - 1 - trail]
        and old[len(old) - 1 - trail] in _SNAP
    ):
        trail += 1
    return lead, trail


def _snapped(segments: list[Segment]) -> list[Segment]:
    """Keep markup equal on both sides out of a heading's changed runs.

    The word tokenizer keeps `_` inside a word, so "_mailinglists_" -> "_mailing lists_" is
    one replaced token: the underscores equal on both sides go back to EQUAL runs. A
    whitespace-only cosmetic run next to a real change of the same kind joins it, so
    "# Title - Site" -> "# Title" deletes " - Site", not "- Site" after a lone space.
    """
    out: list[Segment] = []
    index = 0
    while index < len(segments):
        segment = segments[index]
        after = segments[index + 1] if index + 1 < len(segments) else None
        if (
            segment.op is Op.DELETE
            and after is not None
            and after.op is Op.INSERT
            and after.cosmetic == segment.cosmetic
        ):
            lead, trail = _snap_edges(segment.text, after.text)
            old, new = segment.text, after.text
            out += [
                Segment(Op.EQUAL, old[:lead]),
                Segment(Op.DELETE, old[lead : len(old) - trail], segment.cosmetic),
                Segment(Op.INSERT, new[lead : len(new) - trail], after.cosmetic),
                Segment(Op.EQUAL, old[len(old) - trail :]),
            ]
            index += 2
            continue
        out.append(segment)
        index += 1
    out = _joined(out)
    for index, segment in enumerate(out):
        if segment.cosmetic and not segment.text.strip():
            beside = [out[k] for k in (index - 1, index + 1) if 0 <= k < len(out)]
            if any(other.op is segment.op and not other.cosmetic for other in beside):
                out[index] = Segment(segment.op, segment.text)
    return _joined(out)


def _heading_diff(old: str, new: str, *, cosmetic: bool) -> list[Segment]:
    """Word-diff two headings' lines: line ends apart, markup at a run's edges kept equal."""
    old_core, new_core = old.rstrip(), new.rstrip()
    segments = _snapped(list(diff_words(old_core, new_core, cosmetic=cosmetic).segments))
    old_end, new_end = old[len(old_core) :], new[len(new_core) :]
    if old_end == new_end:
        segments.append(Segment(Op.EQUAL, old_end))
    else:
        segments += [
            Segment(Op.DELETE, old_end, cosmetic=True),
            Segment(Op.INSERT, new_end, cosmetic=True),
        ]
    return segments


def _common_edges(old: str, new: str) -> tuple[int, int]:
    """Return the lengths of the common prefix and (not overlapping it) suffix of two texts."""
    limit = min(len(old), len(new))
    low, high = 0, limit
    while low < high:  # longest common prefix by halving, each probe a C-level compare
        mid = (low + high + 1) // 2
        if old[:mid] == new[:mid]:
            low = mid
        else:
            high = mid - 1
    prefix = low
    low, high = 0, limit - prefix
    while low < high:
        mid = (low + high + 1) // 2
        if old[len(old) - mid :] == new[len(new) - mid :]:
            low = mid
        else:
            high = mid - 1
    return prefix, low


# Bodies larger than this are not remembered: 256 entries of megabyte sections (a policy
# without headings) would hold hundreds of MiB through a long site build.
_REMEMBERED_BODIES_MAX = 64 * 1024


def _body_words(old: str, new: str, *, cosmetic: bool) -> tuple[WordDiff, TableRows | None]:
    """Word-diff two bodies, remembering the result for bodies of ordinary size."""
    if len(old) + len(new) > _REMEMBERED_BODIES_MAX:
        return _diff_bodies(old, new, cosmetic=cosmetic)
    return _remembered_body_words(old, new, cosmetic=cosmetic)


# Kept for the last bodies: a site diffs every pair of a policy's versions, and a section
# changed once brings the same two bodies to every pair spanning that change.
@lru_cache(maxsize=256)
def _remembered_body_words(
    old: str, new: str, *, cosmetic: bool
) -> tuple[WordDiff, TableRows | None]:
    """_diff_bodies, remembered for the last 256 pairs of bodies."""
    return _diff_bodies(old, new, cosmetic=cosmetic)


def clear_caches() -> None:
    """Forget the texts, section cuts and body diffs this process remembers (a cold start)."""
    _analyse.cache_clear()
    _remembered_body_words.cache_clear()
    clear_section_cache()


def _diff_bodies(old: str, new: str, *, cosmetic: bool) -> tuple[WordDiff, TableRows | None]:
    """Word-diff two bodies; with tables around the change, row by row (rows as units)."""
    # Only tables in the blocks around the changed stretch matter: the others lie in the
    # common start and end, which are unchanged text either way.
    prefix, suffix = _common_edges(old, new)
    old_rows = table_rows(old, prefix, len(old) - suffix)
    new_rows = table_rows(new, prefix, len(new) - suffix)
    if old_rows or new_rows:
        return diff_table_words(old, new, old_rows, new_rows, cosmetic=cosmetic)
    return diff_words(old, new, cosmetic=cosmetic), None


def _section_diff(
    old: Section | None,
    new: Section | None,
    old_index: int | None,
    new_index: int | None,
    match: Match | None,
    *,
    document_title: bool = False,
) -> SectionDiff:
    """Diff one matched pair, or one added or removed section."""
    either = new if new is not None else old
    if either is None:
        msg = "a section diff needs an old or a new section"
        raise ValueError(msg)
    approximate = False
    renamed = match.renamed if match is not None else False
    change = TitleChange.RENAMED if renamed else TitleChange.NONE
    tables: TableRows | None = None
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
            change = TitleChange.NONE
        elif old.body.rstrip(_TRAILING) == new.body.rstrip(_TRAILING):
            # Only the blank lines after the text differ: they separate this section
            # from the next one (a section added after it brings one), so the section
            # itself is unchanged. The segments still rebuild both bodies exactly.
            status = SectionStatus.UNCHANGED
            segments = diff_words(old.body, new.body, cosmetic=True).segments
            inserted = deleted = 0
            change = TitleChange.NONE
        elif old.kind is SectionKind.HEADING and new.kind is SectionKind.HEADING:
            # The heading is diffed apart from the text under it: a title change is told
            # by title_change, so its words neither count nor make the section modified.
            change = title_change(old, new, document_title=document_title)
            renamed = change is TitleChange.RENAMED
            heading = _heading_diff(old.heading, new.heading, cosmetic=not renamed)
            words, tables = _body_words(
                old.content, new.content, cosmetic=same_words(old.content, new.content)
            )
            segments, approximate = tuple(_joined([*heading, *words.segments])), words.approximate
            inserted, deleted = words.words_inserted, words.words_deleted
            substantive = any(s.op is not Op.EQUAL and not s.cosmetic for s in words.segments)
            status = SectionStatus.MODIFIED if substantive else SectionStatus.COSMETIC
        else:
            words, tables = _body_words(old.body, new.body, cosmetic=_same_words(old, new))
            segments, approximate = words.segments, words.approximate
            inserted, deleted = words.words_inserted, words.words_deleted
            substantive = any(s.op is not Op.EQUAL and not s.cosmetic for s in segments)
            status = SectionStatus.MODIFIED if substantive else SectionStatus.COSMETIC
    return SectionDiff(
        status=status,
        kind=either.kind,
        renamed=renamed,
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
        title_change=change,
        table_rows=tables,
    )


# Not frozen: a large added section is cut into thousands of pieces, and a frozen
# dataclass's __init__ costs twice as much. Pieces are never changed after they are made.
@dataclass(slots=True)
class _Piece:
    """A paragraph-sized slice of one change segment, a candidate for move pairing."""

    section: int
    segment: int
    start: int
    end: int
    # Change region within the section (see _regions).
    region: int


# Where a change run is cut into move candidates: after a blank line, and before a line
# that starts a list item (nested ones too) or an ATX heading: a tight list's items move
# one by one.
_PIECE_CUT = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]*(?:(?:[*+-]|\d{1,9}[.)])[ \t]+\S|#{1,6}[ \t]))")
# At least this share of a one-sided section's words must come from (or go to) one other
# section for it to be reported as split from (merged into) that section.
_SPLIT_SHARE = 0.5


def _pieces(
    diffs: list[SectionDiff],
    op: Op,
    statuses: frozenset[SectionStatus],
    regions: dict[tuple[int, int], int],
) -> list[_Piece]:
    """Cut the non-cosmetic `op` segments of sections with those statuses into move units."""
    pieces: list[_Piece] = []
    for k, diff in enumerate(diffs):
        if diff.status not in statuses:
            continue
        for s, segment in enumerate(diff.segments):
            if segment.op is not op or segment.cosmetic:
                continue
            start = 0
            region = regions[(k, s)]
            for match in _PIECE_CUT.finditer(segment.text):
                pieces.append(_Piece(k, s, start, match.end(), region))
                start = match.end()
            if start < len(segment.text):
                pieces.append(_Piece(k, s, start, len(segment.text), region))
    return pieces


def _regions(diffs: list[SectionDiff]) -> dict[tuple[int, int], int]:
    """Give each segment the number of its change region (the stretch between unchanged words)."""
    regions: dict[tuple[int, int], int] = {}
    for k, diff in enumerate(diffs):
        region = 0
        for s, segment in enumerate(diff.segments):
            if segment.op is Op.EQUAL and _WORD.search(segment.text) is not None:
                region += 1
            regions[(k, s)] = region
    return regions


def _moves_not_in_place(
    pairs: list[tuple[int, int, float]], deleted: list[_Piece], inserted: list[_Piece]
) -> list[tuple[int, int, float]]:
    """Drop pairs that are edits in place: same change region, same order as their neighbours.

    Between two stretches of unchanged words, a rewritten passage is one delete and one
    insert; its paragraphs pair up with their rewrites. Those kept in order (the heaviest
    chain increasing on both sides) were edited where they stand; only the others moved.
    """
    # Regions are counted per section from the section's first segment, so the pair
    # (section, region) names one change region.
    by_region: dict[tuple[int, int], list[int]] = {}
    for index, (d, i, _) in enumerate(pairs):
        src, dst = deleted[d], inserted[i]
        if src.section == dst.section and src.region == dst.region:
            by_region.setdefault((src.section, src.region), []).append(index)
    in_place: set[int] = set()
    for indexes in by_region.values():
        indexes.sort(key=lambda n: (inserted[pairs[n][1]].segment, inserted[pairs[n][1]].start))
        order = [(deleted[pairs[n][0]].segment, deleted[pairs[n][0]].start) for n in indexes]
        ranks = {key: rank for rank, key in enumerate(sorted(order))}
        chain = _heaviest_increasing(
            [(ranks[key], position) for position, key in enumerate(order)],
            [deleted[pairs[n][0]].end - deleted[pairs[n][0]].start + 1 for n in indexes],
        )
        in_place.update(indexes[position] for position in chain)
    return [pair for index, pair in enumerate(pairs) if index not in in_place]


def _cut_moves(
    diff: SectionDiff, cuts: dict[int, list[tuple[int, int, int]]]
) -> tuple[Segment, ...]:
    """Split a section's segments at the moved pieces and tag those with their move id."""
    segments: list[Segment] = []
    for s, segment in enumerate(diff.segments):
        spans = sorted(cuts.get(s, ()))
        position = 0
        for start, end, move_id in spans:
            segments.append(_remnant(segment.op, segment.text[position:start]))
            segments.append(Segment(segment.op, segment.text[start:end], move_id=move_id))
            position = end
        if spans:
            segments.append(_remnant(segment.op, segment.text[position:]))
        else:
            segments.append(segment)
    return tuple(s for s in segments if s.text)


def _remnant(op: Op, text: str) -> Segment:
    """Return what is left of a change run beside a moved piece; spacing alone is cosmetic.

    A paragraph break is a token of its own, so the break before a paragraph moved to the
    end of a section is left over as a run of spacing: layout, not a change of words.
    """
    return Segment(op, text, cosmetic=not text.strip())


def _moved_verdict(
    diff: SectionDiff,
    segments: tuple[Segment, ...],
    moved_in: list[MovedBlock],
    moved_words: list[tuple[int, int]],
) -> tuple[SectionStatus, int, int]:
    """Status and word counts of a section once its moved runs are known.

    Moved runs count no words; the edits inside blocks moved in do. A section on both
    sides whose only changes are moved text and cosmetic edits is COSMETIC.
    ``moved_words[id]`` is (words of the old text, words of the new text) of move ``id``:
    a moved run's text is the one of its move.
    """
    own = [s for s in segments if s.move_id is None]
    # Moved runs are whole pieces cut at spacing: their words come off the section's
    # counts without counting the rest again (a large added section).
    moved = [s for s in segments if s.move_id is not None]
    inserted = diff.words_inserted - sum(
        moved_words[s.move_id][1] for s in moved if s.op is Op.INSERT and s.move_id is not None
    )
    deleted = diff.words_deleted - sum(
        moved_words[s.move_id][0] for s in moved if s.op is Op.DELETE and s.move_id is not None
    )
    inserted += sum(m.words_inserted for m in moved_in)
    deleted += sum(m.words_deleted for m in moved_in)
    if diff.status is not SectionStatus.MODIFIED:
        return diff.status, inserted, deleted
    changed = any(
        s.op is not Op.EQUAL and not s.cosmetic for s in _body_runs(diff, segments, own)
    ) or any(m.edited for m in moved_in)
    return (SectionStatus.MODIFIED if changed else SectionStatus.COSMETIC), inserted, deleted


def _body_runs(
    diff: SectionDiff, segments: tuple[Segment, ...], own: list[Segment]
) -> list[Segment]:
    """Return ``own`` without the runs of a renamed heading line.

    A rename is told by title_change and does not make a section modified (see
    _section_diff); a renamed section whose only other change is text moved in or out
    is then COSMETIC, like the same move into a section keeping its name.
    """
    if diff.title_change is not TitleChange.RENAMED:
        return own
    heading = {
        Op.DELETE: len(diff.old_text.partition("\n")[0]),
        Op.INSERT: len(diff.new_text.partition("\n")[0]),
    }
    in_heading: set[int] = set()
    old_at = new_at = 0
    for segment in segments:
        size = len(segment.text)
        at = old_at if segment.op is Op.DELETE else new_at
        if segment.op is not Op.EQUAL and at + size <= heading[segment.op]:
            in_heading.add(id(segment))
        if segment.op is not Op.INSERT:
            old_at += size
        if segment.op is not Op.DELETE:
            new_at += size
    return [s for s in own if id(s) not in in_heading]


def _main_share(blocks: list[tuple[int, int]], total: int) -> int | None:
    """Return the section most of a body's ``total`` words moved to or came from, if any.

    ``blocks`` are (section, words) of the moved blocks.
    """
    words: dict[int, int] = {}
    for section, count in blocks:
        words[section] = words.get(section, 0) + count
    if not words or total == 0:
        return None
    best = max(words, key=lambda k: (words[k], -k))
    return best if words[best] >= _SPLIT_SHARE * total else None


_BREAK = re.compile(r"\n[ \t]*\n\s*")
_AT_PARAGRAPH_START = re.compile(r"(?:\A|\n[ \t]*\n)[ \t]*\Z")
# How far an inserted or deleted run may slide to start at a paragraph.
_SLIDE_MAX = 300


def _slid(before: str, run: str, after: str) -> tuple[str, str, str] | None:
    r"""Shift a pure insertion or deletion of whole paragraphs to start at a paragraph.

    A paragraph inserted before one that opens with the same words can be placed by the
    word diff after those words ("Your data {+is shared.\n\nYour data +}is kept."): the
    same edit shifted reads "{+Your data is shared.\n\n+}Your data is kept.", one whole
    paragraph, as a moved block must be. Returns the new (before, run, after).
    """
    if _BREAK.search(run) is None or _AT_PARAGRAPH_START.search(before) is not None:
        return None
    # Left: the run's tail repeats the end of `before`, back to a paragraph break.
    for match in reversed(list(_BREAK.finditer(before, max(0, len(before) - _SLIDE_MAX)))):
        tail = before[match.end() :]
        if 0 < len(tail) < len(run) and run.endswith(tail):
            k = len(tail)
            return before[: match.end()], tail + run[:-k], run[-k:] + after
    # Right: the run's head, up to a paragraph break in it, repeats the start of `after`.
    for match in _BREAK.finditer(run, 0, _SLIDE_MAX):
        k = match.end()
        if k < len(run) and after.startswith(run[:k]):
            return before + run[:k], run[k:] + run[:k], after[k:]
    return None


def _paragraph_aligned(diff: SectionDiff) -> SectionDiff:
    """Slide pure insertions and deletions of paragraphs to paragraph starts (see _slid)."""
    segments = list(diff.segments)
    changed = False
    for k in range(1, len(segments) - 1):
        before, run, after = segments[k - 1 : k + 2]
        if (
            before.op is Op.EQUAL
            and after.op is Op.EQUAL
            and run.op is not Op.EQUAL
            and not run.cosmetic
            and (slid := _slid(before.text, run.text, after.text)) is not None
        ):
            segments[k - 1 : k + 2] = [
                Segment(Op.EQUAL, slid[0]),
                Segment(run.op, slid[1]),
                Segment(Op.EQUAL, slid[2]),
            ]
            changed = True
    if not changed:
        return diff
    return replace(diff, segments=tuple(s for s in segments if s.text))


def _apply_moves(
    diffs: list[SectionDiff],
) -> tuple[list[SectionDiff], tuple[MovedBlock, ...], int]:
    """Find text that left one place and reappears in another; tag it, diff it, recount.

    Returns the section diffs, the moves, and the words of the moved text (new side).
    """
    diffs = [_paragraph_aligned(d) if d.status is SectionStatus.MODIFIED else d for d in diffs]
    regions = _regions(diffs)
    deleted = _pieces(
        diffs, Op.DELETE, frozenset({SectionStatus.MODIFIED, SectionStatus.REMOVED}), regions
    )
    inserted = _pieces(
        diffs, Op.INSERT, frozenset({SectionStatus.MODIFIED, SectionStatus.ADDED}), regions
    )
    if not deleted or not inserted:
        return diffs, (), 0

    def text(piece: _Piece) -> str:
        return diffs[piece.section].segments[piece.segment].text[piece.start : piece.end]

    pairs = pair_moved_blocks(
        [Block(p.section, text(p)) for p in deleted],
        [Block(p.section, text(p)) for p in inserted],
    )
    pairs = _moves_not_in_place(pairs, deleted, inserted)
    if not pairs:
        return diffs, (), 0
    # Order moves by where their text lands, so ids read top to bottom in the new text.
    pairs.sort(key=lambda pair: (inserted[pair[1]].section, inserted[pair[1]].start))
    cuts: dict[int, dict[int, list[tuple[int, int, int]]]] = {}
    moves: list[MovedBlock] = []
    # Words of each move's old and new text, counted once for every use below.
    moved_words: list[tuple[int, int]] = []
    moved_out: dict[int, list[int]] = {}
    moved_in: dict[int, list[int]] = {}
    for move_id, (d, i, score) in enumerate(pairs):
        src, dst = deleted[d], inserted[i]
        for piece in (src, dst):
            spans = cuts.setdefault(piece.section, {}).setdefault(piece.segment, [])
            spans.append((piece.start, piece.end, move_id))
        moved_out.setdefault(src.section, []).append(move_id)
        moved_in.setdefault(dst.section, []).append(move_id)
        old_text, new_text = text(src), text(dst)
        moved_words.append((count_words(old_text), count_words(new_text)))
        inner = diff_words(old_text, new_text)
        moves.append(
            MovedBlock(
                id=move_id,
                old_section=src.section,
                new_section=dst.section,
                old_path=diffs[src.section].old_path or (),
                new_path=diffs[dst.section].new_path or (),
                old_text=old_text,
                new_text=new_text,
                similarity=round(score, 1),
                segments=inner.segments,
                words_inserted=inner.words_inserted,
                words_deleted=inner.words_deleted,
            )
        )
    result: list[SectionDiff] = []
    for k, diff in enumerate(diffs):
        if k not in cuts:
            result.append(diff)
            continue
        segments = _cut_moves(diff, cuts[k])
        ins = [moves[m] for m in moved_in.get(k, ())]
        status, words_inserted, words_deleted = _moved_verdict(diff, segments, ins, moved_words)
        split_from = merged_into = None
        if diff.kind is not SectionKind.PARAGRAPH and diff.old_index is None:
            # Before the moves, an added section's inserted words are all its words.
            origin = _main_share(
                [(m.old_section, moved_words[m.id][1]) for m in ins], diff.words_inserted
            )
            split_from = diffs[origin].old_path if origin is not None else None
        if diff.kind is not SectionKind.PARAGRAPH and diff.new_index is None:
            outs = [moves[m] for m in moved_out.get(k, ())]
            target = _main_share(
                [(m.new_section, moved_words[m.id][0]) for m in outs], diff.words_deleted
            )
            merged_into = diffs[target].new_path if target is not None else None
        result.append(
            replace(
                diff,
                status=status,
                segments=segments,
                words_inserted=words_inserted,
                words_deleted=words_deleted,
                moved_out=tuple(moved_out.get(k, ())),
                moved_in=tuple(moved_in.get(k, ())),
                split_from=split_from,
                merged_into=merged_into,
            )
        )
    return result, tuple(moves), sum(words for _, words in moved_words)


def _roman(text: str) -> int | None:
    """Return the value of a roman numeral in either case, None if text is not one."""
    values = [_ROMAN.get(char) for char in text.casefold()]
    if not values or None in values:
        return None
    digits = [value for value in values if value is not None]
    total = 0
    for index, value in enumerate(digits):
        following = digits[index + 1] if index + 1 < len(digits) else 0
        total += -value if value < following else value
    return total


def _label_numbers(label: str) -> tuple[str, tuple[int, ...]]:
    """Return a label's shape ("#.#.", "article R", "(L)") and the numbers standing in it."""
    word = _LABEL_WORD.match(label)
    prefix = word.group(0) if word is not None else ""
    rest = label[len(prefix) :]
    shape = [" ".join(prefix.casefold().split())]
    numbers: list[int] = []
    position = 0
    for part in _LABEL_PART.finditer(rest):
        shape.append(rest[position : part.start()])
        position = part.end()
        text = part.group(0)
        roman = _roman(text) if len(text) > 1 or prefix else None
        if text.isdigit():
            shape.append("#")
            numbers.append(int(text))
        elif roman is not None:
            shape.append("R")
            numbers.append(roman)
        elif len(text) == 1:
            shape.append("L" if text.isupper() else "l")
            numbers.append(ord(text.casefold()) - ord("a") + 1)
        else:
            shape.append(text)  # a word, not a number: part of the shape
    shape.append(rest[position:])
    return "".join(shape), tuple(numbers)


def _label_step(old: str, new: str) -> tuple[str, tuple[str, int | None]]:
    """Return the old label's shape, and which of its numbers moved and by how much."""
    old_shape, old_numbers = _label_numbers(old)
    new_shape, new_numbers = _label_numbers(new)
    if old_shape != new_shape:
        return old_shape, (new_shape, None)
    pairs = enumerate(zip(old_numbers, new_numbers, strict=True))
    moved = [(k, b - a) for k, (a, b) in pairs if a != b]
    if len(moved) != 1:
        return old_shape, (old_shape, None)
    return old_shape, (f"{old_shape}@{moved[0][0]}", moved[0][1])


@dataclass(slots=True)
class _OpenRange:
    """A renumbering range still growing: how its labels moved and where it stands."""

    step: tuple[str, int | None]
    first: int
    last: int
    count: int


def renumbered_ranges(diffs: list[SectionDiff]) -> tuple[RenumberedRange, ...]:
    """Group renumbered sections into ranges of consecutive labels that shifted alike.

    Labels of one shape ("3.", "3.1", "Article IV", "(a)") form their own ranges, so
    subsections interleaved with their parents do not cut the parents' range; a section
    of that shape whose label did not change does, and sections on one side only (the
    insertion that caused the shift) do not.
    """
    open_ranges: dict[str, _OpenRange] = {}
    closed: list[tuple[int, RenumberedRange]] = []

    def close(shape: str) -> None:
        found = open_ranges.pop(shape, None)
        if found is not None:
            first, last = diffs[found.first], diffs[found.last]
            closed.append(
                (
                    found.first,
                    RenumberedRange(
                        from_label=first.old_label or "",
                        to_label=last.old_label or "",
                        new_from_label=first.new_label or "",
                        new_to_label=last.new_label or "",
                        count=found.count,
                        shift=found.step[1],
                    ),
                )
            )

    for index, diff in enumerate(diffs):
        if diff.old_label is None or diff.new_label is None:
            continue
        if not diff.renumbered:
            close(_label_numbers(diff.old_label)[0])
            continue
        shape, step = _label_step(diff.old_label, diff.new_label)
        current = open_ranges.get(shape)
        if current is not None and current.step == step:
            current.last = index
            current.count += 1
            continue
        close(shape)
        open_ranges[shape] = _OpenRange(step, index, index, 1)
    for shape in list(open_ranges):
        close(shape)
    closed.sort(key=lambda item: item[0])
    return tuple(found for _, found in closed)


def _summarise(
    diffs: list[SectionDiff], moves: tuple[MovedBlock, ...], words_moved: int
) -> Summary:
    """Count statuses, flags and words over all section diffs (moved words counted before)."""
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
        moved_blocks=len(moves),
        approximate=sum(d.approximate for d in diffs),
        words_inserted=sum(d.words_inserted for d in diffs),
        words_deleted=sum(d.words_deleted for d in diffs),
        renumbered=sum(d.renumbered for d in diffs),
        words_moved=words_moved,
    )


def sections_of(text: str) -> tuple[Section, ...]:
    """Return a text's sections from the parse cache (no second parse after a compare)."""
    return _analyse(text).sections


def compare_texts(old: str, new: str) -> DocumentDiff:
    """Section-level diff of two versions of a text (see diff_model for the contract)."""
    old_doc, new_doc = _analyse(old), _analyse(new)
    alignment = align_sections(old_doc.sections, new_doc.sections)
    by_old = {m.old: m for m in alignment.matches}
    # The document's title: the first heading on each side (where a site name may differ).
    titles = tuple(
        next((k for k, s in enumerate(doc.sections) if s.kind is SectionKind.HEADING), None)
        for doc in (old_doc, new_doc)
    )
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
                document_title=(old_index, new_index) == titles,
            )
        )
    diffs, moves, words_moved = _apply_moves(diffs)
    old_effective_date = find_written_date(old_doc.effective) if old_doc.effective else None
    new_effective_date = find_written_date(new_doc.effective) if new_doc.effective else None
    result = DocumentDiff(
        sections=tuple(diffs),
        summary=_summarise(diffs, moves, words_moved),
        moves=moves,
        old_effective=old_doc.effective,
        new_effective=new_doc.effective,
        old_effective_date=old_effective_date,
        new_effective_date=new_effective_date,
        identical=old == new,
        paragraph_mode=any(
            s.kind is SectionKind.PARAGRAPH for s in (*old_doc.sections, *new_doc.sections)
        ),
        renumbered=renumbered_ranges(diffs),
    )
    if result.effective_changed and not result.summary.substantive:
        # A changed effective date is substantive even when a heading is all that states
        # it ("Last updated: May 5" -> "May 19" as a title is a rename, not words).
        result = replace(result, summary=replace(result.summary, substantive=True))
    return result
