"""compare_texts: verdicts on seed-derived edits, reconstruction, robustness, effective dates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policydiff.core.diff_model import DocumentDiff, Op, SectionDiff, SectionStatus, TitleChange
from policydiff.engine import compare, sections
from policydiff.engine.compare import compare_texts, find_effective_date

FIXTURES = Path(__file__).parent / "fixtures" / "engine"
SEED = (FIXTURES / "seed.md").read_text(encoding="utf-8")

MARKDOWNISH = st.lists(
    st.sampled_from(
        [
            "# Title\n",
            "## 1. Numbered\n",
            "## 2. Numbered\n",
            "### Sub\n",
            "**Bold heading**\n",
            "_Italic heading_\n",
            "Setext\n---\n",
            "Setext\n===\n",
            "We collect your data. ",
            "We share it with partners. ",
            "\u201cquoted\u201d ",
            "\n",
            "\n\n",
            "* item\n",
            "1\\. escaped\n",
            "* * *\n",
            "> quote\n",
            "```\n# fenced\n```\n",
            "| a | b |\n|---|---|\n",
            "Last updated: May 1, 2024\n",
            "\r\n",
            "\u200b",
            "\u05e9\u05dc\u05d5\u05dd ",
            "\U0001f600",
        ]
    )
    | st.text(max_size=12),
    max_size=30,
).map("".join)


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.md").read_text(encoding="utf-8")


def changed(diff: DocumentDiff) -> list[SectionDiff]:
    return [s for s in diff.sections if s.status is not SectionStatus.UNCHANGED or s.moved]


def assert_rebuilds(diff: DocumentDiff, old: str, new: str) -> None:
    assert diff.old_text == old
    assert diff.new_text == new
    for section in diff.sections:
        if section.old_index is None:
            assert all(s.op is Op.INSERT for s in section.segments)
        if section.new_index is None:
            assert all(s.op is Op.DELETE for s in section.segments)


@given(MARKDOWNISH)
@settings(max_examples=200)
def test_text_against_itself_is_all_unchanged(text: str) -> None:
    diff = compare_texts(text, text)
    assert diff.identical
    assert all(s.status is SectionStatus.UNCHANGED for s in diff.sections)
    assert not any(s.moved or s.renamed for s in diff.sections)
    assert not diff.summary.substantive
    assert diff.moves == ()
    assert_rebuilds(diff, text, text)


@given(MARKDOWNISH, MARKDOWNISH)
@settings(max_examples=300)
def test_reconstruction_markdownish(old: str, new: str) -> None:
    assert_rebuilds(compare_texts(old, new), old, new)


@given(st.text(), st.text())
def test_reconstruction_arbitrary(old: str, new: str) -> None:
    assert_rebuilds(compare_texts(old, new), old, new)


@given(MARKDOWNISH, MARKDOWNISH, MARKDOWNISH)
@settings(max_examples=100)
def test_reconstruction_of_edited_seed(insert: str, replace: str, prefix: str) -> None:
    old = SEED
    new = prefix + SEED.replace("What we collect", replace).replace(
        "_General_", insert + "_General_"
    )
    diff = compare_texts(old, new)
    assert_rebuilds(diff, old, new)


def test_sentence_change() -> None:
    diff = compare_texts(SEED, fixture("sentence_change"))
    (section,) = changed(diff)
    assert section.status is SectionStatus.MODIFIED
    assert section.path[-1] == "Forums and mailinglists"
    inserted = [s.text for s in section.segments if s.op is Op.INSERT and not s.cosmetic]
    deleted = [s.text for s in section.segments if s.op is Op.DELETE and not s.cosmetic]
    assert inserted == ["and for fraud prevention"]
    assert deleted == ["only "]
    assert (diff.summary.words_inserted, diff.summary.words_deleted) == (4, 1)
    assert diff.summary.substantive


def test_renamed_heading() -> None:
    diff = compare_texts(SEED, fixture("renamed_heading"))
    (section,) = changed(diff)
    assert section.renamed
    assert section.old_path is not None
    assert section.old_path[-1] == "Forums and mailinglists"
    assert section.new_path is not None
    assert section.new_path[-1] == "Community forums and mailing lists"
    # The words under the heading did not change: a rename alone is not substantive.
    assert section.status is SectionStatus.COSMETIC
    assert section.title_change is TitleChange.RENAMED
    assert diff.summary.renamed == 1
    assert not diff.summary.substantive


def test_moved_section() -> None:
    diff = compare_texts(SEED, fixture("moved_section"))
    moved = [s for s in diff.sections if s.moved]
    assert [s.path[-1] for s in moved] == ["General"]
    # Only its trailing blank lines changed: that is no change to the section (issue 13).
    assert moved[0].status is SectionStatus.UNCHANGED
    assert not diff.summary.substantive
    assert diff.sections[3].path[-1] == "General"  # shown in the new order


def test_split_section_shows_moved_text() -> None:
    diff = compare_texts(SEED, fixture("split_section"))
    (move,) = diff.moves
    assert move.old_path[-1] == "Forums and mailinglists"
    assert move.new_path[-1] == "Payments"
    assert move.similarity == 100.0
    source = diff.sections[move.old_section]
    target = diff.sections[move.new_section]
    assert source.moved_out == (0,)
    assert target.moved_in == (0,)
    assert target.status is SectionStatus.ADDED
    moved_runs = [s for s in target.segments if s.move_id == 0]
    assert moved_runs[0].text.startswith("When you register for services")
    assert diff.summary.moved_blocks == 1


@pytest.mark.parametrize(
    "name",
    ["cosmetic_quotes", "cosmetic_rewrap", "cosmetic_list_marker", "cosmetic_heading_style"],
)
def test_cosmetic_edits_are_not_substantive(name: str) -> None:
    new = fixture(name)
    diff = compare_texts(SEED, new)
    assert changed(diff)
    assert all(s.status is SectionStatus.COSMETIC for s in changed(diff))
    assert not diff.summary.substantive
    assert (diff.summary.words_inserted, diff.summary.words_deleted) == (0, 0)
    for section in diff.sections:
        assert all(s.cosmetic for s in section.segments if s.op is not Op.EQUAL)
    assert_rebuilds(diff, SEED, new)


def test_renumbering_alone_is_cosmetic() -> None:
    old = "## 13. Warranty\n\nAs is.\n\n## 14. Liability\n\nNone.\n"
    new = "## 12. Warranty\n\nAs is.\n\n## 13. Liability\n\nNone.\n"
    diff = compare_texts(old, new)
    assert [s.status for s in diff.sections] == [SectionStatus.COSMETIC] * 2
    assert [(s.old_label, s.new_label, s.renumbered) for s in diff.sections] == [
        ("13.", "12.", True),
        ("14.", "13.", True),
    ]
    assert not diff.summary.substantive


def test_removed_and_added_sections_keep_their_places() -> None:
    old = "# A\n\nalpha text\n\n# B\n\nbravo words here\n\n# C\n\ncharlie\n\n"
    new = "# A\n\nalpha text\n\n# C\n\ncharlie\n\n# D\n\ndelta is new\n"
    diff = compare_texts(old, new)
    assert [(s.status.value, s.path) for s in diff.sections] == [
        ("unchanged", ("A",)),
        ("removed", ("B",)),
        ("unchanged", ("C",)),
        ("added", ("D",)),
    ]
    assert (diff.summary.added, diff.summary.removed) == (1, 1)
    assert diff.sections[1].words_deleted == 4


def test_wordless_one_sided_section_is_cosmetic() -> None:
    diff = compare_texts("* * *\n\nSome text here.\n", "Some text here.\n")
    assert [s.status for s in diff.sections] == [SectionStatus.COSMETIC, SectionStatus.UNCHANGED]
    assert not diff.summary.substantive


def test_headingless_documents_compare_paragraphs() -> None:
    old = "First paragraph stays.\n\nSecond one is edited here.\n\nThird stays too.\n"
    new = "First paragraph stays.\n\nSecond one was edited here.\n\nThird stays too.\n"
    diff = compare_texts(old, new)
    assert diff.paragraph_mode
    assert [s.status.value for s in diff.sections] == ["unchanged", "modified", "unchanged"]


def test_empty_texts() -> None:
    assert compare_texts("", "").sections == ()
    diff = compare_texts("", "# New\n\ntext\n")
    assert [s.status for s in diff.sections] == [SectionStatus.ADDED]
    diff = compare_texts("# Old\n\ntext\n", "")
    assert [s.status for s in diff.sections] == [SectionStatus.REMOVED]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        (SEED, "Valid from 8 February 2016"),
        ("Effective date: 1 May 2024\n", "Effective date: 1 May 2024"),
        ("**Effective date:** May 1st, 2024", "Effective date: May 1st, 2024"),
        ("Effective Date: _04 December 2024_", "Effective Date: 04 December 2024"),
        ("Last updated: May 1, 2024", "Last updated: May 1, 2024"),
        ("> Last Update: July 4, 2025", "Last Update: July 4, 2025"),
        ("_Effective Date: \\[19 November 2023\\]_", "Effective Date: 19 November 2023"),
        (
            "Effective Date outside EEA & UK: March 13, 2024",
            "Effective Date outside EEA & UK: March 13, 2024",
        ),
        ("effective for the EEA on request. No date.", None),
        ("Last Updated: March 2026", "Last Updated: March 2026"),
        ("Effective as of 1 January 2023", "Effective as of 1 January 2023"),
        ("Last modified on 07/19/2022", "Last modified on 07/19/2022"),
        ("Last Modified: 2024-01-24", "Last Modified: 2024-01-24"),
        ("It was\nlast\nupdated on\n4 June 2026.", "last updated on 4 June 2026"),
        ("Effective measures protect data.", None),
        ("No dates here at all.", None),
    ],
)
def test_effective_date_detection(text: str, phrase: str | None) -> None:
    assert find_effective_date(text) == phrase


def test_effective_date_change_is_reported() -> None:
    new = SEED.replace("8 February 2016", "1 March 2024")
    diff = compare_texts(SEED, new)
    assert (diff.old_effective, diff.new_effective) == (
        "Valid from 8 February 2016",
        "Valid from 1 March 2024",
    )
    assert diff.effective_changed
    assert not compare_texts(SEED, fixture("sentence_change")).effective_changed


@pytest.mark.parametrize(
    "text",
    [
        "> " * 500 + "# deep quote",
        "* " * 500 + "deep list",
        "  " * 400 + "- x\n" + "\t" * 100 + "y",
        "[" * 2000 + "]" * 2000,
        "*" * 5000 + "_" * 5000,
        "# " + "x" * 5000,
        "**" + "y" * 500 + "**",
        "".join(f"# H{i}\n" for i in range(2000)),
        "\u05e9\u05dc\u05d5\u05dd \u0627\u0644\u0633\u0644\u0627\u0645 " * 200,
        "\U0001f600\u200d\U0001f4bb " * 500,
        "\u200b\u200c\u200d\ufeff" * 500,
        "\x00\x01\x02 \u2028\u2029" * 100,
        "\r\n\r\r\n" * 300,
    ],
)
def test_no_crash_on_odd_inputs(text: str) -> None:
    for old, new in ((text, text[: len(text) // 2]), ("", text), (text, text + " extra")):
        assert_rebuilds(compare_texts(old, new), old, new)


def test_one_huge_line_is_fast() -> None:
    old = "word " * 150_000
    new = "word " * 75_000 + "changed " + "word " * 75_000
    start = time.perf_counter()
    diff = compare_texts(old, new)
    assert time.perf_counter() - start < 5
    assert_rebuilds(diff, old, new)
    assert diff.summary.words_inserted == 1


def test_many_headings_compare() -> None:
    old = "".join(f"## {i}. Heading {i}\n\ntext {i}\n\n" for i in range(1, 900))
    new = old.replace("## 5. Heading 5\n\ntext 5\n\n", "")
    diff = compare_texts(old, new)
    assert diff.summary.removed == 1
    assert diff.summary.moved == 0
    assert_rebuilds(diff, old, new)


ENGINE_MODULES = [
    "core/diff_model",
    "engine/normalize",
    "engine/sections",
    "engine/worddiff",
    "engine/align",
    "engine/compare",
]
FORBIDDEN = {"os", "sys", "io", "subprocess", "pathlib", "time", "datetime", "git", "click", "rich"}


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_modules_are_pure(module: str) -> None:
    import ast

    source = Path(__file__).resolve().parent.parent / "src" / "policydiff" / f"{module}.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    # Imports only for type checking run nothing (a `date` in a field type reads no clock).
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
    assert "open(" not in source.read_text(encoding="utf-8")
    assert "print(" not in source.read_text(encoding="utf-8")


def test_repeated_compare_gives_equal_results() -> None:
    first = compare_texts(SEED, fixture("split_section"))
    second = compare_texts(SEED, fixture("split_section"))
    assert first == second


def test_rewritten_large_section_is_marked_approximate() -> None:
    import random

    rng = random.Random(7)
    old_words = " ".join(f"a{rng.randrange(5000)}" for _ in range(1500))
    new_words = " ".join(f"b{rng.randrange(5000)}" for _ in range(1500))
    diff = compare_texts(f"# Terms\n\n{old_words}\n", f"# Terms\n\n{new_words}\n")
    (section,) = diff.sections
    assert section.status is SectionStatus.MODIFIED
    assert section.approximate
    assert diff.summary.approximate == 1
    assert_rebuilds(diff, f"# Terms\n\n{old_words}\n", f"# Terms\n\n{new_words}\n")


def test_clear_caches_forgets_everything_a_cold_process_would_not_have() -> None:
    # The engine bench's "cold" figures rely on it: a remembered cut or body diff would
    # make a cold pair look cheaper than a fresh process finds it.
    body = "## Terms\n\nWe keep your data for thirty days.\n"
    compare.compare_texts(body, body.replace("thirty", "ninety"))
    assert compare._analyse.cache_info().currsize > 0
    assert compare._remembered_body_words.cache_info().currsize > 0
    assert sections._split_once.cache_info().currsize > 0
    compare.clear_caches()
    assert compare._analyse.cache_info().currsize == 0
    assert compare._remembered_body_words.cache_info().currsize == 0
    assert sections._split_once.cache_info().currsize == 0
