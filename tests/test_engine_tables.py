"""Markdown tables are diffed by row: rows added, removed or changed, cell-level word diffs."""

from __future__ import annotations

import importlib
import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from helpers import run_cli
from policydiff.core.diff_model import Op, SectionDiff, SectionStatus, Segment
from policydiff.engine import sections
from policydiff.engine.compare import compare_texts
from policydiff.engine.report import CompareReport, View, side_from_text
from policydiff.engine.sections import split_sections, table_rows
from policydiff.engine.worddiff import diff_table_words
from policydiff.publish.render import markdown, terminal
from policydiff.publish.render.json_report import section_json

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))

HEAD = "# Data\n\nWe use these services:\n\n"
TABLE = (
    "| Service | Data |\n| --- | --- |\n| Analytics | Usage data |\n| Ads | Device identifiers |\n"
)
TAIL = "\nThat is all.\n"
OLD = HEAD + TABLE + TAIL
INTRO = HEAD + "| Service | Data |\n| --- | --- |\n"
# markdown-it's table rule as shipped, to check sections' faster copy against.
STOCK_TABLE_PARSER = MarkdownIt("commonmark").enable("table").disable(["inline", "text_join"])
NO_ROWS = {"added": 0, "removed": 0, "changed": 0, "columns_added": 0, "columns_removed": 0}


def only_section(old: str, new: str) -> SectionDiff:
    """Compare two one-section texts and return that section (both texts rebuilt exactly)."""
    diff = compare_texts(old, new)
    assert diff.old_text == old
    assert diff.new_text == new
    (section,) = diff.sections
    return section


def verdict(section: SectionDiff) -> dict[str, object]:
    """The JSON fields a table change is about."""
    item = section_json(section)
    return {key: item[key] for key in ("status", "words_inserted", "words_deleted", "table_rows")}


def runs(section: SectionDiff) -> list[tuple[str, str, bool]]:
    """The section's diff as (op, text, cosmetic) triples."""
    return [(s.op.value, s.text, s.cosmetic) for s in section.segments]


# --------------------------------------------------------------------------- hand-made pairs

ROW_ADDED = OLD.replace(
    "| Ads | Device identifiers |\n",
    "| Ads | Device identifiers |\n| Payments | Card number and billing address |\n",
)
ROW_REMOVED = OLD.replace("| Analytics | Usage data |\n", "")
CELL_CHANGED = OLD.replace("Device identifiers", "Device and advertising identifiers")
COLUMN_ADDED = (
    HEAD
    + "| Service | Data | Retention |\n"
    + "| --- | --- | --- |\n"
    + "| Analytics | Usage data | 1 year |\n"
    + "| Ads | Device identifiers | 90 days |\n"
    + TAIL
)
REFORMATTED = (
    HEAD
    + "| Service   | Data               |\n"
    + "|:----------|:-------------------|\n"
    + "| Analytics | Usage data         |\n"
    + "| Ads       | Device identifiers |\n"
    + TAIL
)


def test_row_added_is_one_whole_insert() -> None:
    section = only_section(OLD, ROW_ADDED)
    assert verdict(section) == {
        "status": "modified",
        "words_inserted": 6,
        "words_deleted": 0,
        "table_rows": {**NO_ROWS, "added": 1},
    }
    assert runs(section) == [
        ("equal", INTRO + "| Analytics | Usage data |\n| Ads | Device identifiers |\n", False),
        ("insert", "| Payments | Card number and billing address |\n", False),
        ("equal", TAIL, False),
    ]


def test_row_removed_is_one_whole_delete() -> None:
    section = only_section(OLD, ROW_REMOVED)
    assert verdict(section) == {
        "status": "modified",
        "words_inserted": 0,
        "words_deleted": 3,
        "table_rows": {**NO_ROWS, "removed": 1},
    }
    assert runs(section) == [
        ("equal", INTRO, False),
        ("delete", "| Analytics | Usage data |\n", False),
        ("equal", "| Ads | Device identifiers |\n" + TAIL, False),
    ]


