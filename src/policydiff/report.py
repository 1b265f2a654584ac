"""What a compare report holds (the two sides and their diff) and which sections a view shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from policydiff.diff_model import DocumentDiff, SectionDiff, SectionStatus
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
        if view.ignore_cosmetic and section.status is SectionStatus.COSMETIC and not (
            section.moved or section.moved_in or section.moved_out
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
