"""Read one snapshot file into a ``Snapshot``, resolving its metadata from every source."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from policydiff.core.errors import InputError, UsageError
from policydiff.core.model import Snapshot, check_capture_time
from policydiff.core.refs import validate_policy_id
from policydiff.sources.ingest.dates import date_from_filename, parse_date, parse_timestamp
from policydiff.sources.ingest.decode import (
    DEFAULT_MAX_BYTES,
    check_size,
    decode_bytes,
    is_blank,
    lookup_encoding,
    read_at_most,
)
from policydiff.sources.ingest.effective import detect_effective_date
from policydiff.sources.ingest.frontmatter import FrontMatter, split_front_matter
from policydiff.sources.ingest.pdf import pdf_to_markdown
from policydiff.sources.ingest.wayback import WaybackInfo, parse_wayback_header

HtmlExtractor = Callable[[str, str | None], str]
"""Turns decoded HTML (and the page's source URL, if known) into the policy text."""

_HTML_SUFFIXES = frozenset({".html", ".htm"})
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})


def raw_suffix_for(path: Path) -> str:
    """Return the stored suffix for the raw bytes: ``html``, ``pdf``, ``md`` or ``txt``."""
    suffix = path.suffix.lower()
    if suffix in _HTML_SUFFIXES:
        return "html"
    if suffix == ".pdf":
        return "pdf"
    if suffix in _MARKDOWN_SUFFIXES:
        return "md"
    return "txt"


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read ``path`` whole, refusing it before reading when it is over ``max_bytes``."""
    # Refuse FIFOs and devices before opening: opening a FIFO blocks until a writer comes.
    with contextlib.suppress(OSError):
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise InputError(f"{path}: not a regular file")
    try:
        with path.open("rb") as handle:
            reported = os.fstat(handle.fileno()).st_size
            check_size(reported, max_bytes)
            # Read one byte past the limit: files that grow, and pipes, report no usable size.
            raw = read_at_most(handle, max_bytes, reported)
    except FileNotFoundError:
        raise InputError(f"no such file or directory: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a snapshot file") from None
    except InputError as err:
        raise InputError(f"{path}: {err}") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        check_size(len(raw), max_bytes)
    except InputError as err:
        raise InputError(f"{path}: {err}") from None
    return raw


def policy_from_location(path: Path, root: Path) -> str:
    """Return the policy id a file's place under ``root`` implies (not yet validated).

    ``root/koozali/privacy-policy/x.txt`` gives ``koozali/privacy-policy``; a file directly
    in ``root`` gives the name of ``root`` itself.
    """
    try:
        relative = path.relative_to(root)
    except ValueError:
        relative = path.resolve().relative_to(root.resolve())
    parts = relative.parent.parts
    return "/".join(parts) if parts else root.resolve().name


def _resolve_policy(explicit: str | None, front: FrontMatter, path: Path, root: Path | None) -> str:
    """Pick the policy id: argument, then front matter, then the directory under ``root``."""
    if explicit is not None:
        return validate_policy_id(explicit)
    declared = front.get("policy")
    if isinstance(declared, str):
        try:
            return validate_policy_id(declared)
        except UsageError as err:
            raise InputError(f"front matter 'policy': {err}") from None
    if root is None:
        raise InputError("no policy id: pass --policy or add 'policy:' front matter")
    derived = policy_from_location(path, root)
    try:
        return validate_policy_id(derived)
    except UsageError as err:
        raise InputError(
            f"directory {derived!r} is not a usable policy id ({err}); pass --policy"
        ) from None


def _as_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC, reading a naive datetime as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _resolve_captured(
    explicit: datetime | None,
    front: FrontMatter,
    wayback: WaybackInfo | None,
    path: Path,
    now: datetime | None,
) -> datetime:
    """Pick the capture time: argument, front matter, Wayback header, then the file name."""
    if explicit is not None:
        return _as_utc(explicit)  # checked by the caller, and again by Snapshot
    declared = front.get("captured")
    try:
        if isinstance(declared, str):
            return parse_timestamp(declared, now=now, what="front matter 'captured'")
        if wayback is not None:
            return check_capture_time(wayback.captured_at, what="Wayback capture time", now=now)
        named = date_from_filename(path.name)
        if named is not None:
            return check_capture_time(named, what="date in the file name", now=now)
    except UsageError as err:
        raise InputError(str(err)) from None
    raise InputError(
        "no capture time: pass --captured, add 'captured:' front matter "
        "or put the date in the file name (YYYY-MM-DD)"
    )


def _resolve_effective(explicit: date | None, front: FrontMatter, text: str) -> date | None:
    """Pick the effective date: argument, then front matter, then a date stated in the text."""
    if explicit is not None:
        return explicit
    declared = front.get("effective")
    if isinstance(declared, str):
        try:
            return parse_date(declared, what="front matter 'effective'")
        except UsageError as err:
            raise InputError(str(err)) from None
    return detect_effective_date(text)


def _front_str(front: FrontMatter, key: str) -> str | None:
    """Return a string front matter value, or ``None`` when absent."""
    value = front.get(key)
    return value if isinstance(value, str) else None


def read_snapshot(
    path: Path,
    *,
    policy: str | None = None,
    captured: datetime | None = None,
    effective: date | None = None,
    source: str | None = None,
    encoding: str | None = None,
    root: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    extract_html: HtmlExtractor | None = None,
    now: datetime | None = None,
) -> Snapshot:
    """Read a snapshot file and its metadata into a ``Snapshot``.

    Each field takes the first source that has it:

    * policy: ``policy`` argument, front matter ``policy``, directory under ``root``;
    * captured: ``captured`` argument, front matter, Wayback header, date in the file name;
    * effective: ``effective`` argument, front matter, a date stated in the text;
    * source URL: ``source`` argument, front matter ``source``, Wayback header;
    * archive URL: front matter ``archive``, Wayback header.

    Explicit arguments are trusted as given (the CLI has parsed them); values found in the
    file are checked, and a capture time in the future is refused. ``now`` fixes the clock.
    """
    if policy is not None:
        validate_policy_id(policy)
    if encoding is not None:
        # Fail on a bad --encoding before reading, and without the file name in front.
        lookup_encoding(encoding)
    raw = _read_bytes(path, max_bytes)
    suffix = raw_suffix_for(path)
    with _about(path):
        front: FrontMatter = {}
        wayback: WaybackInfo | None = None
        if suffix == "pdf":
            # A PDF carries no front matter: its metadata comes from the arguments and name.
            text = pdf_to_markdown(raw)
        elif suffix == "html":
            text = decode_bytes(raw, encoding=encoding, is_html=True, max_bytes=max_bytes)
            # TODO(ingest-html): without an extractor the stored text is the decoded HTML
            # itself; HTML-to-text extraction is a separate module, passed in as extract_html.
            if extract_html is not None:
                text = extract_html(text, source)
        else:
            text = decode_bytes(raw, encoding=encoding, is_html=False, max_bytes=max_bytes)
            front, text = split_front_matter(text)
            wayback, text = parse_wayback_header(text)
        if is_blank(text):
            raise InputError("empty snapshot: no text after the front matter or header")
        return Snapshot(
            policy=_resolve_policy(policy, front, path, root),
            text=text,
            raw=raw,
            raw_suffix=suffix,
            captured_at=_resolve_captured(captured, front, wayback, path, now),
            effective_date=_resolve_effective(effective, front, text),
            source_url=source
            or _front_str(front, "source")
            or (wayback.source_url if wayback else None),
            archive_url=_front_str(front, "archive") or (wayback.archive_url if wayback else None),
            origin=str(path),
            extra_trailers=(("Illustrative", "true"),) if front.get("illustrative") else (),
            technical=front.get("technical") is True,
        )


@contextmanager
def _about(path: Path) -> Iterator[None]:
    """Put the file's path in front of any ``InputError`` raised inside the block.

    A ``UsageError`` there comes from ``Snapshot``'s own check of a value read from the
    file (a capture time out of range, a URL with a line break): it is this file's error.
    """
    try:
        yield
    except InputError as err:
        raise InputError(f"{path}: {err}") from err
    except UsageError as err:
        raise InputError(f"{path}: {err}") from None
