"""Sharing a store through a bare git remote: pull, push, reconcile two timelines."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import run_cli
from policydiff.core.errors import UsageError
from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore, init_store


def snap(text: str, when: str, policy: str = "acme/terms") -> Snapshot:
    return Snapshot(
        policy=policy,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
    )


@pytest.fixture
def pair(tmp_path: Path) -> tuple[GitStore, GitStore, Path]:
    """Two maintainers' stores sharing one bare remote, both starting from the same store."""
    bare = tmp_path / "shared.git"
    first = GitStore(init_store(tmp_path / "alice"))
    first.record([snap("v1\n", "2020-01-01")])
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    first.sync(str(bare))
    subprocess.run(
        ["git", "clone", "-q", "-b", "main", str(bare), str(tmp_path / "bob")], check=True
    )
    second = GitStore(tmp_path / "bob")
    return first, second, bare


def texts(store: GitStore, policy: str = "acme/terms") -> list[str]:
    return [store.text(v) for v in store.versions(policy)]


def test_push_then_pull(pair: tuple[GitStore, GitStore, Path]) -> None:
    alice, bob, bare = pair
    alice.record([snap("v2\n", "2021-01-01")])
    assert alice.sync(str(bare)).pushed == 1
    result = bob.sync("origin")
    assert result.pulled == 1
    assert texts(bob) == ["v1\n", "v2\n"]
    assert bob.verify().ok


def test_diverged_timelines_are_merged_by_date(pair: tuple[GitStore, GitStore, Path]) -> None:
    alice, bob, bare = pair
    alice.record([snap("alice 2022\n", "2022-01-01")])
    bob.record([snap("bob 2021\n", "2021-01-01"), snap("other\n", "2021-06-01", "acme/privacy")])
    alice.sync(str(bare))
    result = bob.sync("origin")
    assert result.reconciled
    assert texts(bob) == ["v1\n", "bob 2021\n", "alice 2022\n"]
    assert texts(bob, "acme/privacy") == ["other\n"]
    assert bob.verify().ok
    # Alice gets the merged timeline too; nothing is lost on either side.
    alice.sync(str(bare))
    assert texts(alice) == texts(bob)
    assert alice.verify().ok
    assert len(bob.previous_tips()) == 2


def test_same_capture_recorded_twice_gives_the_same_commit(
    pair: tuple[GitStore, GitStore, Path],
) -> None:
    alice, bob, bare = pair
    alice.record([snap("same\n", "2021-01-01"), snap("later\n", "2023-01-01")])
    bob.record([snap("same\n", "2021-01-01")])
    alice.sync(str(bare))
    # Commits are deterministic (identity, dates, trailers), so this is a fast-forward.
    result = bob.sync("origin")
    assert (result.pulled, result.reconciled) == (1, False)
    assert texts(bob) == ["v1\n", "same\n", "later\n"]


def test_same_text_seen_at_different_times_is_kept_once(
    pair: tuple[GitStore, GitStore, Path],
) -> None:
    alice, bob, bare = pair
    alice.record([snap("same\n", "2021-01-01"), snap("later\n", "2023-01-01")])
    bob.record([snap("same\n", "2021-02-01")])
    alice.sync(str(bare))
    result = bob.sync("origin")
    assert result.reconciled
    assert result.skipped_duplicates == 1
    assert texts(bob) == ["v1\n", "same\n", "later\n"]
    assert bob.versions("acme/terms")[1].captured_at.month == 1


def test_cli_sync_and_bad_remote(pair: tuple[GitStore, GitStore, Path]) -> None:
    alice, bob, bare = pair
    alice.record([snap("v2\n", "2021-01-01")])
    out = run_cli(["--store", str(alice.path), "sync", str(bare)])
    assert out.exit_code == 0, out.stderr
    assert "1 pushed" in out.stderr
    for bad in ["--upload-pack=touch /tmp/pwned", "-x", "nosuchremote"]:
        result = run_cli(["--store", str(bob.path), "sync", bad])
        assert result.exit_code == 2
        assert result.stderr.startswith("Error: ")
    with pytest.raises(UsageError):
        bob.sync("--upload-pack=x")
