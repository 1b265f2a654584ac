"""Dates as policies write them ("8 February 2016", "Feb. 8, 2016", "2016-02-08"), parsed."""

from __future__ import annotations

import re
from datetime import date

_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
    r"|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?(?![a-z])"
)
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\.?"
_YEAR = r"(?P<year>\d{4})(?!\d)"
_GAP = r"[\s,]+"
# Only unambiguous forms: 08/02/2016 is 8 February in Europe and August 2 in the US, and
# guessing wrong would silently record a wrong date, so slashed dates are not read at all.
_DATE_FORMS = (
    re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?!\d)"),
    re.compile(rf"{_DAY}(?:\s+of)?{_GAP}{_MONTH}{_GAP}{_YEAR}", re.IGNORECASE),
    re.compile(rf"{_MONTH}{_GAP}{_DAY}{_GAP}{_YEAR}", re.IGNORECASE),
)
_MONTH_NUMBERS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


def parse_date_at(text: str, position: int) -> date | None:
    """Return the date written at ``position`` in an accepted form, or ``None``."""
    for form in _DATE_FORMS:
        match = form.match(text, position)
        if match is None:
            continue
        month = match["month"]
        number = int(month) if month.isdigit() else _MONTH_NUMBERS[month[:3].lower()]
        try:
            return date(int(match["year"]), number, int(match["day"]))
        except ValueError:
            return None
    return None


def find_written_date(text: str) -> date | None:
    """Return the first date written in ``text`` in an accepted form, or ``None``."""
    for position, char in enumerate(text):
        if char.isalnum() and (position == 0 or not text[position - 1].isalnum()):
            found = parse_date_at(text, position)
            if found is not None:
                return found
    return None
