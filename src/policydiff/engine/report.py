"""What a compare report holds (the two sides and their diff) and which sections a view shows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

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
from policydiff.core.model import Version, sha256_hex

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
    # Where a stored version came from (archive URL, source URL or repository file).
    origin: str | None = None


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
    # Markdown only: the most characters to print (0: no limit), whole sections kept,
    # and where the full (HTML) report is, named in the line saying what was left out.
    max_chars: int = 0
    report_url: str | None = None


def side_from_version(version: Version) -> Side:
    """Return the side describing a stored version."""
    return Side(
        label=version.label,
        sha256=version.text_sha256,
        policy=version.policy,
        version=version.number,
        captured_at=version.captured_at,
        effective_date=version.effective_date,
        origin=version.origin,
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
    """Whether a section has anything to report (text, title, place or moved blocks).

    A section whose numbering label is all that changed is not: renumbering is reported
    once per range (``renumbered_line``), not as one row per shifted section.
    """
    if section.only_renumbered:
        return False
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
            and not (section.renamed or section.moved or section.moved_in or section.moved_out)
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


def hidden_lines(report: CompareReport, view: View) -> list[str]:
    """Return what the view's filters hide, one line per filter, in words that say which.

    "6 cosmetic section(s) hidden (--ignore-cosmetic)", "3 changed section(s) not matching
    --section": a cosmetic section is never counted as changed, nor the other way round.
    """
    shown = set(map(id, select_sections(report, view)))
    cosmetic = other = 0
    for section in report.diff.sections:
        if not is_notable(section) or id(section) in shown:
            continue
        if view.section is not None and not matches_section(section, view.section):
            other += 1
        else:
            cosmetic += 1
    lines = []
    if cosmetic:
        lines.append(f"{cosmetic} cosmetic section(s) hidden (--ignore-cosmetic)")
    if other:
        lines.append(f"{other} other section(s) with changes not matching --section")
    return lines


# --------------------------------------------------------------------------- wording
# Shared by the human formats so that terminal, markdown and HTML say the same things.

STATUS_WORDS = {
    SectionStatus.UNCHANGED: "unchanged",
    SectionStatus.COSMETIC: "cosmetic",
    SectionStatus.MODIFIED: "changed",
    SectionStatus.ADDED: "added",
    SectionStatus.REMOVED: "removed",
}


def status_word(section: SectionDiff) -> str:
    """Return the word for a section's status; "text moved" when moved text is all it changed."""
    if section.status is SectionStatus.COSMETIC and (section.moved_in or section.moved_out):
        return "text moved"
    return STATUS_WORDS[section.status]


def status_words(section: SectionDiff) -> str:
    """Return a section's status for a table row: ``changed renamed``, ``renamed``, ..."""
    words = [status_word(section)]
    moved_text = bool(section.moved_in or section.moved_out)
    if section.renamed:
        # Renamed with the words under the heading unchanged: the rename is the news.
        plain = section.status is SectionStatus.COSMETIC and not moved_text
        words = ["renamed"] if plain else [*words, "renamed"]
    if section.moved:
        words.append("moved")
    return " ".join(words)


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
    """Return the word counts as one line: ``Words: 12 inserted, 4 deleted``.

    Moved text is not counted as changed words (only the edits inside it are): the line
    says how much moved, and in how many blocks, when anything did.
    """
    line = f"Words: {summary.words_inserted} inserted, {summary.words_deleted} deleted"
    if summary.moved_blocks:
        blocks = "block" if summary.moved_blocks == 1 else "blocks"
        line += f"; {summary.words_moved} moved in {summary.moved_blocks} {blocks} (not counted)"
    return line


def _bare(label: str) -> str:
    """Return a numbering label without its closing full stop ("3." reads "3")."""
    return label[:-1] if label.endswith(".") and len(label) > 1 else label


