from datetime import date

import pytest

from policydiff.sources.ingest.effective import HEAD_CHARS, detect_effective_date

FEB_8 = date(2016, 2, 8)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Privacy policy Valid from 8 February 2016 ", FEB_8),
        ("Effective date: February 8, 2016", FEB_8),
        ("Effective Date: 8 February 2016", FEB_8),
        ("Effective as of 8 February 2016", FEB_8),
        ("Effective: Feb 8, 2016", FEB_8),
        ("Effective:February 8, 2016", FEB_8),
        ("**Effective:** February 8, 2016", FEB_8),
        ("_Effective Date: \\[8 February 2016\\]_", FEB_8),
        ("_[Effective February 8, 2016](https://example.com)_", FEB_8),
        ("Effective Date: _08 February 2016_", FEB_8),
        ("with an effective date of February 8, 2016.", FEB_8),
        ("Last updated: 2016-02-08", FEB_8),
        ("_Last updated: 8th February 2016_", FEB_8),
        ("Last Updated:\xa0February\xa08,\xa02016", FEB_8),
        ("#### Last Updated:\n\nFebruary 8, 2016", FEB_8),
        ("Last modified: 2016-02-08", FEB_8),
        ("> Last Update: Feb. 8, 2016", FEB_8),
        ("Updated on February 8th, 2016", FEB_8),
        ("Updated: February 8, 2016", FEB_8),
        ("Date of last revision: 8 Feb 2016", FEB_8),
        ("Last revised 8 Sept 2016", date(2016, 9, 8)),
        ("Valid from 8th of February 2016", FEB_8),
        # Ambiguous numeric forms are never read: 08/02 is August 2 or 8 February.
        ("Last modified on 08/02/2016", None),
        ("Effective 08.02.2016", None),
        # Month and year alone have no day.
        ("Last Updated: February 2016", None),
        # Not labels.
        ("Effective until November 15, 2024", None),
        ("measure the effectiveness of ads. February 8, 2016", None),
        ("Effective February 30, 2016", None),
        ("No date at all", None),
    ],
)
def test_formats(text: str, expected: date | None) -> None:
    assert detect_effective_date(text) == expected


def test_effective_preferred_over_last_updated() -> None:
    text = "Last Revised November 15, 2022. Effective December 15, 2022."
    assert detect_effective_date(text) == date(2022, 12, 15)


def test_head_preferred_over_later_effective_label() -> None:
    filler = "word " * (HEAD_CHARS // 5)
    text = f"Last updated: 1 March 2020\n\n{filler}\n\nEffective: 1 January 2019\n"
    assert detect_effective_date(text) == date(2020, 3, 1)


def test_whole_text_searched_when_head_has_nothing() -> None:
    filler = "word " * (HEAD_CHARS // 5)
    text = f"{filler}\n\nLast updated: 1 March 2020\n\nEffective Date August 1, 2023"
    assert detect_effective_date(text) == date(2023, 8, 1)


def test_label_without_date_is_skipped_for_a_later_one() -> None:
    text = "the \u201cLast Updated\u201d date at the top.\n\nLast Updated: May 22, 2024"
    assert detect_effective_date(text) == date(2024, 5, 22)
