"""Find the date a policy says it takes effect ("Valid from ...", "Last updated: ...")."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date

from policydiff.core.datetext import parse_date_at
from policydiff.core.model import latest_effective_date

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


# Where each label can start, as words in lower case: a match of the label's regex begins
# at the first word, and the last word is what a plain ``bytes.find`` looks for (for
# "in effect" and "date of last", the earlier words are then checked backwards over the
# whitespace). "effect" also finds "effective". Every label match starts at one of these
# places, so running the regex only there finds the same matches as a scan of every
# position, which cost most of an import on texts with no date near the top.
_ANCHORS: dict[re.Pattern[str], tuple[tuple[bytes, ...], ...]] = {
    _EFFECTIVE: ((b"valid",), (b"effect",), (b"in", b"effect")),
    _UPDATED: ((b"last",), (b"updated",), (b"date", b"of", b"last")),
}
# Non-ASCII characters that re.IGNORECASE equates with ASCII letters (dotted and dotless
# i, long s, Kelvin sign): a text holding one is scanned in full. Any other character a
# label can hold is an ASCII letter or whitespace.
_CASE_TRAPS = ("\u0130", "\u0131", "\u017f", "\u212a")


def _word_before(text: str, lowered: bytes, end: int, word: bytes) -> int:
    """Return where ``word`` starts if it ends just before whitespace ending at ``end``, else -1."""
    position = end
    while position > 0 and text[position - 1].isspace():  # \s: the same characters
        position -= 1
    start = position - len(word)
    if position == end or start < 0 or not lowered.startswith(word, start, position):
        return -1
    return start


def _occurrences(lowered: bytes, word: bytes) -> list[int]:
    """Return every position where ``word`` occurs in ``lowered``, overlapping ones too."""
    positions: list[int] = []
    found = lowered.find(word)
    while found >= 0:
        positions.append(found)
        found = lowered.find(word, found + 1)
    return positions


def _label_starts(text: str, lowered: bytes, anchors: tuple[tuple[bytes, ...], ...]) -> list[int]:
    """Return, in order, every position where a label of ``anchors`` may start."""
    starts: set[int] = set()
    # Anchors sharing their last word ("effect", "in effect") share one pass over the text.
    passes: dict[bytes, list[int]] = {}
    for words in anchors:
        last = words[-1]
        if last not in passes:
            passes[last] = _occurrences(lowered, last)
        if len(words) == 1:
            starts.update(passes[last])
            continue
        for found in passes[last]:
            start = found
            for word in reversed(words[:-1]):
                start = _word_before(text, lowered, start, word)
                if start < 0:
                    break
            if start >= 0:
                starts.add(start)
    return sorted(starts)


def _lowered(text: str) -> bytes | None:
    """Return one byte per character: ASCII letters in lower case, ``?`` for non-ASCII.

    None when the text holds a case trap (then anchors cannot be used). Encoding with
    "replace" and ``bytes.lower`` are plain C loops: ``str.lower`` on a text with
    non-Latin-1 characters cost more than the anchored scan it serves.
    """
    # ``in`` per character: a regex character class over a long non-ASCII text is slower.
    if not text.isascii() and any(trap in text for trap in _CASE_TRAPS):
        return None
    return text.encode("ascii", "replace").lower()


def _label_matches(
    text: str, lowered: bytes | None, label: re.Pattern[str]
) -> Iterator[re.Match[str]]:
    """Yield the same matches as ``label.finditer(text)``, trying the regex only at anchors.

    ``lowered`` is ``_lowered(text)``, computed once for both labels.
    """
    if lowered is None:
        yield from label.finditer(text)
        return
    reached = 0  # finditer's matches do not overlap: it goes on from the end of the last one
    for start in _label_starts(text, lowered, _ANCHORS[label]):
        if start < reached:
            continue
        match = label.match(text, start)
        if match is not None:
            reached = match.end()
            yield match


# Finds a label's matches in a text, given ``_lowered(text)``.
Matcher = Callable[[str, bytes | None, re.Pattern[str]], Iterable[re.Match[str]]]


def _first_labelled_date(
    text: str, lowered: bytes | None, label: re.Pattern[str], matches: Matcher
) -> date | None:
    """Return the date right after the first occurrence of ``label`` that is followed by one."""
    latest = latest_effective_date()
    for match in matches(text, lowered, label):
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
    return _detect(text, _label_matches)


def _detect(text: str, matches: Matcher) -> date | None:
    """``detect_effective_date`` with label matches found by ``matches`` (tests: the old scan)."""
    for region in (text[:HEAD_CHARS], text):
        lowered = _lowered(region)
        for label in (_EFFECTIVE, _UPDATED):
            found = _first_labelled_date(region, lowered, label, matches)
            if found is not None:
                return found
    return None
