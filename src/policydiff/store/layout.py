"""The store's layout and trailers: names of its files and refs, commit messages, raw git objects.

Everything here is free of a store: constants, and pure helpers that build or parse what
the store writes (trailers, trees, commit headers, times). ``gitstore`` holds the store.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from policydiff import __version__
from policydiff.core.errors import StoreError, UsageError
from policydiff.core.model import Snapshot, Version, capture_range_problem, trailer_value_problem
from policydiff.core.refs import validate_policy_id

STORE_FORMAT = 1
MARKER_FILE = "policydiff-store.json"
POLICIES_DIR = "policies"
TEXT_FILE = "text.md"
SOURCE_SUFFIXES = ("md", "txt", "html", "pdf")
BRANCH = "refs/heads/main"
PREVIOUS_PREFIX = "refs/policydiff/previous/"
TMP_PREFIX = "refs/policydiff/tmp/"
INCOMING_REF = "refs/policydiff/incoming"
CACHE_KEY_BYTES = 32
LOCK_FILE = "policydiff.lock"
IDENTITY_NAME = "policydiff"
IDENTITY_EMAIL = "policydiff@localhost"
# Git's commit-graph keeps commit dates in 34 bits (up to 2514-05-30): a later date is
# stored wrong, and `git fsck` then fails on the graph.
GIT_LATEST_COMMIT_GRAPH_TIME = (1 << 34) - 1

TRAILER_POLICY = "Policy"
TRAILER_CAPTURED = "Captured-At"
TRAILER_EFFECTIVE = "Effective-Date"
TRAILER_SOURCE_URL = "Source-URL"
TRAILER_ARCHIVE_URL = "Archive-URL"
TRAILER_TEXT_SHA = "Text-SHA256"
TRAILER_SOURCE_SHA = "Source-SHA256"
TRAILER_SOURCE_FILE = "Source-File"
TRAILER_RECORDED_BY = "Recorded-By"
TRAILER_TECHNICAL = "Technical"

# A git write that failed with this little room left failed for want of room: git's checkout
# reports only "unable to write file", and its partial file has used up what was left.
_FULL_DISK_BYTES = 1024 * 1024
NO_SPACE = os.strerror(errno.ENOSPC)
# Temporary files that git fast-import (and any pack writer) leaves when it dies. Writers
# hold the store's lock, so under the lock such a file is debris of a dead one; the grace
# spares a git process that someone runs in the store by hand (a push into it, a gc).
_PACK_DEBRIS = ("objects/pack/tmp_*", "fast_import_crash_*")
_DEBRIS_GRACE_SECONDS = 60.0

_TRAILER_KEY = re.compile(r"[A-Z][A-Za-z0-9-]{0,40}")

_README = """\
# policydiff store

This git repository is a policydiff store: an archive of every recorded version of one
or more policies (privacy policies, terms of service). Any git tool can browse it.

- `policies/<policy id>/text.md` holds the policy's text as recorded (UTF-8, LF line
  endings). `git log -p -- policies/<policy id>/text.md` is the policy's timeline and
  `git blame` works on it.
- `policies/<policy id>/source.{md,txt,html}` holds the raw source exactly as received,
  so the text can be re-extracted later without fetching it again.
- Each version is one commit touching one policy, with author and committer dates set
  to the capture time, and trailers (`git log --format=%(trailers)`): `Policy`,
  `Captured-At`, `Effective-Date`, `Source-URL`, `Archive-URL`, `Text-SHA256`,
  `Source-SHA256`, `Source-File`, `Recorded-By`.
- After the first commit, `main` is ordered by capture time. When an older snapshot is
  inserted (a backfill), the later commits are replayed and the previous tip is kept
  under `refs/policydiff/previous/<time>` (`git for-each-ref refs/policydiff/previous`).
- `policydiff-store.json` records the store format version.

Check the archive with `policydiff verify`, or by hand: `git fsck`, and for each commit
compare `sha256sum` of `text.md` with its `Text-SHA256` trailer.
"""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What ``verify`` found: problems (the archive is not intact) and notes for auditors."""

    checked_versions: int
    problems: tuple[str, ...]
    previous_tips: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing was found altered or inconsistent."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What ``sync`` did: versions taken from the remote, versions sent, rewrites."""

    pulled: int
    pushed: int
    reconciled: bool
    skipped_duplicates: int


