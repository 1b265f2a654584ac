"""The git-backed snapshot store: the only module that talks to git.

``GitStore`` is the one entry point; its parts live beside it: ``layout`` (names,
trailers, raw objects), ``fastimport`` (the writer), ``versionindex`` (the history
cache) and ``inforce`` (the in-force rule).

Layout of a store (a normal, non-bare git repository)::

    README.md                      what this is and how to read it with plain git
    policydiff-store.json          {"format": 1, ...}: marks the repository as a store
    policies/<policy id>/text.md   the policy's current text (UTF-8, LF)
    policies/<policy id>/source.*  the raw source as received (.md, .txt or .html)

Every version is one commit on ``main`` that touches one policy's files, dated (author
and committer) at the capture time, with trailers carrying the provenance. After the
root commit, the first-parent chain of ``main`` is ordered by capture time; a snapshot
older than the tip is inserted in its place by replaying the later commits, and the
previous tip is kept under ``refs/policydiff/previous/``.

Writes are atomic: objects are written first with ``git fast-import`` to a private ref,
then ``main`` moves with a compare-and-swap ``update-ref``; the index and the working
tree are a view refreshed afterwards (and healed by the next command if a crash left
them behind). A lock file serialises writers; the compare-and-swap keeps the ref safe
even against writers that ignore the lock.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Self

from policydiff import __version__
from policydiff.core.errors import (
    NotAStoreError,
    StoreBusyError,
    StoreError,
    UnknownPolicyError,
    UnknownVersionError,
    UsageError,
    ViewRefreshError,
)
from policydiff.core.gitenv import git_environment, override
from policydiff.core.model import (
    PolicySummary,
    RecordResult,
    RecordStatus,
    Snapshot,
    Version,
    capture_range_problem,
    is_one_line,
    sha256_hex,
)
from policydiff.core.refs import PolicyIdSet, RefKind, VersionRef, validate_policy_id
from policydiff.store.fastimport import Importer, _Entry, _FastImport, _Merge
from policydiff.store.inforce import InForce, in_force, start_of
from policydiff.store.layout import (
    _CONFIG_FILES,
    _CONFIG_FOLDERS,
    _DEBRIS_GRACE_SECONDS,
    _MODE_KINDS,
    _PACK_DEBRIS,
    _QUARANTINE_ENV,
    _QUARANTINE_PREFIX,
    _README,
    _REMOTE_NAME,
    _REMOTE_URL,
    BRANCH,
    CACHE_KEY_BYTES,
    IDENTITY_EMAIL,
    IDENTITY_NAME,
    INCOMING_REF,
    LOCK_FILE,
    MARKER_FILE,
    NO_SPACE,
    POLICIES_DIR,
    PREVIOUS_PREFIX,
    SOURCE_SUFFIXES,
    STORE_FORMAT,
    TEXT_FILE,
    TMP_PREFIX,
    TRAILER_POLICY,
    TRAILER_SOURCE_FILE,
    SyncRefusedError,
    SyncResult,
    VerifyReport,
    _capture_time_problem,
    _commit_date_problem,
    _commit_headers,
    _commit_time,
    _disk_full,
    _git_blob_sha,
    _git_reason,
    _identity_env,
    _identity_from_header,
    _in_own_folder,
    _move_objects,
    _object_id,
    _own_files_id,
    _process_alive,
    _shown,
    _tree_entries,
    _tree_entry_at,
    build_message,
    has_path_filters,
    parse_trailers,
    policy_dir,
    text_path,
    version_from_trailers,
)
from policydiff.store.versionindex import IndexAlteredError, VersionIndex

try:
    import fcntl
except ModuleNotFoundError:  # not POSIX (Windows): the store's safety rests on flock
    from policydiff.core.errors import PlatformError

    raise PlatformError.posix_only() from None

DEFAULT_LOCK_TIMEOUT = 30.0
# Writing the commit-graph takes seconds even for 100,000 versions; far longer means git
# is stuck on a date it misreads (see _update_commit_graph).
COMMIT_GRAPH_TIMEOUT = 30.0


@dataclass(slots=True)
class _VerifyRecord:
    """One commit of main as verify checks it."""

    commit: str
    parents: list[str]
    stamp: int | None  # committer time; None when git cannot read it
    message: str
    files: list[str]  # paths changed against the first parent
    # The policy folder's entries (name -> blob id) once re-hashed; empty if not.
    entries: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Rehashed:
    """A version commit and the trees down to its policy's folder, re-hashed."""

    problems: list[str]
    commit: bytes  # the raw commit object
    # Raw trees from the root down to the policy's folder; empty if one was missing.
    trees: list[bytes]

    @property
    def entries(self) -> dict[str, str]:
        """The policy folder's entries (file name -> blob id)."""
        return _tree_entries(self.trees[-1]) if self.trees else {}

    def parent_tree_with(self, policy: str, folder_id: str | None) -> str | None:
        """Return the root tree id this commit would have with the policy's folder at ``folder_id``.

        Splicing the id into each tree on the path and re-hashing upwards gives the tree
        the parent must have if the commit changed nothing but that folder. None when the
        folder was absent (``folder_id`` None) or a tree is missing.
        """
        if folder_id is None or not self.trees:
            return None
        parts = policy_dir(policy).split("/")
        child = bytes.fromhex(folder_id)
        for level in range(len(parts) - 1, -1, -1):
            tree = self.trees[level]
            at = _tree_entry_at(tree, parts[level])
            if at is None:
                return None
            child = bytes.fromhex(_object_id("tree", tree[:at] + child + tree[at + 20 :]))
        return child.hex()


