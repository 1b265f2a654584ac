"""The JSON format (schema ``policydiff.compare/1``, documented in docs/json-schemas.md)."""

from __future__ import annotations

import json
from typing import Any

from policydiff.core.diff_model import MovedBlock, RenumberedRange, SectionDiff, Segment, TableRows
from policydiff.engine.report import CompareReport, Side, View, select_sections
from policydiff.engine.worddiff import count_words

SCHEMA = "policydiff.compare/1"


def render(report: CompareReport, view: View) -> str:
    """Return the report as a JSON document (every section kept, unchanged ones included)."""
    return json.dumps(report_json(report, view), ensure_ascii=False, indent=2) + "\n"


def report_json(report: CompareReport, view: View) -> dict[str, Any]:
    """Return the report as the documented JSON value."""
    diff = report.diff
    summary = diff.summary
    return {
        "schema": SCHEMA,
        "old": side_json(report.old),
        "new": side_json(report.new),
        "summary": {
            "added": summary.added,
            "removed": summary.removed,
            "modified": summary.modified,
            "cosmetic": summary.cosmetic,
            "renamed": summary.renamed,
            "moved": summary.moved,
            "unchanged": summary.unchanged,
            "words_inserted": summary.words_inserted,
            "words_deleted": summary.words_deleted,
            "substantive": summary.substantive,
            "moved_blocks": summary.moved_blocks,
            "approximate": summary.approximate,
            "renumbered": summary.renumbered,
            "words_moved": summary.words_moved,
        },
        "effective": {
            "old": diff.old_effective,
            "new": diff.new_effective,
            "old_date": diff.old_effective_date.isoformat() if diff.old_effective_date else None,
            "new_date": diff.new_effective_date.isoformat() if diff.new_effective_date else None,
            "changed": diff.effective_changed,
        },
        "identical": diff.identical,
        "paragraph_mode": diff.paragraph_mode,
        "filter": {"section": view.section, "ignore_cosmetic": view.ignore_cosmetic},
        "sections": [section_json(s) for s in select_sections(report, view, keep_unchanged=True)],
        "moves": [move_json(move) for move in diff.moves],
        "renumbered": [renumbered_json(found) for found in diff.renumbered],
    }


def side_json(side: Side) -> dict[str, Any]:
    """Return one side of the comparison as JSON."""
    return {
        "label": side.label,
        "policy": side.policy,
        "version": side.version,
        "captured_at": (
            None if side.captured_at is None else side.captured_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
        "effective_date": None if side.effective_date is None else side.effective_date.isoformat(),
        "sha256": side.sha256,
    }


def _path(path: tuple[str, ...] | None) -> list[str] | None:
    """Return a section path as a JSON list."""
    return None if path is None else list(path)


def section_json(section: SectionDiff) -> dict[str, Any]:
    """Return one section as JSON."""
    return {
        "status": section.status.value,
        "renamed": section.renamed,
        "moved": section.moved,
        "old_path": _path(section.old_path),
        "new_path": _path(section.new_path),
        "old_index": section.old_index,
        "new_index": section.new_index,
        "kind": section.kind.value,
        "old_label": section.old_label,
        "new_label": section.new_label,
        "approximate": section.approximate,
        "words_inserted": section.words_inserted,
        "words_deleted": section.words_deleted,
        "moved_out": list(section.moved_out),
        "moved_in": list(section.moved_in),
        "split_from": _path(section.split_from),
        "merged_into": _path(section.merged_into),
        "table_rows": table_rows_json(section.table_rows),
        "diff": [segment_json(segment) for segment in section.segments],
        "title_change": section.title_change.value,
        "renumbered": section.renumbered,
    }


def table_rows_json(rows: TableRows | None) -> dict[str, int] | None:
    """Return a section's table row counts as JSON (None: no table diffed in it)."""
    if rows is None:
        return None
    return {
        "added": rows.added,
        "removed": rows.removed,
        "changed": rows.changed,
        "columns_added": rows.columns_added,
        "columns_removed": rows.columns_removed,
    }


def segment_json(segment: Segment) -> dict[str, Any]:
    """Return one diff run: op and text, plus ``cosmetic``/``move``/``note`` only when set."""
    item: dict[str, Any] = {"op": segment.op.value, "text": segment.text}
    if segment.cosmetic:
        item["cosmetic"] = True
    if segment.move_id is not None:
        item["move"] = segment.move_id
    if segment.note is not None:
        item["note"] = segment.note
    return item


def move_json(move: MovedBlock) -> dict[str, Any]:
    """Return a block moved between sections as JSON."""
    return {
        "id": move.id,
        "old_path": list(move.old_path),
        "new_path": list(move.new_path),
        "similarity": round(move.similarity, 1),
        "words": count_words(move.new_text),
        "words_inserted": move.words_inserted,
        "words_deleted": move.words_deleted,
        "diff": [segment_json(segment) for segment in move.segments],
    }


def renumbered_json(found: RenumberedRange) -> dict[str, Any]:
    """Return a range of renumbered sections as JSON."""
    return {
        "from_label": found.from_label,
        "to_label": found.to_label,
        "new_from_label": found.new_from_label,
        "new_to_label": found.new_to_label,
        "count": found.count,
        "shift": found.shift,
    }
