"""A policy's changelog: every recorded version and what it changed, Keep a Changelog style."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from policydiff.core.model import Version
from policydiff.engine.compare import compare_texts
from policydiff.publish.announce import (
    ChangeKind,
    SectionChange,
    describe_changes,
    markdown_escape,
    one_line,
    text_title,
)

SCHEMA = "policydiff.changelog/1"

# Keep a Changelog's groups, in its order, with the change kinds each collects.
GROUPS: tuple[tuple[str, frozenset[ChangeKind]], ...] = (
    ("Added", frozenset({ChangeKind.ADDED})),
    ("Changed", frozenset({ChangeKind.CHANGED})),
    ("Removed", frozenset({ChangeKind.REMOVED})),
    ("Renamed", frozenset({ChangeKind.RENAMED})),
    ("Moved", frozenset({ChangeKind.MOVED, ChangeKind.TEXT_MOVED})),
)


class EntryKind(Enum):
    """What a version amounts to, compared with the version recorded before it."""

    FIRST = "first"
    SUBSTANTIVE = "substantive"
    EDITORIAL = "editorial"
    TECHNICAL = "technical"
    # The capture did not look like the policy (an error page, a truncated or over-broad
    # capture): never a policy change, and the next version is compared with the last
    # plausible one instead.
    SUSPECT = "suspect"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One version and the section changes it brought."""

    version: Version
    kind: EntryKind
    changes: tuple[SectionChange, ...]
    title: str | None
    # The version this one was compared with, when not the one recorded just before it
    # (that one was suspect).
    compared_with: Version | None = None


def version_history(
    versions: Sequence[Version],
    text_of: Callable[[Version], str],
    *,
    include_technical: bool = False,
    substantive_only: bool = False,
) -> list[HistoryEntry]:
    """Compare each version with the one recorded just before it; return entries, newest first.

    Each version is compared with its direct predecessor even when that one is a technical
    re-extraction: the re-extracted text is the closest rendering of the previous policy,
    so the diff shows the policy's change and not the extractor's. Technical versions are
    left out unless ``include_technical``; editorial ones with ``substantive_only``.
    """
    entries: list[HistoryEntry] = []
    previous: str | None = None
    base: Version | None = None
    skipped_suspect = False
    for version in versions:
        text = text_of(version)
        if version.suspect:
            # Listed for the record, compared with nothing; the last good text stays the base.
            entries.append(HistoryEntry(version, EntryKind.SUSPECT, (), None))
            skipped_suspect = True
            continue
        diff = compare_texts(previous, text) if previous is not None else None
        compared_with = base if skipped_suspect else None
        previous, base, skipped_suspect = text, version, False
        if version.technical:
            kind = EntryKind.TECHNICAL
        elif diff is None:
            kind = EntryKind.FIRST
        elif diff.summary.substantive:
            kind = EntryKind.SUBSTANTIVE
        else:
            kind = EntryKind.EDITORIAL
        if (kind is EntryKind.TECHNICAL and not include_technical) or (
            kind is EntryKind.EDITORIAL and substantive_only
        ):
            continue
        changes = tuple(describe_changes(diff)) if diff is not None else ()
        entries.append(HistoryEntry(version, kind, changes, text_title(text), compared_with))
    entries.reverse()
    return entries


def changelog_title(policy: str, entries: Sequence[HistoryEntry]) -> str:
    """Return the newest version's first heading, else the policy id."""
    for entry in entries:
        if entry.title:
            return one_line(entry.title)
    return policy


def _grouped(changes: Sequence[SectionChange]) -> list[tuple[str, list[str]]]:
    """Return the non-editorial changes as Keep a Changelog groups of markdown items."""
    groups: list[tuple[str, list[str]]] = []
    for heading, kinds in GROUPS:
        items = [_item(change) for change in changes if change.kind in kinds]
        if items:
            groups.append((heading, items))
    return groups