class SyncRefusedError(StoreError):
    """A remote offered commits that are not well-formed versions: nothing local changed."""

    def __init__(self, remote: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        commits = len({problem.split(":", 1)[0] for problem in problems})
        super().__init__(
            f"refused what {remote} offers: {len(self.problems)} problem(s) in {commits} "
            f"commit(s), first {self.problems[0]}; nothing local was changed (a store "
            "configuration change needs --accept-config)"
        )


# Files outside policies/ that make up the store's configuration: only `sync
# --accept-config` takes changes to them from a remote.
_CONFIG_FILES = (MARKER_FILE, "README.md", "policydiff.toml")
_CONFIG_FOLDERS = ("templates/",)
_MODE_KINDS = {"120000": "a symbolic link", "160000": "a submodule", "100755": "an executable file"}


def _capture_time_problem(stamp: int) -> str | None:
    """Say why a commit time (epoch seconds) is outside the model's capture range."""
    try:
        moment = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        return f"date {stamp} cannot be a capture time"
    return capture_range_problem(moment)


_QUARANTINE_PREFIX = "policydiff-incoming-"
_QUARANTINE_ENV = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")


def _move_objects(source: Path, objects: Path) -> None:
    """Move a quarantine's loose objects and packs into the object database ``objects``.

    Pack data goes before its index (git finds packs by their .idx), and a file the
    store already has is left as it is.
    """
    order = {".pack": 0, ".rev": 1, ".idx": 3}
    files = sorted(
        (path for path in source.rglob("*") if path.is_file()),
        key=lambda path: (order.get(path.suffix, 2), str(path)),
    )
    for path in files:
        target = objects / path.relative_to(source)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)


def _shown(path: str) -> str:
    """Return a path from elsewhere fit for a one-line message (escaped if it is not plain)."""
    return path if path.isprintable() else ascii(path)


_REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REMOTE_URL = re.compile(r"(?:https?|ssh|git|file)://[^\s]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+")


def _git_blob_sha(data: bytes) -> str:
    """Return the git object id a blob with ``data`` would get (SHA-1 repositories)."""
    return _object_id("blob", data)


def _object_id(kind: str, data: bytes) -> str:
    """Return the git (SHA-1) object id of an object of ``kind`` with content ``data``."""
    header = f"{kind} {len(data)}\0".encode()
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


def _tree_items(tree: bytes) -> Iterator[tuple[bytes, int]]:
    """Yield (name, offset of its 20-byte object id) for each entry of a raw tree.

    Stops at the first malformed entry: callers then find the path missing.
    """
    position = 0
    while position < len(tree):
        zero = tree.find(b"\0", position)
        space = tree.find(b" ", position, zero)
        if zero < 0 or space < 0 or zero + 21 > len(tree):
            return
        yield tree[space + 1 : zero], zero + 1
        position = zero + 21


def _tree_entries(tree: bytes) -> dict[str, str]:
    """Return file name -> object id of a raw tree object."""
    return {
        name.decode("utf-8", "replace"): tree[at : at + 20].hex() for name, at in _tree_items(tree)
    }


def _own_files_id(tree: bytes) -> str:
    """Return the id of ``tree`` with its subfolders left out: a policy folder's own files.

    The folders inside a policy's folder belong to the policies nested in it (``acme/sub``
    in ``acme``, which stores made before such ids were refused may hold); they are not
    the outer policy's files.
    """
    position, kept = 0, []
    for _, at in _tree_items(tree):
        if not tree.startswith(b"40000 ", position):
            kept.append(tree[position : at + 20])
        position = at + 20
    return _object_id("tree", b"".join(kept))


def _tree_entry_at(tree: bytes, name: str) -> int | None:
    """Return where the 20-byte object id of entry ``name`` starts in a raw tree, if any."""
    wanted = name.encode("utf-8")
    return next((at for found, at in _tree_items(tree) if found == wanted), None)


def _commit_headers(raw: str) -> tuple[dict[str, list[str]], str]:
    """Split a raw commit object into its header lines (by key, in order) and its message."""
    header, _, message = raw.partition("\n\n")
    headers: dict[str, list[str]] = {}
    for line in header.splitlines():
        key, _, value = line.partition(" ")
        headers.setdefault(key, []).append(value)
    return headers, message


def _commit_time(text: str) -> int | None:
    """Return a commit time git printed (``%ct`` or a header's), or None if git cannot read it.

    Git prints nothing for a date before 1970 (or a malformed one) in ``%ct``; a raw
    header may hold a negative number.
    """
    text = text.strip()
    if not text.lstrip("-").isdigit():
        return None
    return int(text)


