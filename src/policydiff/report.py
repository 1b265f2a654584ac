"""What a compare report holds (the two sides and their diff) and which sections a view shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from policydiff.diff_model import (
    DocumentDiff,
    Op,
    SectionDiff,
    SectionKind,
    SectionStatus,
    Segment,
    Summary,
)
from policydiff.model import Version, sha256_hex

PATH_SEPARATOR = " > "
PREAMBLE_TITLE = "(start of document)"


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: a stored version or a file, with what is known about it."""

    label: str
    sha256: str
    policy: str | None = None
    version: int | None = None
    captured_at: datetime | None = None
    effective_date: date | None = None


@dataclass(frozen=True, slots=True)
class CompareReport:
    """Two sides and the section-level diff between their texts."""

    old: Side
    new: Side
    diff: DocumentDiff


@dataclass(frozen=True, slots=True)
class View:
    """Which sections a rendering shows (the ``--section``/``--ignore-cosmetic``/``--context``)."""

    # Case-insensitive substring of the " > "-joined old or new path.
    section: str | None = None
    # Hide cosmetic sections, and show cosmetic runs inside changed sections as plain text.
    ignore_cosmetic: bool = False
    # Also show unchanged sections.
    context: bool = False


def side_from_version(version: Version) -> Side:
    """Return the side describing a stored version."""
    return Side(
        label=version.label,
        sha256=version.text_sha256,
        policy=version.policy,
        version=version.number,
        captured_at=version.captured_at,
        effective_date=version.effective_date,
    )


def side_from_text(
    label: str,
    text: str,
    *,
    captured_at: datetime | None = None,
    effective_date: date | None = None,
) -> Side:
    """Return the side describing a text that is not in the store (a file)."""
    return Side(
        label=label,
        sha256=sha256_hex(text.encode("utf-8")),
        captured_at=captured_at,
        effective_date=effective_date,
    )


def join_path(path: tuple[str, ...] | None) -> str:
    """Return a section path for display: titles joined with " > "."""
    if not path:
        return PREAMBLE_TITLE
    return PATH_SEPARATOR.join(path)


def is_notable(section: SectionDiff) -> bool:
    """Whether a section has anything to report (text, title, place or moved blocks)."""
    return (
        section.status is not SectionStatus.UNCHANGED
        or section.renamed
        or section.moved
        or bool(section.moved_in or section.moved_out)
    )


def matches_section(section: SectionDiff, needle: str) -> bool:
    """Whether ``needle`` occurs (case-insensitively) in the section's old or new joined path."""
    wanted = needle.casefold()
    return any(
        path is not None and wanted in PATH_SEPARATOR.join(path).casefold()
        for path in (section.old_path, section.new_path)
    )


def select_sections(
    report: CompareReport, view: View, *, keep_unchanged: bool = False
) -> tuple[SectionDiff, ...]:
    """Return the sections ``view`` shows, in report order.

    ``keep_unchanged`` keeps unchanged sections even without ``view.context`` (the JSON
    report always lists every section so that documents can be rebuilt from it).
    """
    chosen = []
    for section in report.diff.sections:
        if view.section is not None and not matches_section(section, view.section):
            continue
        if (
            view.ignore_cosmetic
            and section.status is SectionStatus.COSMETIC
            and not (section.moved or section.moved_in or section.moved_out)
        ):
            continue
        if not (keep_unchanged or view.context or is_notable(section)):
            continue
        chosen.append(section)
    return tuple(chosen)


def is_substantive(report: CompareReport, view: View) -> bool:
    """Whether the report shows a substantive change (the ``--exit-code`` verdict).

    With a section filter only the matching sections count; otherwise the engine's verdict
    (which also counts a changed effective date) decides.
    """
    if view.section is None:
        return report.diff.summary.substantive
    return any(s.substantive for s in select_sections(report, view))


def hidden_changes(report: CompareReport, view: View) -> int:
    """Return how many notable sections the view's filters hide."""
    shown = set(map(id, select_sections(report, view)))
    return sum(1 for s in report.diff.sections if is_notable(s) and id(s) not in shown)


# --------------------------------------------------------------------------- wording
# Shared by the human formats so that terminal, markdown and HTML say the same things.

STATUS_WORDS = {
    SectionStatus.UNCHANGED: "unchanged",
    SectionStatus.COSMETIC: "cosmetic",
    SectionStatus.MODIFIED: "changed",
    SectionStatus.ADDED: "added",
    SectionStatus.REMOVED: "removed",
}


def summary_counts(summary: Summary) -> list[tuple[str, int]]:
    """Return the section counts in display order, as (word, count)."""
    return [
        ("added", summary.added),
        ("removed", summary.removed),
        ("renamed", summary.renamed),
        ("moved", summary.moved),
        ("changed", summary.modified),
        ("cosmetic", summary.cosmetic),
        ("unchanged", summary.unchanged),
    ]


def summary_line(summary: Summary) -> str:
    """Return the section counts as one line: ``Sections: 1 added, 0 removed, ...``."""
    return "Sections: " + ", ".join(f"{count} {word}" for word, count in summary_counts(summary))


