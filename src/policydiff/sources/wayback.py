"""Backfill a policy from the Wayback Machine: list captures (CDX), fetch each raw, record.

Captures are listed with the CDX API (``output=json``, status 200 only, adjacent identical
captures collapsed by digest) and fetched oldest first in their raw ``id_`` form, so the
page is exactly what the site served. Each becomes a snapshot dated at its capture time,
with the capture URL as ``Archive-URL`` and the page URL as ``Source-URL``; the store
keeps only those whose text differs from the neighbouring versions.

A capture that fails for a passing reason (outage, 429 or 5xx after the retries, a
dropped connection) stops the run there: later captures stay pending, because recording
them first would date a change at the wrong capture. A capture whose content cannot be
used (a 4xx, no text, not a text type) is reported as failed and the run goes on.

Resuming: a capture is skipped when a version of the policy already names it (same
14-digit timestamp in its ``Archive-URL``), or when this clone has seen it before with the
same extraction rules (the local record ``<git dir>/policydiff/wayback-seen.json``, kept
because captures whose text was unchanged leave no trace in the store). Snapshots are
recorded in small batches, and the pending batch is recorded before an interruption
propagates, so a re-run continues where the last one stopped and never records a
capture twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from policydiff.core.config import state_dir, write_json_atomic
from policydiff.core.errors import NetworkError, PolicydiffError, UsageError
from policydiff.core.model import RecordStatus, Snapshot, Version, check_capture_time
from policydiff.sources.fetch import Fetcher, HttpStatusError
from policydiff.sources.ingest import detect_effective_date
from policydiff.sources.ingest.html import EXTRACTOR_VERSION, ExtractRules, PageText, page_text
from policydiff.sources.ingest.wayback import parse_wayback_timestamp
from policydiff.store.gitstore import GitStore

DEFAULT_BATCH = 10
CDX_FIELDS = ("timestamp", "original", "digest", "statuscode", "mimetype")
SEEN_FILE = "wayback-seen.json"
# The charset the HTTP header declared: without it the raw source may not decode the same way.
TRAILER_CHARSET = "Source-Charset"
# Captures of other types (images, PDFs, redirects' placeholders) hold no policy text.
TEXT_MIMETYPES = frozenset(
    {"text/html", "application/xhtml+xml", "text/plain", "text/markdown", "text/x-markdown"}
)

_TIMESTAMP = re.compile(r"\d{14}")
_ARCHIVE_TIMESTAMP = re.compile(r"/web/(\d{14})(?:[a-z]{2}_)?/")


class Outcome:
    """What happened to one capture."""

    RECORDED = RecordStatus.RECORDED
    UNCHANGED = RecordStatus.UNCHANGED
    SKIPPED = "skipped"
    FAILED = "failed"
    # Not tried: the run stopped at an earlier capture that failed for a passing reason.
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture listed by the CDX API."""

    timestamp: str
    original: str
    digest: str
    statuscode: str
    mimetype: str

    @property
    def captured_at(self) -> datetime:
        """The capture time (Wayback timestamps are UTC)."""
        return parse_wayback_timestamp(self.timestamp)

    def raw_url(self, endpoint: str) -> str:
        """Return the URL of the capture as served originally (the ``id_`` form)."""
        return f"{endpoint.rstrip('/')}/web/{self.timestamp}id_/{self.original}"


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """One capture's outcome, with the version it became or the reason it failed."""

    capture: Capture
    status: str
    archive_url: str
    version: Version | None = None
    error: str | None = None


def cdx_url(endpoint: str, url: str, *, since: date | None, until: date | None) -> str:
    """Return the CDX query listing the distinct successful captures of ``url``."""
    params = [
        ("url", url),
        ("output", "json"),
        ("filter", "statuscode:200"),
        ("collapse", "digest"),
        ("fl", ",".join(CDX_FIELDS)),
    ]
    if since is not None:
        params.append(("from", since.strftime("%Y%m%d")))
    if until is not None:
        params.append(("to", until.strftime("%Y%m%d")))
    return f"{endpoint.rstrip('/')}/cdx/search/cdx?{urlencode(params)}"


