"""Exit codes and the error hierarchy; each expected failure carries its exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, as diff(1) uses them."""

    OK = 0
    CHANGES_FOUND = 1
    ERROR = 2


class PolicydiffError(Exception):
    """An expected failure: reported as one ``Error: ...`` line, exit code 2."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(PolicydiffError):
    """A bad argument: an invalid policy id, ref, date or option value."""


class InputError(PolicydiffError):
    """A snapshot file that cannot be read, decoded or understood."""


class StoreError(PolicydiffError):
    """The store is missing, not a store, unreadable, or git failed on it."""


class NotAStoreError(StoreError):
    """The selected path is not a policydiff store."""


class StoreBusyError(StoreError):
    """Another process holds the store's write lock for longer than we wait."""


class ViewRefreshError(StoreError):
    """``main`` moved but the working tree could not follow; the next command heals it."""

    def __init__(self, reason: str, recorded: int = 0) -> None:
        self.reason = reason
        self.recorded = recorded
        what = f"{recorded} version{'' if recorded == 1 else 's'}"
        super().__init__(
            f"recorded {what}, but refreshing the working tree failed: {reason}; "
            "the next command will finish it"
        )


class UnknownPolicyError(PolicydiffError):
    """No policy with that id in the store."""


class UnknownVersionError(PolicydiffError):
    """A ref that names no version of the policy."""


class IntegrityError(PolicydiffError):
    """``verify`` found the archive altered or inconsistent."""


class NetworkError(PolicydiffError):
    """A fetch failed after its retries."""