def renumbered_range_text(found: RenumberedRange) -> str:
    """Return one renumbering range in words: ``sections 3-45 by +1 (now 4-46)``."""
    if found.count == 1:
        return f"section {_bare(found.from_label)} \u2192 {_bare(found.new_from_label)}"
    # A minus sign, as in the word counts ("+3 \u22121").
    by = f" by {found.shift:+d}".replace("-", "\u2212") if found.shift is not None else ""
    return (
        f"sections {_bare(found.from_label)}\u2013{_bare(found.to_label)}{by} "
        f"(now {_bare(found.new_from_label)}\u2013{_bare(found.new_to_label)})"
    )


# Ranges named on the renumbering line; more are counted, not listed.
RENUMBERED_SHOWN = 5


def renumbered_line(diff: DocumentDiff) -> str | None:
    """Return the renumbering in one line (``Renumbered: sections 3-45 by +1``), if any."""
    if not diff.renumbered:
        return None
    shown = [renumbered_range_text(found) for found in diff.renumbered[:RENUMBERED_SHOWN]]
    more = len(diff.renumbered) - RENUMBERED_SHOWN
    if more > 0:
        shown.append(f"{more} more range{'s' if more > 1 else ''}")
    return "Renumbered: " + "; ".join(shown)


def verdict_line(report: CompareReport) -> str:
    """Return a sentence saying whether the texts differ, and how much."""
    diff = report.diff
    if diff.identical:
        return "The texts are identical."
    if diff.summary.substantive:
        changed = diff.summary.added + diff.summary.removed + diff.summary.modified
        if not changed:
            return "Substantive change: the effective date changed."
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
    notes = [status_word(section)]
    if (
        section.renamed
        and section.status is SectionStatus.COSMETIC
        and not (section.moved_in or section.moved_out)
    ):
        notes = []  # "renamed from ..." says it: the words under the heading did not change
    if section.renamed and section.status is not SectionStatus.ADDED:
        notes.append(f"renamed from \u201c{join_path(section.old_path)}\u201d")
    elif section.title_change is TitleChange.COSMETIC:
        # Spacing, case, markup, punctuation or a site name: the same title, not a rename.
        was = section.old_title if section.old_title != section.new_title else None
        notes.append(
            "same title, written differently"
            + (f" (was \u201c{was}\u201d)" if was is not None else "")
        )
    if section.renumbered:
        notes.append(f"renumbered {section.old_label} \u2192 {section.new_label}")
    if section.moved:
        notes.append("moved")
    if section.split_from is not None:
        notes.append(f"split from \u201c{join_path(section.split_from)}\u201d")
    if section.merged_into is not None:
        notes.append(f"merged into \u201c{join_path(section.merged_into)}\u201d")
    moves = {move.id: move for move in diff.moves}
    notes.extend(
        f"text moved to \u201c{join_path(moves[i].new_path)}\u201d"
        for i in section.moved_out
        if i in moves
    )
    notes.extend(
        f"text moved from \u201c{join_path(moves[i].old_path)}\u201d{_edits(moves[i])}"
        for i in section.moved_in
        if i in moves
    )
    if section.table_rows is not None:
        table = table_note(section.table_rows)
        if table:
            notes.append(table)
    if section.approximate:
        # Only the stretches too costly to diff word by word are shown whole; say which.
        if any(s.op is Op.EQUAL and s.text.strip() for s in section.segments):
            notes.append("some rewritten passages are shown whole, not word by word")
        else:
            notes.append("too many edits for a word diff: shown as a whole replacement")
    if section.words_inserted or section.words_deleted:
        notes.append(f"+{section.words_inserted} \u2212{section.words_deleted} words")
    return notes


def _edits(move: MovedBlock) -> str:
    """Return what a note on moved text adds about the edits made to it on its way."""
    if not move.edited:
        return ""
    return f", edited (+{move.words_inserted} \u2212{move.words_deleted} words)"


def _counted(count: int, word: str) -> str:
    """Return "1 row" / "2 rows"."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def table_note(rows: TableRows) -> str:
    """Return what changed in a section's tables ("table: 1 row added"), or "" if nothing."""
    parts = [
        f"{_counted(count, noun)} {verb}"
        for count, noun, verb in (
            (rows.columns_added, "column", "added"),
            (rows.columns_removed, "column", "removed"),
            (rows.added, "row", "added"),
            (rows.removed, "row", "removed"),
            (rows.changed, "row", "changed"),
        )
        if count
    ]
    return "table: " + ", ".join(parts) if parts else ""


