"""The JSON renderer: the documented policydiff.compare/1 schema."""

from __future__ import annotations

import json
from pathlib import Path

from policydiff.engine.report import View
from policydiff.publish.render.json_report import SCHEMA, render
from report_factory import sample

SIDE_KEYS = ["label", "policy", "version", "captured_at", "effective_date", "sha256"]
SUMMARY_KEYS = [
    "added", "removed", "modified", "cosmetic", "renamed", "moved", "unchanged",
    "words_inserted", "words_deleted", "substantive", "moved_blocks", "approximate",
    "renumbered",
    "words_moved",
]  # fmt: skip
SECTION_KEYS = [
    "status", "renamed", "moved", "old_path", "new_path", "old_index", "new_index", "kind",
    "old_label", "new_label", "approximate", "words_inserted", "words_deleted", "moved_out",
    "moved_in", "split_from", "merged_into", "table_rows", "diff", "title_change", "renumbered",
]  # fmt: skip


def load(view: View | None = None) -> dict:
    text = render(sample(), view or View())
    assert text.endswith("}\n")
    return json.loads(text)


def test_document_shape() -> None:
    doc = load()
    assert list(doc) == [
        "schema", "old", "new", "summary", "effective", "identical", "paragraph_mode",
        "filter", "sections", "moves", "renumbered",
    ]  # fmt: skip
    assert doc["schema"] == SCHEMA == "policydiff.compare/1"
    assert list(doc["old"]) == SIDE_KEYS
    assert doc["old"] == {
        "label": "old.md",
        "policy": None,
        "version": None,
        "captured_at": None,
        "effective_date": None,
        "sha256": "a" * 64,
    }
    assert doc["new"]["captured_at"] == "2024-05-01T12:00:00Z"
    assert doc["new"]["effective_date"] == "2024-05-01"
    assert doc["new"]["version"] == 2
    assert list(doc["summary"]) == SUMMARY_KEYS
    assert doc["summary"]["substantive"] is True
    assert doc["effective"] == {
        "old": "Last updated: 1 January 2024",
        "new": "Last updated: 1 May 2024",
        "old_date": "2024-01-01",
        "new_date": "2024-05-01",
        "changed": True,
    }
    assert doc["filter"] == {"section": None, "ignore_cosmetic": False}


def test_every_section_is_listed_and_rebuilds_its_bodies() -> None:
    doc = load()
    report = sample()
    assert len(doc["sections"]) == len(report.diff.sections)
    for item, section in zip(doc["sections"], report.diff.sections, strict=True):
        assert list(item) == SECTION_KEYS
        assert item["status"] == section.status.value
        old = "".join(d["text"] for d in item["diff"] if d["op"] != "insert")
        new = "".join(d["text"] for d in item["diff"] if d["op"] != "delete")
        assert old == section.old_text
        assert new == section.new_text
    statuses = [s["status"] for s in doc["sections"]]
    assert statuses == ["unchanged", "modified", "added", "cosmetic", "removed"]
    removed = doc["sections"][-1]
    assert removed["new_path"] is None
    assert removed["old_path"] == ["1. Intro", "Old terms"]
    cosmetic = doc["sections"][3]
    assert cosmetic["diff"][1] == {"op": "delete", "text": "\u201cprivacy\u201d", "cosmetic": True}
    assert cosmetic["old_label"] == "3."
    assert cosmetic["new_label"] == "4."


def test_filters_apply_but_context_does_not() -> None:
    assert load(View(context=True)) == load()
    doc = load(View(section="cookies", ignore_cosmetic=True))
    assert [s["new_path"] for s in doc["sections"]] == [["1. Intro", "3. Cookies"]]
    assert doc["filter"] == {"section": "cookies", "ignore_cosmetic": True}
    # The summary always describes the whole comparison.
    assert doc["summary"] == load()["summary"]
    assert len(load(View(ignore_cosmetic=True))["sections"]) == 4


def test_every_field_is_documented() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "json-schemas.md").read_text(encoding="utf-8")
    section = docs[docs.index("## compare") :]
    doc = load()
    keys = [*doc, *SIDE_KEYS, *SUMMARY_KEYS, *SECTION_KEYS, "cosmetic", "move", "similarity"]
    keys += list(doc["effective"]) + list(doc["filter"])
    missing = [key for key in keys if f"`{key}`" not in section]
    assert missing == []
