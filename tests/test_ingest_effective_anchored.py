"""The anchored label scan finds exactly the matches and dates of a scan of every position."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import CORPUS
from policydiff.sources.ingest import effective
from policydiff.sources.ingest.effective import HEAD_CHARS, detect_effective_date


def full_scan(text: str, lowered: bytes | None, label: re.Pattern[str]) -> Iterable[re.Match[str]]:
    """The old scan: the label regex tried at every position of the text."""
    return label.finditer(text)


def old_detect(text: str) -> date | None:
    """``detect_effective_date`` as it was before the anchored scan."""
    return effective._detect(text, full_scan)


def spans(text: str, label: re.Pattern[str]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Label match spans found by the anchored scan, and by the full scan."""
    return (
        [m.span() for m in effective._label_matches(text, effective._lowered(text), label)],
        [m.span() for m in full_scan(text, None, label)],
    )


LABELS = (effective._EFFECTIVE, effective._UPDATED)
FILLER = "Lorem ipsum dolor sit amet, we process data lawfully. " * 80

EDGE_CASES = [
    "",
    "Effective date: 8 February 2016",
    "EFFECTIVE DATE: 8 FEBRUARY 2016",
    "ineffective as of 8 February 2016; effective 9 February 2016",
    "prevalid from 1 March 2017, valid from 2 March 2017",
    "This is in\n\n  effect from 3 April 2018.",
    "within effect from 3 April 2018, in  \t effect since 4 April 2018",
    "in effective 5 May 2019",
    "Date of\nlast\trevision: 6 June 2020",
    "date  of  last update 7 July 2021 and blast updated: 8 July 2021",
    "Last updated on: 9 August 2022",
    "last updated: no date here; Updated: 10 September 2022",
    "Updated on 11 October 2022; updated : 12 October 2022",
    "effectiveeffective 1 January 2015 effective 2 January 2015",
    "lastlast updated 3 January 2015",
    "Effective until 1 January 2030. Effective 2 January 2015.",
    "Valid from 2999-01-01. Valid from 2015-01-03.",
    # Characters re.IGNORECASE equates with ASCII letters though lower() does not: the
    # long s, the dotless i, the dotted capital I (lower() makes it two characters) and
    # the Kelvin sign. Such texts take the full scan.
    "La\u017ft updated: 4 January 2015",
    "Val\u0131d from 5 January 2015",
    "VAL\u0130D FROM 6 January 2015",
    "\u0130\u0130\u0130 Effective 7 January 2015",
    "\u212aelvin. Last modified 8 January 2015",
    # Non-ASCII whitespace inside a label, non-ASCII letters around one.
    "Date\u00a0of\u2003last revision: 15 January 2015",
    "in\u00a0effect from 16 January 2015",
    "\u00e9last updated 17 January 2015, \u00e9 last updated 18 January 2015",
    "\u4e2d\u6587 Effective 19 January 2015",
    # Labels near and across the head boundary, and long texts with the date far down.
    FILLER[: HEAD_CHARS - 6] + "Effective 9 January 2015",
    FILLER[: HEAD_CHARS - 4] + " last updated 10 January 2015",
    FILLER + "\n\nLast revised: 11 January 2015\n",
    FILLER + "in" + " " * 5000 + "effect from 12 January 2015",
    FILLER + "Date of last modification 13 January 2015. Effective 14 January 2015",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_match_the_full_scan(text: str) -> None:
    """Same label matches, same date, on hand-made cases around every anchor."""
    for label in LABELS:
        anchored, full = spans(text, label)
        assert anchored == full
    assert detect_effective_date(text) == old_detect(text)


def test_edge_cases_find_dates() -> None:
    """The cases are not all dateless: the comparison above compares real findings."""
    found = [detect_effective_date(text) for text in EDGE_CASES]
    assert sum(1 for day in found if day is not None) >= len(EDGE_CASES) - 3
    assert detect_effective_date(EDGE_CASES[-1]) == date(2015, 1, 14)
    assert detect_effective_date(EDGE_CASES[-2]) == date(2015, 1, 12)


FRAGMENTS = st.sampled_from(
    [
        "valid", "VALID", "Valid", "from", "since", "as", "of", "effective", "Effect",
        "in", "IN", "last", "Last", "updated", "update", "modified", "date", "Date", "on",
        " ", "  ", "\n", "\t", "\xa0", ":", "*", "_", "x", "re", "8 February 2016",
        "2016-02-08", "Feb 8, 2016", "\u017f", "\u0131", "\u0130", "\u212a", "é",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=40))
def test_random_label_soup_matches_the_full_scan(parts: list[str]) -> None:
    """Texts built from label words, separators and dates: the two scans agree."""
    text = "".join(parts)
    for label in LABELS:
        anchored, full = spans(text, label)
        assert anchored == full
    assert detect_effective_date(text) == old_detect(text)


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_corpus_dates_match_the_full_scan() -> None:
    """Every corpus file: the same label matches and the same detected date as before."""
    files = sorted(CORPUS.rglob("*.md"))
    assert files
    found = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        # Also the opening region alone, as detect_effective_date searches it first.
        for region in (text[:HEAD_CHARS], text):
            for label in LABELS:
                anchored, full = spans(region, label)
                assert anchored == full, path
        day = detect_effective_date(text)
        assert day == old_detect(text), path
        found += day is not None
    assert found > len(files) // 2  # the corpus states dates: real findings compared