def test_one_cell_changed_is_a_word_diff_inside_the_cell() -> None:
    section = only_section(OLD, CELL_CHANGED)
    assert verdict(section) == {
        "status": "modified",
        "words_inserted": 2,
        "words_deleted": 0,
        "table_rows": {**NO_ROWS, "changed": 1},
    }
    assert runs(section) == [
        ("equal", INTRO + "| Analytics | Usage data |\n| Ads | Device ", False),
        ("insert", "and advertising ", False),
        ("equal", "identifiers |\n" + TAIL, False),
    ]


def test_column_added_changes_every_row_and_is_counted_once() -> None:
    # Decision: a column is counted once (from the delimiter row); every row that gained
    # a cell with words is a changed row too, and the new delimiter cell is cosmetic.
    section = only_section(OLD, COLUMN_ADDED)
    assert verdict(section) == {
        "status": "modified",
        "words_inserted": 5,
        "words_deleted": 0,
        "table_rows": {**NO_ROWS, "changed": 3, "columns_added": 1},
    }
    assert runs(section) == [
        ("equal", HEAD + "| Service | Data ", False),
        ("insert", "| Retention ", False),
        ("equal", "|\n| --- | --- ", False),
        ("insert", "| --- ", True),
        ("equal", "|\n| Analytics | Usage data ", False),
        ("insert", "| 1 year ", False),
        ("equal", "|\n| Ads | Device identifiers ", False),
        ("insert", "| 90 days ", False),
        ("equal", "|\n" + TAIL, False),
    ]


def test_column_removed_is_counted_and_empty_column_is_cosmetic() -> None:
    removed = only_section(COLUMN_ADDED, OLD)
    assert removed.table_rows is not None
    assert (removed.table_rows.columns_removed, removed.table_rows.changed) == (1, 3)
    # A column without words added: layout only.
    empty = OLD.replace("| Data |\n| --- | --- |", "| Data | |\n| --- | --- | --- |")
    section = only_section(OLD, empty)
    assert verdict(section) == {
        "status": "cosmetic",
        "words_inserted": 0,
        "words_deleted": 0,
        "table_rows": {**NO_ROWS, "columns_added": 1},
    }


def test_reformatted_table_is_cosmetic() -> None:
    section = only_section(OLD, REFORMATTED)
    assert verdict(section) == {
        "status": "cosmetic",
        "words_inserted": 0,
        "words_deleted": 0,
        "table_rows": NO_ROWS,
    }
    changes = [s for s in section.segments if s.op is not Op.EQUAL]
    assert changes
    assert all(s.cosmetic for s in changes)
    assert not compare_texts(OLD, REFORMATTED).summary.substantive


def test_edits_at_a_row_border_stay_in_their_rows() -> None:
    # The old engine gave one run "[-one year |\n| Phone-]{+six months |\n| Postal address+}".
    old = OLD.replace(
        "| Ads | Device identifiers |\n",
        "| Email | kept for one year |\n| Phone | kept for two years |\n",
    )
    new = old.replace("kept for one year |\n| Phone", "kept for six months |\n| Postal address")
    section = only_section(old, new)
    assert section.table_rows is not None
    assert section.table_rows.changed == 2
    assert [(op, text) for op, text, _ in runs(section) if op != "equal"] == [
        ("delete", "one year "),
        ("insert", "six months "),
        ("delete", "Phone "),
        ("insert", "Postal address "),
    ]


def test_row_rewritten_under_the_same_label_is_changed_not_replaced() -> None:
    old = OLD.replace("Usage data", "Pages you visit and the time you spend on each of them")
    new = OLD.replace("Usage data", "Crash reports sent from the app when it stops unexpectedly")
    section = only_section(old, new)
    assert section.table_rows is not None
    assert (section.table_rows.changed, section.table_rows.added) == (1, 0)
    # The row's label stays; only its second cell is rewritten.
    assert section.segments[0] == Segment(Op.EQUAL, INTRO + "| Analytics | ")


