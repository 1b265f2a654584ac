"""Caches under ``.git/policydiff`` are derived data: editing them never changes an answer.

The history index (``index.sqlite``), the change-stats cache (``stats/*.json``) and the
blame cache (``blame/*.json``) of a real store are edited by hand the way someone with a
text editor or the sqlite3 shell would: a version's row deleted or filed under another
policy, an older copy of the index put back, a substantive change rewritten as
"cosmetic only", a blame pointed at the wrong versions. Every read (``log``, ``show``,
``policies``, ``blame``) still gives the answer git gives, and ``verify`` (run before any
read could heal the cache) reports the edit as a problem, drops or rebuilds what was
edited, and passes when run again.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.reliability.harness import git
from helpers import index_sql as sql
from helpers import run_cli
from policydiff.engine import history
from policydiff.engine.history import stats_cache_path
from policydiff.store.gitstore import GitStore

POLICY = "acme/privacy"
OTHER = "acme/terms"
TEXTS = [
    "# Privacy\n\n## Data\n\nWe keep your data.\n\n## Sharing\n\nWe share nothing.\n",
    "# Privacy\n\n## Data\n\nWe keep your data.\n\n## Sharing\n\nWe share it with partners.\n",
    "# Privacy\n\n## Data\n\nWe keep it ten years.\n\n## Sharing\n\nWe share it with partners.\n",
    "# Privacy\n\n## Data\n\nWe sell your data.\n\n## Sharing\n\nWe share it with partners.\n",
]


def cli(store: Path, *args: str) -> Any:
    """Run a read command with ``--format json`` and return its document."""
    result = run_cli(["--store", str(store), *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with four versions of POLICY and one of OTHER, its caches all built."""
    root = tmp_path_factory.mktemp("cache-integrity")
    store = root / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    dated = [(f"202{n}-01-01", POLICY, text) for n, text in enumerate(TEXTS)]
    dated.insert(2, ("2021-06-01", OTHER, "# Terms\n\nBe nice.\n"))
    for day, policy, text in dated:
        source = root / f"{day}.md"
        source.write_text(text)
        added = run_cli(
            ["--store", str(store), "add", str(source), "--policy", policy, "--captured", day]
        )
        assert added.exit_code == 0, added.stderr
    cli(store, "log", POLICY)
    cli(store, "blame", POLICY)
    return store


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template store, caches included."""
    return Path(shutil.copytree(template, tmp_path / "store", symlinks=True))


@pytest.fixture(scope="module")
def truth(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the reads answer from git alone: a copy of the store without any cache."""
    bare = Path(shutil.copytree(template, tmp_path_factory.mktemp("truth") / "s", symlinks=True))
    shutil.rmtree(bare / ".git" / "policydiff")
    return {
        "log": cli(bare, "log", POLICY),
        "other": cli(bare, "log", OTHER),
        "show": cli(bare, "show", POLICY),
        "policies": cli(bare, "policies"),
        "blame": cli(bare, "blame", POLICY),
    }


def verify_reports(store: Path, expected: str, *scope: str) -> None:
    """``verify`` fails naming the cache, then passes: the edit was healed."""
    first = run_cli(["--store", str(store), "verify", *scope])
    assert first.exit_code == 2, first.stdout + first.stderr
    # The cache is named as the culprit, never the archive.
    problems = [line for line in first.stdout.splitlines() if line.startswith("PROBLEM")]
    assert problems, first.stdout
    assert all(expected in line for line in problems), first.stdout
    assert "Traceback" not in first.stderr
    again = run_cli(["--store", str(store), "verify", *scope])
    assert again.exit_code == 0, again.stdout


# --------------------------------------------------------------------------- history index


def commits_of(store: Path, policy: str) -> list[str]:
    """Return the commits of a policy's versions, from git."""
    return [v.commit for v in GitStore(store).versions(policy)]


def delete_middle(store: Path, commits: list[str]) -> None:
    sql(store, f"DELETE FROM chain WHERE commit_id = '{commits[1]}'")


def delete_latest(store: Path, commits: list[str]) -> None:
    sql(store, f"DELETE FROM chain WHERE commit_id = '{commits[-1]}'")


def refile(store: Path, commits: list[str]) -> None:
    sql(store, f"UPDATE chain SET policy = '{OTHER}' WHERE commit_id = '{commits[2]}'")


def swap_commit(store: Path, commits: list[str]) -> None:
    # Version 3's row names version 2's commit: a version shown twice, one hidden.
    sql(
        store,
        f"DELETE FROM chain WHERE commit_id = '{commits[1]}'",
        f"UPDATE chain SET commit_id = '{commits[1]}' WHERE commit_id = '{commits[2]}'",
    )


def hide_policy(store: Path, commits: list[str]) -> None:
    sql(
        store,
        f"DELETE FROM chain WHERE policy = '{POLICY}'",
        # (The seal too, where the cache has seals.)
        "CREATE TABLE IF NOT EXISTS seals (policy TEXT PRIMARY KEY, mac TEXT NOT NULL)",
        f"DELETE FROM seals WHERE policy = '{POLICY}'",
    )


def older_copy(store: Path, commits: list[str]) -> None:
    # A copy of the index from before the latest version, claiming to describe the tip:
    # its rows and seals are genuine, only out of date.
    index = store / ".git" / "policydiff" / "index.sqlite"
    db = sqlite3.connect(index)
    tip = db.execute("SELECT value FROM meta WHERE key = 'tip'").fetchone()[0]
    db.close()
    git(store, "update-ref", "refs/heads/main", f"{commits[-1]}^")
    index.unlink()
    # The cache now describes main one version back (policies reads every policy: the
    # whole chain is walked, where a read of one policy would keep only its own list).
    cli(store, "policies")
    git(store, "update-ref", "refs/heads/main", tip)
    sql(store, f"UPDATE meta SET value = '{tip}' WHERE key = 'tip'")


