"""The first read of one policy on a fresh clone walks that policy's folder, not the store.

A clone has none of the caches under ``.git/policydiff``. Reading one policy then walks
only the commits that change its folder (git's changed-path filters skip the others)
and keeps that list, sealed, for the tip it was found at; the whole first-parent chain
is walked once something needs it (a second policy, a write, ``verify``). Every answer
must be the one the full walk gives: ``log``, ``show``, ``show --at``, ``blame`` and the
in-force rule are compared on plain, shared and ``file://`` clones of a real store with
backfills and look-alike policy ids, and on clones whose caches were edited by hand.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import index_sql as sql
from helpers import run_cli
from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore, init_store
from policydiff.store.layout import has_path_filters

POLICY = "acme/privacy"
# Ids sharing a prefix with POLICY: a walk of policies/acme/privacy/ must not take them.
LOOKALIKES = ("acme/privacy-eu", "acme/privacy2")
OTHER = "zeta/terms"
AT = "2021-03-15"


def snap(policy: str, n: int, when: str) -> Snapshot:
    text = f"# {policy}\n\n## Data\n\nVersion {n} of {policy}.\n\n## Sharing\n\nRule {n % 3}.\n"
    return Snapshot(
        policy=policy,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
        effective_date=date.fromisoformat(when) if n % 2 else None,
    )


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
    ).stdout


def cli(store: Path, *args: str) -> Any:
    """Run a read command with ``--format json`` in a process of its own; return its document."""
    result = run_cli(["--store", str(store), *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def index_state(store: Path) -> tuple[str | None, list[str]]:
    """Return the tip the cache's chain describes and the policies kept alone."""
    db = sqlite3.connect(store / ".git" / "policydiff" / "index.sqlite")
    try:
        tip = db.execute("SELECT value FROM meta WHERE key = 'tip'").fetchone()
        kept = [str(p) for (p,) in db.execute("SELECT policy FROM lists ORDER BY policy")]
    finally:
        db.close()
    return (None if tip is None else str(tip[0])), kept


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of four policies in order, then backfills that rewrite its chain."""
    path = init_store(tmp_path_factory.mktemp("first-read") / "origin")
    store = GitStore(path)
    policies = (POLICY, *LOOKALIKES, OTHER)
    store.record(
        [
            snap(policy, n, f"{2019 + n}-{1 + i:02d}-01")
            for n in range(1, 5)
            for i, policy in enumerate(policies)
        ]
    )
    # Older than the tip: inserted in place, the later commits replayed.
    store.record([snap(POLICY, 0, "2019-06-15"), snap(LOOKALIKES[0], 9, "2020-06-15")])
    store.record([snap(OTHER, 7, "2021-03-20")])
    store.close()
    return path


def reads(store: Path) -> dict[str, Any]:
    """Everything a reader asks of POLICY, each command in a process of its own."""
    found = {
        "log": cli(store, "log", POLICY),
        "show": cli(store, "show", POLICY),
        "show-at": cli(store, "show", POLICY, "--at", AT),
        "show-2": cli(store, "show", f"{POLICY}@2"),
        "blame": cli(store, "blame", POLICY),
    }
    opened = GitStore(store)
    try:
        answer = opened.in_force_at(POLICY, date.fromisoformat(AT))
        found["in-force"] = (answer.version, answer.in_force_from, answer.caveats)
        found["versions"] = opened.versions(POLICY)
    finally:
        opened.close()
    return found


@pytest.fixture(scope="module")
def truth(origin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The answers of the full walk: a copy whose cache has its whole chain built first."""
    copy = Path(shutil.copytree(origin, tmp_path_factory.mktemp("truth") / "s", symlinks=True))
    shutil.rmtree(copy / ".git" / "policydiff", ignore_errors=True)
    cli(copy, "policies")  # reads every policy: the whole chain is walked
    assert index_state(copy)[0] == git(copy, "rev-parse", "main").strip()
    return reads(copy)


def clone(origin: Path, target: Path, *how: str) -> Path:
    source = f"file://{origin}" if "file" in how else str(origin)
    options = [o for o in how if o != "file"]
    subprocess.run(["git", "clone", "-q", *options, source, str(target)], check=True)
    return target