def _item(change: SectionChange) -> str:
    """Return one change as a list item (the line without its "Changed:" label)."""
    what = change.line.partition(": ")[2]
    if change.kind is ChangeKind.TEXT_MOVED:
        # "the paragraph \u201c...\u201d moved from A to B; its last sentence changed"
        what = what[:1].upper() + what[1:]
    if change.content_changed and change.kind in {ChangeKind.RENAMED, ChangeKind.MOVED}:
        what = f"{what}; wording changed too"
    return f"- {markdown_escape(what)}"


def _editorial_count(changes: Sequence[SectionChange]) -> int:
    """Return how many sections changed only editorially."""
    return sum(1 for change in changes if change.kind is ChangeKind.EDITORIAL)


def _plural(count: int, word: str) -> str:
    """Return ``1 section`` / ``2 sections``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_changelog(policy: str, entries: Sequence[HistoryEntry]) -> str:
    """Return the changelog as markdown, newest version first.

    The output depends only on the entries (no "generated at" time), so the same store
    always gives the same bytes.
    """
    lines = [
        f"# Changelog: {markdown_escape(changelog_title(policy, entries))}",
        "",
        (
            f"Every recorded version of `{policy}` and what it changed, newest first, section "
            "by section. Dates are capture dates; the effective date is the one the version "
            "states. Made with `policydiff changelog`."
        ),
    ]
    for entry in entries:
        lines += ["", *_entry_lines(entry)]
    return "\n".join(lines) + "\n"


def _entry_lines(entry: HistoryEntry) -> list[str]:
    """Return the markdown of one version."""
    version = entry.version
    heading = f"## Version {version.number} - {version.captured_at.date().isoformat()}"
    if entry.kind is EntryKind.EDITORIAL:
        heading += " (editorial)"
    elif entry.kind is EntryKind.TECHNICAL:
        heading += " (technical re-extraction)"
    elif entry.kind is EntryKind.SUSPECT:
        heading += " (suspect capture)"
    effective = version.effective_date.isoformat() if version.effective_date else "not stated"
    lines = [heading, "", f"Effective date: {effective} \u00b7 commit `{version.short}`"]
    if entry.kind is EntryKind.SUSPECT:
        why = markdown_escape(version.suspect or "")
        return [
            *lines,
            "",
            f"The capture did not look like the policy ({why}); not a policy change.",
        ]
    if entry.compared_with is not None:
        base = entry.compared_with.number
        lines += [
            "",
            f"Compared with version {base}, the last capture that looked like the policy.",
        ]
    if entry.kind is EntryKind.FIRST:
        return [*lines, "", "First recorded version."]
    if entry.kind is EntryKind.TECHNICAL:
        lines += [
            "",
            "The same capture extracted again (a technical change, not a policy change).",
        ]
    groups = _grouped(entry.changes)
    for group, items in groups:
        lines += ["", f"### {group}", "", *items]
    editorial = _editorial_count(entry.changes)
    if editorial and groups:
        lines += ["", f"Editorial changes in {_plural(editorial, 'other section')}."]
    elif editorial:
        lines += [
            "",
            f"Editorial changes only (wording unchanged) in {_plural(editorial, 'section')}.",
        ]
    elif not groups and entry.kind is not EntryKind.TECHNICAL:
        lines += ["", "Sections reordered or renumbered; wording unchanged."]
    return lines


def changelog_json(policy: str, entries: Sequence[HistoryEntry]) -> dict[str, Any]:
    """Return the changelog as the ``policydiff.changelog/1`` JSON document."""
    return {
        "schema": SCHEMA,
        "policy": policy,
        "title": changelog_title(policy, entries),
        "versions": [
            {
                "version": entry.version.number,
                "commit": entry.version.commit,
                "captured_at": entry.version.captured_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "effective_date": (
                    entry.version.effective_date.isoformat()
                    if entry.version.effective_date
                    else None
                ),
                "kind": entry.kind.value,
                "suspect": entry.version.suspect,
                "compared_with": (
                    entry.compared_with.number if entry.compared_with is not None else None
                ),
                "changes": [
                    {
                        "kind": change.kind.value,
                        "line": change.line,
                        "section": change.section,
                        "old_section": change.old_section,
                        "content_changed": change.content_changed,
                    }
                    for change in entry.changes
                ],
            }
            for entry in entries
        ],
    }
