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
    # Hide cosmetic sections (their runs are hidden anyway unless show_cosmetic).
    ignore_cosmetic: bool = False
    # Also show unchanged sections.
    context: bool = False
    # Show cosmetic runs (muted, marked apart from word changes); by default they read
    # as the new text. Notes on cosmetic changes ("invisible character U+2060 removed",
    # "link target changed: a -> b") are shown either way.
    show_cosmetic: bool = False


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
        path is not None and wanted in join_path(path).casefold()
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
_NEWLINE_OR_EDGE_SPACE = re.compile(r"(\s*\n\s*)")


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of a redline ready to show.

    A changed (INSERT/DELETE) run never holds a line break or starts or ends with spaces:
    those stay in EQUAL runs around it, so markers and tags wrap words, not layout.
    """

    op: Op
    text: str
    cosmetic: bool = False
    moved: bool = False
    # The text is a note about a cosmetic change (op INSERT, cosmetic), not policy text.
    note: bool = False


@dataclass(frozen=True, slots=True)
class Elided:
    """Unchanged paragraphs left out of an excerpt."""

    paragraphs: int


Excerpt = list[tuple[Run, ...] | Elided]


def display_segments(section: SectionDiff, view: View) -> tuple[Segment, ...]:
    """Return the segments to show: cosmetic runs read as the new text unless ``show_cosmetic``.

    A cosmetic change with a note shows as its new text followed by an empty-text INSERT
    segment carrying the note (``redline_runs`` turns it into a note run). A hidden
    deletion keeps its edge spacing as a whitespace-only deletion, which ``redline_runs``
    shows only where it separates two words.
    """
    shown: list[Segment] = []
    segments = section.segments
    index = 0
    while index < len(segments):
        segment = segments[index]
        if segment.op is Op.EQUAL or not segment.cosmetic:
            shown.append(segment)
            index += 1
            continue
        end = index + 1
        while end < len(segments) and segments[end].op is not Op.EQUAL and segments[end].cosmetic:
            end += 1
        group = segments[index:end]
        note = next((s.note for s in group if s.note is not None), None)
        if note is not None:
            new = "".join(s.text for s in group if s.op is Op.INSERT)
            core = new.rstrip()
            shown.append(Segment(Op.EQUAL, core))
            shown.append(Segment(Op.INSERT, "", cosmetic=True, note=note))
            shown.append(Segment(Op.EQUAL, new[len(core) :]))
        elif view.show_cosmetic:
            shown.extend(group)
        else:
            for part in group:
                if part.op is Op.INSERT:
                    shown.append(Segment(Op.EQUAL, part.text))
                    continue
                lead = part.text[: len(part.text) - len(part.text.lstrip())]
                trail = part.text[len(part.text.rstrip()) :] if part.text.strip() else ""
                shown.extend(Segment(Op.DELETE, space, cosmetic=True) for space in (lead, trail))
        index = end
    return tuple(s for s in shown if s.text or s.note is not None)


def redline_runs(segments: tuple[Segment, ...]) -> tuple[Run, ...]:
    """Turn diff segments into runs to display.

    Spacing is layout, not content: a changed run's edge spaces and line breaks become
    EQUAL runs, a whitespace-only insertion shows as plain new spacing and a whitespace-only
    deletion is dropped unless it alone keeps two words apart. The spacing that ends a
    deletion followed by an insertion is dropped too when the insertion brings its own, so
    a replaced word reads ``[-old-]{+new+}``.
    """
    runs: list[Run] = []
    for index, segment in enumerate(segments):
        if segment.op is Op.EQUAL:
            runs.append(Run(Op.EQUAL, segment.text))
            continue
        if segment.note is not None:
            runs.append(Run(Op.INSERT, segment.note, cosmetic=True, note=True))
            continue
        text = segment.text
        core = text.strip()
        if not core:
            if segment.op is Op.INSERT:
                runs.append(Run(Op.EQUAL, text))
            elif _separates(runs, segments, index):
                runs.append(Run(Op.EQUAL, " "))
            continue
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        replaced = index + 1 < len(segments) and segments[index + 1].op is Op.INSERT
        if segment.op is Op.DELETE and replaced:
            # The insertion brings its own spacing, or there is no word after it to glue.
            after = segments[index + 2].text if index + 2 < len(segments) else ""
            if segments[index + 1].text[-1:].isspace() or not after or after[0].isspace():
                trail = ""
        runs.append(Run(Op.EQUAL, lead))
        for number, part in enumerate(_NEWLINE_OR_EDGE_SPACE.split(core)):
            # split() with a group alternates text and the separators it cut at.
            if number % 2:
                runs.append(Run(Op.EQUAL, part))
            else:
                runs.append(Run(segment.op, part, segment.cosmetic, segment.move_id is not None))
        runs.append(Run(Op.EQUAL, trail))
    return _merged(runs)


def _separates(runs: list[Run], segments: tuple[Segment, ...], index: int) -> bool:
    """Whether the whitespace-only deletion ``segments[index]`` is all that keeps two words apart.

    "address and a" -> "address, a" deletes the space after "address" with "and": dropped,
    the old side would read "addressand". Spacing at the edges of a changed run is shown
    as layout, so an insertion with spacing of its own keeps the words apart already.
    """
    before = next((run.text for run in reversed(runs) if run.text and run.op is not Op.INSERT), "")
    if not before or before[-1].isspace():
        return False
    for after in segments[index + 1 :]:
        text = after.text
        if not text:
            continue
        if text[0].isspace():
            return False
        if after.op is not Op.INSERT:
            return True
        if text[-1].isspace():
            return False
    return False


def _merged(runs: list[Run]) -> tuple[Run, ...]:
    """Drop empty runs and join neighbouring EQUAL runs."""
    merged: list[Run] = []
    for run in runs:
        if not run.text:
            continue
        if merged and run.op is Op.EQUAL and merged[-1].op is Op.EQUAL:
            merged[-1] = Run(Op.EQUAL, merged[-1].text + run.text)
        else:
            merged.append(run)
    return tuple(merged)


def _paragraphs(runs: tuple[Run, ...]) -> list[tuple[Run, ...]]:
    """Cut runs at blank lines of unchanged text into groups holding whole paragraphs."""
    result: list[tuple[Run, ...]] = []
    current: list[Run] = []
    for run in runs:
        start = 0
        if run.op is Op.EQUAL:
            for match in _PARAGRAPH_END.finditer(run.text):
                current.append(Run(Op.EQUAL, run.text[start : match.end()]))
                result.append(tuple(current))
                current = []
                start = match.end()
        if start < len(run.text):
            current.append(Run(run.op, run.text[start:], run.cosmetic, run.moved, run.note))
    if current:
        result.append(tuple(current))
    return result


def excerpt(section: SectionDiff, view: View) -> Excerpt:
    """Return the paragraphs of a section worth showing, unchanged runs folded to ``Elided``.

    Added and removed sections, and every section under ``--context``, come whole. Otherwise
    only paragraphs with visible changes are kept; an unchanged heading paragraph is dropped
    without a mark because the section title already shows it.
    """
    runs = redline_runs(display_segments(section, view))
    if view.context or section.status in {SectionStatus.ADDED, SectionStatus.REMOVED}:
        return [runs] if runs else []
    result: Excerpt = []
    folded = 0
    for index, paragraph in enumerate(_paragraphs(runs)):
        if any(run.op is not Op.EQUAL for run in paragraph):
            if folded:
                result.append(Elided(folded))
                folded = 0
            result.append(paragraph)
        elif paragraph_text(paragraph).strip() and not (
            index == 0 and section.kind is SectionKind.HEADING
        ):
            folded += 1
    if folded and result:
        result.append(Elided(folded))
    return result


def empty_note(section: SectionDiff) -> str:
    """Return what to say for a section whose excerpt is empty."""
    if section.status is SectionStatus.UNCHANGED:
        return "(text unchanged)"
    if any(s.cosmetic and s.text.strip() for s in section.segments if s.op is not Op.EQUAL):
        return "(only cosmetic edits: quotes, dashes, markup; --show-cosmetic shows them)"
    return "(only spacing or layout changed)"


# Shown as escapes by the human formats: control characters (terminal escape sequences,
# carriage returns) and bidi overrides, which make text display other than it reads.
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROL_ESCAPES = {
    code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in _CONTROLS
    if code not in {0x09, 0x0A}
}


def escape_controls(text: str) -> str:
    """Return ``text`` with control characters and bidi overrides shown as escapes."""
    return text.translate(_CONTROL_ESCAPES)


def paragraph_text(runs: tuple[Run, ...]) -> str:
    """Return the text runs show, old and new words alike."""
    return "".join(run.text for run in runs)
