"""A rebuildable SQLite cache of the store's first-parent chain, for fast per-policy history.

Git stays the source of truth: the cache records which tip of ``main`` it describes,
the store brings it up to date (appending new commits, or cutting back to the common
ancestor after a rewrite) before every read, and deleting the file only costs one
rebuild. It lives in the git directory, never in the working tree.

A cache must never change an answer, so its content is sealed with a key kept beside it
(``.git/policydiff/cache-key``): each policy's list of commits has a MAC, and one MAC
binds the described tip to the set of policy MACs. A row deleted, added, changed or
filed under another policy, a seal removed or an older copy of the file put back breaks
a seal; ``commits`` then answers None and ``sealed`` False, and the store rebuilds the
cache from git. (Whoever can read the key can forge seals, as they could rewrite refs
and reflogs: ``verify`` compares the whole cache with git.)

Until something needs the whole chain, a policy's commits can also be kept alone, as a
walk limited to its folder found them at one tip (``policy_list``): reading one policy
of a freshly cloned store then costs a walk of that policy's commits, not of the store.
Such a list is sealed with its policy and tip, and used only at that tip.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain (
    seq INTEGER PRIMARY KEY,
    commit_id TEXT NOT NULL,
    policy TEXT
);
CREATE TABLE IF NOT EXISTS seals (policy TEXT PRIMARY KEY, mac TEXT NOT NULL);
"""
# Added beside schema 4, which it leaves valid: a cache of that layout keeps its chain.
_LISTS = """
CREATE TABLE IF NOT EXISTS lists (
    policy TEXT PRIMARY KEY,
    tip TEXT NOT NULL,
    commits TEXT NOT NULL,
    mac TEXT NOT NULL
)
"""
_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS chain_commit ON chain (commit_id)",
    "CREATE INDEX IF NOT EXISTS chain_policy ON chain (policy, seq)",
)
# Filling an empty cache with more rows than this drops the indexes and builds them after
# (three times faster for a 100,000-commit history than keeping them up to date).
_BULK_ROWS = 10_000


class IndexAlteredError(Exception):
    """The cache's content does not match its seals: it must be rebuilt from git."""