def words_line(summary: Summary) -> str:
    """Return the word counts as one line: ``Words: 12 inserted, 4 deleted``."""
    return f"Words: {summary.words_inserted} inserted, {summary.words_deleted} deleted"


def verdict_line(report: CompareReport) -> str:
    """Return a sentence saying whether the texts differ, and how much."""
    diff = report.diff
    if diff.identical:
        return "The texts are identical."
    if diff.summary.substantive:
        changed = diff.summary.added + diff.summary.removed + diff.summary.modified
        return f"Substantive changes in {changed} of {len(diff.sections)} sections."
    return "No substantive changes (only cosmetic edits, renames or moves)."


def effective_line(report: CompareReport) -> str:
    """Return the effective date line: the phrase (or recorded date) on each side."""
    old = report.diff.old_effective or _day(report.old.effective_date)
    new = report.diff.new_effective or _day(report.new.effective_date)
    if old is None and new is None:
        return "Effective date: not stated"
    if not report.diff.effective_changed and old == new:
        return f"Effective date: {old} (unchanged)"
    return f"Effective date: {old or 'not stated'} \u2192 {new or 'not stated'}"


def _day(value: date | None) -> str | None:
    """Return an ISO date or None."""
    return None if value is None else value.isoformat()


def section_notes(section: SectionDiff, diff: DocumentDiff) -> list[str]:
    """Return the facts about a section besides its text: status, rename, move, numbering."""
    notes = [STATUS_WORDS[section.status]]
    if section.renamed and section.status is not SectionStatus.ADDED:
        notes.append(f"renamed from \u201c{join_path(section.old_path)}\u201d")
    if section.renumbered:
        notes.append(f"renumbered {section.old_label} \u2192 {section.new_label}")
    if section.moved:
        notes.append("moved")
    moves = {move.id: move for move in diff.moves}
    notes.extend(
        f"text moved to \u201c{join_path(moves[i].new_path)}\u201d"
        for i in section.moved_out
        if i in moves
    )
    notes.extend(
        f"text moved from \u201c{join_path(moves[i].old_path)}\u201d"
        for i in section.moved_in
        if i in moves
    )
    if section.approximate:
        notes.append("too many edits for a word diff: shown as a whole replacement")
    if section.words_inserted or section.words_deleted:
        notes.append(f"+{section.words_inserted} \u2212{section.words_deleted} words")
    return notes


# --------------------------------------------------------------------------- excerpts

# A blank line (possibly holding spaces) ends a paragraph.
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")


@dataclass(frozen=True, slots=True)
class Elided:
    """Unchanged paragraphs left out of an excerpt."""

    paragraphs: int


Excerpt = list[tuple[Segment, ...] | Elided]


def display_segments(section: SectionDiff, view: View) -> tuple[Segment, ...]:
    """Return the segments to show; with ``ignore_cosmetic`` cosmetic runs read as the new text."""
    if not view.ignore_cosmetic:
        return section.segments
    shown: list[Segment] = []
    for segment in section.segments:
        if not segment.cosmetic or segment.op is Op.EQUAL:
            shown.append(segment)
        elif segment.op is Op.INSERT:
            shown.append(Segment(Op.EQUAL, segment.text))
    return tuple(shown)


def _paragraphs(segments: tuple[Segment, ...]) -> list[tuple[Segment, ...]]:
    """Cut segments at blank lines into runs that each hold whole paragraphs."""
    result: list[tuple[Segment, ...]] = []
    current: list[Segment] = []
    for segment in segments:
        start = 0
        for match in _PARAGRAPH_END.finditer(segment.text):
            current.append(_with_text(segment, segment.text[start : match.end()]))
            result.append(tuple(current))
            current = []
            start = match.end()
        if start < len(segment.text):
            current.append(_with_text(segment, segment.text[start:]))
    if current:
        result.append(tuple(current))
    return result


def _with_text(segment: Segment, text: str) -> Segment:
    """Return ``segment`` carrying ``text`` instead of its own."""
    return Segment(segment.op, text, segment.cosmetic, segment.move_id)


def excerpt(section: SectionDiff, view: View) -> Excerpt:
    """Return the paragraphs of a section worth showing, unchanged runs folded to ``Elided``.

    Added and removed sections, and every section under ``--context``, come whole. Otherwise
    only changed paragraphs are kept; an unchanged heading paragraph is dropped without a
    mark because the section title already shows it.
    """
    segments = display_segments(section, view)
    if view.context or section.status in {SectionStatus.ADDED, SectionStatus.REMOVED}:
        return [segments] if segments else []
    result: Excerpt = []
    folded = 0
    for index, paragraph in enumerate(_paragraphs(segments)):
        if any(s.op is not Op.EQUAL for s in paragraph):
            if folded:
                result.append(Elided(folded))
                folded = 0
            result.append(paragraph)
        elif not (index == 0 and section.kind is SectionKind.HEADING):
            folded += 1
    if folded:
        result.append(Elided(folded))
    return result
