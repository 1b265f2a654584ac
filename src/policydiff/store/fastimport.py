"""Writing: ``git fast-import`` streams, the merge plan of a batch, and the ``Importer``.

``GitStore.record`` and ``GitStore.importer`` write through these; the store itself
plans the merge and moves ``main`` (see ``gitstore``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from policydiff.core.errors import StoreError, UsageError
from policydiff.core.model import RecordResult, Snapshot, sha256_hex
from policydiff.core.refs import validate_policy_id
from policydiff.store.layout import SOURCE_SUFFIXES, TMP_PREFIX, _git_blob_sha, build_message

try:
    import fcntl
except ModuleNotFoundError:  # not POSIX (Windows): the store's safety rests on flock
    from policydiff.core.errors import PlatformError

    raise PlatformError.posix_only() from None

if TYPE_CHECKING:
    from policydiff.store.gitstore import GitStore


@dataclass(frozen=True, slots=True)
class _Entry:
    """One commit of the first-parent chain, as far as replaying it needs."""

    commit: str
    timestamp: int
    policy: str | None
    root: bool = False


@dataclass(frozen=True, slots=True)
class _Merge:
    """Commits that merge a batch into main by capture time, planned before any is written."""

    old_tip: str
    base: str  # the last commit kept as it is; the plan is written on top of it
    replayed: bool  # whether later commits of main are written again (a backfill)
    replays: dict[str, list[str]]  # each replayed commit's changes, as fast-import lines
    results: list[RecordResult]
    plan: list[Snapshot | _Entry]
    recorded: int  # snapshots in the plan


# Bytes the pipe to fast-import may hold (Linux caps it at /proc/sys/fs/pipe-max-size,
# 1 MiB by default; asking more than allowed fails and the default 64 KiB stays).
FAST_IMPORT_PIPE_BYTES = 1 << 20
# Bytes of stream commands waiting for the feeder thread beyond the pipe: when fast-import
# is slow on a run of large blobs, this process goes on reading the next files meanwhile.
FEED_BYTES = 8 << 20


class _FastImport:
    """One ``git fast-import`` writing to a private ref: blobs as they come, commits last.

    Marks are handed out in order, so blobs can be sent before the commits that use them
    are known. Until ``finish`` reads its marks, ``abort`` removes all it wrote. A thread
    feeds the pipe, so a write waits only when ``FEED_BYTES`` are queued already.
    """

    def __init__(self, store: GitStore) -> None:
        """Start fast-import in ``store`` (the caller holds the write lock)."""
        git_dir = Path(store.repo.git_dir)
        self._git_dir = git_dir
        self._failure = store.write_failure
        self.ref = f"{TMP_PREFIX}{os.getpid()}-{time.monotonic_ns()}"
        self._marks_path = git_dir / f"policydiff-marks-{os.getpid()}"
        self._packs_before = set((git_dir / "objects" / "pack").glob("tmp_*"))
        self._nonce = f"{os.getpid()}-{time.time_ns()}"
        self._mark = 0
        self._broken = False
        self._done = False
        self._proc = store.spawn_git(
            "fast-import", "--quiet", "--done", f"--export-marks={self._marks_path}", stdin=True
        )
        set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
        if set_pipe_size is not None and self._proc.stdin is not None:
            # A deep pipe lets this process read and extract the next files while
            # fast-import deltas and compresses the last ones, instead of taking turns.
            with contextlib.suppress(OSError):
                fcntl.fcntl(self._proc.stdin.fileno(), set_pipe_size, FAST_IMPORT_PIPE_BYTES)
        self._queue: deque[bytes] = deque()
        self._queued = 0  # bytes in the queue and in the feeder's hands
        self._ended = False  # no more writes: the feeder stops once the queue is empty
        self._turn = threading.Condition()
        self._feeder = threading.Thread(target=self._feed, name="fast-import feeder", daemon=True)
        self._feeder.start()

    def next_mark(self) -> int:
        """Return a mark no blob or commit of this stream has used."""
        self._mark += 1
        return self._mark

    def write(self, data: bytes) -> None:
        """Send stream commands; once fast-import has died, ``finish`` reports why."""
        with self._turn:
            while self._queued >= FEED_BYTES and not self._broken:
                self._turn.wait()
            if self._broken:
                return
            self._queue.append(data)
            self._queued += len(data)
            self._turn.notify_all()

    def _feed(self) -> None:
        """Write the queued commands to fast-import, in order, until ``_end_feed``."""
        stdin = self._proc.stdin
        assert stdin is not None  # noqa: S101 - spawned with a pipe
        while True:
            with self._turn:
                while not self._queue and not self._ended:
                    self._turn.wait()
                if not self._queue:
                    return
                data = self._queue.popleft()
            if not self._broken:
                try:
                    stdin.write(data)  # the GIL is released while the pipe is full
                except (OSError, ValueError):  # fast-import died, or abort killed it
                    self._broken = True
            with self._turn:
                self._queued -= len(data)
                self._turn.notify_all()

    def _end_feed(self) -> None:
        """Wait until the feeder has written (or, fast-import dead, dropped) all that is queued."""
        with self._turn:
            self._ended = True
            self._turn.notify_all()
        self._feeder.join()

    def blob(self, data: bytes) -> int:
        """Send one blob; return its mark."""
        mark = self.next_mark()
        self.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
        return mark

    def chain_break(self, policy: str) -> None:
        """Send a small blob unique to this write, so no delta chain crosses policies.

        fast-import deltas each blob against the one sent just before it: this one, never
        referenced (git's gc prunes it), starts ``policy``'s group of texts.
        """
        separator = f"policydiff delta-chain break {self._nonce} {policy}\n".encode()
        self.write(b"blob\ndata %d\n" % len(separator) + separator + b"\n")

    def finish(self) -> dict[str, str]:
        """End the stream; return the marks of what was written (``:N`` -> object id)."""
        self.write(b"done\n")
        self._done = True
        self._end_feed()
        _, err = self._proc.communicate()
        try:
            if self._proc.returncode != 0:
                self._drop_debris()
                stderr = err.decode("utf-8", "replace")
                last = (stderr.strip().splitlines() or [f"exit status {self._proc.returncode}"])[-1]
                raise StoreError(
                    "nothing was recorded: writing the new versions failed: "
                    + self._failure(last.removeprefix("fatal: ").removeprefix("error: "))
                )
            return dict(
                line.split(" ", 1)
                for line in self._marks_path.read_text(encoding="ascii").splitlines()
                if line
            )
        finally:
            with contextlib.suppress(FileNotFoundError):
                self._marks_path.unlink()

    def abort(self) -> None:
        """Stop fast-import before "done" (it then writes nothing) and remove its files."""
        if self._done:
            return
        self._done = True
        self._proc.kill()  # a feeder blocked on the full pipe then fails and drops the rest
        with self._turn:
            self._broken = True
            self._turn.notify_all()
        self._end_feed()
        self._proc.communicate()
        self._drop_debris()
        with contextlib.suppress(FileNotFoundError):
            self._marks_path.unlink()

    def _drop_debris(self) -> None:
        """Remove the temporary pack and crash report of this fast-import.

        Pack files that appeared while it ran are its own: writers hold the lock.
        """
        appeared = set((self._git_dir / "objects" / "pack").glob("tmp_*")) - self._packs_before
        for debris in [*appeared, self._git_dir / f"fast_import_crash_{self._proc.pid}"]:
            with contextlib.suppress(FileNotFoundError):
                debris.unlink()


@dataclass(slots=True)
class _Staged:
    """A snapshot whose blobs are in the stream already, kept without its text and source."""

    snapshot: Snapshot  # text and raw emptied
    blob: str  # git blob id of the text
    hashes: tuple[str, str]  # sha256 of the text and of the source, for the commit message
    text_mark: int
    source_mark: int  # 0 until the policy's sources are sent after its texts
    dropped: bool = False


# Sources that differ from their text wait, on disk past this size, until the policy's
# texts are all sent: blobs of one kind then follow each other and delta well.
SOURCE_SPOOL_BYTES = 8 * 1024 * 1024


def _utf8(text: str, raw: bytes) -> bytes:
    """Return ``text`` in UTF-8: ``raw`` itself when it holds exactly that.

    A plain text file's source is its text: checking that by decoding the source costs
    about half of encoding the text, for texts beyond Latin-1 (curly quotes suffice).
    """
    if text.isascii() or b"\r" in raw or raw.startswith(b"---"):
        # ASCII encodes as a copy; line ends or front matter changed, the text differs.
        return text.encode("utf-8")
    try:
        if raw.decode("utf-8") == text:
            return raw
    except UnicodeDecodeError:
        pass
    return text.encode("utf-8")


class Importer:
    """Record many snapshots as one atomic write, holding none of their texts in memory.

    From ``GitStore.importer()``. Each ``add`` sends the snapshot's text (and source) to
    fast-import at once and keeps only its metadata; ``finish`` orders everything by
    capture time, skips unchanged texts, writes the commits and moves ``main``, as
    ``record`` does for a batch. Texts of one policy should come one after the other:
    each change of policy starts a new delta chain.
    """

    def __init__(
        self,
        writer: _FastImport,
        clashes: Callable[[Iterable[str]], dict[str, str]],
        merge_plan: Callable[[list[tuple[Snapshot, str]]], _Merge],
        commit_plan: Callable[
            [_FastImport, _Merge, dict[int, tuple[int, int]], dict[int, str]], list[RecordResult]
        ],
    ) -> None:
        """Take over ``writer``, started under the store's write lock, and the store's steps."""
        self._writer = writer
        self._clashes = clashes
        self._merge_plan = merge_plan
        self._commit_plan = commit_plan
        self._staged: list[_Staged] = []
        self._policy: str | None = None
        self._waiting: list[tuple[_Staged, int]] = []  # sources spooled, with their lengths
        self._spool = tempfile.SpooledTemporaryFile(max_size=SOURCE_SPOOL_BYTES)  # noqa: SIM115

    def add(self, snapshot: Snapshot) -> int:
        """Send a snapshot's blobs to fast-import; return its handle for ``drop``/``retrail``."""
        validate_policy_id(snapshot.policy)
        if snapshot.raw_suffix not in SOURCE_SUFFIXES:
            raise UsageError(f"unknown source type {snapshot.raw_suffix!r}")
        if snapshot.policy != self._policy:
            self._send_sources()
            self._writer.chain_break(snapshot.policy)
            self._policy = snapshot.policy
        text = _utf8(snapshot.text, snapshot.raw)
        same = snapshot.raw == text  # a plain text file: one blob, one hash
        text_sha = sha256_hex(text)
        staged = _Staged(
            replace(snapshot, text="", raw=b""),
            _git_blob_sha(text),
            (text_sha, text_sha if same else sha256_hex(snapshot.raw)),
            self._writer.blob(text),
            0,
        )
        if same:
            staged.source_mark = staged.text_mark
        else:
            self._spool.write(snapshot.raw)
            self._waiting.append((staged, len(snapshot.raw)))
        self._staged.append(staged)
        return len(self._staged) - 1

    def text_sha256(self, handle: int) -> str:
        """Hash of the text sent for ``handle`` (to check that a file read again is the same)."""
        return self._staged[handle].hashes[0]

    def retrail(self, handle: int, extra_trailers: tuple[tuple[str, str], ...]) -> None:
        """Replace the extra trailers of a snapshot already added (its blobs stay)."""
        staged = self._staged[handle]
        staged.snapshot = replace(staged.snapshot, extra_trailers=extra_trailers)

    def drop(self, handle: int) -> None:
        """Leave an added snapshot out of the write (its blobs stay unreferenced)."""
        self._staged[handle].dropped = True

    def policies(self) -> set[str]:
        """Policies of the snapshots added and not dropped."""
        return {s.snapshot.policy for s in self._staged if not s.dropped}

    def finish(self) -> list[RecordResult]:
        """Write the commits and move ``main``; one result per snapshot kept, capture order.

        Results carry the snapshots without their texts. Ties in capture time go by
        policy, then by origin.
        """
        self._send_sources()
        kept = sorted(
            (s for s in self._staged if not s.dropped),
            key=lambda s: (s.snapshot.captured_at, s.snapshot.policy, s.snapshot.origin or ""),
        )
        if not kept:
            self._writer.abort()
            return []
        clashes = self._clashes({s.snapshot.policy for s in kept})
        if clashes:
            raise UsageError(next(iter(clashes.values())))
        merge = self._merge_plan([(s.snapshot, s.blob) for s in kept])
        if not merge.recorded:
            self._writer.abort()
            return merge.results
        planned = {id(item) for item in merge.plan if isinstance(item, Snapshot)}
        chosen = [s for s in kept if id(s.snapshot) in planned]
        blobs = {id(s.snapshot): (s.text_mark, s.source_mark) for s in chosen}
        messages = {id(s.snapshot): build_message(s.snapshot, s.hashes) for s in chosen}
        return self._commit_plan(self._writer, merge, blobs, messages)

    def close(self) -> None:
        """Stop fast-import if ``finish`` did not end it, and free the spool."""
        self._writer.abort()
        self._spool.close()

    def _send_sources(self) -> None:
        """Send the spooled sources of the current policy, after its texts."""
        self._spool.seek(0)
        for staged, length in self._waiting:
            staged.source_mark = self._writer.blob(self._spool.read(length))
        self._waiting.clear()
        self._spool.seek(0)
        self._spool.truncate()