@pytest.mark.parametrize("how", [(), ("--shared",), ("--no-hardlinks",)], ids=str)
def test_first_read_of_a_clone_walks_one_policy_and_answers_as_the_full_walk(
    origin: Path, truth: dict[str, Any], tmp_path: Path, how: tuple[str, ...]
) -> None:
    store = clone(origin, tmp_path / "clone", *how)
    assert has_path_filters(store / ".git" / "objects")
    assert reads(store) == truth
    # The walk of one policy was taken: its list kept, no chain walked.
    assert index_state(store) == (None, [POLICY])
    # Another process reading another policy walks that one alone too.
    assert cli(store, "log", OTHER)["versions"]
    assert index_state(store) == (None, [POLICY, OTHER])
    # A read of every policy walks the chain once; it serves every read after.
    cli(store, "policies")
    assert index_state(store)[0] == git(store, "rev-parse", "main").strip()
    assert reads(store) == truth


def test_clone_without_commit_graph_walks_the_chain(
    origin: Path, truth: dict[str, Any], tmp_path: Path
) -> None:
    # Over a transport git writes no commit-graph: a folder walk would diff every
    # commit's trees, so the whole chain is walked once, as before.
    store = clone(origin, tmp_path / "clone", "file")
    assert not has_path_filters(store / ".git" / "objects")
    assert reads(store) == truth
    assert index_state(store) == (git(store, "rev-parse", "main").strip(), [])


def test_one_process_reading_two_policies(origin: Path, tmp_path: Path) -> None:
    store = GitStore(clone(origin, tmp_path / "clone"))
    try:
        first = store.versions(POLICY)
        assert index_state(store.path) == (None, [POLICY])
        assert [v.policy for v in first] == [POLICY] * 5
        assert [v.number for v in first] == [1, 2, 3, 4, 5]
        lookalike = store.versions(LOOKALIKES[0])
        assert index_state(store.path)[0] == store.tip()
        assert [v.policy for v in lookalike] == [LOOKALIKES[0]] * 5
        assert store.versions("acme/nothing-here") == []
    finally:
        store.close()


def test_kept_list_follows_main(origin: Path, truth: dict[str, Any], tmp_path: Path) -> None:
    upstream = clone(origin, tmp_path / "upstream")
    store = clone(upstream, tmp_path / "clone")
    assert cli(store, "log", POLICY) == truth["log"]
    # main moves behind the cache's back (a pull): the list kept for the old tip is not used.
    writer = GitStore(upstream)
    try:
        writer.record([snap(POLICY, 5, "2024-01-01")])
    finally:
        writer.close()
    git(store, "fetch", "-q", "origin")
    git(store, "reset", "-q", "--hard", "origin/main")
    versions = cli(store, "log", POLICY)["versions"]
    assert [v["commit"] for v in versions[:-1]] == [v["commit"] for v in truth["log"]["versions"]]
    assert versions[-1]["commit"] == git(store, "rev-parse", "main").strip()
    assert index_state(store) == (None, [POLICY])
    # Back to the old tip: the answer is the old one again.
    git(store, "reset", "-q", "--hard", "HEAD~1")
    assert reads(store) == truth


# --------------------------------------------------------------------------- tampering


def drop_a_version(store: Path, origin: Path) -> None:
    del origin
    db = sqlite3.connect(store / ".git" / "policydiff" / "index.sqlite")
    (commits,) = db.execute("SELECT commits FROM lists").fetchone()
    db.close()
    sql(store, f"UPDATE lists SET commits = '{' '.join(commits.split()[:-1])}'")


def claim_another_tip(store: Path, origin: Path) -> None:
    # The genuine list of an older tip, relabelled as the current tip's.
    del origin
    tip = git(store, "rev-parse", "main").strip()
    latest = git(store, "log", "-1", "--format=%H", "--", f"policies/{POLICY}/").strip()
    git(store, "update-ref", "refs/heads/main", f"{latest}^")
    sql(store, "DELETE FROM lists")
    cli(store, "log", POLICY)
    git(store, "update-ref", "refs/heads/main", tip)
    sql(store, f"UPDATE lists SET tip = '{tip}'")


