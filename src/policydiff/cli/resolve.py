"""Turn ``[POLICY] [OLD] [NEW]`` arguments into two texts and their sides (files or versions).

Rules, in order (the ``compare`` help repeats them):

* An argument naming an existing file is a file, always; so are ``-`` (standard input,
  at most once), a pipe such as ``/dev/fd/N`` from process substitution
  (``compare old.md <(curl ...)``) and a character device. ``POLICY@REF`` names a version
  of any policy explicitly, so a ref that is also a file name can still be reached.
* No arguments: ``previous`` -> ``latest`` of the only policy.
* One argument: a file -> ``latest`` of the only policy vs the file; a policy the store
  holds -> its ``previous`` vs ``latest``; otherwise a ref -> that version vs ``latest``.
* Two arguments: if the first is a policy the store holds, it is POLICY and the second
  is a file (``latest`` vs the file) or a ref (that version vs ``latest``); otherwise
  they are OLD and NEW, each a file or a ref of the only policy. Two files need no store.
* Three arguments: POLICY, OLD and NEW, the last two files or refs of POLICY.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from policydiff.core.errors import InputError, StoreError, UsageError
from policydiff.engine.report import Side, side_from_text, side_from_version

# Refs are parsed only for arguments that are not files (imported where): two files need none.
if TYPE_CHECKING:
    from policydiff.core.model import Version
    from policydiff.core.refs import VersionRef
    from policydiff.store.gitstore import GitStore

MAX_ARGUMENTS = 3
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# Names with these suffixes are meant as files: a missing one is "no such file".
_FILE_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".html", ".htm"})
STDIN = "-"


class Pair(NamedTuple):
    """Both sides of a comparison and their texts (unpacks as a 4-tuple)."""

    old: Side
    old_text: str
    new: Side
    new_text: str


@dataclass(frozen=True, slots=True)
class _Version:
    """A version to look up: ``policy`` None means the pair's policy (or the only one)."""

    policy: str | None
    ref: VersionRef


_Target = Path | _Version


class _Store:
    """Opens the store on first use only, so that comparing two files never touches it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: GitStore | None = None

    def get(self) -> GitStore:
        """Return the opened store (StoreError if there is none)."""
        if self._store is None:
            from policydiff.store.gitstore import GitStore

            self._store = GitStore(self.path)
        return self._store

    def holds_policy(self, arg: str) -> bool:
        """Whether ``arg`` is the id of a policy in the store."""
        from policydiff.core.refs import validate_policy_id

        try:
            validate_policy_id(arg)
        except UsageError:
            return False
        try:
            store = self.get()
        except StoreError as err:
            if _as_ref(arg) is not None:
                raise  # a ref needs the store anyway: its own error says most
            raise UsageError(
                f"no such file: {_shown(arg)} (nor can it be a policy id: {err})"
            ) from None
        return arg in store.policies()


def resolve_pair(
    args: Sequence[str], store_path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Pair:
    """Resolve ``[POLICY] [OLD] [NEW]`` (see the module docstring) to both sides and texts."""
    if len(args) > MAX_ARGUMENTS:
        raise UsageError(
            f"expected at most three arguments ([POLICY] [OLD] [NEW]), got {len(args)}"
        )
    if list(args).count(STDIN) > 1:
        raise UsageError("'-' (standard input) can be only one of OLD and NEW")
    store = _Store(store_path)
    policy: str | None = None
    old: _Target
    new: _Target
    if not args:
        from policydiff.core.refs import LATEST, PREVIOUS

        old, new = _Version(None, PREVIOUS), _Version(None, LATEST)
    elif len(args) == 1:
        policy, old, new = _one(args[0], store)
    elif len(args) == 2:
        first, second = args
        if _existing_file(first) is None and "@" not in first and store.holds_policy(first):
            _, old, new = _one(second, store, policy_known=True)
            policy = first
        else:
            old, new = _target(first, may_be_policy=True), _target(second)
    else:
        policy = args[0]
        if _existing_file(policy) is not None:
            raise UsageError(f"{_shown(policy)} is a file; compare takes at most two files")
        from policydiff.core.refs import validate_policy_id

        validate_policy_id(policy)
        old, new = _target(args[1]), _target(args[2])
        if isinstance(old, Path) and isinstance(new, Path):
            raise UsageError("POLICY is not used when OLD and NEW are both files; drop it")
    old_side, old_text, old_version = _load(old, policy, store, max_bytes)
    new_side, new_text, new_version = _load(new, policy, store, max_bytes)
    if (
        old_version is not None
        and old_version == new_version
        and isinstance(old, _Version)
        and isinstance(new, _Version)
        and old.ref != new.ref
    ):
        from policydiff.cli.common import message

        # Two dates in one run of a version read as "nothing changed between them": say why.
        message(
            f"Note: {old.ref.describe()} and {new.ref.describe()} both resolve to version "
            f"{old_version.number} of {old_version.policy}"
        )
    return Pair(old_side, old_text, new_side, new_text)


def _one(
    arg: str, store: _Store, *, policy_known: bool = False
) -> tuple[str | None, _Target, _Target]:
    """Resolve a lone argument: a file, a policy (unless one is known) or a ref."""
    from policydiff.core.refs import LATEST, PREVIOUS, split_policy_ref

    file = _existing_file(arg)
    if file is not None:
        return None, _Version(None, LATEST), file
    if "@" in arg:
        named, ref = split_policy_ref(arg)
        return named, _Version(named, ref or LATEST), _Version(named, LATEST)
    if not policy_known and store.holds_policy(arg):
        return arg, _Version(arg, PREVIOUS), _Version(arg, LATEST)
    return None, _version(arg, may_be_policy=not policy_known), _Version(None, LATEST)


def _target(arg: str, *, may_be_policy: bool = False) -> _Target:
    """Return OLD or NEW as a file or a version."""
    file = _existing_file(arg)
    if file is not None:
        return file
    from policydiff.core.refs import LATEST, split_policy_ref

    if "@" in arg:
        named, ref = split_policy_ref(arg)
        return _Version(named, ref or LATEST)
    return _version(arg, may_be_policy=may_be_policy)


def _version(arg: str, *, may_be_policy: bool = False) -> _Version:
    """Return a ref of the pair's policy, or explain what ``arg`` could have been."""
    ref = _as_ref(arg)
    if ref is not None:
        return _Version(None, ref)
    if Path(arg).suffix.lower() in _FILE_SUFFIXES or (os.sep in arg and not may_be_policy):
        raise InputError(f"no such file: {_shown(arg)}")
    policy = "a policy in the store, " if may_be_policy else ""
    raise UsageError(
        f"{_shown(arg)} is not an existing file, {policy}or a version ref (a number, latest, "
        "previous, YYYY-MM-DD, a commit hash prefix or POLICY@REF)"
    )


