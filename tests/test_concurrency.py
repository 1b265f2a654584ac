"""Concurrent writers: real policydiff processes importing into one store at the same time.

Every version lands exactly once and in capture order, or a writer fails with one clear
``store busy`` line after a bounded wait and records nothing; ``verify`` passes afterwards.
A writer that ignores the lock and moves ``main`` mid-write is not overwritten: the
compare-and-swap makes policydiff fail cleanly instead. Deterministic overlaps come from the
git shim, which holds a writer inside its write (lock held) while the test acts.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from fixtures.reliability.harness import (
    Expected,
    Run,
    Shim,
    git,
    in_store_order,
    recorded,
    sigkill,
    spawn,
    version_commits,
    write_corpus,
)
from helpers import run_cli

FIRST = date(2015, 1, 5)
COMMON_DAY = date(2016, 1, 4)
# Held here, a writer has its lock, its objects written, and main not yet moved.
INSIDE_THE_WRITE = "update-ref -m*"


def writer_input(root: Path, writer: int) -> list[Expected]:
    """Write one writer's snapshots under ``root``; return the versions they should give.

    Its own policy; for writers 0 and 1 also a policy they share, with interleaved capture
    days (each one's batch lands inside the other's); and a notice identical for every
    writer, which must be recorded once.
    """
    own = write_corpus(
        root, count=12, policies=(f"org{writer}/privacy",), first=FIRST, seed=writer, label="own"
    )
    shared = []
    if writer < 2:
        shared = write_corpus(
            root,
            count=12,
            policies=("shared/terms",),
            first=FIRST,
            step=timedelta(days=14),
            offset=timedelta(days=7 * writer),
            seed=100 + writer,
            label=f"writer {writer}",
        )
    common = write_corpus(
        root, count=1, policies=("common/notice",), first=COMMON_DAY, seed=7, label="common"
    )
    return own + shared + common


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    return path


def inputs(tmp_path: Path, writers: int) -> tuple[list[Path], list[list[Expected]]]:
    roots = [tmp_path / f"writer-{w}" for w in range(writers)]
    return roots, [writer_input(root, w) for w, root in enumerate(roots)]


def union(*batches: list[Expected]) -> list[Expected]:
    return in_store_order(list(dict.fromkeys(e for batch in batches for e in batch)))


def assert_store_holds(store: Path, expected: list[Expected], *, foreign: int = 0) -> None:
    """Exactly ``expected``, each once, in capture order, and an archive that verifies.

    ``foreign``: commits on main made by other tools.
    """
    assert recorded(store) == expected
    assert version_commits(store) == len(expected) + foreign
    verify = run_cli(["--store", str(store), "verify"])
    assert verify.exit_code == 0, verify.stdout + verify.stderr


def plain_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env.pop("NO_COLOR", None)
    return env


def assert_busy(code: int, out: str, err: str) -> None:
    assert code == 2, out + err
    assert err.startswith("Error: store busy: "), err
    assert err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("writers", [2, 6])
def test_simultaneous_writers_all_land(writers: int, store: Path, tmp_path: Path) -> None:
    roots, batches = inputs(tmp_path, writers)
    runs = [
        spawn(
            store,
            "import",
            str(root),
            env=plain_env(POLICYDIFF_LOCK_TIMEOUT="60"),
            logs=tmp_path / f"logs-{w}",
        )
        for w, root in enumerate(roots)
    ]
    results = [run.finish() for run in runs]

    for code, _, err in results:
        assert code == 0, err
    assert_store_holds(store, union(*batches))
    # The notice every writer brought was recorded by exactly one of them.
    recorders = [out for _, out, _ in results if "recorded as common/notice" in out]
    assert len(recorders) == 1


def held_writer(store: Path, root: Path, tmp_path: Path, name: str) -> tuple[Run, Shim]:
    """Start a writer on ``root`` and hold it inside its write, lock held."""
    shim = Shim.install(tmp_path / name)
    run = spawn(
        store,
        "import",
        str(root),
        env=shim.env(before=INSIDE_THE_WRITE),
        logs=tmp_path / name / "logs",
    )
    shim.wait_paused(run)
    return run, shim


def test_lock_timeout_gives_store_busy(store: Path, tmp_path: Path) -> None:
    (first, second), (batch_a, batch_b) = inputs(tmp_path, 2)
    holder, shim = held_writer(store, first, tmp_path, "holder")
    before = recorded(store)

    started = time.monotonic()
    waiter = spawn(
        store,
        "import",
        str(second),
        env=plain_env(POLICYDIFF_LOCK_TIMEOUT="0.5"),
        logs=tmp_path / "waiter",
    )
    assert_busy(*waiter.finish())
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 15, elapsed  # waited its timeout, then gave up: bounded
    assert recorded(store) == before

    shim.release()
    code, _, err = holder.finish()
    assert code == 0, err
    assert_store_holds(store, union(batch_a))
    retry = run_cli(["--store", str(store), "import", str(second)])
    assert retry.exit_code == 0, retry.stderr
    assert_store_holds(store, union(batch_a, batch_b))


def test_waiting_writer_lands_after_the_holder(store: Path, tmp_path: Path) -> None:
    (first, second), (batch_a, batch_b) = inputs(tmp_path, 2)
    holder, holder_shim = held_writer(store, first, tmp_path, "holder")
    waiter_shim = Shim.install(tmp_path / "waiter")
    waiter = spawn(
        store,
        "import",
        str(second),
        env=waiter_shim.env(POLICYDIFF_LOCK_TIMEOUT="60"),
        logs=tmp_path / "waiter" / "logs",
    )
    # The waiter has opened the store and read its files, but gets no further than the lock.
    assert waiter_shim.wait_for_phase(waiter, "reading")
    time.sleep(1.0)
    assert waiter.proc.poll() is None
    assert waiter_shim.phase() == "reading"

    holder_shim.release()
    assert holder.finish()[0] == 0
    code, _, err = waiter.finish()
    assert code == 0, err
    assert_store_holds(store, union(batch_a, batch_b))


def test_killed_holder_frees_the_lock_for_a_waiter(store: Path, tmp_path: Path) -> None:
    (first, second), (batch_a, batch_b) = inputs(tmp_path, 2)
    holder, _ = held_writer(store, first, tmp_path, "holder")
    waiter = spawn(
        store,
        "import",
        str(second),
        env=plain_env(POLICYDIFF_LOCK_TIMEOUT="60"),
        logs=tmp_path / "waiter",
    )
    time.sleep(0.5)
    started = time.monotonic()
    sigkill(holder, group=True)
    code, _, err = waiter.finish()
    assert code == 0, err
    assert time.monotonic() - started < 30
    # The holder died before moving main: none of its versions, all of the waiter's.
    assert_store_holds(store, union(batch_b))
    again = run_cli(["--store", str(store), "import", str(first)])
    assert again.exit_code == 0, again.stderr
    assert_store_holds(store, union(batch_a, batch_b))


def test_many_writers_with_no_patience(store: Path, tmp_path: Path) -> None:
    roots, batches = inputs(tmp_path, 6)
    runs = [
        spawn(
            store,
            "import",
            str(root),
            env=plain_env(POLICYDIFF_LOCK_TIMEOUT="0"),
            logs=tmp_path / f"logs-{w}",
        )
        for w, root in enumerate(roots)
    ]
    results = [run.finish() for run in runs]

    landed, refused = [], []
    for (code, out, err), root, batch in zip(results, roots, batches, strict=True):
        if code == 0:
            landed.append(batch)
        else:
            assert_busy(code, out, err)
            refused.append(root)
    # Each writer is all or nothing: the store holds exactly the batches of those that won.
    assert_store_holds(store, union(*landed))
    for root in refused:
        retry = run_cli(["--store", str(store), "import", str(root)])
        assert retry.exit_code == 0, retry.stderr
    assert_store_holds(store, union(*batches))


def move_main_behind_its_back(store: Path) -> str:
    """Commit a file onto main with plain git, ignoring policydiff's lock; return the commit."""
    old = git(store, "rev-parse", "refs/heads/main").strip()
    index = {"GIT_INDEX_FILE": str(store / ".git" / "foreign-index")}
    env = {**os.environ, **index}

    def run(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            ["git", "-C", str(store), *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    blob = run("hash-object", "-w", "--stdin", stdin="written by another tool\n")
    run("read-tree", old)
    run("update-index", "--add", "--cacheinfo", f"100644,{blob},NOTES.md")
    tree = run("write-tree")
    identity = ["-c", "user.name=other", "-c", "user.email=other@example.org"]
    commit = run(*identity, "commit-tree", tree, "-p", old, "-m", "Notes from another tool")
    run("update-ref", "refs/heads/main", commit, old)
    (store / ".git" / "foreign-index").unlink()
    return commit


def test_writer_ignoring_the_lock_is_not_overwritten(store: Path, tmp_path: Path) -> None:
    (first,), (batch,) = inputs(tmp_path, 1)
    writer, shim = held_writer(store, first, tmp_path, "writer")
    foreign = move_main_behind_its_back(store)
    shim.release()

    code, out, err = writer.finish()
    # policydiff notices main moved (compare-and-swap) and fails cleanly instead of losing it.
    assert code == 2, out + err
    assert err.startswith("Error: "), err
    assert err.count("\n") == 1
    assert "main" in err
    assert "Traceback" not in err
    assert git(store, "rev-parse", "refs/heads/main").strip() == foreign
    assert recorded(store) == []
    # The other tool's commit leaves the archive intact (verify brings the view up to it).
    verify = run_cli(["--store", str(store), "verify"])
    assert verify.exit_code == 0, verify.stdout + verify.stderr

    # Run again, it records on top of the other tool's commit, which stays in the history.
    again = run_cli(["--store", str(store), "import", str(first)])
    assert again.exit_code == 0, again.stderr
    assert_store_holds(store, union(batch), foreign=1)
    assert git(store, "show", "refs/heads/main:NOTES.md") == "written by another tool\n"
    assert "Notes from another tool" in git(store, "log", "--format=%s", "refs/heads/main")


def test_verify_during_a_write_reports_no_false_alteration(store: Path, tmp_path: Path) -> None:
    (first,), (batch,) = inputs(tmp_path, 1)
    shim = Shim.install(tmp_path / "writer")
    writer = spawn(
        store,
        "import",
        str(first),
        env=shim.env(before="read-tree*"),  # main moved, view not refreshed yet, lock held
        logs=tmp_path / "writer" / "logs",
    )
    shim.wait_paused(writer)
    try:
        during = run_cli(["--store", str(store), "verify"])
    finally:
        shim.release()
        assert writer.finish()[0] == 0
    assert_store_holds(store, union(batch))
    assert during.exit_code == 0, during.stdout + during.stderr
    assert "PROBLEM" not in during.stdout
