"""Frozen value types for snapshots (what comes in) and versions (what the store holds)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from policydiff.core.errors import UsageError

# The accepted ranges, in one place: every path that makes a Snapshot (add, import, capture,
# wayback, import-git, reextract) ends up in Snapshot.__post_init__, and the entry points
# call the same checks earlier to name their flag or file.
#
# Captures: no web page is older than the first one (CERN, 1991), and git cannot store a
# commit date before 1970 at all (it writes it, then every read fails) nor keep one after
# 2514 in its commit-graph; a capture can also not lie in the future.
EARLIEST_CAPTURE = datetime(1991, 1, 1, tzinfo=UTC)
# A date-only value means midnight UTC, which is already "tomorrow" for a user east of UTC
# who types today's date; a day of slack covers every time zone and ordinary clock drift.
CLOCK_SKEW = timedelta(days=1)
# Effective dates only ever go into the Effective-Date trailer (never a commit date), so
# old ones are fine; policies are published ahead of taking effect, but not decades ahead.
EFFECTIVE_HORIZON_YEARS = 10

TRAILER_VALUE_MAX = 2000
# Control characters (C0, DEL, C1) and surrogates (not encodable as UTF-8). A pattern
# string, compiled (and cached by re) on first use: only writes check trailer values, and
# a compare or a read has no need to compile it.
_UNPRINTABLE = r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]"


def capture_range_problem(moment: datetime, *, now: datetime | None = None) -> str | None:
    """Return why ``moment`` (aware) cannot be a capture time, or ``None`` if it can."""
    current = now if now is not None else datetime.now(UTC)
    if moment < EARLIEST_CAPTURE:
        return (
            f"{_iso(moment)} is before {EARLIEST_CAPTURE.date().isoformat()} "
            "(the first web page): not a capture time"
        )
    if moment > current + CLOCK_SKEW:
        return f"{_iso(moment)} is in the future"
    return None


def check_capture_time(moment: datetime, *, what: str, now: datetime | None = None) -> datetime:
    """Return ``moment`` in UTC if it is an accepted capture time, else raise ``UsageError``.

    Accepted: from ``EARLIEST_CAPTURE`` up to ``now`` (the clock) plus ``CLOCK_SKEW``.
    A naive ``moment`` is read as UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    problem = capture_range_problem(moment, now=now)
    if problem is not None:
        raise UsageError(f"{what} {problem}")
    return moment.astimezone(UTC)


def latest_effective_date(today: date | None = None) -> date:
    """Return the latest accepted effective date: ``EFFECTIVE_HORIZON_YEARS`` from today."""
    current = today if today is not None else datetime.now(UTC).date()
    try:
        return current.replace(year=current.year + EFFECTIVE_HORIZON_YEARS)
    except ValueError:  # 29 February
        return current.replace(year=current.year + EFFECTIVE_HORIZON_YEARS, day=28)


def check_effective_date(day: date, *, what: str, today: date | None = None) -> date:
    """Return ``day`` if it is an accepted effective date, else raise ``UsageError``."""
    if day > latest_effective_date(today):
        raise UsageError(
            f"{what} {day.isoformat()} is more than {EFFECTIVE_HORIZON_YEARS} years ahead"
        )
    return day


def is_one_line(text: str) -> bool:
    """Whether ``text`` is exactly one line by the widest rule in use: ``str.splitlines``.

    Git and our trailer reader split commit messages at LF only, but Python's
    ``splitlines`` (and other tools) also break at CR, VT, FF, FS, GS, RS, NEL, U+2028 and
    U+2029: a trailer value holding none of them reads back the same under every rule.
    """
    return text.splitlines() == [text]


def trailer_value_problem(value: str) -> str | None:
    """Return why ``value`` cannot be stored as a trailer value, or ``None`` if it can.

    One rule for every writer: one line (``is_one_line``), no control characters or
    surrogates, no surrounding whitespace (the reader strips the message), 1-2000 chars.
    """
    if not value:
        return "is empty"
    if len(value) > TRAILER_VALUE_MAX:
        return f"is longer than {TRAILER_VALUE_MAX} characters"
    if not is_one_line(value):
        breaks = next(c for c in value if not is_one_line(f"a{c}b"))
        return f"holds a line break (U+{ord(breaks):04X}); it must be one line"
    bad = re.search(_UNPRINTABLE, value)
    if bad is not None:
        return f"holds a control character or surrogate (U+{ord(bad[0]):04X})"
    if value != value.strip():
        return "has leading or trailing whitespace"
    return None