# --------------------------------------------------------------------------- excerpts

# Table lines in an excerpt: a row starts with a pipe; a delimiter row is only pipes,
# dashes and colons.
_ROW_LINE = re.compile(r"[ \t>]*\|")
_DELIMITER_LINE = re.compile(r"[ \t>]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?\s*")
# A blank line (possibly holding spaces) ends a paragraph.
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
_NEWLINE_OR_EDGE_SPACE = re.compile(r"(\s*\n\s*)")


@dataclass(frozen=True, slots=True)
class MoveNote:
    """What a note run says: where a moved block went ("to") or came from ("from")."""

    move_id: int
    direction: str
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of a redline ready to show.

    A changed (INSERT/DELETE) run never holds a line break or starts or ends with spaces:
    those stay in EQUAL runs around it, so markers and tags wrap words, not layout.

    Moved text (when the excerpt knows the moves) reads: at its origin, one DELETE run
    with ``note`` set ("moved to ..."), standing for the text that left; at its
    destination, an INSERT note ("moved from ...") followed by the text, its unchanged
    words as EQUAL runs with ``moved`` set and the edits made on its way as ordinary
    INSERT/DELETE runs. Without the moves, moved text is INSERT/DELETE runs flagged
    ``moved``.

    A cosmetic change the eye cannot see (an invisible character, a link target) adds an
    INSERT run with ``cosmetic_note`` set whose text says what changed.
    """

    op: Op
    text: str
    cosmetic: bool = False
    moved: bool = False
    # Set on a note about moved text (its text is the note, not policy text).
    note: MoveNote | None = None
    # The text is a note about a cosmetic change (op INSERT, cosmetic), not policy text:
    # "invisible character U+2060 removed", "link target changed: a \u2192 b".
    cosmetic_note: bool = False


def move_note_text(note: MoveNote) -> str:
    """Return the words of a note on moved text: ``moved to \u201cA > B\u201d``."""
    return f"moved {note.direction} \u201c{join_path(note.path)}\u201d"


@dataclass(frozen=True, slots=True)
class Elided:
    """Unchanged paragraphs (and table rows) left out of an excerpt."""

    paragraphs: int
    rows: int = 0


def elided_text(piece: Elided) -> str:
    """Return the line standing for folded text: "⋯ 2 unchanged paragraphs"."""
    counts = [
        _counted(count, f"unchanged {noun}")
        for count, noun in ((piece.rows, "row"), (piece.paragraphs, "paragraph"))
        if count
    ]
    return "\u22ef " + ", ".join(counts or ["0 unchanged paragraphs"])


Excerpt = list[tuple[Run, ...] | Elided]


def display_segments(section: SectionDiff, view: View) -> tuple[Segment, ...]:
    """Return the segments to show: cosmetic runs read as the new text unless ``show_cosmetic``."""
    return _displayed(section.segments, view)


def _displayed(segments: tuple[Segment, ...], view: View) -> tuple[Segment, ...]:
    """Return segments as shown: cosmetic runs read as the new text unless ``show_cosmetic``.

    A cosmetic change with a note shows as its new text followed by an empty-text INSERT
    segment carrying the note (``redline_runs`` turns it into a note run). A hidden
    deletion keeps its edge spacing as a whitespace-only deletion, which ``redline_runs``
    shows only where it separates two words.
    """
    shown: list[Segment] = []
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
            runs.append(Run(Op.INSERT, segment.note, cosmetic=True, cosmetic_note=True))
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


def section_runs(
    section: SectionDiff, view: View, moves: Sequence[MovedBlock] = ()
) -> tuple[Run, ...]:
    """Return a section's redline runs; moved text as notes and inner edits (see ``Run``).

    Without ``moves`` (or for a move id not in it) moved text shows as plain changed runs
    flagged ``moved``.
    """
    segments = display_segments(section, view)
    known = {move.id: move for move in moves}
    if not any(s.move_id in known for s in segments):
        return redline_runs(segments)
    runs: list[Run] = []
    plain: list[Segment] = []
    for segment in segments:
        move = known.get(segment.move_id) if segment.move_id is not None else None
        if move is None:
            plain.append(segment)
            continue
        runs.extend(redline_runs(tuple(plain)))
        plain = []
        runs.extend(_moved_runs(segment, move, view))
    runs.extend(redline_runs(tuple(plain)))
    return _merged(runs)


def _moved_runs(segment: Segment, move: MovedBlock, view: View) -> list[Run]:
    """Return the runs for one moved segment: a stub at the origin, the text at the target."""
    text = segment.text
    lead = text[: len(text) - len(text.lstrip())]
    if segment.op is Op.DELETE:
        note = MoveNote(move.id, "to", move.new_path)
        return [
            Run(Op.EQUAL, lead),
            Run(Op.DELETE, move_note_text(note), note=note),
            Run(Op.EQUAL, text[len(text.rstrip()) :]),
        ]
    note = MoveNote(move.id, "from", move.old_path)
    # The inner diff covers the whole moved text: its leading spacing goes before the note.
    inner = list(redline_runs(_displayed(move.segments or (Segment(Op.EQUAL, text),), view)))
    skip = len(lead)
    while skip and inner and inner[0].op is Op.EQUAL:
        first = inner.pop(0)
        if len(first.text) > skip:
            inner.insert(0, replace(first, text=first.text[skip:]))
        skip = max(0, skip - len(first.text))
    runs = [
        Run(Op.EQUAL, lead),
        Run(Op.INSERT, move_note_text(note), note=note),
        Run(Op.EQUAL, " "),
    ]
    for run in inner:
        core = run.text.strip()
        if run.op is not Op.EQUAL or not core:
            runs.append(run)
            continue
        # Unchanged words of the moved text are EQUAL runs flagged moved: plain text where
        # a format has no styles (the note says where it came from), highlighted elsewhere;
        # the spacing around them stays plain layout.
        start = run.text.index(core[0])
        runs.append(Run(Op.EQUAL, run.text[:start]))
        runs.append(Run(Op.EQUAL, core, moved=True))
        runs.append(Run(Op.EQUAL, run.text[start + len(core) :]))
    return runs


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
        last = merged[-1] if merged else None
        if last is not None and run.op is Op.EQUAL is last.op and run.moved == last.moved:
            merged[-1] = Run(Op.EQUAL, last.text + run.text, moved=run.moved)
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
            current.append(replace(run, text=run.text[start:]))
    if current:
        result.append(tuple(current))
    return result


def _lines(runs: tuple[Run, ...]) -> list[tuple[Run, ...]]:
    """Cut runs after each line break (changed runs hold none, see Run)."""
    lines: list[tuple[Run, ...]] = []
    current: list[Run] = []
    for run in runs:
        start = 0
        if run.op is Op.EQUAL:
            while (end := run.text.find("\n", start)) != -1:
                current.append(Run(Op.EQUAL, run.text[start : end + 1]))
                lines.append(tuple(current))
                current = []
                start = end + 1
        if start < len(run.text):
            current.append(Run(run.op, run.text[start:], run.cosmetic, run.moved))
    if current:
        lines.append(tuple(current))
    return lines


def _table_blocks(paragraph: tuple[Run, ...]) -> list[tuple[str, tuple[Run, ...]]] | None:
    """Cut a paragraph holding table rows into ("text" | "header" | "delimiter" | "row", runs).

    None when no line is a table row. A row is a line starting with a pipe (after quote
    markers and indentation); the first row after other text is the table's header.
    """
    lines = _lines(paragraph)
    kinds = [_ROW_LINE.match(paragraph_text(line)) is not None for line in lines]
    if not any(kinds):
        return None
    blocks: list[tuple[str, tuple[Run, ...]]] = []
    text: list[Run] = []
    header_next = True
    for line, is_row in zip(lines, kinds, strict=True):
        if not is_row:
            text.extend(line)
            header_next = True
            continue
        if text:
            blocks.append(("text", tuple(text)))
            text = []
        if _DELIMITER_LINE.fullmatch(paragraph_text(line)):
            blocks.append(("delimiter", line))
        else:
            blocks.append(("header" if header_next else "row", line))
        header_next = False
    if text:
        blocks.append(("text", tuple(text)))
    return blocks


@dataclass(slots=True)
class _Folder:
    """Builds an excerpt: shown pieces, with folded paragraphs and rows counted between."""

    result: Excerpt
    paragraphs: int = 0
    rows: int = 0

    def show(self, piece: tuple[Run, ...]) -> None:
        """Append a piece, after a fold mark for what was left out before it."""
        if self.paragraphs or self.rows:
            self.result.append(Elided(self.paragraphs, self.rows))
            self.paragraphs = self.rows = 0
        self.result.append(piece)

    def close(self) -> Excerpt:
        """Return the excerpt, with a last fold mark if anything was shown before it."""
        if (self.paragraphs or self.rows) and self.result:
            self.result.append(Elided(self.paragraphs, self.rows))
        return self.result


def _changed(runs: tuple[Run, ...]) -> bool:
    """Whether runs show a change."""
    return any(run.op is not Op.EQUAL for run in runs)


def _fold_table(blocks: list[tuple[str, tuple[Run, ...]]], folder: _Folder) -> None:
    """Show a table's changed rows under its header; fold unchanged rows and text."""
    # Group the lines: other text alone, each table from its header to the next text.
    items: list[list[tuple[str, tuple[Run, ...]]]] = []
    for kind, line in blocks:
        if kind in {"text", "header"} or not items or items[-1][0][0] == "text":
            items.append([])
        items[-1].append((kind, line))
    for item in items:
        if item[0][0] == "text":
            text = item[0][1]
            if _changed(text):
                folder.show(text)
            elif paragraph_text(text).strip():
                folder.paragraphs += 1
            continue
        if not any(_changed(line) for _, line in item):
            folder.rows += sum(1 for kind, _ in item if kind != "delimiter")
            continue
        shown: list[Run] = []
        for kind, line in item:
            if _changed(line) or kind == "header":
                # An unchanged header stays: it names the columns of the rows below.
                shown.extend(line)
            elif kind == "row":
                if shown:
                    folder.show(tuple(shown))
                    shown = []
                folder.rows += 1
        if shown:
            folder.show(tuple(shown))