def parse_cdx(body: bytes) -> list[Capture]:
    """Parse a CDX JSON answer (a header row, then one row per capture), oldest first."""
    try:
        rows = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise NetworkError(f"the Wayback CDX answer is not valid JSON ({err})") from None
    except RecursionError:
        raise NetworkError(
            "the Wayback CDX answer is not a list of rows (nested too deeply)"
        ) from None
    if not isinstance(rows, list):
        raise NetworkError("the Wayback CDX answer is not a list of rows")
    if not rows:
        return []
    header = rows[0]
    if not isinstance(header, list) or not set(CDX_FIELDS) <= set(header):
        raise NetworkError(f"the Wayback CDX answer has an unexpected header row {header!r:.200}")
    index = {name: header.index(name) for name in CDX_FIELDS}
    captures: list[Capture] = []
    for row in rows[1:]:
        if not isinstance(row, list) or len(row) != len(header):
            raise NetworkError(f"the Wayback CDX answer has a malformed row {row!r:.200}")
        values = {name: str(row[i]) for name, i in index.items()}
        if _TIMESTAMP.fullmatch(values["timestamp"]) is None:
            raise NetworkError(
                f"the Wayback CDX answer has a bad timestamp {values['timestamp']!r}"
            )
        capture = Capture(**values)
        # An impossible or out-of-range time means the answer is broken (no real capture
        # predates the web or lies in the future): refuse it whole, as a malformed row.
        try:
            check_capture_time(capture.captured_at, what="capture time")
        except ValueError:
            raise NetworkError(
                f"the Wayback CDX answer has an impossible timestamp {capture.timestamp!r}"
            ) from None
        except UsageError as err:
            raise NetworkError(
                f"the Wayback CDX answer has an unusable capture {capture.timestamp!r}: {err}"
            ) from None
        captures.append(capture)
    # Two URL variants captured in the same second are one capture for our purposes.
    unique = {c.timestamp: c for c in reversed(captures)}
    return sorted(unique.values(), key=lambda c: c.timestamp)


def list_captures(
    fetcher: Fetcher,
    endpoint: str,
    url: str,
    *,
    since: date | None = None,
    until: date | None = None,
) -> list[Capture]:
    """Return the distinct text captures of ``url`` in the date range, oldest first."""
    page = fetcher.get(cdx_url(endpoint, url, since=since, until=until))
    captures = parse_cdx(page.content)
    # The CDX server reads from/to loosely; keep exactly the days asked for.
    return [
        c
        for c in captures
        if c.mimetype in TEXT_MIMETYPES
        and (since is None or c.captured_at.date() >= since)
        and (until is None or c.captured_at.date() <= until)
    ]


def recorded_timestamps(versions: Iterable[Version]) -> set[str]:
    """Return the Wayback timestamps that recorded versions name in their Archive-URL."""
    found: set[str] = set()
    for version in versions:
        if version.archive_url:
            match = _ARCHIVE_TIMESTAMP.search(version.archive_url)
            if match is not None:
                found.add(match[1])
    return found


class SeenLog:
    """This clone's record of captures already fetched and handled, per policy and rules."""

    def __init__(self, git_dir: Path) -> None:
        self.path = state_dir(git_dir) / SEEN_FILE
        self._data: dict[str, dict[str, list[str]]] = {}
        try:
            document: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, RecursionError):
            # A missing or damaged record only costs refetching; the store stays the truth.
            return
        policies = document.get("policies") if isinstance(document, dict) else None
        if isinstance(policies, dict):
            self._data = {
                str(policy): {str(k): [str(t) for t in v] for k, v in rules.items()}
                for policy, rules in policies.items()
                if isinstance(rules, dict)
            }

    def seen(self, policy: str, rules_key: str) -> set[str]:
        """Return the timestamps seen for ``policy`` under ``rules_key``."""
        return set(self._data.get(policy, {}).get(rules_key, []))

    def add(self, policy: str, rules_key: str, timestamps: Iterable[str]) -> None:
        """Remember ``timestamps`` and write the record."""
        current = self._data.setdefault(policy, {}).setdefault(rules_key, [])
        current.extend(sorted(set(timestamps) - set(current)))
        write_json_atomic(self.path, {"format": 1, "policies": self._data})


def rules_key(rules: ExtractRules) -> str:
    """Return what identifies extraction results: the extractor version and the rules."""
    return rules.describe() if rules.select or rules.remove else f"extractor {EXTRACTOR_VERSION}"


def capture_snapshot(
    fetcher: Fetcher,
    capture: Capture,
    *,
    policy: str,
    endpoint: str,
    rules: ExtractRules,
) -> Snapshot:
    """Fetch one capture raw and turn it into a snapshot dated at its capture time."""
    archive_url = capture.raw_url(endpoint)
    page = fetcher.get(archive_url)
    found = page_text(
        page.content,
        url=capture.original,
        media_type=page.media_type,
        charset=page.charset,
        rules=rules,
        max_bytes=fetcher.settings.max_bytes,
    )
    return Snapshot(
        policy=policy,
        text=found.text,
        raw=page.content,
        raw_suffix=found.suffix,
        captured_at=capture.captured_at,
        effective_date=detect_effective_date(found.text),
        source_url=capture.original,
        archive_url=archive_url,
        origin=capture.timestamp,
        extra_trailers=source_trailers(found),
    )


