"""A rebuildable SQLite cache of the store's first-parent chain, for fast per-policy history.

Git stays the source of truth: the cache records which tip of ``main`` it describes,
the store brings it up to date (appending new commits, or cutting back to the common
ancestor after a rewrite) before every read, and deleting the file only costs one
rebuild. It lives in the git directory, never in the working tree.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain (
    seq INTEGER PRIMARY KEY,
    commit_id TEXT NOT NULL,
    policy TEXT
);
"""
_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS chain_commit ON chain (commit_id)",
    "CREATE INDEX IF NOT EXISTS chain_policy ON chain (policy, seq)",
)
# Filling an empty cache with more rows than this drops the indexes and builds them after
# (three times faster for a 100,000-commit history than keeping them up to date).
_BULK_ROWS = 10_000


class VersionIndex:
    """The cache file: which tip it describes and one row per first-parent commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        if self._meta("schema") != str(SCHEMA_VERSION):
            # An older layout: it is only a cache, so start it again.
            with self.transaction():
                self._db.execute("DROP TABLE IF EXISTS chain")
                self._db.execute("DELETE FROM meta")
                for statement in [*_SCHEMA.split(";"), *_INDEXES]:
                    if statement.strip():
                        self._db.execute(statement)
                self._set_meta("schema", str(SCHEMA_VERSION))

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

    def has_commit(self, commit: str) -> bool:
        """Whether the cached chain contains ``commit``."""
        row = self._db.execute("SELECT 1 FROM chain WHERE commit_id = ?", (commit,)).fetchone()
        return row is not None

    def truncate_after(self, commit: str | None) -> None:
        """Drop the rows after ``commit`` (all rows when None or unknown)."""
        row = (
            None
            if commit is None
            else self._db.execute("SELECT seq FROM chain WHERE commit_id = ?", (commit,)).fetchone()
        )
        if row is None:
            self._db.execute("DELETE FROM chain")
        else:
            self._db.execute("DELETE FROM chain WHERE seq > ?", (row[0],))

    def append(self, rows: Sequence[tuple[str, str | None]], tip: str) -> None:
        """Append (commit, policy) rows in chain order and record the new tip."""
        bulk = (
            len(rows) > _BULK_ROWS
            and self._db.execute("SELECT 1 FROM chain LIMIT 1").fetchone() is None
        )
        if bulk:
            self._db.execute("DROP INDEX IF EXISTS chain_commit")
            self._db.execute("DROP INDEX IF EXISTS chain_policy")
        self._db.executemany("INSERT OR REPLACE INTO chain (commit_id, policy) VALUES (?, ?)", rows)
        if bulk:
            for statement in _INDEXES:
                self._db.execute(statement)
        self._set_meta("tip", tip)

    def commits(self, policy: str) -> list[str]:
        """Return the commits of ``policy``'s versions, oldest first."""
        return [
            str(commit)
            for (commit,) in self._db.execute(
                "SELECT commit_id FROM chain WHERE policy = ? ORDER BY seq", (policy,)
            )
        ]

    def number(self, policy: str, commit: str) -> int | None:
        """Return the 1-based version number of ``commit`` among ``policy``'s versions."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM chain WHERE policy = ? AND seq <= "
            "(SELECT seq FROM chain WHERE commit_id = ? AND policy = ?)",
            (policy, commit, policy),
        ).fetchone()
        return int(row[0]) if row and row[0] else None