def _commit_date_problem(stamp: int | None) -> str | None:
    """Return why git mishandles a commit's date, or None if it handles it."""
    if stamp is None or stamp < 0:
        return "commit date is one git cannot read (before 1970, or malformed)"
    if stamp > GIT_LATEST_COMMIT_GRAPH_TIME:
        return (
            f"commit date {datetime.fromtimestamp(min(stamp, 253402300799), UTC).date()} is "
            "past what git's commit-graph can hold (2514), so git fsck fails on it"
        )
    return None


def _format_time(moment: datetime) -> str:
    """Return ``moment`` as an ISO 8601 UTC timestamp with a Z suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    """Parse a timestamp written by ``_format_time`` (or any ISO 8601 form)."""
    parsed = datetime.fromisoformat(text)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # A hand-made 0001-01-01T00:00:00+01:00 has no UTC form.
        raise ValueError(f"{text!r} is out of range") from None


def _check_trailer_value(key: str, value: str) -> str:
    """Refuse trailer values that could break the commit message structure (model's rule)."""
    problem = trailer_value_problem(value)
    if problem is not None:
        raise UsageError(f"{key} {value[:80]!r} {problem}")
    return value


def _in_own_folder(path: str, folder: str) -> bool:
    """Whether ``path`` is a file of the policy folder ``folder`` ("policies/ID/") itself.

    Files deeper down belong to a policy nested in it (see ``_own_files_id``).
    """
    return path.startswith(folder) and "/" not in path[len(folder) :]


def policy_dir(policy: str) -> str:
    """Return the store path of a policy's folder."""
    return f"{POLICIES_DIR}/{validate_policy_id(policy)}"


def text_path(policy: str) -> str:
    """Return the store path of a policy's text file."""
    return f"{policy_dir(policy)}/{TEXT_FILE}"


def parse_trailers(message: str) -> list[tuple[str, str]]:
    """Return the ``Key: value`` trailers of the last paragraph of a commit message."""
    paragraphs = message.strip().split("\n\n")
    if len(paragraphs) < 2:
        return []
    found: list[tuple[str, str]] = []
    # Lines end at LF only, as git reads them: the writer refuses every other line break
    # (model.is_one_line), and a store written before that rule stays readable.
    for line in paragraphs[-1].split("\n"):
        key, sep, value = line.partition(": ")
        if not sep or _TRAILER_KEY.fullmatch(key) is None:
            return []
        found.append((key, value))
    return found


def build_message(snapshot: Snapshot, hashes: tuple[str, str] | None = None) -> str:
    """Return the commit message (subject and trailers) recording ``snapshot``.

    ``hashes`` (text, source) stand in for the snapshot's own when its text is dropped.
    """
    text_sha, raw_sha = hashes or (snapshot.text_sha256, snapshot.raw_sha256)
    captured = _format_time(snapshot.captured_at)
    subject = f"{snapshot.policy}: record version captured {captured[:10]}"
    if snapshot.technical:
        subject = f"{snapshot.policy}: record technical re-extraction {captured[:10]}"
    trailers: list[tuple[str, str]] = [
        (TRAILER_POLICY, snapshot.policy),
        (TRAILER_CAPTURED, captured),
    ]
    if snapshot.effective_date is not None:
        trailers.append((TRAILER_EFFECTIVE, snapshot.effective_date.isoformat()))
    if snapshot.source_url:
        trailers.append((TRAILER_SOURCE_URL, snapshot.source_url))
    if snapshot.archive_url:
        trailers.append((TRAILER_ARCHIVE_URL, snapshot.archive_url))
    trailers += [
        (TRAILER_TEXT_SHA, text_sha),
        (TRAILER_SOURCE_SHA, raw_sha),
        (TRAILER_SOURCE_FILE, f"source.{snapshot.raw_suffix}"),
        (TRAILER_RECORDED_BY, f"policydiff {__version__}"),
    ]
    if snapshot.technical:
        trailers.append((TRAILER_TECHNICAL, "true"))
    for key, value in snapshot.extra_trailers:
        if _TRAILER_KEY.fullmatch(key) is None:
            raise UsageError(f"invalid trailer name {key!r}")
        trailers.append((key, value))
    body = "\n".join(f"{key}: {_check_trailer_value(key, value)}" for key, value in trailers)
    return f"{subject}\n\n{body}\n"


def version_from_trailers(number: int, commit: str, trailers: Sequence[tuple[str, str]]) -> Version:
    """Build a ``Version`` from a commit's trailers."""
    first: dict[str, str] = {}
    for key, value in trailers:
        first.setdefault(key, value)
    try:
        captured = _parse_time(first[TRAILER_CAPTURED])
        policy = first[TRAILER_POLICY]
        text_sha = first[TRAILER_TEXT_SHA]
    except (KeyError, ValueError) as err:
        raise StoreError(
            f"commit {commit[:10]} is not a policydiff version (missing or bad trailer {err})"
        ) from None
    effective: date | None = None
    if TRAILER_EFFECTIVE in first:
        with contextlib.suppress(ValueError):
            effective = date.fromisoformat(first[TRAILER_EFFECTIVE])
    return Version(
        policy=policy,
        number=number,
        commit=commit,
        captured_at=captured,
        effective_date=effective,
        source_url=first.get(TRAILER_SOURCE_URL),
        archive_url=first.get(TRAILER_ARCHIVE_URL),
        text_sha256=text_sha,
        source_sha256=first.get(TRAILER_SOURCE_SHA),
        recorded_by=first.get(TRAILER_RECORDED_BY),
        technical=first.get(TRAILER_TECHNICAL) == "true",
        trailers=tuple(trailers),
    )


def _identity_env(timestamp: int) -> dict[str, str]:
    """Return the environment that makes git author and commit as policydiff at a time."""
    stamp = f"{timestamp} +0000"
    return {
        "GIT_AUTHOR_NAME": IDENTITY_NAME,
        "GIT_AUTHOR_EMAIL": IDENTITY_EMAIL,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_NAME": IDENTITY_NAME,
        "GIT_COMMITTER_EMAIL": IDENTITY_EMAIL,
        "GIT_COMMITTER_DATE": stamp,
    }


def _identity_from_header(role: str, line: str) -> dict[str, str]:
    """Turn a commit header's ``Name <email> 123 +0000`` into git's identity variables."""
    name, _, rest = line.partition(" <")
    email, _, when = rest.partition("> ")
    return {
        f"GIT_{role}_NAME": name,
        f"GIT_{role}_EMAIL": email,
        f"GIT_{role}_DATE": when,
    }


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _disk_full(path: Path) -> bool:
    """Whether the file system holding ``path`` has (next to) no room left for us."""
    try:
        stat = os.statvfs(path)
    except OSError:
        return False
    # root may use the blocks reserved for it (f_bfree); others only f_bavail.
    blocks = stat.f_bfree if os.geteuid() == 0 else stat.f_bavail
    return blocks * stat.f_frsize < _FULL_DISK_BYTES


def _git_reason(err: Exception) -> str:
    """Return the last meaningful line of a git error, for one-line messages."""
    stderr = getattr(err, "stderr", "") or str(err)
    lines = [line.strip() for line in str(stderr).splitlines() if line.strip()]
    reason = lines[-1] if lines else str(err)
    return reason.removeprefix("stderr: ").strip("'")


def _graph_has_path_filters(path: Path) -> bool:
    """Whether one commit-graph file has changed-path Bloom filters (its BIDX and BDAT chunks)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(8)
            if len(header) < 8 or header[:4] != b"CGPH":
                return False
            lookup = handle.read(12 * (header[6] + 1))
    except OSError:
        return False
    chunks = {lookup[at : at + 4] for at in range(0, len(lookup) - 11, 12)}
    return {b"BIDX", b"BDAT"} <= chunks


def has_path_filters(objects: Path) -> bool:
    """Whether git's commit-graph for ``objects`` has changed-path Bloom filters throughout.

    With them a path-limited walk skips the commits of other policies without reading
    their trees; without, it diffs every commit's trees and costs more than a full walk
    of the commit messages. Git reads the graph of the first object directory that has
    one, the repository's own or an alternate's (a ``git clone --shared``); every layer
    of a split graph must carry the filters, or git diffs the commits of those without.
    """
    folders = [objects]
    with contextlib.suppress(OSError, UnicodeDecodeError):
        alternates = (objects / "info" / "alternates").read_text(encoding="utf-8")
        folders += [
            objects / line.strip()
            for line in alternates.splitlines()
            if line.strip() and not line.startswith("#")
        ]
    for folder in folders:
        single = folder / "info" / "commit-graph"
        if single.is_file():
            return _graph_has_path_filters(single)
        graphs = folder / "info" / "commit-graphs"
        try:
            layers = (graphs / "commit-graph-chain").read_text(encoding="ascii").split()
        except (OSError, UnicodeDecodeError):
            continue
        return bool(layers) and all(
            _graph_has_path_filters(graphs / f"graph-{layer}.graph") for layer in layers
        )
    return False