def source_trailers(found: PageText) -> tuple[tuple[str, str], ...]:
    """Return the trailers needed to decode the stored source again (its header charset)."""
    return ((TRAILER_CHARSET, found.charset),) if found.charset else ()


def backfill(
    store: GitStore,
    fetcher: Fetcher,
    captures: list[Capture],
    *,
    policy: str,
    endpoint: str,
    rules: ExtractRules,
    git_dir: Path,
    batch_size: int = DEFAULT_BATCH,
    report: Callable[[CaptureResult], None] | None = None,
    accept_suspect: bool = False,
) -> list[CaptureResult]:
    """Fetch and record ``captures`` oldest first, skipping those already handled.

    A capture that does not look like the policy (an archived error page, a truncated or
    over-broad page) fails with its reasons, unless ``accept_suspect``: then it is
    recorded with a ``Suspect`` trailer. Either way later captures are judged against the
    last plausible one.
    """
    from policydiff.engine.plausibility import SUSPECT_TRAILER, last_good_text, suspect_reasons

    log = SeenLog(git_dir)
    key = rules_key(rules)
    done = recorded_timestamps(store.versions(policy)) | log.seen(policy, key)
    results: list[CaptureResult] = []
    pending: list[tuple[Capture, Snapshot]] = []

    def emit(result: CaptureResult) -> None:
        results.append(result)
        if report is not None:
            report(result)

    def flush() -> None:
        if not pending:
            return
        snapshots = [snap for _, snap in pending]
        by_timestamp = {capture.timestamp: capture for capture, _ in pending}
        pending.clear()
        for outcome in store.record(snapshots):
            capture = by_timestamp[outcome.snapshot.origin or ""]
            emit(
                CaptureResult(
                    capture, outcome.status, outcome.snapshot.archive_url or "", outcome.version
                )
            )
        log.add(policy, key, by_timestamp)

    ordered = sorted(captures, key=lambda c: c.timestamp)
    last_good: list[str | None] = []  # empty until the first capture is judged
    try:
        for position, capture in enumerate(ordered):
            archive_url = capture.raw_url(endpoint)
            if capture.timestamp in done:
                emit(CaptureResult(capture, Outcome.SKIPPED, archive_url))
                continue
            try:
                snapshot = capture_snapshot(
                    fetcher, capture, policy=policy, endpoint=endpoint, rules=rules
                )
            except NetworkError as err:
                emit(CaptureResult(capture, Outcome.FAILED, archive_url, error=str(err)))
                if isinstance(err, HttpStatusError):
                    continue
                # A passing failure (outage, rate limit, dropped connection): recording the
                # later captures now would date a change at the wrong capture, since this
                # one could not be put before them later without duplicating their text.
                for later in ordered[position + 1 :]:
                    emit(CaptureResult(later, Outcome.PENDING, later.raw_url(endpoint)))
                break
            except PolicydiffError as err:
                # This capture's content cannot be used (no text, wrong type, too large).
                emit(CaptureResult(capture, Outcome.FAILED, archive_url, error=str(err)))
                continue
            if not last_good:
                last_good.append(last_good_text(store, policy, snapshot.captured_at))
            reasons = suspect_reasons(last_good[0], snapshot.text)
            if reasons and not accept_suspect:
                # Not remembered as seen: a later run with --accept-suspect can still take it.
                why = "; ".join(reasons)
                emit(
                    CaptureResult(
                        capture,
                        Outcome.FAILED,
                        archive_url,
                        error=f"does not look like the policy ({why}); --accept-suspect "
                        "records it, marked suspect",
                    )
                )
                continue
            if reasons:
                trailer = (SUSPECT_TRAILER, "; ".join(reasons))
                snapshot = replace(snapshot, extra_trailers=(*snapshot.extra_trailers, trailer))
            else:
                last_good[0] = snapshot.text
            pending.append((capture, snapshot))
            done.add(capture.timestamp)
            if len(pending) >= batch_size:
                flush()
    finally:
        # On an interruption too: what was fetched is kept.
        flush()
    return sorted(results, key=lambda r: r.capture.timestamp)