def test_unrelated_row_replacing_another_is_removed_and_added() -> None:
    new = OLD.replace("| Analytics | Usage data |", "| Support | Messages you send us |")
    section = only_section(OLD, new)
    assert section.table_rows is not None
    assert (section.table_rows.added, section.table_rows.removed) == (1, 1)
    assert [(op, text) for op, text, _ in runs(section) if op != "equal"] == [
        ("delete", "| Analytics | Usage data |\n"),
        ("insert", "| Support | Messages you send us |\n"),
    ]


def test_text_turned_into_a_table_keeps_its_words() -> None:
    # A list turned into a table: the rows (header included) are new, and the words the
    # two forms share are matched across the change of form (the gap is word-diffed).
    old = HEAD + "* Analytics: Usage data\n* Ads: Device identifiers\n" + TAIL
    section = only_section(old, OLD)
    assert section.table_rows is not None
    assert section.table_rows.added == 3
    assert Segment(Op.EQUAL, "Device identifiers") in section.segments


def test_section_without_table_has_no_row_summary() -> None:
    section = only_section("# A\n\nOne two.\n", "# A\n\nOne three.\n")
    assert section.table_rows is None
    assert section_json(section)["table_rows"] is None


# --------------------------------------------------------------------------- sections.table_rows


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        (OLD, ["| Service | Data |\n", "| --- | --- |\n", *TABLE.splitlines(keepends=True)[2:]]),
        ("# A\n\nNo | table | here.\n", []),
        ("| a | b |\n| c | d |\n", []),  # no delimiter row
        ("x\r\n| a |\r\n|---|\r\n| b |", ["| a |\r\n", "|---|\r\n", "| b |"]),
        (
            "> | q | r |\n> |---|---|\n> | 1 | 2 |\n\nafter\n",
            ["> | q | r |\n", "> |---|---|\n", "> | 1 | 2 |\n"],
        ),
    ],
)
def test_table_rows_are_the_lines_of_each_table(text: str, rows: list[str]) -> None:
    assert [text[a:b] for a, b in table_rows(text)] == rows


def test_table_rows_look_only_around_the_change() -> None:
    text = "# A\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nMiddle.\n\n| c |\n|---|\n| 3 |\n"
    second = text.index("| c |")
    rows = [text[a:b] for a, b in table_rows(text, second + 2, second + 3)]
    assert rows == ["| c |\n", "|---|\n", "| 3 |\n"]
    assert table_rows(text, text.index("Middle"), text.index("Middle") + 6) == ()
    assert len(table_rows(text)) == 6


@given(st.text(alphabet="ab|\\ -:", max_size=14))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_fast_cell_split_is_markdown_its_own(line: str) -> None:
    # sections reads table cells with a regex in place of markdown-it's character loop.
    module = importlib.import_module("markdown_it.rules_block.table")
    assert sections._FAST_TABLE is not None
    assert sections._escaped_split(line) == module.escapedSplit(line)
    text = f"{line}\n| --- | --- |\n{line}\n"
    assert [(t.type, t.map) for t in sections._TABLE_PARSER.parse(text)] == [
        (t.type, t.map) for t in STOCK_TABLE_PARSER.parse(text)
    ]


def test_tables_do_not_move_section_boundaries() -> None:
    # Sections are still cut with tables off; a table under a heading stays in its section.
    text = "# A\n\n**Intro**\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## B\n\nText.\n"
    assert [s.title for s in split_sections(text)] == ["A", "B"]


# --------------------------------------------------------------------------- human formats


def report(old: str, new: str) -> CompareReport:
    return CompareReport(
        side_from_text("old", old), side_from_text("new", new), compare_texts(old, new)
    )


LONG_ROWS = "".join(f"| Item {i} | Value number {i} here |\n" for i in range(8))
LONG_OLD = HEAD + "| Service | Data |\n| --- | --- |\n" + LONG_ROWS + TAIL
LONG_NEW = LONG_OLD.replace(
    "| Item 5 | Value number 5 here |\n",
    "| Item 5 | Value number five here |\n| Item 5b | New row |\n",
)