class VersionIndex:
    """The cache file: which tip it describes and one row per first-parent commit."""

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        self.path = path
        # Without a key (tests of the cache alone) nothing is sealed or checked.
        self._key = key
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        if self._meta("schema") != str(SCHEMA_VERSION):
            # An older layout: it is only a cache, so start it again.
            with self.transaction():
                self._db.execute("DROP TABLE IF EXISTS chain")
                self._db.execute("DROP TABLE IF EXISTS seals")
                self._db.execute("DROP TABLE IF EXISTS lists")
                self._db.execute("DELETE FROM meta")
                for statement in [*_SCHEMA.split(";"), *_INDEXES]:
                    if statement.strip():
                        self._db.execute(statement)
                self._set_meta("schema", str(SCHEMA_VERSION))
        self._db.execute(_LISTS)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _meta(self, key: str) -> str | None:
        """Return a metadata value."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a write transaction that other processes wait for."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def tip(self) -> str | None:
        """Return the tip of ``main`` the cache describes, if any."""
        return self._meta("tip")

    # ------------------------------------------------------------------ seals

    def _mac(self, *parts: str) -> str:
        """Return the MAC of ``parts`` under the cache key."""
        assert self._key is not None  # noqa: S101 - only called when sealing
        message = "\0".join(parts).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _policy_commits(self, policy: str | None) -> list[str]:
        """Return a policy's commits (None: the commits of no policy), in chain order."""
        return [
            str(commit)
            for (commit,) in self._db.execute(
                "SELECT commit_id FROM chain WHERE policy IS ? ORDER BY seq", (policy,)
            )
        ]

    def _policy_mac(self, policy: str | None, commits: Sequence[str]) -> str:
        """Return the MAC of a policy's commit list ("" stands for commits of no policy)."""
        return self._mac("policy", policy or "", *commits)

    def _seals(self) -> list[tuple[str, str]]:
        """Return every (policy, MAC) seal, sorted by policy."""
        rows = self._db.execute("SELECT policy, mac FROM seals ORDER BY policy")
        return [(str(policy), str(mac)) for policy, mac in rows]

    def _tip_mac(self, tip: str | None) -> str:
        """Return the MAC binding the described tip to every policy's seal."""
        return self._mac("tip", tip or "", *(f"{p}\t{m}" for p, m in self._seals()))

    def sealed(self) -> bool:
        """Whether the tip and the set of policy seals are as this cache wrote them."""
        if self._key is None or self.tip() is None:
            return True  # nothing described yet: the store fills it from git
        mac = self._meta("seal")
        return mac is not None and hmac.compare_digest(mac, self._tip_mac(self.tip()))

    def _policy_sealed(self, policy: str | None) -> bool:
        """Whether a policy's rows are exactly those its seal was made for."""
        if self._key is None:
            return True
        row = self._db.execute("SELECT mac FROM seals WHERE policy = ?", (policy or "",)).fetchone()
        expected = self._policy_mac(policy, self._policy_commits(policy))
        if row is None:
            # No seal: right only if the policy has no rows.
            return not self._db.execute(
                "SELECT 1 FROM chain WHERE policy IS ? LIMIT 1", (policy,)
            ).fetchone()
        return hmac.compare_digest(str(row[0]), expected)

    def _reseal(self, policies: set[str | None], tip: str) -> None:
        """Seal the given policies' rows and the tip (their old seals were checked)."""
        if self._key is None:
            return
        for policy in policies:
            commits = self._policy_commits(policy)
            if commits:
                self._db.execute(
                    "INSERT INTO seals (policy, mac) VALUES (?, ?) "
                    "ON CONFLICT (policy) DO UPDATE SET mac = excluded.mac",
                    (policy or "", self._policy_mac(policy, commits)),
                )
            else:
                self._db.execute("DELETE FROM seals WHERE policy = ?", (policy or "",))
        self._set_meta("seal", self._tip_mac(tip))

    def _check_before_change(self, policies: set[str | None]) -> None:
        """Refuse to reseal rows that were altered: a new seal would launder the change."""
        if self._key is None:
            return
        if not self.sealed() or not all(self._policy_sealed(p) for p in policies):
            raise IndexAlteredError(f"{self.path} does not match its seals")

    # ------------------------------------------------------------------ rows

    def truncate_after(self, commit: str | None) -> None:
        """Drop the rows after ``commit`` (all rows when None or unknown)."""
        row = (
            None
            if commit is None
            else self._db.execute("SELECT seq FROM chain WHERE commit_id = ?", (commit,)).fetchone()
        )
        if row is None:
            self._db.execute("DELETE FROM chain")
            self._db.execute("DELETE FROM seals")
            self._db.execute("DELETE FROM meta WHERE key IN ('tip', 'seal')")
            return
        touched = {
            p for (p,) in self._db.execute("SELECT DISTINCT policy FROM chain WHERE seq > ?", row)
        }
        self._check_before_change(touched)
        self._db.execute("DELETE FROM chain WHERE seq > ?", (row[0],))
        self._reseal(touched, self.tip() or "")

    def append(self, rows: Sequence[tuple[str, str | None]], tip: str) -> None:
        """Append (commit, policy) rows in chain order and record the new tip."""
        touched = {policy for _, policy in rows}
        empty = self._db.execute("SELECT 1 FROM chain LIMIT 1").fetchone() is None
        if not empty:
            self._check_before_change(touched)
        bulk = len(rows) > _BULK_ROWS and empty
        if bulk:
            self._db.execute("DROP INDEX IF EXISTS chain_commit")
            self._db.execute("DROP INDEX IF EXISTS chain_policy")
        self._db.executemany("INSERT OR REPLACE INTO chain (commit_id, policy) VALUES (?, ?)", rows)
        if bulk:
            for statement in _INDEXES:
                self._db.execute(statement)
        self._set_meta("tip", tip)
        self._reseal(touched, tip)

    def all_sealed(self) -> bool:
        """Whether every row and seal is as this cache wrote it (reads the whole cache)."""
        if self._key is None:
            return True
        found: dict[str | None, list[str]] = {}
        for commit, policy in self.rows():
            found.setdefault(policy, []).append(commit)
        expected = sorted((p or "", self._policy_mac(p, c)) for p, c in found.items())
        return self.sealed() and self._seals() == expected

    def rows(self) -> list[tuple[str, str | None]]:
        """Return every (commit, policy) row in chain order."""
        return [
            (str(commit), None if policy is None else str(policy))
            for commit, policy in self._db.execute(
                "SELECT commit_id, policy FROM chain ORDER BY seq"
            )
        ]

    def commits(self, policy: str) -> list[str] | None:
        """Return the commits of ``policy``'s versions, oldest first (None if not as sealed)."""
        commits = self._policy_commits(policy)
        if self._key is not None and not self._policy_sealed(policy):
            return None
        return commits

    def has_commit(self, commit: str) -> bool:
        """Whether the cached chain contains ``commit`` (in a row its policy's seal covers)."""
        row = self._db.execute("SELECT policy FROM chain WHERE commit_id = ?", (commit,)).fetchone()
        return row is not None and self._policy_sealed(row[0])

    def numbers(self, policy: str) -> dict[str, int] | None:
        """Return the 1-based version number of each of ``policy``'s commits (None: unsealed)."""
        if not self._policy_sealed(policy):
            return None
        rows = self._db.execute(
            "SELECT commit_id FROM chain WHERE policy = ? ORDER BY seq", (policy,)
        ).fetchall()
        return {commit: number for number, (commit,) in enumerate(rows, start=1)}

    def number(self, policy: str, commit: str) -> int | None:
        """Return the 1-based version number of ``commit`` among ``policy``'s versions."""
        if not self._policy_sealed(policy):
            return None
        row = self._db.execute(
            "SELECT COUNT(*) FROM chain WHERE policy = ? AND seq <= "
            "(SELECT seq FROM chain WHERE commit_id = ? AND policy = ?)",
            (policy, commit, policy),
        ).fetchone()
        return int(row[0]) if row and row[0] else None

    # ------------------------------------------------------------------ one policy alone

    def _list_mac(self, policy: str, tip: str, commits: Sequence[str]) -> str:
        """Return the MAC of a policy's commit list as found at ``tip`` ("" without a key)."""
        return "" if self._key is None else self._mac("list", policy, tip, *commits)

    def policy_list(self, policy: str, tip: str) -> list[str] | None:
        """Return ``policy``'s commits as kept alone for ``tip`` (None if none is kept for it).

        Raises IndexAlteredError when a list kept for this tip does not match its seal.
        """
        row = self._db.execute(
            "SELECT commits, mac FROM lists WHERE policy = ? AND tip = ?", (policy, tip)
        ).fetchone()
        if row is None:
            return None
        commits = str(row[0]).split()
        if not hmac.compare_digest(str(row[1]), self._list_mac(policy, tip, commits)):
            raise IndexAlteredError(f"{self.path}: the list of {policy} does not match its seal")
        return commits

    def keep_policy_list(self, policy: str, tip: str, commits: Sequence[str]) -> None:
        """Keep ``policy``'s commits as found at ``tip``, sealed (replacing an older list)."""
        self._db.execute(
            "INSERT INTO lists (policy, tip, commits, mac) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (policy) DO UPDATE SET "
            "tip = excluded.tip, commits = excluded.commits, mac = excluded.mac",
            (policy, tip, " ".join(commits), self._list_mac(policy, tip, commits)),
        )

    def policy_lists(self) -> list[tuple[str, str, list[str], bool]]:
        """Return every kept list as (policy, tip, commits, whether it matches its seal)."""
        rows = self._db.execute("SELECT policy, tip, commits, mac FROM lists ORDER BY policy")
        found = []
        for policy, tip, joined, mac in rows:
            commits = str(joined).split()
            expected = self._list_mac(str(policy), str(tip), commits)
            found.append((str(policy), str(tip), commits, hmac.compare_digest(str(mac), expected)))
        return found

    def drop_policy_list(self, policy: str) -> None:
        """Forget the list kept for ``policy``."""
        self._db.execute("DELETE FROM lists WHERE policy = ?", (policy,))
