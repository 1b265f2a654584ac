"""Parse and validate what users type: policy ids, version refs and dates, before git sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum

from policydiff.core.errors import UsageError

MAX_POLICY_ID_LENGTH = 120

# Lower-case slugs joined by "/": safe as path components and as git pathspecs on every
# filesystem (no case folding clashes, no leading dot or dash, no "..").
_SEGMENT = r"[a-z0-9](?:[a-z0-9_-]|\.(?!\.|lock(?:/|$)))*"
_POLICY_ID = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_HEX = re.compile(r"[0-9a-f]{4,40}")
_NUMBER = re.compile(r"[1-9][0-9]{0,8}")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _printable(text: str) -> str:
    """Return ``text`` safe to echo in a one-line error message."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    return repr(shown)


def validate_policy_id(policy: str) -> str:
    """Return ``policy`` if it is a valid policy id, else raise ``UsageError``."""
    if not policy:
        raise UsageError("policy id is empty")
    if len(policy) > MAX_POLICY_ID_LENGTH:
        raise UsageError(
            f"policy id is too long ({len(policy)} characters, at most {MAX_POLICY_ID_LENGTH})"
        )
    if _POLICY_ID.fullmatch(policy) is None or policy.endswith("."):
        raise UsageError(
            f"invalid policy id {_printable(policy)}: use lower-case letters, digits, '.', '_' "
            "and '-' in segments joined by '/', e.g. 'koozali/privacy-policy'"
        )
    return policy


class PolicyIdSet:
    """Policy ids of which none lies inside another (``acme`` and ``acme/sub`` cannot both be).

    Such ids cannot live side by side: a policy's folder would hold another policy's
    folder, in the store and in the site (``acme/sections`` against ``acme``'s section
    pages). Which ids exist is the store's to say; this only compares, in time linear in
    an id's depth however many ids there are.
    """

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._outer: set[str] = set()  # every proper prefix ("acme" of "acme/sub")

    def add(self, policy: str) -> None:
        """Take ``policy`` in, clash or not (the store may already hold nested ids)."""
        self._ids.add(policy)
        parts = policy.split("/")
        self._outer.update("/".join(parts[:depth]) for depth in range(1, len(parts)))

    def clash(self, policy: str) -> str | None:
        """Return an id of the set that ``policy`` lies inside or around, if any."""
        parts = policy.split("/")
        for depth in range(1, len(parts)):
            outer = "/".join(parts[:depth])
            if outer in self._ids:
                return outer
        if policy in self._outer:
            return min(other for other in self._ids if other.startswith(policy + "/"))
        return None


class RefKind(Enum):
    """The forms a version ref can take."""

    NUMBER = "number"
    LATEST = "latest"
    PREVIOUS = "previous"
    DATE = "date"
    COMMIT = "commit"


@dataclass(frozen=True, slots=True)
class VersionRef:
    """A parsed, validated version ref: never raw user text."""

    kind: RefKind
    number: int | None = None
    on: date | None = None
    commit_prefix: str | None = None

    def describe(self) -> str:
        """Return the ref as the user would write it."""
        if self.kind is RefKind.NUMBER:
            return str(self.number)
        if self.kind is RefKind.DATE and self.on is not None:
            return self.on.isoformat()
        if self.kind is RefKind.COMMIT and self.commit_prefix is not None:
            return self.commit_prefix
        return str(self.kind.value)


LATEST = VersionRef(RefKind.LATEST)
PREVIOUS = VersionRef(RefKind.PREVIOUS)


def parse_iso_date(text: str, *, what: str = "date", allow_future: bool = False) -> date:
    """Parse a strict ``YYYY-MM-DD`` date, refusing impossible and (by default) future ones."""
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        raise UsageError(f"invalid {what} {_printable(text)}: expected YYYY-MM-DD")
    try:
        parsed = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise UsageError(f"invalid {what} {_printable(text)}: no such day") from None
    if not allow_future and parsed > datetime.now(UTC).date():
        raise UsageError(f"{what} {text} is in the future")
    return parsed


def parse_ref(text: str) -> VersionRef:
    """Parse a version ref: ``N``, ``latest``, ``previous``, ``YYYY-MM-DD`` or a hash prefix."""
    lowered = text.strip().lower()
    if lowered in {"latest", "head"}:
        return LATEST
    if lowered == "previous":
        return PREVIOUS
    if _NUMBER.fullmatch(lowered):
        return VersionRef(RefKind.NUMBER, number=int(lowered))
    if _ISO_DATE.fullmatch(lowered):
        return VersionRef(RefKind.DATE, on=parse_iso_date(lowered, what="ref date"))
    if _HEX.fullmatch(lowered):
        return VersionRef(RefKind.COMMIT, commit_prefix=lowered)
    raise UsageError(
        f"invalid version ref {_printable(text)}: use a version number, 'latest', 'previous', "
        "a date (YYYY-MM-DD) or a commit hash prefix (4-40 hex digits)"
    )


def split_policy_ref(text: str) -> tuple[str, VersionRef | None]:
    """Split ``POLICY[@REF]`` into a validated policy id and an optional ref."""
    policy, sep, ref = text.partition("@")
    return validate_policy_id(policy), (parse_ref(ref) if sep else None)
