"""Effective dates in compare: only the policy's own statements, compared as dates; honest labels."""

from __future__ import annotations

from datetime import date

import pytest

from policydiff.core.diff_model import (
    DocumentDiff,
    Op,
    SectionDiff,
    SectionKind,
    SectionStatus,
    Segment,
    Summary,
)
from policydiff.engine.compare import compare_texts, find_effective_date
from policydiff.engine.report import section_notes

LICENCE_BODY = "This licence grants you rights.\n\n" + "It is a long licence text. " * 400


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        # A date mid-sentence deep in the body is not the policy's date.
        (f"# Licence\n\n{LICENCE_BODY}\n\n(as revised on July 24, 1971)\n", None),
        (f"# Licence\n\n{LICENCE_BODY} It was changed on 1 May 1990 by the board.\n", None),
        # Nor a bare "revised on" mid-sentence near the top.
        ("# Licence\n\nThe Act (as revised on July 24, 1971) applies.\n", None),
        # A date line is, wherever it stands.
        (f"# Terms\n\n{LICENCE_BODY}\n\nRevised: 1 May 2024\n", "Revised: 1 May 2024"),
        (f"# Terms\n\n{LICENCE_BODY}\n\n_Last updated: 1 May 2024_\n", "Last updated: 1 May 2024"),
        # Strong lead-ins near the top count mid-sentence too.
        ("# P\n\nThis policy was last updated on 4 June 2026.\n", "last updated on 4 June 2026"),
        ("# P\n\nUpdated: 4 June 2026\n", "Updated: 4 June 2026"),
        ("# P\n\nRevised on 4 June 2026\n", "Revised on 4 June 2026"),
    ],
)
def test_effective_date_is_a_statement_about_the_policy(text: str, phrase: str | None) -> None:
    assert find_effective_date(text) == phrase


def test_effective_dates_compare_as_dates() -> None:
    old = "# P\n\nLast updated: 28 August 2025\n\n## Data\n\nWe keep data.\n"
    new = "# P\n\nLast updated: August 28, 2025\n\n## Data\n\nWe keep data.\n"
    diff = compare_texts(old, new)
    assert diff.old_effective_date == diff.new_effective_date == date(2025, 8, 28)
    assert not diff.effective_changed
    moved_on = compare_texts(old, new.replace("28, 2025", "29, 2025"))
    assert moved_on.effective_changed
    # Forms read without guessing only: a slashed date falls back to comparing phrases.
    slashed = compare_texts(old.replace("28 August 2025", "08/28/2025"), old)
    assert slashed.old_effective_date is None
    assert slashed.effective_changed


def _approximate(segments: tuple[Segment, ...]) -> SectionDiff:
    return SectionDiff(
        status=SectionStatus.MODIFIED,
        kind=SectionKind.HEADING,
        renamed=False,
        moved=False,
        approximate=True,
        old_path=("A",),
        new_path=("A",),
        old_label=None,
        new_label=None,
        old_title="A",
        new_title="A",
        old_index=0,
        new_index=0,
        segments=segments,
        words_inserted=2,
        words_deleted=2,
    )


def _doc(section: SectionDiff) -> DocumentDiff:
    summary = Summary(True, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 2)
    return DocumentDiff(sections=(section,), summary=summary)


def test_approximate_label_says_what_happened() -> None:
    whole = _approximate((Segment(Op.DELETE, "one two"), Segment(Op.INSERT, "three four")))
    assert "too many edits for a word diff: shown as a whole replacement" in section_notes(
        whole, _doc(whole)
    )
    partly = _approximate(
        (
            Segment(Op.EQUAL, "# A\n\nKept words here. "),
            Segment(Op.DELETE, "one two"),
            Segment(Op.INSERT, "three four"),
        )
    )
    notes = section_notes(partly, _doc(partly))
    assert "some rewritten passages are shown whole, not word by word" in notes
    assert not any("whole replacement" in note for note in notes)