def excerpt(section: SectionDiff, view: View, moves: Sequence[MovedBlock] = ()) -> Excerpt:
    """Return the paragraphs of a section worth showing, unchanged runs folded to ``Elided``.

    Added and removed sections, and every section under ``--context``, come whole. Otherwise
    only paragraphs with visible changes are kept; an unchanged heading paragraph is dropped
    without a mark because the section title already shows it. With ``moves`` (the
    document's), moved text reads as notes and inner edits (see ``section_runs``). In a
    section whose tables were diffed row by row, a table shows only its changed rows under
    its header.
    """
    runs = section_runs(section, view, moves)
    if view.context or section.status in {SectionStatus.ADDED, SectionStatus.REMOVED}:
        return [runs] if runs else []
    folder = _Folder([])
    for index, paragraph in enumerate(_paragraphs(runs)):
        blocks = _table_blocks(paragraph) if section.table_rows is not None else None
        if blocks is not None and _changed(paragraph):
            _fold_table(blocks, folder)
        elif _changed(paragraph):
            folder.show(paragraph)
        elif paragraph_text(paragraph).strip() and not (
            index == 0 and section.kind is SectionKind.HEADING
        ):
            folder.paragraphs += 1
    return folder.close()


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


# Most text holds none of them: a search (in C, stopping at the first) is far cheaper than
# translate, which copies the whole text character by character.
_HAS_CONTROL = re.compile("[" + "".join(re.escape(chr(code)) for code in _CONTROL_ESCAPES) + "]")


def escape_controls(text: str) -> str:
    """Return ``text`` with control characters and bidi overrides shown as escapes."""
    if _HAS_CONTROL.search(text) is None:
        return text
    return text.translate(_CONTROL_ESCAPES)


def paragraph_text(runs: tuple[Run, ...]) -> str:
    """Return the text runs show, old and new words alike."""
    return "".join(run.text for run in runs)
