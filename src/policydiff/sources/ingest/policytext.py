"""A file's policy text as ``compare`` reads it: decoded, metadata off, HTML and PDF extracted.

One path for the CLI's ``compare FILE`` and the Python API's ``compare_files`` and
``compare_texts``, so that both diff the same text (front matter and a Wayback header
are never compared as if they were policy words).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from policydiff.core.errors import InputError, UsageError
from policydiff.sources.ingest.decode import (
    DEFAULT_MAX_BYTES,
    check_size,
    decode_bytes,
    read_at_most,
)
from policydiff.sources.ingest.effective import detect_effective_date
from policydiff.sources.ingest.frontmatter import FrontMatter, split_front_matter
from policydiff.sources.ingest.wayback import parse_wayback_header

T = TypeVar("T")

_HTML_SUFFIXES = frozenset({".html", ".htm"})


@dataclass(frozen=True, slots=True)
class PolicyText:
    """The text to compare and the dates the file states about itself (labels only)."""

    text: str
    # From the Wayback header, else ``captured:`` front matter; None when neither is usable.
    captured_at: datetime | None
    # From ``effective:`` front matter, else a date the text states; None when neither.
    effective_date: date | None


def policy_text_from_bytes(
    raw: bytes,
    *,
    suffix: str = "",
    encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> PolicyText:
    """Return the policy text of a file's bytes; ``suffix`` (``.html``, ``.pdf``) picks the reader.

    ``encoding`` None: a byte order mark, then an HTML page's declared charset, then
    UTF-8. Raises ``InputError`` (without a file name: callers put theirs in front).
    """
    check_size(len(raw), max_bytes)
    kind = suffix.lower()
    front: FrontMatter = {}
    captured = None
    if kind == ".pdf":
        from policydiff.sources.ingest.pdf import pdf_to_markdown

        text = pdf_to_markdown(raw)
    elif kind in _HTML_SUFFIXES:
        from policydiff.sources.ingest.html import html_to_markdown

        page = decode_bytes(raw, encoding=encoding, is_html=True, max_bytes=max_bytes)
        # A page is compared by its policy text (as markdown), not by its markup.
        text = html_to_markdown(page)
    else:
        text = decode_bytes(raw, encoding=encoding, is_html=False, max_bytes=max_bytes)
        front, text = split_front_matter(text)
        wayback, text = parse_wayback_header(text)
        captured = wayback.captured_at if wayback is not None else None
    if captured is None:
        captured = _front_value(front, "captured", _parse_time)
    effective = _front_value(front, "effective", _parse_day) or detect_effective_date(text)
    return PolicyText(text, captured, effective)


def read_policy_text(
    path: Path, *, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> PolicyText:
    """Read ``path`` (a file, pipe or device) into its policy text; errors name ``name`` or it."""
    shown = str(path) if name is None else name
    try:
        with path.open("rb") as handle:
            check_size(os.fstat(handle.fileno()).st_size, max_bytes)
            # Pipes report no usable size: read one byte past the limit to refuse them too.
            raw = read_at_most(handle, max_bytes)
        return policy_text_from_bytes(raw, suffix=path.suffix, max_bytes=max_bytes)
    except InputError as err:
        raise InputError(f"{shown}: {err}") from None
    except OSError as err:
        raise InputError(f"cannot read {shown}: {err.strerror or err}") from None


def _front_value(front: FrontMatter, key: str, parse: Callable[[str], T]) -> T | None:
    """Return a parsed front matter value, or None if absent or bad (it is only a label here)."""
    value = front.get(key)
    if not isinstance(value, str):
        return None
    try:
        return parse(value)
    except UsageError:
        return None


def _parse_time(value: str) -> datetime:
    """Parse a front matter capture time."""
    # Only for front matter: a file without it needs no date parsing (nor refs, nor model).
    from policydiff.sources.ingest.dates import parse_timestamp

    return parse_timestamp(value, what="front matter 'captured'")


def _parse_day(value: str) -> date:
    """Parse a front matter effective date."""
    from policydiff.sources.ingest.dates import parse_date

    return parse_date(value, what="front matter 'effective'")
