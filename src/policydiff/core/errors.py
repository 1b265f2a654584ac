"""Exit codes and the error hierarchy; each expected failure carries its exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, as diff(1) uses them."""

    OK = 0
    CHANGES_FOUND = 1
    ERROR = 2
    # 128 + SIGINT, as shells report a command stopped by Ctrl-C.
    INTERRUPTED = 130


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


class NetworkError(PolicydiffError):
    """A fetch failed after its retries."""


class PlatformError(PolicydiffError):
    """This system lacks what policydiff needs: POSIX file locks (``fcntl``)."""

    @classmethod
    def posix_only(cls) -> PlatformError:
        """Return the error for a Python without ``fcntl`` (Windows)."""
        return cls(
            "policydiff needs a POSIX system (Linux, macOS, a BSD): the store locks its "
            "files with fcntl, which this Python does not have"
        )


# Shown as escapes in messages: C0 and C1 controls (terminal escape sequences, newlines,
# carriage returns), DEL and the bidi overrides, which make a name display other than it reads.
_UNSAFE_IN_MESSAGES = {
    code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in (
        *range(0x20),
        0x7F,
        *range(0x80, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    )
}
# A file name that is not valid UTF-8 comes back from the OS with its bytes as lone
# surrogates (U+DC80-U+DCFF); printed as they are, they would fail to encode.
_UNSAFE_IN_MESSAGES.update({code: f"\\x{code - 0xDC00:02x}" for code in range(0xDC80, 0xDD00)})
MAX_SHOWN_PATH = 160


def escape_unsafe(text: str) -> str:
    """Return ``text`` with control characters, bidi overrides and stray surrogates escaped."""
    return text.translate(_UNSAFE_IN_MESSAGES)


def shown(value: object) -> str:
    """Return a path or name safe to print in a one-line message.

    Control characters become escapes, so a file named with a newline or a terminal
    escape sequence can neither forge a line nor drive the terminal; a very long path is
    cut in the middle, so that one ``Error:`` line stays readable.
    """
    text = escape_unsafe(str(value))
    if len(text) > MAX_SHOWN_PATH:
        half = MAX_SHOWN_PATH // 2
        text = f"{text[:half]}...({len(text)} characters)...{text[-half // 2 :]}"
    return text
