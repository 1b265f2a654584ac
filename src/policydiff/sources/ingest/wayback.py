"""Recognise a leading Wayback Machine blockquote and take capture time and URLs from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from policydiff.core.errors import InputError

# web.archive.org/web/<14-digit timestamp><optional flag such as id_ or if_>/<archived url>
_WAYBACK_LINK = re.compile(
    r"(?:https?://)?web\.archive\.org/web/(?P<ts>\d{14})(?P<flag>[a-z]{2}_)?/", re.IGNORECASE
)
_QUOTE_LINE = re.compile(r" {0,3}>")
_BLANK_LINES = re.compile(r"(?:[ \t]*\n)*")
_URL_STOP = frozenset(" \t\n<>\"'`]")
_ENCODED_SCHEME = re.compile(r"https?%3a", re.IGNORECASE)
_SQUASHED_SCHEME = re.compile(r"(https?):/(?!/)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WaybackInfo:
    """What a Wayback header says: when the page was captured, where, and from which URL."""

    captured_at: datetime
    archive_url: str
    source_url: str


def _url_end(text: str, start: int) -> int:
    """Return where a URL starting at ``start`` ends: at a space, bracket or unmatched ``)``."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char in _URL_STOP:
            break
        if char == "(":
            depth += 1
        elif char == ")":
            # Markdown closes the link with ")"; URLs such as Wikipedia's carry matched pairs.
            if depth == 0:
                break
            depth -= 1
        index += 1
    return index


def decode_source_url(archived: str) -> str:
    """Return the original URL from the part of a Wayback URL after the timestamp.

    Wayback keeps the URL as it was requested. When even the scheme is percent-encoded
    (``https%3A//wiki.contribs.org/SME_Server%3APrivacy_policy``) the whole URL was encoded
    once, so it is decoded once; otherwise escapes are part of the real URL and kept.
    ``http:/host`` (one slash, as some tools squash it) gets its second slash back.
    """
    url = unquote(archived) if _ENCODED_SCHEME.match(archived) else archived
    return _SQUASHED_SCHEME.sub(r"\1://", url, count=1)


def _skip_blank_lines(text: str, position: int) -> int:
    """Return the start of the first line at or after ``position`` that is not blank."""
    match = _BLANK_LINES.match(text, position)
    return match.end() if match else position


def _header_end(text: str) -> int | None:
    """Return the end of the leading blockquote (after its last line), or ``None`` if none."""
    position = _skip_blank_lines(text, 0)
    if not _QUOTE_LINE.match(text, position):
        return None
    while position < len(text) and _QUOTE_LINE.match(text, position):
        newline = text.find("\n", position)
        position = len(text) if newline == -1 else newline + 1
    return position


def parse_wayback_timestamp(ts: str) -> datetime:
    """Return the UTC time of a 14-digit Wayback timestamp; ValueError if impossible."""
    if len(ts) != 14 or not ts.isdigit():
        raise ValueError(f"not a 14-digit Wayback timestamp: {ts!r}")
    # Slices, not strptime: strptime accepts one-digit fields and can misread "13".
    return datetime(
        int(ts[0:4]),
        int(ts[4:6]),
        int(ts[6:8]),
        int(ts[8:10]),
        int(ts[10:12]),
        int(ts[12:14]),
        tzinfo=UTC,
    )


def parse_wayback_header(text: str) -> tuple[WaybackInfo | None, str]:
    """Return ``(info, body)`` if ``text`` opens with a Wayback header, else ``(None, text)``.

    The header is the run of ``>`` lines at the start of the text (blank lines before it are
    allowed) and must contain a ``web.archive.org/web/<14-digit timestamp>/<url>`` link.
    The body starts at the first non-blank line after that run: for the seed, the line
    ``# SME Server:Privacy policy - SME Server``. Everything before it is dropped.
    """
    end = _header_end(text)
    if end is None:
        return None, text
    header = text[:end]
    link = _WAYBACK_LINK.search(header)
    if link is None:
        return None, text
    url_end = _url_end(header, link.end())
    archived = header[link.end() : url_end]
    if not archived:
        return None, text
    ts = link["ts"]
    try:
        captured = parse_wayback_timestamp(ts)
    except ValueError:
        raise InputError(
            f"Wayback header has an impossible timestamp {ts}; pass --captured"
        ) from None
    archive_url = header[link.start() : url_end]
    if not archive_url.lower().startswith(("http://", "https://")):
        archive_url = "https://" + archive_url
    info = WaybackInfo(
        captured_at=captured, archive_url=archive_url, source_url=decode_source_url(archived)
    )
    return info, text[_skip_blank_lines(text, end) :]