Edit = Callable[[Path, list[str]], None]
INDEX_EDITS: list[tuple[str, Edit]] = [
    ("delete-a-middle-version", delete_middle),
    ("delete-the-latest-version", delete_latest),
    ("file-a-version-under-another-policy", refile),
    ("swap-a-commit-id", swap_commit),
    ("hide-a-policy", hide_policy),
    ("older-copy-of-the-index", older_copy),
]


@pytest.mark.parametrize("edit", [e for _, e in INDEX_EDITS], ids=[n for n, _ in INDEX_EDITS])
def test_edited_index_never_changes_an_answer(
    store: Path, truth: dict[str, Any], edit: Edit
) -> None:
    edit(store, commits_of(store, POLICY))
    assert cli(store, "log", POLICY) == truth["log"]
    assert cli(store, "show", POLICY) == truth["show"]
    assert cli(store, "log", OTHER) == truth["other"]
    assert cli(store, "policies") == truth["policies"]


@pytest.mark.parametrize("scope", [(), (POLICY,)], ids=["store", "policy"])
@pytest.mark.parametrize("edit", [e for _, e in INDEX_EDITS], ids=[n for n, _ in INDEX_EDITS])
def test_verify_reports_and_rebuilds_an_edited_index(
    store: Path, truth: dict[str, Any], edit: Edit, scope: tuple[str, ...]
) -> None:
    edit(store, commits_of(store, POLICY))
    verify_reports(store, "history cache", *scope)
    assert cli(store, "log", POLICY) == truth["log"]


# --------------------------------------------------------------------------- change stats


def claim_cosmetic(store: Path) -> None:
    """Rewrite every substantive change in the stats cache as cosmetic only."""
    path = stats_cache_path(GitStore(store), POLICY)
    data = json.loads(path.read_text())
    for entry in data["pairs"].values():
        entry.update(
            substantive=False,
            cosmetic_only=True,
            sections_changed=0,
            words_inserted=0,
            words_deleted=0,
        )
    path.write_text(json.dumps(data))


def test_stats_cache_claiming_cosmetic_only_is_not_believed(
    store: Path, truth: dict[str, Any]
) -> None:
    assert any(v["stats"] and v["stats"]["substantive"] for v in truth["log"]["versions"])
    claim_cosmetic(store)
    assert cli(store, "log", POLICY) == truth["log"]


def test_verify_reports_an_edited_stats_cache(store: Path, truth: dict[str, Any]) -> None:
    claim_cosmetic(store)
    verify_reports(store, f"change-stats cache of {POLICY}: 3 entries did not match")
    assert cli(store, "log", POLICY) == truth["log"]


def test_stats_cache_sealed_by_another_store_is_not_believed(
    store: Path, truth: dict[str, Any], tmp_path: Path
) -> None:
    # Forged stats, sealed properly but with another store's key: a cache file copied
    # in from elsewhere (or written by someone without this store's key).
    other = Path(shutil.copytree(store, tmp_path / "other", symlinks=True))
    (other / ".git" / "policydiff" / "cache-key").unlink()
    key = GitStore(other).cache_key()
    claim_cosmetic(other)
    path = stats_cache_path(GitStore(other), POLICY)
    data = json.loads(path.read_text())
    for name, entry in data["pairs"].items():
        content = {k: v for k, v in entry.items() if k != "seal"}
        # Forging needs the sealing scheme: the test borrows policydiff's own.
        entry["seal"] = history._seal(key, "stats", POLICY, data["engine"], name, content)
    shutil.copy(path, stats_cache_path(GitStore(store), POLICY))
    verify_reports(store, f"change-stats cache of {POLICY}: 3 entries did not match")
    assert cli(store, "log", POLICY) == truth["log"]
    # And a read alone never believes it either.
    shutil.copy(path, stats_cache_path(GitStore(store), POLICY))
    assert cli(store, "log", POLICY) == truth["log"]


# --------------------------------------------------------------------------- blame


def blame_path_of(store: Path, policy: str) -> Path:
    """Return the blame cache file of a policy."""
    folder = stats_cache_path(GitStore(store), policy).parent.parent / "blame"
    return folder / stats_cache_path(GitStore(store), policy).name


def misattribute(store: Path) -> None:
    """Point every remembered unit at the first version: nothing ever changed."""
    path = blame_path_of(store, POLICY)
    data = json.loads(path.read_text())
    for entry in data["blames"].values():
        entry["origins"] = [[0, 0] for _ in entry["origins"]]
    path.write_text(json.dumps(data))


def test_edited_blame_cache_is_not_believed(store: Path, truth: dict[str, Any]) -> None:
    assert {u["since"] for u in truth["blame"]["units"]} != {1}
    misattribute(store)
    assert cli(store, "blame", POLICY) == truth["blame"]


def test_verify_reports_an_edited_blame_cache(store: Path, truth: dict[str, Any]) -> None:
    misattribute(store)
    verify_reports(store, f"blame cache of {POLICY}: 1 entry did not match")
    assert cli(store, "blame", POLICY) == truth["blame"]


def test_verify_reports_a_cache_file_of_another_policy(store: Path) -> None:
    cli(store, "blame", OTHER)
    shutil.copy(blame_path_of(store, OTHER), blame_path_of(store, POLICY))
    verify_reports(store, f"holds the cache of {OTHER}: removed")
