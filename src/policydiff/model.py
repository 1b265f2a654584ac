"""Frozen value types for snapshots (what comes in) and versions (what the store holds)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime


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