def test_terminal_shows_changed_rows_under_the_header() -> None:
    out = terminal.render(report(LONG_OLD, LONG_NEW), View())
    body = out[out.index("Data \u2500") :]
    assert body.splitlines()[1:] == [
        "changed \u00b7 table: 1 row added, 1 row changed \u00b7 +5 \u22121 words",
        "  \u22ef 1 unchanged paragraph",
        "| Service | Data |",
        "  \u22ef 5 unchanged rows",
        "| Item 5 | Value number [-5-]{+five+} here |",
        "{+| Item 5b | New row |+}",
        "  \u22ef 2 unchanged rows, 1 unchanged paragraph",
    ]


def test_markdown_shows_changed_rows_and_notes() -> None:
    out = markdown.render(report(LONG_OLD, LONG_NEW), View())
    assert "*changed \u00b7 table: 1 row added, 1 row changed \u00b7 +5 \u22121 words*" in out
    # A table under its header (joined across the fold), each changed cell marked.
    assert (
        "*\u22ef 5 unchanged rows*\n\n"
        "| Service | Data |\n"
        "| --- | --- |\n"
        "| Item 5 | Value number <del>5</del><ins>five</ins> here |\n"
        "| <ins>Item 5b</ins> | <ins>New row</ins> |\n"
    ) in out
    assert "Item 3" not in out


