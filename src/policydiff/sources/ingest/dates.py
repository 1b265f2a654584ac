"""Parse capture times and dates given on the command line, in front matter or in file names."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import PurePath

from policydiff.core.errors import UsageError
from policydiff.core.model import check_capture_time, check_effective_date
from policydiff.core.refs import parse_iso_date

_DATE = r"(?P<y>\d{4})(?P<dash>-?)(?P<mo>\d{2})(?P=dash)(?P<d>\d{2})"
_TIME = (
    r"(?:[T ](?P<h>\d{2})(?P<colon>:?)(?P<mi>\d{2})"
    r"(?:(?P=colon)(?P<s>\d{2})(?:[.,](?P<frac>\d{1,6})\d*)?)?)"
)
_ZONE = r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)"
_TIMESTAMP = re.compile(rf"{_DATE}{_TIME}?[ ]?{_ZONE}?", re.IGNORECASE)
_WAYBACK_DIGITS = re.compile(r"\d{14}")
# In file names: an ISO date (optionally with a time) or a 14-digit Wayback timestamp,
# not glued to other digits, so "v12017-04-220" or a 15-digit id is not a date.
_IN_NAME = re.compile(
    r"(?<!\d)(?:\d{4}-\d{2}-\d{2}(?:T\d{2}:?\d{2}(?::?\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?|\d{14})(?!\d)",
    re.IGNORECASE,
)


def _printable(text: str) -> str:
    """Return ``text`` shortened and quoted for a one-line message."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _zone(text: str | None) -> timezone:
    """Return the fixed offset for ``Z``, ``+HH``, ``+HHMM`` or ``+HH:MM`` (absent means UTC)."""
    if text is None or text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse(text: str) -> datetime:
    """Parse an accepted timestamp form into an aware UTC datetime; ``ValueError`` if not."""
    if _WAYBACK_DIGITS.fullmatch(text):
        # The Wayback form YYYYMMDDhhmmss, always UTC.
        text = f"{text[:8]}T{text[8:]}Z"
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError("unrecognised form")
    parsed = datetime(
        int(match["y"]),
        int(match["mo"]),
        int(match["d"]),
        int(match["h"] or 0),
        int(match["mi"] or 0),
        int(match["s"] or 0),
        int((match["frac"] or "0").ljust(6, "0")),
        tzinfo=_zone(match["zone"]),
    )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 has no UTC form; the range check refuses it by its offset.
        return parsed


def parse_timestamp(text: str, *, now: datetime | None = None, what: str = "time") -> datetime:
    """Parse a capture time into an aware UTC datetime, refusing impossible or out-of-range ones.

    Accepts ``2017-04-22``, ``2017-04-22T08:22[:16[.fff]]`` with ``Z``, ``+02:00`` or
    ``+0200``, the basic forms ``20170422T082216Z`` / ``2017-04-22T082216Z`` and the
    14-digit Wayback form ``20170422082216``. Times without an offset are UTC.
    """
    stripped = text.strip()
    try:
        parsed = _parse(stripped)
    except ValueError:
        raise UsageError(
            f"invalid {what} {_printable(text)}: expected YYYY-MM-DD, an ISO 8601 time "
            "such as 2017-04-22T08:22:16Z, or YYYYMMDDhhmmss"
        ) from None
    return check_capture_time(parsed, what=what, now=now)


def parse_date(text: str, *, what: str = "date") -> date:
    """Parse a ``YYYY-MM-DD`` effective date: any past day, or up to the model's horizon."""
    # Policies are often published before they take effect, so near-future dates are fine.
    day = parse_iso_date(text.strip(), what=what, allow_future=True)
    return check_effective_date(day, what=what)


def date_from_filename(name: str | PurePath) -> datetime | None:
    """Return the first ISO date/time or 14-digit timestamp in a file name, as UTC.

    ``2016-02-08.md``, ``2017-04-22T082216Z.wayback.txt`` and ``20170422082216.html`` all
    qualify. A match that is not a real date (``2017-02-30``) yields ``None``, as does a name
    with no date; out-of-range dates are returned and left to the caller to refuse.
    """
    for match in _IN_NAME.finditer(PurePath(name).name):
        try:
            return _parse(match[0])
        except ValueError:
            continue
    return None