def init_store(path: Path) -> Path:
    """Create a new, empty store at ``path`` (which must not already hold files)."""
    import git

    if path.exists() and not path.is_dir():
        raise StoreError(f"cannot create a store at {path}: it is a file")
    if path.is_dir() and any(path.iterdir()):
        if (path / MARKER_FILE).is_file():
            GitStore(path)  # an existing store: check it opens, then leave it alone
            return path
        raise StoreError(f"cannot create a store in {path}: the directory is not empty")
    try:
        path.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(path, initial_branch="main")
        repo.git.update_environment(**git_environment(path))
        with repo.config_writer() as config:
            # Stores are append-mostly archives; make path-limited history fast from the start.
            config.set_value("core", "commitGraph", "true")
            config.set_value("fetch", "writeCommitGraph", "true")
            config.set_value("gc", "writeCommitGraph", "true")
        (path / "README.md").write_text(_README, encoding="utf-8")
        marker = {"format": STORE_FORMAT, "created_by": f"policydiff {__version__}"}
        (path / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        repo.git.add("--", "README.md", MARKER_FILE)
        env = _identity_env(int(time.time()))
        repo.git.commit("-q", "-m", "Create policydiff store", env=env)
    except git.GitCommandError as err:
        raise StoreError(f"git failed creating the store: {_git_reason(err)}") from None
    except OSError as err:
        raise StoreError(f"cannot create a store at {path}: {err.strerror}") from None
    return path


class GitStore:
    """A policydiff store on disk: record snapshots, list and read versions, verify."""

    def __init__(self, path: Path) -> None:
        import git

        self.path = path
        if not path.exists():
            raise NotAStoreError(f"no store at {path} (create one with 'policydiff init {path}')")
        if not path.is_dir():
            raise NotAStoreError(f"{path} is a file, not a policydiff store")
        try:
            self.repo = git.Repo(path)
            # The store may come from elsewhere: its config may not make git run programs.
            self._env = git_environment(path)
            self.repo.git.update_environment(**self._env)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise NotAStoreError(
                f"{path} is not a policydiff store (not a git repository; "
                f"create one with 'policydiff init')"
            ) from None
        if self.repo.bare or Path(self.repo.working_tree_dir or "").resolve() != path.resolve():
            raise NotAStoreError(f"{path} is not a policydiff store (not the top of a work tree)")
        marker = path / MARKER_FILE
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotAStoreError(
                f"{path} is a git repository but not a policydiff store (no {MARKER_FILE})"
            ) from None
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: JSON nested thousands deep is no marker either.
            raise NotAStoreError(f"{path}: {MARKER_FILE} is unreadable") from None
        fmt = data.get("format") if isinstance(data, dict) else None
        if not isinstance(fmt, int):
            raise NotAStoreError(f"{path}: {MARKER_FILE} has no format version")
        if fmt > STORE_FORMAT:
            raise StoreError(
                f"{path} uses store format {fmt}, newer than this policydiff supports "
                f"({STORE_FORMAT}); upgrade policydiff"
            )
        self._versions_cache: dict[str, list[Version]] = {}
        self._index: VersionIndex | None = None
        self._cat_file: subprocess.Popen[bytes] | None = None
        # The tip the index was last checked against, so one command reads a stable view
        # without a rev-parse per policy; every write resets it.
        self._checked_tip: str | None = None
        # What was found wrong with the caches under .git/policydiff (and healed): verify
        # reports it.
        self.cache_problems: list[str] = []
        self._cache_key: bytes | None = None
        # Policies this process read by a walk of their own commits while the history
        # cache held no chain: a second one means a read of many, which the chain serves.
        self._read_alone: set[str] = set()

    # ----------------------------------------------------------------- low level git

    def _git(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run a git command in the store and return its stdout; errors become StoreError."""
        import git

        try:
            out: str = self.repo.git.execute(["git", *args], env=env, strip_newline_in_stdout=False)
        except git.GitCommandError as err:
            raise StoreError(f"git {args[0]} failed: {_git_reason(err)}") from None
        return out

    def _forget(self) -> None:
        """Drop what was read of the history, after this process (or a lock wait) moved it."""
        self._versions_cache.clear()
        self._checked_tip = None

    def _spawn(self, *args: str, stdin: bool = False) -> subprocess.Popen[bytes]:
        """Start a git process in the store with piped output (and input if asked)."""
        return subprocess.Popen(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **self._env},
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def spawn_git(self, *args: str, stdin: bool = False) -> subprocess.Popen[bytes]:
        """Start a git process in the store (for the store's own writers)."""
        return self._spawn(*args, stdin=stdin)

    def _git_ok(self, *args: str) -> bool:
        """Run a git command and return whether it exited 0."""
        import git

        try:
            self.repo.git.execute(["git", *args])
        except git.GitCommandError:
            return False
        return True

    def tip(self) -> str:
        """Return the commit id ``main`` points at."""
        return self._git("rev-parse", "--verify", "--end-of-options", BRANCH).strip()

    def _text_blob_ids(self, commit: str, policies: Sequence[str]) -> dict[str, str]:
        """Return the blob id of each policy's text at ``commit`` (absent policies left out)."""
        found: dict[str, str] = {}
        for start in range(0, len(policies), 500):
            chunk = [text_path(p) for p in policies[start : start + 500]]
            out = self._git("ls-tree", "-z", "--full-tree", commit, "--", *chunk)
            for entry in out.split("\0"):
                meta, _, path = entry.partition("\t")
                if path.endswith(f"/{TEXT_FILE}"):
                    policy = path[len(POLICIES_DIR) + 1 : -len(TEXT_FILE) - 1]
                    found[policy] = meta.split()[2]
        return found

    def read_object(self, spec: str) -> tuple[str, str, bytes] | None:
        """Return (id, type, content) of an object named ``<id>`` or ``<commit>:<path>``.

        One persistent ``git cat-file --batch`` serves every read: a path lookup in a tree
        of a thousand policies costs microseconds in git, not a parse in Python.
        """
        if "\n" in spec:
            raise StoreError("object names cannot contain newlines")
        proc = self._cat_file
        if proc is None or proc.poll() is not None:
            proc = self._cat_file = self._spawn("cat-file", "--batch", stdin=True)
        assert proc.stdin is not None  # noqa: S101 - spawned with pipes
        assert proc.stdout is not None  # noqa: S101 - spawned with pipes
        try:
            proc.stdin.write(spec.encode("utf-8") + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().decode("utf-8").rstrip("\n")
            if not header or header.endswith((" missing", " ambiguous")):
                if not header:
                    raise StoreError("git cat-file stopped answering")
                return None
            object_id, kind, size = header.rsplit(" ", 2)
            data = proc.stdout.read(int(size))
            proc.stdout.read(1)  # the newline after each object
        except (OSError, ValueError) as err:
            self._close_cat_file()
            raise StoreError(f"reading {spec} from git failed: {err}") from None
        return object_id, kind, data

    def read_blob(self, commit: str, path: str) -> bytes | None:
        """Return the bytes of ``path`` at ``commit``, or None if it is absent."""
        found = self.read_object(f"{commit}:{path}")
        if found is None or found[1] != "blob":
            return None
        return found[2]

    def _close_cat_file(self) -> None:
        """Stop the persistent cat-file process, if any."""
        proc, self._cat_file = self._cat_file, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.communicate()

    def close(self) -> None:
        """Release the git processes and the cache connection this store holds."""
        self._close_cat_file()
        if self._index is not None:
            self._index.close()
            self._index = None
        self.repo.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Streams of a cat-file process must not outlive the store (ResourceWarnings).
        with contextlib.suppress(Exception):
            self._close_cat_file()

    # ----------------------------------------------------------------- reading

    def policies(self) -> list[str]:
        """Return the ids of all policies in the store, sorted."""
        out = self._git("ls-tree", "-r", "--name-only", "--full-tree", BRANCH, "--", POLICIES_DIR)
        suffix = f"/{TEXT_FILE}"
        found = [
            line[len(POLICIES_DIR) + 1 : -len(suffix)]
            for line in out.splitlines()
            if line.endswith(suffix)
        ]
        return sorted(found)

    def require_policy(self, policy: str | None) -> str:
        """Return ``policy`` (validated and present), or the only policy if None."""
        if policy is None:
            known = self.policies()
            if len(known) == 1:
                return known[0]
            if not known:
                raise UnknownPolicyError(
                    "the store holds no policies yet (use 'policydiff import')"
                )
            raise UsageError(f"the store holds {len(known)} policies; name one: {', '.join(known)}")
        validate_policy_id(policy)
        if not self.versions(policy):
            import difflib

            known = self.policies()
            folded = {name.casefold(): name for name in known}
            wanted = policy.casefold()
            # "tumblr" is tumblr/terms-of-service: a whole part of an id, or a close spelling.
            close = [name for name in known if wanted in name.casefold().split("/")]
            close += [
                folded[name]
                for name in difflib.get_close_matches(wanted, list(folded), n=3, cutoff=0.75)
            ]
            unique = list(dict.fromkeys(close))[:3]
            hint = f"; did you mean {' or '.join(unique)}?" if unique else ""
            raise UnknownPolicyError(f"no policy {policy!r} in the store{hint}")
        return policy

    def versions(self, policy: str) -> list[Version]:
        """Return every version of ``policy``, oldest first (numbered from 1)."""
        cached = self._versions_cache.get(policy)
        if cached is not None:
            return cached
        messages = self._indexed_messages(policy)
        if messages is None:
            messages = self._logged_messages(policy)
        found = [
            version_from_trailers(number, commit, parse_trailers(message))
            for number, (commit, message) in enumerate(messages, start=1)
        ]
        self._versions_cache[policy] = found
        return found

    def _logged_messages(self, policy: str) -> list[tuple[str, str]]:
        """Return (commit, message) of a policy's versions straight from git (no cache)."""
        return [(commit, self._message(commit)) for commit in self._policy_walk(policy)]

    def _policy_walk(self, policy: str, tip: str | None = None) -> list[str]:
        """Return the commits of ``policy``'s versions, oldest first, from a walk of its folder.

        A version is a first-parent commit whose Policy trailer, as git reads it, names
        the policy (the rule of the full walk that fills the history cache), looked for
        only among the commits that change the policy's folder. The two agree on every
        store policydiff writes or syncs: it writes no version that leaves its folder
        alone, and sync refuses one; such a commit made by hand is a problem verify
        (which reads the full walk) reports. With git's changed-path filters, the
        commits of other policies are skipped without reading them.
        """
        folder = policy_dir(policy) + "/"
        with contextlib.closing(self._walk_first_parent(tip or BRANCH, folder)) as walk:
            found = [entry.commit for entry in walk if entry.policy == policy]
        found.reverse()
        return found

    def _open_index(self) -> VersionIndex | None:
        """Return the history cache as it is (its chain emptied if altered); None if unusable."""
        import sqlite3

        try:
            if self._index is None:
                key = self.cache_key()
                if key is None:
                    return None  # nothing could seal it: read git directly
                index = VersionIndex(Path(self.repo.git_dir) / "policydiff" / "index.sqlite", key)
                try:
                    if not index.sealed():
                        self._drop_chain(index)
                except sqlite3.Error:
                    index.close()  # (never kept: a chain that failed its seal stays unread)
                    raise
                self._index = index
        except (sqlite3.Error, OSError):
            # A read-only or damaged cache only costs speed: callers read git directly.
            return None
        return self._index

    def _fresh_index(self) -> VersionIndex | None:
        """Return the history cache brought up to ``main``, or None if it is unusable."""
        import sqlite3

        index = self._open_index()
        if index is None:
            return None
        try:
            self._refresh_index(index)
        except (sqlite3.Error, OSError):
            return None
        return index

    def cache_key(self) -> bytes | None:
        """Return the key sealing the caches under ``.git/policydiff`` (None if none can be had).

        Made on first use, 32 random bytes readable by the owner only. A cache entry
        whose seal does not match was not written by policydiff in this store (damaged,
        edited by hand, or copied from elsewhere) and is recomputed from git.
        """
        if self._cache_key is not None:
            return self._cache_key
        path = Path(self.repo.git_dir) / "policydiff" / "cache-key"
        for _ in range(2):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                data = b""
            except OSError:
                return None
            if len(data) == CACHE_KEY_BYTES:
                self._cache_key = data
                return data
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle, temporary = tempfile.mkstemp(prefix=".cache-key-", dir=path.parent)
                with os.fdopen(handle, "wb") as out:
                    out.write(secrets.token_bytes(CACHE_KEY_BYTES))
                try:
                    if data:
                        Path(temporary).replace(path)  # a damaged key: its caches go with it
                    else:
                        os.link(temporary, path)  # first writer wins; others read its key
                except FileExistsError:
                    pass
                finally:
                    Path(temporary).unlink(missing_ok=True)
            except OSError:
                return None
        return None

    def _rebuild_index(self, index: VersionIndex) -> None:
        """Refill the history cache from a fresh walk of main, and note that it had to be."""
        tip = self.tip()
        with index.transaction():
            index.truncate_after(None)
            index.append(self._chain_rows(None, tip), tip)
        self._checked_tip = tip
        self.cache_problems.append(
            "history cache (.git/policydiff/index.sqlite) did not match main or its seals "
            "(altered or damaged): rebuilt from git"
        )

    def _drop_chain(self, index: VersionIndex) -> None:
        """Empty the history cache's chain, whose seals do not match, and note that it had to be.

        The next read that needs the chain refills it from git; a read of one policy
        walks that policy's commits instead.
        """
        with index.transaction():
            index.truncate_after(None)
        self._checked_tip = None
        self.cache_problems.append(
            "history cache (.git/policydiff/index.sqlite) did not match main or its seals "
            "(altered or damaged): rebuilt from git"
        )

    def _indexed_messages(self, policy: str) -> list[tuple[str, str]] | None:
        """Return a policy's (commit, message) pairs via the cache, or None if unusable.

        Rows that do not match their seal are never used: the cache is rebuilt from git
        and the answer read from git. While the cache holds no chain (a fresh clone, or
        a chain set aside), the first policy a process reads is walked alone.
        """
        import sqlite3

        index = self._open_index()
        if index is None:
            return None
        try:
            commits: list[str] | None
            if index.tip() is None and self._read_alone <= {policy} and self._walks_cheaply():
                commits = self._alone_commits(index, policy)
            else:
                self._refresh_index(index)
                commits = index.commits(policy)
            if commits is None:
                self._rebuild_index(index)
                commits = index.commits(policy)
                if commits is None:
                    return None
        except (sqlite3.Error, OSError):
            return None
        return [(commit, self._message(commit)) for commit in commits]

    def _walks_cheaply(self) -> bool:
        """Whether a walk limited to one policy's folder skips the other policies' commits."""
        return has_path_filters(Path(self.repo.git_dir) / "objects")

    def _alone_commits(self, index: VersionIndex, policy: str) -> list[str]:
        """Return a policy's commits at the current tip, from its kept list or a walk of it."""
        tip = self._checked_tip = self._checked_tip or self.tip()
        self._read_alone.add(policy)
        try:
            kept = index.policy_list(policy, tip)
        except IndexAlteredError:
            kept = None
            self.cache_problems.append(
                f"history cache (.git/policydiff/index.sqlite): the list of {policy} did not "
                "match its seal (altered or damaged): rebuilt from git"
            )
        if kept is not None:
            return kept
        found = self._policy_walk(policy, tip)
        if found:  # (no list for a policy the store does not hold: a typo stays a typo)
            with index.transaction():
                index.keep_policy_list(policy, tip, found)
        return found

    def _index_matches_git(self, index: VersionIndex) -> bool:
        """Compare the cache and its seals with a fresh walk of main; rebuild it if they differ."""
        import sqlite3

        tip = self._checked_tip or self.tip()
        try:
            fresh = self._chain_rows(None, tip)
            if index.tip() == tip and index.rows() == fresh and index.all_sealed():
                return True
            self._rebuild_index(index)
        except sqlite3.Error:
            pass
        return False

    def _raw_commit(self, commit: str) -> str:
        """Return a commit object (headers, blank line, message) via the persistent cat-file."""
        found = self.read_object(commit)
        if found is None or found[1] != "commit":
            raise StoreError(f"commit {commit[:10]} is missing from the store")
        return found[2].decode("utf-8")

    def _message(self, commit: str) -> str:
        """Return a commit's message."""
        return self._raw_commit(commit).partition("\n\n")[2]

    def _refresh_index(self, index: VersionIndex) -> None:
        """Bring the cache up to the current tip: append new commits, cut back after rewrites."""
        if self._checked_tip is not None and index.tip() == self._checked_tip:
            return
        tip = self.tip()
        self._checked_tip = tip
        if index.tip() == tip:
            return
        try:
            self._update_index(index, tip)
        except IndexAlteredError:
            self._rebuild_index(index)

    def _update_index(self, index: VersionIndex, tip: str) -> None:
        """Move the cache from the tip it describes to ``tip`` (its seals checked first)."""
        with index.transaction():
            known = index.tip()
            if known == tip:
                return
            start: str | None = None
            if known is not None and self._git_ok("cat-file", "-e", f"{known}^{{commit}}"):
                if self._git_ok("merge-base", "--is-ancestor", known, tip):
                    start = known
                else:
                    base = (
                        self._git("merge-base", known, tip).strip()
                        if self._git_ok("merge-base", known, tip)
                        else ""
                    )
                    start = base or None
            index.truncate_after(start)
            index.append(self._chain_rows(start, tip), tip)

    def _chain_rows(self, start: str | None, tip: str) -> list[tuple[str, str | None]]:
        """Return (commit, policy) for the first-parent commits after ``start``, oldest first."""
        return [(entry.commit, entry.policy) for entry in self._first_parent_after(tip, start)]

    def _walk_first_parent(self, tip: str, *paths: str) -> Generator[_Entry, None, None]:
        """Yield ``tip``'s first-parent commits newest first, streaming from one git log.

        Callers stop where they need to (close the generator: git is killed then), rather
        than asking git for ``A..B``: commit dates in a store run backwards (backfills are
        older than the root commit), and git's date-based cut-offs in negative walks then
        include too much. With ``paths``, only the commits that change them are yielded
        (their ``root`` is then meaningless: git rewrites parents to the commits shown).
        """
        proc = self._spawn(
            "log", "--first-parent",
            "--format=%H%x1f%ct%x1f%P%x1f%(trailers:key=Policy,valueonly,separator=)%x1e", tip,
            "--", *paths,
        )  # fmt: skip
        assert proc.stdout is not None  # noqa: S101 - spawned with a pipe
        buffer = b""
        finished = False
        try:
            while chunk := os.read(proc.stdout.fileno(), 1 << 16):
                buffer += chunk
                *records, buffer = buffer.split(b"\x1e")
                for raw in records:
                    fields = raw.decode("utf-8", "replace").strip("\n").split("\x1f", 3)
                    commit, stamp, parents, policy = (*fields, "", "", "")[:4]
                    # A date git cannot read (before 1970, written by an older policydiff or
                    # by hand) counts as older than any capture; verify reports it.
                    yield _Entry(
                        commit,
                        _commit_time(stamp) or 0,
                        policy.strip() or None,
                        root=not parents.split(),
                    )
            finished = True
        finally:
            if not finished:
                proc.kill()  # the caller stopped early: the rest of the history is not needed
            proc.communicate()
        if proc.returncode:
            raise StoreError("git log failed while reading the history")

    def _first_parent_after(self, tip: str, stop: str | None) -> list[_Entry]:
        """Return the first-parent commits from ``tip`` back to (not including) ``stop``."""
        found: list[_Entry] = []
        with contextlib.closing(self._walk_first_parent(tip)) as walk:
            for entry in walk:
                if entry.commit == stop:
                    break
                found.append(entry)
            else:
                if stop is not None:
                    raise StoreError(f"{stop} is not on main's first-parent line")
        found.reverse()
        return found

    def summaries(self) -> list[PolicySummary]:
        """Return each policy with its version count and date range."""
        result = []
        self._fresh_index()  # every policy is read: one walk of the chain serves them all
        for policy in self.policies():
            history = self.versions(policy)
            if not history:
                continue
            effective = [v.effective_date for v in history if v.effective_date is not None]
            result.append(
                PolicySummary(
                    policy=policy,
                    versions=len(history),
                    first_captured=history[0].captured_at,
                    last_captured=history[-1].captured_at,
                    latest_effective=effective[-1] if effective else None,
                )
            )
        return result

    def resolve(self, policy: str, ref: VersionRef | None) -> Version:
        """Return the version of ``policy`` that ``ref`` names (latest when None)."""
        history = self.versions(policy)
        if not history:
            raise UnknownPolicyError(f"no policy {policy!r} in the store")
        if ref is None or ref.kind is RefKind.LATEST:
            return history[-1]
        if ref.kind is RefKind.PREVIOUS:
            if len(history) < 2:
                raise UnknownVersionError(f"{policy} has only one version, so no 'previous'")
            return history[-2]
        if ref.kind is RefKind.NUMBER and ref.number is not None:
            if ref.number > len(history):
                raise UnknownVersionError(
                    f"{policy} has {len(history)} version(s); there is no version {ref.number}"
                )
            return history[ref.number - 1]
        if ref.kind is RefKind.DATE and ref.on is not None:
            return self.in_force_on(policy, ref.on)
        if ref.kind is RefKind.COMMIT and ref.commit_prefix is not None:
            matches = [v for v in history if v.commit.startswith(ref.commit_prefix)]
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise UnknownVersionError(f"commit prefix {ref.commit_prefix} is ambiguous")
            raise UnknownVersionError(f"no version of {policy} has commit {ref.commit_prefix}")
        raise UnknownVersionError(f"cannot resolve {ref.describe()}")

    def in_force_on(self, policy: str, on: date) -> Version:
        """Return the version in force on ``on`` under the rule of ``policydiff.store.inforce``."""
        return self.in_force_at(policy, on).version

    def in_force_at(self, policy: str, on: date) -> InForce:
        """Return the answer of the in-force rule for ``on``, with its dates and caveats."""
        history = self.versions(policy)
        if not history:
            raise UnknownPolicyError(f"no policy {policy!r} in the store")
        answer = in_force(history, on)
        if answer is None:
            raise UnknownVersionError(
                f"no version of {policy} known to be in force on {on.isoformat()} "
                f"(the oldest is in force from {start_of(history[0]).isoformat()})"
            )
        return answer

    def text(self, version: Version) -> str:
        """Return the recorded text of ``version`` exactly."""
        data = self.read_blob(version.commit, text_path(version.policy))
        if data is None:
            raise StoreError(f"{version.label}: text file missing from commit {version.short}")
        return data.decode("utf-8")

    def source(self, version: Version) -> tuple[str, bytes] | None:
        """Return the raw source file name and bytes of ``version``, if it has one."""
        for suffix in SOURCE_SUFFIXES:
            name = f"source.{suffix}"
            data = self.read_blob(version.commit, f"{policy_dir(version.policy)}/{name}")
            if data is not None:
                return name, data
        return None

    # ----------------------------------------------------------------- writing

    @contextlib.contextmanager
    def write_lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the store's write lock, waiting at most ``timeout`` seconds for it."""
        if timeout is None:
            timeout = float(os.environ.get("POLICYDIFF_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
        lock_path = Path(self.repo.git_dir) / LOCK_FILE
        try:
            handle = lock_path.open("a+")
        except OSError as err:
            if err.errno in {errno.EACCES, errno.EROFS, errno.EPERM}:
                raise StoreError(f"store {self.path} is read-only: {err.strerror}") from None
            raise StoreError(f"cannot open the store lock: {err.strerror}") from None
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreBusyError(
                            f"store busy: another policydiff process has been writing to "
                            f"{self.path} for over {timeout:g} s; try again later"
                        ) from None
                    time.sleep(0.05)
            self._forget()
            yield
        finally:
            handle.close()

    def _check_writable(self) -> None:
        """Refuse to write when git's own index lock is held or the view has local edits."""
        git_dir = Path(self.repo.git_dir)
        self._clear_own_index_lock()
        if (git_dir / "index.lock").exists():
            raise StoreBusyError(
                f"store busy: {git_dir / 'index.lock'} exists (another git process is running "
                "in the store; if none is, remove that file)"
            )
        if not os.access(git_dir / "objects", os.W_OK):
            raise StoreError(f"store {self.path} is read-only")
        self._clean_leftovers()
        self.heal_view()
        dirty = self.local_changes()
        if dirty == ["policydiff.toml"]:
            raise StoreError(
                "policydiff.toml in the working tree has changes that are not committed: "
                "record them with 'policydiff config commit' (or discard them with "
                f"'git -C {self.path} checkout -- policydiff.toml')"
            )
        if dirty:
            raise StoreError(
                f"the store's working tree has local changes ({', '.join(dirty[:3])}); they are "
                f"not part of the archive: discard them with 'git -C {self.path} checkout -- .'"
            )

    def local_changes(self) -> list[str]:
        """Return paths whose working-tree copy differs from the recorded tip."""
        out = self._git("status", "--porcelain=v1", "-z", "--untracked-files=no")
        return [entry[3:] for entry in out.split("\0") if entry.strip()]

    def heal_view(self) -> bool:
        """Bring the index and working tree up to ``main`` if a write left them behind.

        A write moves ``main`` first and refreshes the view after; a crash or a full disk
        in between leaves the index at the old tip and files old, new, missing or (the
        refresh was cut while writing one) a truncated start of the new content, tracked
        or not. Such a view is ours to finish. A file with any other content is a user's
        edit: nothing is touched, and ``local_changes`` reports it. Runs under the lock.
        """
        self._clear_own_index_lock()
        marker = self._refresh_marker()
        head_tree = self._git("rev-parse", f"{BRANCH}^{{tree}}").strip()
        index_tree = self._git("write-tree").strip()
        if index_tree == head_tree:
            # git writes the index last: a refresh that got this far was complete.
            marker.unlink(missing_ok=True)
            return False
        moved = self._git("diff-tree", "-r", "--no-renames", "--name-only", "-z",
                          index_tree, head_tree)  # fmt: skip
        changed = self._git("diff-files", "--name-only", "-z")
        paths = sorted({p for p in (moved + "\0" + changed).split("\0") if p})
        if not self._view_left_by_refresh(paths, index_tree, cut=marker.exists()):
            return False
        # --reset overwrites the untracked half-written files a cut refresh leaves.
        self._git("read-tree", "--reset", "-u", head_tree)
        marker.unlink(missing_ok=True)
        return True

    def _refresh_marker(self) -> Path:
        """Return the file that says a view refresh is under way (and by which process)."""
        return Path(self.repo.git_dir) / "policydiff" / "view-refresh"

    def _refresh_view(self, old_tip: str, new_tip: str) -> None:
        """Move the index and working tree from ``old_tip`` to ``new_tip`` after a write.

        On failure (a full disk) the data is safe in ``main`` and the marker stays, so the
        next command knows the view is a cut refresh of ours and heals it; the caller
        reports what was recorded.
        """
        marker = self._refresh_marker()
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(str(os.getpid()), encoding="ascii")
            self._git("read-tree", "-m", "-u", old_tip, new_tip)
        except OSError as err:
            raise ViewRefreshError(self.write_failure(err.strerror or str(err))) from None
        except StoreError as err:
            raise ViewRefreshError(self.write_failure(str(err))) from None
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()

    def write_failure(self, detail: str) -> str:
        """Say why a write into the store failed: a full disk by name, else git's words."""
        if NO_SPACE in detail or _disk_full(self.path):
            return NO_SPACE
        return detail

    def _clear_own_index_lock(self) -> None:
        """Remove an index.lock that a killed policydiff view refresh left behind.

        Only when the refresh marker names a dead process and the lock was taken within
        seconds of it: a lock held by anyone else is left for the user to judge.
        """
        marker = self._refresh_marker()
        lock = Path(self.repo.git_dir) / "index.lock"
        try:
            pid = int(marker.read_text(encoding="ascii"))
            marker_time = marker.stat().st_mtime
            lock_time = lock.stat().st_mtime
        except (OSError, ValueError):
            return
        if pid == os.getpid() or _process_alive(pid) or not 0 <= lock_time - marker_time < 10:
            return
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()

    def _view_left_by_refresh(self, paths: list[str], index_tree: str, *, cut: bool) -> bool:
        """Whether each path holds what a refresh from the index to ``main`` can leave.

        That is ``main``'s content, the index's, nothing, or, when the refresh marker says a
        refresh was cut (``cut``), a start of ``main``'s content (a file git was writing).
        """
        blobs: dict[str, dict[str, str]] = {BRANCH: {}, index_tree: {}}
        for tree, found in blobs.items():
            for entry in self._git("ls-tree", "-z", tree, "--", *paths).split("\0"):
                meta, _, path = entry.partition("\t")
                if path:
                    found[path] = meta.split()[2]
        for path in paths:
            on_disk = self.path / path
            if not on_disk.exists() and not on_disk.is_symlink():
                continue
            if on_disk.is_symlink() or not on_disk.is_file():
                return False  # never ours: the view holds regular files only
            data = on_disk.read_bytes()
            if _git_blob_sha(data) in (blobs[BRANCH].get(path), blobs[index_tree].get(path)):
                continue
            wanted = self.read_blob(BRANCH, path) if cut and path in blobs[BRANCH] else None
            if wanted is None or len(data) >= len(wanted) or not wanted.startswith(data):
                return False
        return True

    def _clean_leftovers(self) -> None:
        """Remove the private refs, marks and pack files of writers that died (we hold the lock)."""
        for ref in self._git("for-each-ref", "--format=%(refname)", TMP_PREFIX).split():
            self._git("update-ref", "-d", ref)
        git_dir = Path(self.repo.git_dir)
        for marks in git_dir.glob("policydiff-marks-*"):
            with contextlib.suppress(FileNotFoundError):
                marks.unlink()
        stale = time.time() - _DEBRIS_GRACE_SECONDS
        for pattern in _PACK_DEBRIS:
            for debris in git_dir.glob(pattern):
                with contextlib.suppress(FileNotFoundError):
                    if debris.is_file() and debris.stat().st_mtime < stale:
                        debris.unlink()

    def _move_main(self, new_tip: str, old_tip: str, reason: str) -> None:
        """Compare-and-swap ``main`` from ``old_tip`` to ``new_tip``, or fail saying why."""
        if not self._git_ok("update-ref", "-m", reason, BRANCH, new_tip, old_tip):
            raise StoreBusyError(
                "main moved while this command was writing (another process changed the "
                "store without policydiff's lock); nothing was recorded: run the command again"
            )

    def _update_commit_graph(self) -> None:
        """Add the new commits to git's commit-graph, with changed-path Bloom filters.

        Path-limited history (``git log -- policies/ID``, used by verify and blame) then
        skips commits of other policies without reading their trees, so a policy's history
        costs about the same in a store of 100,000 versions as in one of 10. The graph is
        incremental (``--split``) and only a cache: failure is harmless.

        Bounded in time: on a history holding a commit dated before 1970 (written by hand,
        or by policydiff before capture times were checked), git's pass over corrected
        commit dates never ends. Then the graph is written with plain topological levels
        (generation version 1), which git computes fine, and later writes run normally.
        """
        write = ("commit-graph", "write", "--reachable", "--changed-paths", "--split")
        if not self._git_bounded(*write, "--no-progress"):
            self._git_bounded("-c", "commitGraph.generationVersion=1", *write, "--no-progress")

    def _git_bounded(self, *args: str) -> bool:
        """Run git for at most ``COMMIT_GRAPH_TIMEOUT`` seconds; whether it finished with 0."""
        proc = self._spawn(*args)
        try:
            proc.communicate(timeout=COMMIT_GRAPH_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return False
        return proc.returncode == 0

    def _keep_previous_tip(self, tip: str) -> None:
        """Keep ``tip`` under refs/policydiff/previous/ unless a kept ref already holds it."""
        if self._git("for-each-ref", "--points-at", tip, "--format=%(refname)", PREVIOUS_PREFIX):
            return
        moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self._git("update-ref", f"{PREVIOUS_PREFIX}{moment}-{tip[:10]}", tip, "")

    def record(
        self,
        snapshots: Iterable[Snapshot],
        *,
        lock_timeout: float | None = None,
    ) -> list[RecordResult]:
        """Record snapshots as versions (in capture order), skipping unchanged texts."""
        batch = sorted(snapshots, key=lambda s: (s.captured_at, s.policy))
        if not batch:
            return []
        for snap in batch:
            validate_policy_id(snap.policy)
            if snap.raw_suffix not in SOURCE_SUFFIXES:
                raise UsageError(f"unknown source type {snap.raw_suffix!r}")
        with self.write_lock(lock_timeout):
            self._check_writable()
            clashes = self.policy_clashes([snap.policy for snap in batch])
            if clashes:
                raise UsageError(next(iter(clashes.values())))
            return self._record_locked(batch)

    # ----------------------------------------------------------------- settings

    def settings_bytes(self) -> bytes | None:
        """Return the committed settings file on main (None if absent), bounded in size."""
        from policydiff.core.settings import MAX_SETTINGS_BYTES, SETTINGS_FILE, SettingsError

        listed = self._git("ls-tree", "-l", "--full-tree", BRANCH, "--", SETTINGS_FILE)
        if not listed.strip():
            return None
        meta = listed.split("\t", 1)[0].split()
        if meta[0] != "100644" or meta[1] != "blob":
            raise SettingsError(f"{SETTINGS_FILE} on main is not a plain file")
        if int(meta[3]) > MAX_SETTINGS_BYTES:
            raise SettingsError(
                f"{SETTINGS_FILE} is {meta[3]} bytes, over the limit of {MAX_SETTINGS_BYTES}"
            )
        return self.read_blob(BRANCH, SETTINGS_FILE)

    def git_settings(self) -> dict[str, str]:
        """Return the clone's ``git config policydiff.*`` values (name as git prints it)."""
        out = self._git_ok_out("config", "-z", "--get-regexp", r"^policydiff\.")
        found: dict[str, str] = {}
        for entry in out.split("\0"):
            name, _, value = entry.partition("\n")
            if name:
                found[name] = value
        return found

    def _git_ok_out(self, *args: str) -> str:
        """Run git and return its output, or "" when it exits non-zero (nothing found)."""
        proc = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **self._env},
            capture_output=True,
            check=False,
        )
        return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else ""

    def set_git_setting(self, name: str, value: str | None) -> bool:
        """Set (or with None unset) ``name`` in the clone's git config; return if it changed."""
        if value is None:
            return self._git_ok("config", "--local", "--unset-all", name)
        self._git("config", "--local", "--replace-all", name, value)
        return True

    def record_settings(self, content: bytes, subject: str, *, from_work_tree: bool) -> bool:
        """Commit ``content`` as the settings file on main (one ``settings:`` commit).

        Written like versions: fast-import to a private ref, then a compare-and-swap of
        main under the write lock. ``from_work_tree``: the content is the edited file in
        the working tree, which is then the one local change allowed. Returns False when
        the file already holds ``content``.
        """
        from policydiff.core.settings import SETTINGS_FILE, SETTINGS_SUBJECT, parse_settings

        parse_settings(content)  # never commit a file policydiff would refuse to read
        if not subject.startswith(SETTINGS_SUBJECT) or "\n" in subject:
            raise UsageError(f"a settings subject is one line starting {SETTINGS_SUBJECT!r}")
        with self.write_lock():
            self._clear_own_index_lock()
            self.heal_view()
            dirty = [p for p in self.local_changes() if not (from_work_tree and p == SETTINGS_FILE)]
            if dirty:
                raise StoreError(
                    f"the store's working tree has local changes ({', '.join(dirty[:3])}); "
                    f"discard them with 'git -C {self.path} checkout -- .'"
                )
            self._check_writable_objects()
            old_tip = self.tip()
            if self.read_blob(old_tip, SETTINGS_FILE) == content:
                return False
            new_tip = self._fast_import_settings(old_tip, content, subject)
            if self.signing():
                new_tip, _ = self._sign_chain(old_tip, new_tip)
            self._move_main(new_tip, old_tip, f"policydiff: {subject}")
            self._forget()
            if from_work_tree:
                # The view goes back to the old file (none: no file) and forward again with
                # the rest; the new content is safe in main by now.
                if self.read_blob(old_tip, SETTINGS_FILE) is None:
                    self._git("rm", "-q", "--cached", "--ignore-unmatch", "--", SETTINGS_FILE)
                    (self.path / SETTINGS_FILE).unlink(missing_ok=True)
                else:
                    self._git("checkout-index", "-f", "-u", "--", SETTINGS_FILE)
            self._refresh_view(old_tip, new_tip)
        return True

    def _check_writable_objects(self) -> None:
        """Refuse to write when git's index lock is held or the object folder is read-only."""
        git_dir = Path(self.repo.git_dir)
        if (git_dir / "index.lock").exists():
            raise StoreBusyError(f"store busy: {git_dir / 'index.lock'} exists")
        if not os.access(git_dir / "objects", os.W_OK):
            raise StoreError(f"store {self.path} is read-only")
        self._clean_leftovers()

    def _fast_import_settings(self, base: str, content: bytes, subject: str) -> str:
        """Write one commit changing only the settings file on top of ``base``; return it."""
        from policydiff.core.settings import SETTINGS_FILE

        tmp_ref = f"{TMP_PREFIX}{os.getpid()}-{time.monotonic_ns()}"
        stamp = int(time.time())
        message = f"{subject}\n".encode()
        stream = (
            f"commit {tmp_ref}\n"
            f"author {IDENTITY_NAME} <{IDENTITY_EMAIL}> {stamp} +0000\n"
            f"committer {IDENTITY_NAME} <{IDENTITY_EMAIL}> {stamp} +0000\n"
            f"data {len(message)}\n".encode()
            + message
            + f"\nfrom {base}\nM 100644 inline {SETTINGS_FILE}\ndata {len(content)}\n".encode()
            + content
            + b"\ndone\n"
        )
        proc = self._spawn("fast-import", "--quiet", "--done", stdin=True)
        _, err = proc.communicate(stream)
        try:
            if proc.returncode != 0:
                last = (err.decode("utf-8", "replace").strip().splitlines() or ["failed"])[-1]
                raise StoreError(f"nothing was changed: writing the settings failed: {last}")
            return self._git("rev-parse", "--verify", tmp_ref).strip()
        finally:
            with contextlib.suppress(StoreError):
                self._git("update-ref", "-d", tmp_ref)

    def policy_clashes(self, policies: Iterable[str]) -> dict[str, str]:
        """Return {policy: why it is refused} for the new ``policies`` that would nest.

        A new id may neither lie inside an existing policy's id nor around one (``acme``
        and ``acme/sub``), nor around or inside another new one (the first in sorted
        order wins). Policies already in the store are left alone: stores made before
        this rule may hold such pairs, and they keep working.
        """
        wanted = sorted(set(policies))
        paths: set[str] = set()
        for policy in wanted:
            parts = policy.split("/")
            paths.update(text_path("/".join(parts[:depth])) for depth in range(1, len(parts)))
            paths.add(policy_dir(policy))
        listed = sorted(paths)
        existing: set[str] = set()
        suffix = f"/{TEXT_FILE}"
        for start in range(0, len(listed), 500):
            out = self._git(
                "ls-tree", "-r", "-z", "--name-only", "--full-tree", BRANCH, "--",
                *listed[start : start + 500],
            )  # fmt: skip
            existing.update(
                line[len(POLICIES_DIR) + 1 : -len(suffix)]
                for line in out.split("\0")
                if line.endswith(suffix)
            )
        clashes: dict[str, str] = {}
        known = PolicyIdSet()
        for policy in existing:
            known.add(policy)
        for policy in wanted:
            if policy in existing:
                continue
            other = known.clash(policy)
            if other is None:
                known.add(policy)
                continue
            where = "existing" if other in existing else "new"
            clashes[policy] = (
                f"policy id {policy!r} clashes with the {where} policy {other!r}: one policy's "
                "folder cannot hold another's; choose an id that is not inside or around it"
            )
        return clashes

    def _chain_since(self, tip: str, oldest: int) -> tuple[str, list[_Entry]]:
        """Return the base commit and the first-parent commits after it dated > ``oldest``.

        Reads the chain newest first and stops at the first commit not later, so appending
        (the common case) costs one commit read whatever the history's depth. Commits of
        the very second ``oldest`` stay in the base: a snapshot of that second goes after
        them anyway, so replaying them would only rewrite them as they are (and keep the
        old tip for nothing), which ``track`` recording many pages a second would do.
        """
        later: list[_Entry] = []
        with contextlib.closing(self._walk_first_parent(tip)) as walk:
            for entry in walk:
                if entry.root or entry.timestamp <= oldest:
                    return entry.commit, later[::-1]
                later.append(entry)
        return tip, later[::-1]

    def _record_locked(self, batch: list[Snapshot]) -> list[RecordResult]:
        """Merge ``batch`` into ``main`` by capture time and move the ref atomically."""
        merge = self._merge_plan(
            [(snap, _git_blob_sha(snap.text.encode("utf-8"))) for snap in batch]
        )
        if not merge.recorded:
            return merge.results
        planned = [item for item in merge.plan if isinstance(item, Snapshot)]
        writer = _FastImport(self)
        try:
            blobs = self._emit_blobs(writer, planned)
            messages = {id(snap): build_message(snap) for snap in planned}
        except BaseException:
            writer.abort()
            raise
        return self._commit_plan(writer, merge, blobs, messages)

    @contextlib.contextmanager
    def importer(self, *, lock_timeout: float | None = None) -> Iterator[Importer]:
        """Hold the write lock while snapshots stream in; see ``Importer``.

        Nothing is recorded unless ``Importer.finish`` is called and succeeds: leaving the
        block otherwise (an error, an interrupt) stops fast-import and removes what it wrote.
        """
        with self.write_lock(lock_timeout):
            self._check_writable()
            importer = Importer(
                _FastImport(self), self.policy_clashes, self._merge_plan, self._commit_plan
            )
            try:
                yield importer
            finally:
                importer.close()

    def _merge_plan(self, batch: list[tuple[Snapshot, str]]) -> _Merge:
        """Plan the commits merging ``batch`` (capture order, with text blob ids) into main."""
        old_tip = self.tip()
        base, replay = self._chain_since(old_tip, int(batch[0][0].captured_at.timestamp()))

        # Blob id of each policy's text at the point the merged chain has reached. Starting
        # ids come from one ls-tree for the whole batch; replayed commits update them.
        touched = sorted({snap.policy for snap, _ in batch})
        state: dict[str, str | None] = {}
        reached = base
        start_ids = self._text_blob_ids(base, touched)

        def text_blob(policy: str) -> str | None:
            if policy not in state:
                if reached == base:
                    state[policy] = start_ids.get(policy)
                else:
                    state[policy] = self._text_blob_ids(reached, [policy]).get(policy)
            return state[policy]

        # Texts each policy takes on in the replayed commits, in order: a backfilled
        # snapshot identical to the version right after it would duplicate that version.
        replays = self._replay_changes([entry.commit for entry in replay])
        upcoming: dict[str, list[str | None]] = {}
        for entry in replay:
            if entry.policy:
                suffix = f" {text_path(entry.policy)}"
                blob = next(
                    (
                        line.split(" ")[2]
                        for line in replays[entry.commit]
                        if line.startswith("M ") and line.endswith(suffix)
                    ),
                    None,
                )
                upcoming.setdefault(entry.policy, []).append(blob)

        results: list[RecordResult] = []
        plan: list[Snapshot | _Entry] = []
        pending = iter(replay)
        next_entry = next(pending, None)
        for snap, blob in batch:
            stamp = int(snap.captured_at.timestamp())
            while next_entry is not None and next_entry.timestamp <= stamp:
                plan.append(next_entry)
                reached = next_entry.commit
                if next_entry.policy:
                    state[next_entry.policy] = upcoming[next_entry.policy].pop(0)
                next_entry = next(pending, None)
            following = upcoming.get(snap.policy)
            if text_blob(snap.policy) == blob or (following and following[0] == blob):
                results.append(RecordResult(snap, RecordStatus.UNCHANGED))
                continue
            plan.append(snap)
            state[snap.policy] = blob
            results.append(RecordResult(snap, RecordStatus.RECORDED))
        while next_entry is not None:
            plan.append(next_entry)
            next_entry = next(pending, None)
        recorded = sum(1 for item in plan if isinstance(item, Snapshot))
        return _Merge(old_tip, base, bool(replay), replays, results, plan, recorded)

    def _commit_plan(
        self,
        writer: _FastImport,
        merge: _Merge,
        blobs: dict[int, tuple[int, int]],
        messages: dict[int, str],
    ) -> list[RecordResult]:
        """Write the planned commits on the blobs already sent to ``writer``; move main.

        ``blobs`` and ``messages`` hold, per planned snapshot (by ``id``), the marks of its
        text and source blobs and its commit message.
        """
        new_tip, new_commits = self._fast_import(writer, merge, blobs, messages)
        if self.signing():
            new_tip, renamed = self._sign_chain(merge.base, new_tip)
            new_commits = [renamed[c] for c in new_commits]
        if merge.replayed:
            self._keep_previous_tip(merge.old_tip)
        self._move_main(new_tip, merge.old_tip, f"policydiff: record {merge.recorded} version(s)")
        self._forget()
        try:
            self._refresh_view(merge.old_tip, new_tip)
        except ViewRefreshError as err:
            # The versions are in main: say so, and that the next command heals the view.
            raise ViewRefreshError(err.reason, merge.recorded) from None
        self._update_commit_graph()

        commits = iter(new_commits)
        recorded = [
            (r.snapshot, next(commits), messages[id(r.snapshot)])
            for r in merge.results
            if r.status == RecordStatus.RECORDED
        ]
        versions = iter(self._recorded_versions(recorded))
        return [
            RecordResult(r.snapshot, r.status, next(versions))
            if r.status == RecordStatus.RECORDED
            else r
            for r in merge.results
        ]

    def _recorded_versions(self, recorded: list[tuple[Snapshot, str, str]]) -> list[Version | None]:
        """Return the versions just written (snapshot, commit, message), numbered from the cache.

        One look-up of each policy's numbers: a query per version counted the policy's
        history each time. A policy the cache cannot number is read from git.
        """
        import sqlite3

        # Writes keep the whole chain, even a fresh clone's first: every write leaves each
        # policy's kept list behind main, while the chain follows main in one step.
        index = self._fresh_index()
        numbers: dict[str, dict[str, int]] = {}
        versions: list[Version | None] = []
        for snapshot, commit, message in recorded:
            policy = snapshot.policy
            if policy not in numbers:
                numbers[policy] = {}
                if index is not None:
                    with contextlib.suppress(sqlite3.Error):
                        numbers[policy] = index.numbers(policy) or {}
            number = numbers[policy].get(commit)
            if number is None:
                versions.append(
                    next((v for v in self.versions(policy) if v.commit == commit), None)
                )
            else:
                versions.append(version_from_trailers(number, commit, parse_trailers(message)))
        return versions

    def _fast_import(
        self,
        writer: _FastImport,
        merge: _Merge,
        blobs: dict[int, tuple[int, int]],
        messages: dict[int, str],
    ) -> tuple[str, list[str]]:
        """Write the planned commits to ``writer``, end it; return the new tip and new commits."""
        new_marks: list[int] = []
        try:
            first = True
            for item in merge.plan:
                mark = writer.next_mark()
                base = merge.base if first else None
                if isinstance(item, Snapshot):
                    new_marks.append(mark)
                    self._emit_snapshot(
                        writer, mark, item, base, blobs[id(item)], messages[id(item)]
                    )
                else:
                    self._emit_replay(writer, mark, item, base, merge.replays[item.commit])
                first = False
        except BaseException:
            writer.abort()
            raise
        marks = writer.finish()
        try:
            new_tip = self._git("rev-parse", "--verify", writer.ref).strip()
        finally:
            with contextlib.suppress(StoreError):
                self._git("update-ref", "-d", writer.ref)
        return new_tip, [marks[f":{m}"].strip() for m in new_marks]

    def _emit_blobs(
        self, writer: _FastImport, snapshots: list[Snapshot]
    ) -> dict[int, tuple[int, int]]:
        """Write the batch's texts and sources as marked blobs, grouped by policy.

        fast-import stores each blob as a delta against the blob written just before it,
        whatever its path, up to 50 deep. Written in capture order, a batch spanning many
        policies chains each text through other policies' texts, and reading one policy's
        history later means rebuilding dozens of unrelated texts per version. Grouped by
        policy (texts, then sources), a version deltas against its predecessor; a small
        blob unique to this write starts each group, so no chain crosses into another
        policy (it is unreachable, and git's gc prunes it). Returns, per snapshot (by
        ``id``), the marks of its text and source blobs.
        """
        groups: dict[str, list[Snapshot]] = {}
        for snap in snapshots:
            groups.setdefault(snap.policy, []).append(snap)
        marks: dict[int, tuple[int, int]] = {}
        for policy, snaps in groups.items():
            writer.chain_break(policy)
            texts = [snap.text.encode("utf-8") for snap in snaps]
            text_marks = [writer.blob(text) for text in texts]
            for snap, text, text_mark in zip(snaps, texts, text_marks, strict=True):
                source_mark = text_mark if snap.raw == text else writer.blob(snap.raw)
                marks[id(snap)] = (text_mark, source_mark)
        return marks

    def _emit_snapshot(
        self,
        writer: _FastImport,
        mark: int,
        snap: Snapshot,
        base: str | None,
        blobs: tuple[int, int],
        message: str,
    ) -> None:
        """Write one new version as a fast-import commit of its already written blobs."""
        stamp = int(snap.captured_at.timestamp())
        body = message.encode("utf-8")
        folder = policy_dir(snap.policy)
        head = (
            f"commit {writer.ref}\nmark :{mark}\n"
            f"author {IDENTITY_NAME} <{IDENTITY_EMAIL}> {stamp} +0000\n"
            f"committer {IDENTITY_NAME} <{IDENTITY_EMAIL}> {stamp} +0000\n"
            f"data {len(body)}\n"
        ).encode()
        lines = [head + body + b"\n"]
        if base is not None:
            lines.append(f"from {base}\n".encode())
        lines += [
            f"D {folder}/source.{suffix}\n".encode()
            for suffix in SOURCE_SUFFIXES
            if suffix != snap.raw_suffix
        ]
        text_mark, source_mark = blobs
        lines.append(
            f"M 100644 :{text_mark} {folder}/{TEXT_FILE}\n"
            f"M 100644 :{source_mark} {folder}/source.{snap.raw_suffix}\n".encode()
        )
        writer.write(b"".join(lines))

    def _diff_tree(self, commits: Sequence[str], *options: str, purpose: str) -> list[str]:
        """Run one ``git diff-tree --stdin -r -z`` over ``commits``; return its NUL-split output."""
        proc = subprocess.run(
            ["git", "diff-tree", "--stdin", "-r", "-z", "--no-renames", *options],
            cwd=self.path,
            env={**os.environ, **self._env},
            input="".join(f"{c}\n" for c in commits).encode("ascii"),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise StoreError(f"git diff-tree failed while {purpose}")
        return proc.stdout.decode("utf-8").split("\0")

    def _replay_changes(self, commits: list[str]) -> dict[str, list[str]]:
        """Return each commit's changes as fast-import M/D lines, from one ``diff-tree``."""
        if not commits:
            return {}
        changes: dict[str, list[str]] = {c: [] for c in commits}
        current: list[str] = []
        fields = self._diff_tree(commits, "--raw", purpose="replaying history")
        i = 0
        while i < len(fields):
            field = fields[i]
            if field.startswith(":") and i + 1 < len(fields):
                _old_mode, new_mode, _old_sha, new_sha, status = field[1:].split(" ")
                path = fields[i + 1]
                current.append(
                    f"D {path}" if status.startswith("D") else f"M {new_mode} {new_sha} {path}"
                )
                i += 2
                continue
            commit = field.strip()
            if commit:
                current = changes.setdefault(commit, [])
            i += 1
        return changes

    def _emit_replay(
        self,
        writer: _FastImport,
        mark: int,
        entry: _Entry,
        base: str | None,
        changes: list[str],
    ) -> None:
        """Write an existing commit again on top of the new chain, same changes and metadata."""
        headers, message = _commit_headers(self._raw_commit(entry.commit))
        author, committer = headers["author"][0], headers["committer"][0]
        body = message.encode("utf-8")
        writer.write(
            f"commit {writer.ref}\nmark :{mark}\nauthor {author}\ncommitter {committer}\n"
            f"data {len(body)}\n".encode()
            + body
            + b"\n"
        )
        if base is not None:
            writer.write(f"from {base}\n".encode())
        writer.write("".join(f"{line}\n" for line in changes).encode("utf-8"))

    # ----------------------------------------------------------------- signing

    def signing(self) -> bool:
        """Whether the store is configured to sign its commits (git's commit.gpgSign)."""
        out = self._git("config", "--type=bool", "--default=false", "--get", "commit.gpgsign")
        return out.strip() == "true"

    def _sign_chain(self, base: str, tip: str) -> tuple[str, dict[str, str]]:
        """Re-create the commits after ``base`` as signed commits; return new tip and id map.

        fast-import cannot sign, so signed stores pay one ``git commit-tree -S`` per commit.
        Tree, message, author and dates are kept, so only the signature differs.
        """
        renamed: dict[str, str] = {}
        parent = base
        for entry in self._chain_after(tip, base):
            header, _, message = self._raw_commit(entry.commit).partition("\n\n")
            fields = dict(line.split(" ", 1) for line in header.splitlines() if " " in line)
            env = _identity_from_header("AUTHOR", fields["author"])
            env.update(_identity_from_header("COMMITTER", fields["committer"]))
            proc = subprocess.run(
                ["git", "commit-tree", "-S", fields["tree"], "-p", parent],
                cwd=self.path,
                input=message.encode("utf-8"),
                capture_output=True,
                env={**os.environ, **self._env, **env},
                check=False,
            )
            if proc.returncode != 0:
                reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
                raise StoreError(f"signing the version commit failed: {' '.join(reason)}")
            parent = proc.stdout.decode("ascii").strip()
            renamed[entry.commit] = parent
        return parent, renamed

    def unsigned_or_bad(self, commits: Iterable[str]) -> list[str]:
        """Return a problem line for each commit whose signature is missing or does not verify."""
        return [
            f"{commit[:10]}: signature missing or not valid (git verify-commit)"
            for commit in commits
            if not self._git_ok("verify-commit", commit)
        ]

    # ----------------------------------------------------------------- verifying

    def previous_tips(self) -> list[tuple[str, str]]:
        """Return (ref, commit) of every tip kept after a backfill rewrite."""
        out = self._git("for-each-ref", "--format=%(refname) %(objectname)", PREVIOUS_PREFIX)
        return [tuple(line.split(" ", 1)) for line in out.splitlines() if line]  # type: ignore[misc]

    def verify(self, policy: str | None = None) -> VerifyReport:
        """Recompute hashes, check order and scope of every version commit, and run fsck.

        The whole store is checked from one walk of ``main`` plus ``git fsck``. One policy
        is checked without walking the rest of the history, so it costs the same in a
        store of ten versions or of a million: its version commits come from the history
        cache, each is re-hashed down to the policy's files, and the policy's folder must
        be carried unchanged from each version to the commit before the next one (and to
        the tip), which catches edits made outside policydiff in between.
        """
        problems: list[str] = []
        notes: list[str] = []
        if policy is not None:
            # Versions as the full walk finds them, not a walk of the policy's folder: a
            # commit naming the policy without changing its folder is a finding here.
            self._fresh_index()
            try:
                self.require_policy(policy)
            except StoreError as err:
                # A version whose trailers cannot be read (a bad Captured-At written by hand):
                # that is a finding to report, not a reason to stop without a report.
                return VerifyReport(0, (str(err),), tuple(self.previous_tips()), ())
        # A view left behind by an interrupted write is not an alteration: refresh it first
        # (under the write lock, so a running writer is never disturbed).
        view_checked = True
        try:
            with self.write_lock(timeout=1):
                if self.heal_view():
                    notes.append(
                        "the working tree was behind main after an interrupted write: refreshed"
                    )
        except StoreBusyError:
            # A writer is between moving main and refreshing the view: the view is theirs.
            view_checked = False
            notes.append("a write is in progress: the working tree was not checked")
        except StoreError:
            pass  # a read-only store: check the view as it is
        signed = self.signing()
        if signed:
            notes.append("store signs its commits: every version's signature was checked")
        if policy is None:
            fsck = self._fsck()
            if fsck:
                problems.append(f"git fsck: {fsck}")
            records: Iterable[_VerifyRecord] = self._main_records()
        else:
            # fsck reads every object of the store: for one policy, re-hash its own objects.
            notes.append("checked this policy's git objects by re-hashing them (no full fsck)")
            records, continuity = self._policy_records(policy)
            if continuity:
                # A break in the line may be the history cache's (a version left out of
                # it), not the store's: compare the cache with git, and if it was wrong,
                # check again with the rebuilt one.
                index = self._fresh_index()
                if index is not None and not self._index_matches_git(index):
                    self._forget()
                    records, continuity = self._policy_records(policy)
            problems.extend(continuity)
        checked = 0
        last_stamp: dict[str, int] = {}
        last_global = 0
        for record in records:
            commit, short = record.commit, record.commit[:10]
            if not record.parents:
                continue
            if len(record.parents) > 1:
                problems.append(f"{short}: merge commit on main (versions must form one line)")
            trailers = parse_trailers(record.message)
            policies_touched = {
                f[len(POLICIES_DIR) + 1 :].rsplit("/", 1)[0]
                for f in record.files
                if f.startswith(POLICIES_DIR + "/")
            }
            other = [f for f in record.files if not f.startswith(POLICIES_DIR + "/")]
            if not any(k == TRAILER_POLICY for k, _ in trailers):
                if policies_touched:
                    problems.append(
                        f"{short}: changes {', '.join(sorted(policies_touched))} without "
                        "policydiff trailers (edited outside policydiff)"
                    )
                continue
            try:
                version = version_from_trailers(0, commit, trailers)
            except StoreError as err:
                problems.append(str(err))
                continue
            checked += 1
            problems.extend(
                f"{short}: trailer {key} holds a line break other than LF "
                "(other tools read it as a new line)"
                for key, value in trailers
                if not is_one_line(value)
            )
            if not record.files:
                problems.append(f"{short}: version of {version.policy} changes no file")
            elif policies_touched != {version.policy} or other:
                problems.append(
                    f"{short}: version of {version.policy} also touches "
                    f"{', '.join(sorted((policies_touched - {version.policy}) | set(other)))}"
                )
            # A date out of range was written by an older policydiff or by hand: report it
            # (git misreads it), then check the rest as usual.
            out_of_range = capture_range_problem(version.captured_at)
            if out_of_range is not None:
                problems.append(f"{short}: Captured-At {out_of_range}")
            date_problem = _commit_date_problem(record.stamp)
            if date_problem is not None:
                problems.append(f"{short}: {date_problem}")
            if record.stamp is not None:
                if record.stamp != int(version.captured_at.timestamp()):
                    problems.append(f"{short}: commit date differs from its Captured-At trailer")
                if policy is None and record.stamp < last_global:
                    problems.append(f"{short}: captured before the commit preceding it")
                if record.stamp < last_stamp.get(version.policy, 0):
                    problems.append(f"{short}: {version.policy} versions out of capture order")
                last_global = max(last_global, record.stamp)
                last_stamp[version.policy] = record.stamp
            if signed:
                problems.extend(self.unsigned_or_bad([commit]))
            problems.extend(self._check_files(version, trailers, record.entries))
        problems.extend(
            f"working tree: {path} differs from the recorded version (not part of the archive; "
            f"'git -C {self.path} checkout -- {path}' restores it)"
            for path in (self.local_changes() if view_checked else [])
            if policy is None or _in_own_folder(path, policy_dir(policy) + "/")
        )
        problems.extend(self._object_substitutes())
        problems.extend(self._irregular_files(policy))
        problems.extend(self._settings_problems())
        if policy is None:
            # One policy's rows are checked against their seal on every read, and against
            # git above; the whole store's cache is compared with git here.
            index = self._fresh_index()
            if index is not None:
                self._index_matches_git(index)
        kept = self.previous_tips()
        rewrites = self._unexplained_rewrites({commit for _, commit in kept})
        if rewrites and policy is not None:
            # Found with the history cache's help: make sure it was not the cache's doing.
            index = self._fresh_index()
            if index is not None and not self._index_matches_git(index):
                rewrites = self._unexplained_rewrites({commit for _, commit in kept})
        self._check_kept_lists()
        problems.extend(self.cache_problems)
        problems.extend(rewrites)
        if kept:
            notes.append(
                f"{len(kept)} previous tip(s) kept after backfill rewrites under {PREVIOUS_PREFIX}"
            )
        return VerifyReport(checked, tuple(problems), tuple(kept), tuple(notes))

    def _check_kept_lists(self) -> None:
        """Drop each policy's kept list that fails its seal or differs from the full walk."""
        import sqlite3

        index = self._fresh_index()
        if index is None:
            return
        try:
            tip = index.tip()
            for policy, kept_tip, commits, sealed in index.policy_lists():
                if sealed and (kept_tip != tip or commits == index.commits(policy)):
                    continue
                with index.transaction():
                    index.drop_policy_list(policy)
                self.cache_problems.append(
                    f"history cache (.git/policydiff/index.sqlite): the list of {policy} "
                    "did not match its seal or main (altered or damaged): dropped"
                )
        except sqlite3.Error:
            pass

    def _settings_problems(self) -> list[str]:
        """Report a committed settings file that policydiff cannot read (none is fine)."""
        from policydiff.core.settings import parse_settings

        try:
            committed = self.settings_bytes()
            if committed is not None:
                parse_settings(committed)
        except UsageError as err:
            return [str(err)]
        return []

    def _irregular_files(self, policy: str | None) -> list[str]:
        """Report entries of main's tree that are not plain files (links, submodules...).

        A store holds plain files only: a symbolic link in it (say a template pointing at
        a secret elsewhere on the disk) would make policydiff read, and publish, that file.
        For one policy, its folder and everything outside ``policies/`` are listed.
        """
        paths: list[str] = []
        if policy is not None:
            top = self._git("ls-tree", "-z", "--name-only", "--full-tree", BRANCH)
            paths = [name for name in top.split("\0") if name and name != POLICIES_DIR]
            paths.append(policy_dir(policy))
        out = self._git("ls-tree", "-r", "-z", "--full-tree", BRANCH, "--", *paths)
        problems = []
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            mode = meta.split(" ", 1)[0]
            if path and mode != "100644":
                kind = _MODE_KINDS.get(mode, f"of mode {mode}")
                problems.append(
                    f"{_shown(path)} is {kind} (a store holds plain files only; policydiff "
                    "would read what it points to)"
                )
        return problems

    def _main_records(self) -> Iterator[_VerifyRecord]:
        """Yield every commit of main's first-parent line, oldest first, with its files."""
        # Not path-limited, so that commits made outside policydiff show up too.
        out = self._git(
            "log", "--first-parent", "--reverse", "--no-renames", "--name-only",
            "--format=%x1e%H%x00%P%x00%ct%x00%B%x00", BRANCH,
        )  # fmt: skip
        for raw in out.split("\x1e"):
            if not raw.strip():
                continue
            commit, parents, stamp, message, files = raw.split("\x00", 4)
            yield _VerifyRecord(
                commit=commit,
                parents=parents.split(),
                stamp=_commit_time(stamp),
                message=message,
                files=[f for f in files.strip("\n").splitlines() if f],
            )

    def _policy_records(self, policy: str) -> tuple[list[_VerifyRecord], list[str]]:
        """Return one policy's version commits, re-hashed, and any break in its files' line.

        Each version commit is re-hashed with the trees down to the policy's folder.
        Between versions nothing may touch the folder, and a version may touch nothing
        else: both hold exactly when the parent's root tree is this version's with the
        previous version's folder spliced in, which costs one re-hash per tree on the path.
        Only when that fails (or for the first version) are the changes listed with git.
        """
        problems: list[str] = []
        folder = policy_dir(policy)
        records: list[_VerifyRecord] = []
        previous: tuple[str, str | None, dict[str, str]] = ("", None, {})
        own: str | None = None  # the previous version's own files (see _own_files_id)
        for version in self.versions(policy):
            commit = version.commit
            rehashed = self._rehash_objects(commit, policy)
            problems.extend(rehashed.problems)
            headers, message = _commit_headers(rehashed.commit.decode("utf-8", "replace"))
            parents = headers.get("parent", [])
            committer = headers.get("committer", [""])[0].rsplit(" ", 2)
            stamp = _commit_time(committer[-2]) if len(committer) == 3 else None
            entries = rehashed.entries
            folder_id = _object_id("tree", rehashed.trees[-1]) if rehashed.trees else None
            expected = rehashed.parent_tree_with(policy, previous[1])
            if parents and expected is not None and expected == self._tree_of(parents[0]):
                old = previous[2]
                files = [
                    f"{folder}/{name}"
                    for name in sorted(set(entries) | set(old))
                    if entries.get(name) != old.get(name)
                ]
            else:
                files = self._changed_files([commit])[commit]
                before = self._own_files_at(parents[0], folder) if parents else None
                if parents and before != own:
                    problems.extend(self._outside_edits(parents[0], previous[0], policy))
            previous = (commit, folder_id, entries)
            own = _own_files_id(rehashed.trees[-1]) if rehashed.trees else None
            records.append(_VerifyRecord(commit, parents, stamp, message, files, entries))
        if previous[0] and self._own_files_at(self.tip(), folder) != own:
            problems.extend(self._outside_edits(self.tip(), previous[0], policy))
        return records, problems

    def _own_files_at(self, commit: str, folder: str) -> str | None:
        """Return the id of a policy folder's own files in ``commit`` (see _own_files_id)."""
        found = self.read_object(f"{commit}:{folder}")
        return _own_files_id(found[2]) if found is not None and found[1] == "tree" else None

    def _tree_of(self, commit: str) -> str | None:
        """Return a commit's root tree id."""
        found = self.read_object(commit)
        if found is None or found[1] != "commit":
            return None
        return _commit_headers(found[2].decode("utf-8", "replace"))[0].get("tree", [None])[0]

    def _changed_files(self, commits: Sequence[str]) -> dict[str, list[str]]:
        """Return the paths each commit changes against its first parent (one diff-tree)."""
        changed: dict[str, list[str]] = {c: [] for c in commits}
        if not commits:
            return changed
        current: list[str] = []
        for name in self._diff_tree(commits, "--root", "--name-only", purpose="verifying"):
            if name in changed:
                current = changed[name]
            elif name:
                current.append(name.strip("\n"))
        return changed

    def _outside_edits(self, start: str, stop: str, policy: str) -> list[str]:
        """Name the commits from ``start`` back to ``stop`` that changed ``policy`` unrecorded."""
        folder = policy_dir(policy) + "/"
        between = [e.commit for e in self._first_parent_after(start, stop or None)]
        changed = self._changed_files(between)
        found = [
            f"{commit[:10]}: changes {policy} without policydiff trailers "
            "(edited outside policydiff)"
            for commit in between
            if any(_in_own_folder(f, folder) for f in changed[commit])
        ]
        unnamed = (
            f"{policy}: its files changed between {stop[:10] or 'the root'} and "
            f"{start[:10]} outside any recorded version"
        )
        return found or [unnamed]

    def _check_files(
        self, version: Version, trailers: Sequence[tuple[str, str]], entries: dict[str, str]
    ) -> list[str]:
        """Re-hash a version's text and source against their trailers (and tree entries).

        With the folder's entries (re-hashed already), blobs are read by id, and a source
        identical to the text is read once; without them, by path.
        """
        problems: list[str] = []
        short = version.commit[:10]
        folder = policy_dir(version.policy)
        read: dict[str, bytes | None] = {}

        def blob(name: str) -> bytes | None:
            key = entries.get(name) or f"{version.commit}:{folder}/{name}"
            if key not in read:
                found = self.read_object(key)
                read[key] = found[2] if found is not None and found[1] == "blob" else None
            return read[key]

        text = blob(TEXT_FILE)
        if text is not None and entries and entries.get(TEXT_FILE) != _git_blob_sha(text):
            problems.append(f"{short}: {text_path(version.policy)} does not match its id")
        if text is None:
            problems.append(f"{short}: {version.policy} text file missing")
        elif sha256_hex(text) != version.text_sha256:
            problems.append(
                f"{short}: {text_path(version.policy)} does not match its Text-SHA256 "
                "(the text was altered after recording)"
            )
        source_name = dict(trailers).get(TRAILER_SOURCE_FILE)
        if source_name and version.source_sha256:
            raw = blob(source_name)
            same = entries and entries.get(source_name) == entries.get(TEXT_FILE)
            if (
                raw is not None
                and entries
                and not same
                and entries.get(source_name) != _git_blob_sha(raw)
            ):
                problems.append(f"{short}: {source_name} does not match its id")
            if raw is None or sha256_hex(raw) != version.source_sha256:
                problems.append(f"{short}: {folder}/{source_name} does not match its Source-SHA256")
        return problems

    def _rehash_objects(self, commit: str, policy: str) -> _Rehashed:
        """Re-hash a version's commit and each tree from the root down to its policy's folder.

        Trees are followed by the ids their parents hold (never by a path git resolves),
        so a tree that does not hash to its id cannot be skipped over.
        """
        problems: list[str] = []
        short = commit[:10]
        found = self.read_object(commit)
        if found is None or found[1] != "commit":
            return _Rehashed([f"{short}: commit is missing"], b"", [])
        object_id, kind, raw = found
        if _object_id(kind, raw) != object_id:
            problems.append(f"{short}: commit {commit} does not match its id")
        tree_id = _commit_headers(raw.decode("utf-8", "replace"))[0].get("tree", [""])[0]
        parts = policy_dir(policy).split("/")
        trees: list[bytes] = []
        for level in range(len(parts) + 1):
            label = "/".join(parts[:level]) or "/"
            found = self.read_object(tree_id) if tree_id else None
            if found is None or found[1] != "tree":
                problems.append(f"{short}: {label} is missing")
                break
            object_id, kind, data = found
            if _object_id(kind, data) != object_id:
                problems.append(f"{short}: tree {label} does not match its id")
            trees.append(data)
            if level < len(parts):
                at = _tree_entry_at(data, parts[level])
                tree_id = data[at : at + 20].hex() if at is not None else ""
        return _Rehashed(problems, raw, trees if len(trees) == len(parts) + 1 else [])

    def _object_substitutes(self) -> list[str]:
        """Report replace refs, grafts and a shallow history: plain git would not read the archive.

        policydiff itself ignores replace refs and grafts (see gitenv), but ``git log`` or
        ``git show`` in the store would show what they substitute.
        """
        out = self._git("for-each-ref", "--format=%(refname) %(objectname)", "refs/replace/")
        problems = [
            f"{ref}: replace ref: plain git shows {target[:10]} in place of {name[:10]} "
            f"(remove it with 'git -C {self.path} replace -d {name}')"
            for ref, _, target in (line.partition(" ") for line in out.splitlines() if line)
            for name in [ref.rsplit("/", 1)[-1]]
        ]
        git_dir = Path(self.repo.git_dir)
        if (git_dir / "info" / "grafts").exists():
            problems.append(
                f"{git_dir / 'info' / 'grafts'}: grafts rewrite commits' parents for plain git "
                "(remove the file)"
            )
        if (git_dir / "shallow").exists():
            problems.append(
                f"{git_dir / 'shallow'}: the store is a shallow clone, its history is incomplete "
                "(fetch it whole with 'git fetch --unshallow')"
            )
        return problems

    def _fsck(self) -> str:
        """Run ``git fsck`` and return its complaint, or an empty string."""
        import git

        try:
            self.repo.git.execute(["git", "fsck", "--no-progress", "--no-dangling"])
        except git.GitCommandError as err:
            return _git_reason(err)
        return ""

    def _on_main_line(self, commits: Sequence[str]) -> set[str]:
        """Return which of ``commits`` are on main's first-parent line."""
        import sqlite3

        index = self._fresh_index()
        if index is not None:
            # The cache holds exactly that line, up to date: no walk of the history.
            with contextlib.suppress(sqlite3.Error):
                return {commit for commit in commits if index.has_commit(commit)}
        return set(self._git("rev-list", "--first-parent", BRANCH).split()) & set(commits)

    def _unexplained_rewrites(self, kept: set[str]) -> list[str]:
        """Report earlier tips of main (from its reflog) that neither main nor a kept tip holds.

        Commit dates in a store run backwards (backfilled versions are older than the root
        commit), which defeats git's date-based cut-offs in ``A ^B`` walks: so membership is
        checked against plain first-parent lists instead.
        """
        out = self._git("reflog", "show", "--format=%H", BRANCH, "--")
        reflog = list(dict.fromkeys(out.split()))
        on_main = self._on_main_line(reflog)
        kept_history: set[str] | None = None
        problems = []
        for commit in reflog:
            if commit in on_main or commit in kept:
                continue
            if kept_history is None:
                kept_history = (
                    set(self._git("rev-list", "--first-parent", *sorted(kept)).split())
                    if kept
                    else set()
                )
            if commit not in kept_history:
                problems.append(
                    f"main was rewritten outside policydiff: earlier tip {commit[:10]} is no "
                    "longer in its history and was not kept"
                )
        return problems

    # ----------------------------------------------------------------- sharing

    def _check_remote(self, remote: str) -> str:
        """Accept a configured remote name, a URL or a path to a repository; nothing else."""
        if remote.startswith("-") or any(c in remote for c in "\0\n\r"):
            raise UsageError(f"invalid remote {remote[:60]!r}")
        names = self._git("remote").split()
        if remote in names and _REMOTE_NAME.fullmatch(remote):
            return remote
        if _REMOTE_URL.fullmatch(remote):
            return remote
        if Path(remote).is_dir():
            return str(Path(remote).resolve())
        if _REMOTE_NAME.fullmatch(remote):
            raise UsageError(
                f"no remote named {remote!r} (add one with 'git -C {self.path} remote add "
                f"{remote} URL', or pass a URL or path)"
            )
        raise UsageError(f"remote {remote[:60]!r} is not a remote name, URL or repository path")

    def _chain_after(self, tip: str, base: str) -> list[_Entry]:
        """Return the first-parent commits after ``base`` up to ``tip``, oldest first."""
        return self._first_parent_after(tip, base)

    def sync(self, remote: str, *, push: bool = True, accept_config: bool = False) -> SyncResult:
        """Pull the remote's versions, merge both timelines by capture time, push the result.

        Everything the remote offers is checked before ``main`` moves (see
        ``_check_incoming``); a remote offering anything but well-formed versions is refused
        with ``SyncRefusedError`` and the store is left as it was. ``accept_config`` also
        takes changes to the store's configuration (marker file, README, templates).
        """
        target = self._check_remote(remote)
        # A remote's upload-pack and receive-pack commands that the store's own config names
        # cannot be overridden by config (git keeps the first): pass the neutral ones.
        fetch_pack = override(self._env, f"remote.{target}.uploadpack")
        push_pack = override(self._env, f"remote.{target}.receivepack")
        with self.write_lock():
            self._check_writable()
            try:
                return self._sync_locked(
                    remote,
                    target,
                    push=push,
                    accept_config=accept_config,
                    packs=(fetch_pack, push_pack),
                )
            finally:
                # The fetched tip was only a vehicle: nothing may keep what was refused alive.
                with contextlib.suppress(StoreError):
                    self._git("update-ref", "-d", INCOMING_REF)

    def _sync_locked(
        self,
        remote: str,
        target: str,
        *,
        push: bool,
        accept_config: bool,
        packs: tuple[str | None, str | None],
    ) -> SyncResult:
        """Run ``sync`` under the write lock (the incoming ref is removed by the caller).

        ``packs`` are the upload-pack and receive-pack commands to pass explicitly (None:
        git's own), since a store's config naming its own cannot be overridden by config.
        """
        fetch_pack, push_pack = packs
        ours = self.tip()
        with self._quarantine() as keep:
            try:
                theirs = self._fetch_incoming(target, fetch_pack)
                fast_forward, base = self._check_offer(remote, ours, theirs, accept_config)
            except BaseException:
                with contextlib.suppress(StoreError):
                    self._git("update-ref", "-d", INCOMING_REF)
                raise
            keep()
        result = SyncResult(0, 0, reconciled=False, skipped_duplicates=0)
        new_tip = ours
        lease = theirs
        if base:
            new_tip, result = self._reconcile(base, ours, theirs)
        elif fast_forward:
            new_tip = theirs
            pulled = len(self._chain_after(theirs, ours))
            result = SyncResult(pulled, 0, reconciled=False, skipped_duplicates=0)
        else:
            pushed = len(self._chain_after(ours, theirs)) if theirs else 0
            result = SyncResult(0, pushed, reconciled=False, skipped_duplicates=0)
        if new_tip != ours:
            if result.reconciled:
                self._keep_previous_tip(ours)
                self._keep_previous_tip(theirs)
            self._move_main(new_tip, ours, f"policydiff: sync with {remote}")
            self._forget()
            with contextlib.suppress(StoreError):
                self._refresh_view(ours, new_tip)
            self._update_commit_graph()
        if push and new_tip != theirs:
            lease_arg = f"--force-with-lease={BRANCH}:{lease}" if lease else "--force-with-lease"
            self._git(
                "push", "--quiet", "--no-verify", lease_arg,
                *([f"--receive-pack={push_pack}"] if push_pack else []),
                "--end-of-options", target,
                f"{BRANCH}:{BRANCH}", f"+{PREVIOUS_PREFIX}*:{PREVIOUS_PREFIX}*",
            )  # fmt: skip
        return result

    def _check_offer(
        self, remote: str, ours: str, theirs: str, accept_config: bool
    ) -> tuple[bool, str]:
        """Check what the remote offers; return (fast-forward?, base to reconcile from or "").

        Raises ``SyncRefusedError`` when a commit it would bring in is not acceptable.
        """
        fast_forward = bool(theirs) and self._git_ok("merge-base", "--is-ancestor", ours, theirs)
        base = ""
        behind = not theirs or self._git_ok("merge-base", "--is-ancestor", theirs, ours)
        if not fast_forward and not behind:
            base = self._git("merge-base", ours, theirs).strip()
            if not base:
                raise StoreError(f"{remote} holds an unrelated store (no common history)")
        problems: list[str] = []
        if fast_forward and theirs != ours:
            after = self._last_capture(ours) or 0
            problems = self._check_incoming(theirs, ours, accept_config=accept_config, after=after)
        elif base:
            # Both timelines are replayed in capture order: theirs need not follow ours.
            problems = self._check_incoming(theirs, base, accept_config=accept_config)
        if problems:
            raise SyncRefusedError(remote, problems)
        return fast_forward, base

    def _fetch_incoming(self, target: str, upload_pack: str | None = None) -> str:
        """Fetch the remote's main to the incoming ref; return its commit ("" if it has none)."""
        # No commit-graph, FETCH_HEAD or automatic gc from the fetch itself: until the
        # remote's commits are checked, the store's own files must not change.
        fetched = self._git_ok(
            "-c", "fetch.writeCommitGraph=false", "fetch", "--no-tags", "--quiet",
            "--no-write-fetch-head", "--no-auto-maintenance",
            *([f"--upload-pack={upload_pack}"] if upload_pack else []),
            "--end-of-options", target, f"+{BRANCH}:{INCOMING_REF}",
        )  # fmt: skip
        if not fetched:
            return ""
        return self._git("rev-parse", "--verify", "--quiet", INCOMING_REF).strip()

    @contextlib.contextmanager
    def _quarantine(self) -> Iterator[Callable[[], None]]:
        """Send the objects git writes to a folder of their own until ``keep()`` is called.

        What a remote sends stays out of the store's object database until it is checked
        (git's receive-pack does the same for pushes): refused objects would otherwise
        remain, and ``git fsck`` (so ``verify``) reports a malformed one even unreferenced.
        Git processes see both folders; ``keep()`` moves the new objects into the store.
        """
        objects = Path(self.repo.git_dir) / "objects"
        for stale in objects.glob(f"{_QUARANTINE_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)  # a killed sync's (we hold the lock)
        folder = Path(tempfile.mkdtemp(prefix=_QUARANTINE_PREFIX, dir=objects))
        saved = {key: os.environ.get(key) for key in _QUARANTINE_ENV}
        alternates = [str(objects), *filter(None, [saved["GIT_ALTERNATE_OBJECT_DIRECTORIES"]])]
        active = True

        def leave() -> None:
            nonlocal active
            if active:
                active = False
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
                self._close_cat_file()  # it reads with the quarantine's environment

        def keep() -> None:
            leave()
            _move_objects(folder, objects)

        self._close_cat_file()
        os.environ["GIT_OBJECT_DIRECTORY"] = str(folder)
        os.environ["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = os.pathsep.join(alternates)
        try:
            yield keep
        finally:
            leave()
            shutil.rmtree(folder, ignore_errors=True)

    def _last_capture(self, tip: str) -> int | None:
        """Return the commit time of the newest version at or before ``tip`` (None if none)."""
        with contextlib.closing(self._walk_first_parent(tip)) as walk:
            return next((entry.timestamp for entry in walk if entry.policy), None)

    def _check_incoming(
        self, theirs: str, stop: str, *, accept_config: bool, after: int | None = None
    ) -> list[str]:
        """Return what is wrong with the commits after ``stop`` up to ``theirs`` (all must be kept).

        Each must be a single-parent commit, valid UTF-8, dated in range; a version (a
        commit with a Policy trailer) must hold parseable trailers that git reads the same
        way, be dated at its Captured-At (not before ``after``, the newest capture it
        follows, when given), change its own policy's text and nothing but its text and
        source files, and have a UTF-8 text and a source matching their Text-SHA256 and
        Source-SHA256. Any other
        commit may change only the store's configuration, and only with ``accept_config``.
        Nothing anywhere may become a symbolic link, a submodule or an executable.
        """
        chain: list[tuple[str, dict[str, list[str]], str]] = []
        problems: list[str] = []
        commit = theirs
        while commit != stop:
            found = self.read_object(commit)
            if found is None or found[1] != "commit":
                return [f"{commit[:10]}: commit is missing"]
            try:
                headers, message = _commit_headers(found[2].decode("utf-8"))
            except UnicodeDecodeError:
                headers, message = _commit_headers(found[2].decode("utf-8", "replace"))
                problems.append(f"{commit[:10]}: commit is not valid UTF-8")
            parents = headers.get("parent", [])
            if len(parents) != 1:
                kind = "merge commit" if parents else "root commit"
                return [*problems, f"{commit[:10]}: {kind} (versions must form one line)"]
            chain.append((commit, headers, message))
            commit = parents[0]
        chain.reverse()
        if problems:
            return problems  # git's own reading of these commits would fail too
        try:
            changes = self._replay_changes([c for c, _, _ in chain])
        except UnicodeDecodeError:
            return [f"{theirs[:10]}: a file name in the remote's commits is not valid UTF-8"]
        # The history cache files each commit under the policy git reads from its trailers.
        # (Read without commit dates: git cannot print some that a remote may send.)
        out = self._git(
            "log", "--first-parent", f"--max-count={len(chain)}",
            "--format=%H%x1f%(trailers:key=Policy,valueonly,separator=)%x1e", theirs,
        )  # fmt: skip
        git_policy = {
            commit: policy.strip() or None
            for commit, _, policy in (
                record.strip("\n").partition("\x1f") for record in out.split("\x1e")
            )
        }
        for commit, headers, message in chain:
            wrong = self._check_incoming_commit(
                commit, headers, message, changes[commit], git_policy.get(commit), accept_config
            )
            stamp = self._header_time(headers, "committer")
            if after is not None and stamp is not None and git_policy.get(commit):
                if stamp < after:
                    wrong.append("captured before the version preceding it")
                after = max(after, stamp)
            problems.extend(f"{commit[:10]}: {problem}" for problem in wrong)
        return problems

    @staticmethod
    def _header_time(headers: dict[str, list[str]], role: str) -> int | None:
        """Return the epoch seconds of a commit's author or committer line (None if malformed)."""
        fields = headers.get(role, [""])[0].rsplit(" ", 2)
        try:
            return int(fields[-2]) if len(fields) == 3 else None
        except ValueError:
            return None

    def _check_incoming_commit(
        self,
        commit: str,
        headers: dict[str, list[str]],
        message: str,
        changes: list[str],
        git_policy: str | None,
        accept_config: bool,
    ) -> list[str]:
        """Return what is wrong with one commit a remote offers (see ``_check_incoming``)."""
        problems: list[str] = []
        stamps = [self._header_time(headers, role) for role in ("author", "committer")]
        for stamp in stamps:
            reason = "malformed date" if stamp is None else _capture_time_problem(stamp)
            if reason:
                problems.append(f"commit {reason}")
        changed: list[tuple[str | None, str, str]] = []  # (mode or None if deleted, id, path)
        for line in changes:
            if line.startswith("D "):
                changed.append((None, "", line[2:]))
            else:
                _, new_mode, object_id, new_path = line.split(" ", 3)
                changed.append((new_mode, object_id, new_path))
        for mode, _, path in changed:
            if mode is not None and mode != "100644":
                problems.append(f"makes {_shown(path)} {_MODE_KINDS.get(mode, 'mode ' + mode)}")
            if any(part.startswith(".git") for part in path.split("/")):
                problems.append(f"changes {_shown(path)} (git's own control files)")
        trailers = parse_trailers(message)
        if not any(key == TRAILER_POLICY for key, _ in trailers):
            return problems + self._incoming_config(changed, accept_config, git_policy)
        try:
            version = version_from_trailers(0, commit, trailers)
            validate_policy_id(version.policy)
        except (StoreError, UsageError) as err:
            return [*problems, f"not a policydiff version ({err})"]
        if git_policy != version.policy:
            problems.append("git reads its Policy trailer differently")
        folder = policy_dir(version.policy) + "/"
        names = {TEXT_FILE, *(f"source.{suffix}" for suffix in SOURCE_SUFFIXES)}
        for mode, _, path in changed:
            name = path.removeprefix(folder)
            if not path.startswith(folder) or name not in names:
                problems.append(f"version of {version.policy} also touches {_shown(path)}")
            elif mode is None and name == TEXT_FILE:
                problems.append(f"version of {version.policy} deletes its text")
        captured = int(version.captured_at.timestamp())
        reason = _capture_time_problem(captured)
        if reason:
            problems.append(f"Captured-At {reason}")
        if stamps != [captured, captured]:
            problems.append("commit date differs from its Captured-At trailer")
        if not any(mode and path == f"{folder}{TEXT_FILE}" for mode, _, path in changed):
            problems.append(f"version of {version.policy} does not change its text")
        # Fetched objects were hashed by git as they arrived (index-pack): no need to
        # re-hash the trees as verify does; the files changed are read by their ids.
        entries = {path.removeprefix(folder): blob for mode, blob, path in changed if mode}
        checked = self._check_files(version, trailers, entries)
        problems.extend(p.removeprefix(f"{commit[:10]}: ") for p in checked)
        text = self.read_object(entries.get(TEXT_FILE) or f"{commit}:{folder}{TEXT_FILE}")
        if text is not None and text[1] == "blob":
            try:
                text[2].decode("utf-8")
            except UnicodeDecodeError:
                problems.append(f"{folder}{TEXT_FILE} is not valid UTF-8")
        return problems

    def _incoming_config(
        self,
        changed: list[tuple[str | None, str, str]],
        accept_config: bool,
        git_policy: str | None,
    ) -> list[str]:
        """Return what is wrong with a remote's commit that records no version."""
        problems: list[str] = []
        if git_policy:
            problems.append("git reads a Policy trailer that policydiff does not")
        for mode, object_id, path in changed:
            shown = _shown(path)
            if path.startswith(POLICIES_DIR + "/"):
                problems.append(f"changes {shown} without policydiff trailers")
            elif path not in _CONFIG_FILES and not path.startswith(_CONFIG_FOLDERS):
                problems.append(f"changes {shown}, outside {POLICIES_DIR}/")
            elif not accept_config:
                problems.append(f"changes the store's configuration ({shown})")
            elif path == MARKER_FILE:
                problems.extend(self._incoming_marker(object_id if mode is not None else None))
            elif path == "policydiff.toml" and mode is not None:
                problems.extend(self._incoming_settings(object_id))
        return problems

    def _incoming_settings(self, object_id: str) -> list[str]:
        """Return what is wrong with a settings file a remote offers (as policydiff reads it)."""
        from policydiff.core.settings import MAX_SETTINGS_BYTES, SETTINGS_FILE, parse_settings

        size = self._git_ok_out("cat-file", "-s", object_id).strip()
        if not size.isdigit() or int(size) > MAX_SETTINGS_BYTES:
            return [f"{SETTINGS_FILE} is missing or over {MAX_SETTINGS_BYTES} bytes"]
        found = self.read_object(object_id)
        try:
            parse_settings(found[2] if found is not None else b"")
        except UsageError as err:
            return [str(err)]
        return []

    def _incoming_marker(self, object_id: str | None) -> list[str]:
        """Return what is wrong with a marker file a remote offers (None: it deletes it)."""
        found = self.read_object(object_id) if object_id else None
        if found is None or found[1] != "blob":
            return [f"deletes {MARKER_FILE}"]
        try:
            data = json.loads(found[2].decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return [f"{MARKER_FILE} is not valid JSON"]
        fmt = data.get("format") if isinstance(data, dict) else None
        if not isinstance(fmt, int) or isinstance(fmt, bool) or not 1 <= fmt <= STORE_FORMAT:
            return [f"{MARKER_FILE} names a store format this policydiff cannot read"]
        return []

    def _reconcile(self, base: str, ours: str, theirs: str) -> tuple[str, SyncResult]:
        """Replay both sides' commits after ``base`` in capture order, dropping duplicates."""
        mine = self._chain_after(ours, base)
        other = self._chain_after(theirs, base)
        merged = sorted(
            [(e.timestamp, 0, i, e) for i, e in enumerate(mine)]
            + [(e.timestamp, 1, i, e) for i, e in enumerate(other)]
        )
        state: dict[str, str | None] = {}
        plan: list[Snapshot | _Entry] = []
        skipped = pulled = 0
        for _, side, _, entry in merged:
            if entry.policy:
                data = self.read_blob(entry.commit, text_path(entry.policy))
                blob = None if data is None else _git_blob_sha(data)
                if entry.policy not in state:
                    before = self.read_blob(base, text_path(entry.policy))
                    state[entry.policy] = None if before is None else _git_blob_sha(before)
                if state[entry.policy] == blob:
                    skipped += 1
                    continue
                state[entry.policy] = blob
            plan.append(entry)
            pulled += side
        if not plan:
            return base, SyncResult(0, 0, reconciled=True, skipped_duplicates=skipped)
        replays = self._replay_changes([e.commit for e in plan if isinstance(e, _Entry)])
        merge = _Merge(
            base, base, replayed=True, replays=replays, results=[], plan=plan, recorded=0
        )
        new_tip, _ = self._fast_import(_FastImport(self), merge, {}, {})
        if self.signing():
            new_tip, _ = self._sign_chain(base, new_tip)
        pushed = sum(1 for item in plan if item in mine)
        return new_tip, SyncResult(pulled, pushed, reconciled=True, skipped_duplicates=skipped)