def test_cli_json_carries_table_rows(tmp_path: Path) -> None:
    (tmp_path / "old.md").write_text(OLD, encoding="utf-8")
    (tmp_path / "new.md").write_text(ROW_ADDED, encoding="utf-8")
    result = run_cli(
        ["--store", str(tmp_path / "no-store"), "compare", str(tmp_path / "old.md"),
         str(tmp_path / "new.md"), "--format", "json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "policydiff.compare/1"
    assert [s["table_rows"] for s in document["sections"]] == [{**NO_ROWS, "added": 1}]


# --------------------------------------------------------------------------- properties


def _overlaps_partly(span: tuple[int, int], row: tuple[int, int]) -> bool:
    """Whether a change run cuts into a row without lying inside it or holding it whole."""
    (s, e), (a, b) = span, row
    return s < b and a < e and not (a <= s and e <= b) and not (s <= a and b <= e)


def _change_spans(section: SectionDiff, op: Op) -> list[tuple[int, int]]:
    """Offsets of the `op` runs in the old (DELETE) or new (INSERT) body."""
    spans, at = [], 0
    for segment in section.segments:
        if segment.op in {Op.EQUAL, op}:
            if segment.op is op:
                spans.append((at, at + len(segment.text)))
            at += len(segment.text)
    return spans


CELL = st.sampled_from(["data", "usage", "one year", "six months", "ads", "email", "", "x y z"])
ROW = st.lists(CELL, min_size=2, max_size=2).map(lambda cells: "| " + " | ".join(cells) + " |\n")


@given(
    old_rows=st.lists(ROW, min_size=1, max_size=8),
    new_rows=st.lists(ROW, min_size=1, max_size=8),
)
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
def test_no_change_run_spans_two_rows(old_rows: list[str], new_rows: list[str]) -> None:
    old = HEAD + "| A | B |\n| --- | --- |\n" + "".join(old_rows) + TAIL
    new = HEAD + "| A | B |\n| --- | --- |\n" + "".join(new_rows) + TAIL
    section = only_section(old, new) if old != new else None
    if section is None or section.status is SectionStatus.UNCHANGED:
        return
    for text, op in ((old, Op.DELETE), (new, Op.INSERT)):
        rows = table_rows(text)
        for span in _change_spans(section, op):
            assert not any(_overlaps_partly(span, row) for row in rows), (span, text)
    words, _ = diff_table_words(old, new, table_rows(old), table_rows(new))
    assert "".join(s.text for s in words.segments if s.op is not Op.INSERT) == old
    assert "".join(s.text for s in words.segments if s.op is not Op.DELETE) == new


def test_pairing_cost_is_bounded() -> None:
    # 300 long rows replaced by 300 unrelated ones: rows pair by position only, marked.
    def rows(seed: str) -> str:
        return "".join(
            f"| {seed}{i} | " + " ".join(f"{seed}{i}w{k}" for k in range(200)) + " |\n"
            for i in range(300)
        )

    old = "# T\n\n| a | b |\n| --- | --- |\n" + rows("p")
    new = "# T\n\n| a | b |\n| --- | --- |\n" + rows("q")
    start = time.perf_counter()
    section = only_section(old, new)
    assert time.perf_counter() - start < 10
    assert section.approximate
    assert section.table_rows is not None
    assert (section.table_rows.added, section.table_rows.removed) == (300, 300)


# --------------------------------------------------------------------------- real pairs

needs_corpus = pytest.mark.skipif(
    not (CORPUS / "MANIFEST.tsv").exists(), reason=f"no corpus at {CORPUS}"
)


def corpus_diff(document: str, old: str, new: str) -> tuple[str, str, list[SectionDiff]]:
    old_text = (CORPUS / document / f"{old}.md").read_text(encoding="utf-8")
    new_text = (CORPUS / document / f"{new}.md").read_text(encoding="utf-8")
    diff = compare_texts(old_text, new_text)
    assert (diff.old_text, diff.new_text) == (old_text, new_text)
    return old_text, new_text, [s for s in diff.sections if s.table_rows is not None]


@pytest.mark.corpus
@needs_corpus
def test_fast_table_parser_reads_the_corpus_as_markdown_it_does() -> None:
    for path in sorted(CORPUS.glob("*/*/*.md")):
        text = path.read_text(encoding="utf-8")
        if "|" in text:
            fast = [(t.type, t.map) for t in sections._TABLE_PARSER.parse(text)]
            assert fast == [(t.type, t.map) for t in STOCK_TABLE_PARSER.parse(text)], path


@pytest.mark.corpus
@needs_corpus
def test_linkedin_table_gains_four_rows() -> None:
    _, _, tables = corpus_diff("linkedin/privacy-policy", "2025-10-03", "2025-11-04")
    (section,) = [
        s for s in tables if s.path[-1] == "When does LinkedIn rely on legitimate interests?"
    ]
    assert section.table_rows is not None
    assert (section.table_rows.added, section.table_rows.removed, section.table_rows.changed) == (
        4,
        0,
        2,
    )
    # Rows come in whole: each added row is a whole line of an insert run.
    added = [
        line.split("|")[1].strip()
        for segment in section.segments
        if segment.op is Op.INSERT and segment.text.startswith("| ")
        for line in segment.text.splitlines()
    ]
    assert added == [
        "**To offer our content-generating Generative AI features to Members**",
        "**To train our content-generating Generative AI systems**",
        "**To improve LinkedIn's products and Services generally**",
        (
            "**If you are in the UK:**<br><br>Sharing data with our parent company, Microsoft "
            "for its AI training purposes"
        ),
    ]


@pytest.mark.corpus
@needs_corpus
def test_reddit_rows_keep_their_edits_inside() -> None:
    _, _, tables = corpus_diff("reddit/privacy-policy", "2022-09-20", "2022-11-15")
    section = tables[0]
    assert section.table_rows is not None
    assert (section.table_rows.removed, section.table_rows.changed) == (1, 9)
    # The TrueDepth camera row is removed whole (the old engine ran its deletion on from
    # the end of the row above).
    deleted = [s.text for s in section.segments if s.op is Op.DELETE and "TrueDepth" in s.text]
    assert len(deleted) == 1
    assert deleted[0].startswith("|     | _Other Information_ |")


@pytest.mark.corpus
@needs_corpus
def test_chatgpt_rows_grown_with_examples_stay_paired() -> None:
    _, _, tables = corpus_diff("chatgpt/privacy-policy", "2026-01-21", "2026-05-18")
    changed = [s for s in tables if s.status is SectionStatus.MODIFIED and s.table_rows]
    rows = [
        (s.table_rows.added, s.table_rows.removed, s.table_rows.changed)
        for s in changed
        if s.table_rows
    ]
    assert (2, 0, 5) in rows
