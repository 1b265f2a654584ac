"""Find the date a policy says it takes effect ("Valid from ...", "Last updated: ...")."""

from __future__ import annotations

import re
from datetime import date

from policydiff.datetext import parse_date_at
from policydiff.model import latest_effective_date

# Policies state their date near the top; later matches are often about a sub-notice or an
# old version, so the opening characters are searched first.
HEAD_CHARS = 3000

# "Effective until ..." and "effective for the EEA on ..." are deliberately not labels.
# Letter lookarounds rather than \b, because "_Last updated: ..._" (emphasis) is common.
_EFFECTIVE = re.compile(
    r"(?<![a-z])(?:valid\s+(?:from|since|as\s+of)"
    r"|effective(?:\s+date)?(?:\s+(?:as\s+of|from|since|on|of|is))?"
    r"|in\s+effect\s+(?:from|since|as\s+of))(?![a-z])",
    re.IGNORECASE,
)
_UPDATED = re.compile(
    r"(?<![a-z])(?:last\s+(?:updated?|modified|revised|changed|amended)(?:\s+(?:on|date))?"
    r"|updated(?:\s+on|(?=\s*:))"
    r"|date\s+of\s+last\s+(?:revision|update|modification))(?![a-z])",
    re.IGNORECASE,
)
# What may sit between label and date: spaces, a colon, markdown emphasis, "\[" escapes.
_SEPARATOR = re.compile(r"[\s:*_\\\[(\-\u2013\u2014]{0,12}")


def _first_labelled_date(text: str, label: re.Pattern[str]) -> date | None:
    """Return the date right after the first occurrence of ``label`` that is followed by one."""
    latest = latest_effective_date()
    for match in label.finditer(text):
        separator = _SEPARATOR.match(text, match.end())
        found = parse_date_at(text, separator.end() if separator else match.end())
        # A date decades ahead ("valid from 2999-01-01") is a typo or a joke, not a date the
        # store may record: read past it as past an impossible one.
        if found is not None and found <= latest:
            return found
    return None


def detect_effective_date(text: str) -> date | None:
    """Return the date the policy says it is effective from or was last updated, if stated.

    Labels: "Valid from", "Effective", "Effective date", "Effective as of", "Last updated",
    "Last update", "Last modified", "Last revised", "Updated on", "Updated:", "Date of last
    revision". Dates:
    ``8 February 2016``, ``8th Feb. 2016``, ``February 8, 2016``, ``Feb 8 2016`` and
    ``2016-02-08``. Numeric dates with slashes are ambiguous (day/month order) and ignored;
    so are month-and-year dates with no day ("February 2026").

    Order of preference: an effective label in the first ``HEAD_CHARS`` characters, then an
    updated label there, then the same two over the whole text.
    """
    for region in (text[:HEAD_CHARS], text):
        for label in (_EFFECTIVE, _UPDATED):
            found = _first_labelled_date(region, label)
            if found is not None:
                return found
    return None