def _as_ref(arg: str) -> VersionRef | None:
    """Return ``arg`` parsed as a version ref, or None if it is not one."""
    from policydiff.core.refs import parse_ref

    try:
        return parse_ref(arg)
    except UsageError:
        return None


def _existing_file(arg: str) -> Path | None:
    """Return ``arg`` as a path if it is ``-`` or names a file, pipe or character device."""
    if arg == STDIN:
        return Path(STDIN)
    if not arg:
        return None
    try:
        # Followed links: /dev/fd/63 from `<(...)` and /dev/stdin are links to pipes.
        mode = Path(arg).stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            raise  # main() reports it as the user's input
        return None  # a link loop, no permission to look: not a file we can read
    # Pipes and devices are read as files only here, when named as OLD or NEW: what
    # process substitution gives. `add` and `import` still refuse them.
    return Path(arg) if stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) else None


def _shown(arg: str) -> str:
    """Return an argument quoted and shortened for an error message."""
    return repr(arg if len(arg) <= 60 else arg[:57] + "...")


def _load(
    target: _Target, policy: str | None, store: _Store, max_bytes: int
) -> tuple[Side, str, Version | None]:
    """Return the side, text and (if stored) version of a file or a stored version."""
    if isinstance(target, Path):
        return (*read_file(target, max_bytes=max_bytes), None)
    from policydiff.core.refs import RefKind

    opened = store.get()
    named = opened.require_policy(target.policy or policy)
    if target.ref.kind is RefKind.DATE and target.ref.on is not None:
        from policydiff.cli.common import message

        answer = opened.in_force_at(named, target.ref.on)
        version = answer.version
        for caveat in answer.caveats:
            message(f"Warning: {target.ref.describe()}: {caveat}")
    else:
        version = opened.resolve(named, target.ref)
    return side_from_version(version), opened.text(version), version


def read_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[Side, str]:
    """Read a policy file's text: decoded, front matter and Wayback header off, HTML extracted."""
    from policydiff.sources.ingest.policytext import policy_text_from_bytes, read_policy_text

    if str(path) == STDIN:
        name = "stdin"
        try:
            # At most max_bytes + 1 bytes: the decoder refuses more, without reading on.
            found = policy_text_from_bytes(
                sys.stdin.buffer.read(max_bytes + 1), max_bytes=max_bytes
            )
        except InputError as err:
            raise InputError(f"{name}: {err}") from None
        except OSError as err:
            raise InputError(f"cannot read {name}: {err.strerror or err}") from None
    else:
        name = str(path)
        found = read_policy_text(path, max_bytes=max_bytes)
    side = side_from_text(
        name, found.text, captured_at=found.captured_at, effective_date=found.effective_date
    )
    return side, found.text