def copy_index(source: Path, target: Path) -> None:
    """Put the history cache of store ``source`` in store ``target``, as a file copy would."""
    path = target / ".git" / "policydiff" / "index.sqlite"
    for suffix in ("", "-wal", "-shm"):  # (a write-ahead log left beside it would win)
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    old = sqlite3.connect(source / ".git" / "policydiff" / "index.sqlite")
    new = sqlite3.connect(path)
    old.backup(new)
    old.close()
    new.close()


def another_clones_list(store: Path, origin: Path) -> None:
    # Another clone's list of the same tip: right commits, sealed with another key.
    other = clone(origin, store.parent / "other")
    cli(other, "log", POLICY)
    copy_index(other, store)


def origin_chain(store: Path, origin: Path) -> None:
    # The origin's whole chain (built by its writes), sealed with a key this clone lacks.
    copy_index(origin, store)


EDITS = {
    "list-missing-a-version": drop_a_version,
    "list-of-an-older-tip": claim_another_tip,
    "list-of-another-clone": another_clones_list,
    "chain-copied-from-origin": origin_chain,
}


@pytest.fixture
def read_clone(origin: Path, truth: dict[str, Any], tmp_path: Path) -> Path:
    """A clone whose first read kept POLICY's list."""
    store = clone(origin, tmp_path / "clone")
    assert cli(store, "log", POLICY) == truth["log"]
    assert index_state(store) == (None, [POLICY])
    return store


@pytest.mark.parametrize("edit", list(EDITS.values()), ids=list(EDITS))
def test_tampered_cache_of_a_clone_never_changes_an_answer(
    origin: Path, truth: dict[str, Any], read_clone: Path, edit: Any
) -> None:
    edit(read_clone, origin)
    assert reads(read_clone) == truth


@pytest.mark.parametrize("scope", [(), (POLICY,)], ids=["store", "policy"])
@pytest.mark.parametrize("edit", list(EDITS.values()), ids=list(EDITS))
def test_verify_reports_a_tampered_cache_of_a_clone(
    origin: Path, truth: dict[str, Any], read_clone: Path, edit: Any, scope: tuple[str, ...]
) -> None:
    edit(read_clone, origin)
    first = run_cli(["--store", str(read_clone), "verify", *scope])
    problems = [line for line in first.stdout.splitlines() if line.startswith("PROBLEM")]
    assert first.exit_code == 2, first.stdout + first.stderr
    assert problems, first.stdout
    assert all("history cache" in line for line in problems), first.stdout
    again = run_cli(["--store", str(read_clone), "verify", *scope])
    assert again.exit_code == 0, again.stdout
    assert reads(read_clone) == truth


def test_a_commit_naming_a_policy_without_changing_it_is_a_verify_problem(
    origin: Path, truth: dict[str, Any], tmp_path: Path
) -> None:
    # Hand-made: an empty commit carrying the latest version's trailers. The walk of the
    # policy's folder never sees it (no version changes nothing); verify, which reads
    # every commit of main, names it.
    store = clone(origin, tmp_path / "clone")
    latest = git(store, "log", "-1", "--format=%H", "--", f"policies/{POLICY}/").strip()
    message = git(store, "log", "-1", "--format=%B", latest)
    git(store, "commit", "-q", "--allow-empty", "-m", message)
    empty = git(store, "rev-parse", "main").strip()
    assert cli(store, "log", POLICY) == truth["log"]
    for scope in ((), (POLICY,)):
        report = run_cli(["--store", str(store), "verify", *scope])
        assert report.exit_code == 2, report.stdout
        assert f"PROBLEM: {empty[:10]}: version of {POLICY} changes no file" in report.stdout


def test_cache_written_before_kept_lists_keeps_its_chain(origin: Path, tmp_path: Path) -> None:
    # A cache of the same layout from before kept lists existed: no table for them.
    store = clone(origin, tmp_path / "clone")
    cli(store, "policies")
    tip = git(store, "rev-parse", "main").strip()
    sql(store, "DROP TABLE lists")
    opened = GitStore(store)
    try:
        assert len(opened.versions(POLICY)) == 5
        assert opened.cache_problems == []
    finally:
        opened.close()
    assert index_state(store) == (tip, [])