def one_line(text: str) -> str:
    """Return ``text`` made storable as a trailer value: breaks and controls become spaces.

    For provenance text copied from elsewhere (a foreign commit's subject), where losing
    a line break matters less than recording the rest.
    """
    cleaned = "".join(" " if not is_one_line(f"a{c}b") else c for c in text)
    cleaned = " ".join(re.sub(_UNPRINTABLE, " ", cleaned).split())
    return cleaned[:TRAILER_VALUE_MAX]


def _iso(moment: datetime) -> str:
    """Return ``moment`` in ISO 8601, in UTC when that is representable."""
    try:
        return moment.astimezone(UTC).isoformat()
    except OverflowError:
        return moment.isoformat()


def sha256_hex(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One captured copy of a policy, ready to be recorded as a version."""

    policy: str
    text: str
    raw: bytes
    raw_suffix: str
    captured_at: datetime
    effective_date: date | None = None
    source_url: str | None = None
    archive_url: str | None = None
    origin: str | None = None
    technical: bool = False
    extra_trailers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        """Refuse a capture time, effective date or provenance value the store cannot hold."""
        check_capture_time(self.captured_at, what="capture time")
        if self.effective_date is not None:
            check_effective_date(self.effective_date, what="effective date")
        for what, value in (("source URL", self.source_url), ("archive URL", self.archive_url)):
            if value:
                problem = trailer_value_problem(value)
                if problem is not None:
                    raise UsageError(f"{what} {value[:80]!r} {problem}")
        for key, value in self.extra_trailers:
            problem = trailer_value_problem(value)
            if problem is not None:
                raise UsageError(f"{key} {value[:80]!r} {problem}")

    @property
    def text_sha256(self) -> str:
        """Hash of the extracted text as stored (UTF-8)."""
        return sha256_hex(self.text.encode("utf-8"))

    @property
    def raw_sha256(self) -> str:
        """Hash of the raw source bytes as received."""
        return sha256_hex(self.raw)


@dataclass(frozen=True, slots=True)
class Version:
    """One recorded version of a policy: a commit in the store and its trailers."""

    policy: str
    number: int
    commit: str
    captured_at: datetime
    effective_date: date | None
    source_url: str | None
    archive_url: str | None
    text_sha256: str
    source_sha256: str | None
    recorded_by: str | None
    technical: bool = False
    trailers: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def illustrative(self) -> bool:
        """Whether the snapshot was marked as an illustrative edit, never a published version."""
        return any(key == "Illustrative" and value == "true" for key, value in self.trailers)

    def trailer(self, key: str) -> str | None:
        """Return the first value of trailer ``key`` on the version's commit, if any."""
        return next((value for name, value in self.trailers if name == key), None)

    @property
    def suspect(self) -> str | None:
        """Why the capture looked like something other than the policy, if it did."""
        return self.trailer("Suspect")

    @property
    def source_repository(self) -> str | None:
        """The git repository a version was imported from (``import-git``), if any."""
        return self.trailer("Source-Repository")

    @property
    def source_commit(self) -> str | None:
        """The commit of ``source_repository`` the text was read from, if any."""
        return self.trailer("Source-Commit")

    @property
    def source_path(self) -> str | None:
        """The file of ``source_repository`` the text was read from, if any."""
        return self.trailer("Source-Path")

    @property
    def source_subject(self) -> str | None:
        """The subject of ``source_commit`` (e.g. "Record new changes of ..."), if any."""
        return self.trailer("Source-Subject")

    @property
    def origin(self) -> str | None:
        """Where the text came from in one line: archive URL, source URL, or repository file."""
        if self.archive_url or self.source_url:
            return self.archive_url or self.source_url
        if self.source_repository:
            commit = f"@{self.source_commit[:12]}" if self.source_commit else ""
            path = f":{self.source_path}" if self.source_path else ""
            return f"{self.source_repository}{commit}{path}"
        return None

    @property
    def short(self) -> str:
        """Abbreviated commit hash for listings."""
        return self.commit[:10]

    @property
    def label(self) -> str:
        """Human label such as ``koozali/privacy-policy@3 (2017-04-22)``."""
        return f"{self.policy}@{self.number} ({self.captured_at.date().isoformat()})"


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """A policy in the store with its version count and date range."""

    policy: str
    versions: int
    first_captured: datetime
    last_captured: datetime
    latest_effective: date | None


class RecordStatus:
    """Outcome names for recording one snapshot."""

    RECORDED = "recorded"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What happened to one snapshot handed to the store."""

    snapshot: Snapshot
    status: str
    version: Version | None = None
    same_as: Version | None = None
