"""The history cache: rebuilt when missing, stale, rewritten, damaged or of an old layout."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore


def snap(text: str, when: str, policy: str = "a/b") -> Snapshot:
    return Snapshot(
        policy=policy,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
    )


def cache(store: GitStore) -> Path:
    return Path(store.repo.git_dir) / "policydiff" / "index.sqlite"


def texts(path: Path, policy: str = "a/b") -> list[str]:
    fresh = GitStore(path)
    try:
        return [fresh.text(v) for v in fresh.versions(policy)]
    finally:
        fresh.close()


def test_cache_follows_appends_and_backfills(store: GitStore) -> None:
    store.record([snap("2\n", "2020-01-01"), snap("x\n", "2020-02-01", "c/d")])
    assert texts(store.path) == ["2\n"]
    store.record([snap("3\n", "2021-01-01")])
    assert texts(store.path) == ["2\n", "3\n"]
    store.record([snap("1\n", "2019-01-01")])  # rewrites the chain: cache cut back
    assert texts(store.path) == ["1\n", "2\n", "3\n"]
    assert texts(store.path, "c/d") == ["x\n"]


def test_recorded_versions_are_numbered(store: GitStore) -> None:
    store.record([snap("1\n", "2019-01-01")])
    (result,) = store.record([snap("2\n", "2020-01-01")])
    assert result.version is not None
    assert result.version.number == 2
    assert result.version == store.versions("a/b")[1]


def test_missing_damaged_or_old_cache_is_rebuilt(store: GitStore) -> None:
    store.record([snap("1\n", "2019-01-01"), snap("2\n", "2020-01-01")])
    store.versions("a/b")
    store.close()
    cache(store).unlink()
    assert texts(store.path) == ["1\n", "2\n"]
    with sqlite3.connect(cache(store)) as db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    assert texts(store.path) == ["1\n", "2\n"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{cache(store)}{suffix}").unlink(missing_ok=True)
    cache(store).write_bytes(b"not a database at all")
    # A damaged cache costs speed only: the history is read from git directly.
    assert texts(store.path) == ["1\n", "2\n"]


def test_bulk_fill_builds_the_indexes_after_the_rows(tmp_path: Path) -> None:
    from policydiff.store.versionindex import _BULK_ROWS, VersionIndex

    index = VersionIndex(tmp_path / "index.sqlite")
    rows = [(f"{n:040x}", f"p/{n % 7}" if n % 3 else None) for n in range(_BULK_ROWS + 50)]
    with index.transaction():
        index.append(rows, rows[-1][0])
    with index.transaction():
        index.append([("f" * 40, "p/1")], "f" * 40)  # an ordinary append afterwards
    assert index.tip() == "f" * 40
    assert index.has_commit(rows[123][0])
    assert not index.has_commit("e" * 40)
    assert index.commits("p/1")[-1] == "f" * 40
    assert index.commits("p/1")[:2] == [f"{1:040x}", f"{8:040x}"]
    assert index.number("p/1", "f" * 40) == len(index.commits("p/1"))
    names = {
        name
        for (name,) in sqlite3.connect(tmp_path / "index.sqlite").execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
        )
    }
    assert {"chain_commit", "chain_policy"} <= names
    index.close()
