"""Per-version change stats in `log`, and their cache under the store's git directory."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli
from policydiff.engine.history import (
    ChangeStats,
    Timeline,
    change_stats,
    stats_cache_path,
    version_stats,
)
from policydiff.store.gitstore import GitStore
from test_blame import POLICY, build_story, snapshot, story_texts


@pytest.fixture
def story(tmp_path: Path) -> GitStore:
    """A fresh four-version story store (tests here write its cache)."""
    return build_story(tmp_path / "store", count=4)


def stats_of(store: GitStore) -> list[ChangeStats | None]:
    """Return the stats of the story policy."""
    return version_stats(Timeline(store, POLICY))


def test_stats_describe_each_version(story: GitStore) -> None:
    first, rewrap, edit, rename = stats_of(story)
    assert first is None
    assert rewrap is not None
    assert rewrap.cosmetic_only
    assert (rewrap.words_inserted, rewrap.words_deleted) == (0, 0)
    assert rewrap.sections_cosmetic == 6
    assert edit is not None
    assert not edit.cosmetic_only
    # The edit; both ends of the moved paragraph only moved text (issue 13): cosmetic.
    assert (edit.sections_changed, edit.sections_cosmetic) == (1, 2)
    assert edit.words_inserted >= 1
    assert rename is not None
    assert (rename.sections_removed, rename.sections_renamed) == (1, 1)


def test_cache_lives_in_the_git_dir_and_is_used(
    story: GitStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = stats_of(story)
    path = stats_cache_path(story, POLICY)
    assert path.parent == story.path / ".git" / "policydiff" / "stats"
    data = json.loads(path.read_text())
    assert data["policy"] == POLICY
    commits = [v.commit for v in story.versions(POLICY)]
    assert sorted(data["pairs"]) == sorted(f"{a}..{b}" for a, b in itertools.pairwise(commits))
    # Nothing in the worktree: the store stays clean.
    assert story.local_changes() == []
    status = subprocess.run(
        ["git", "-C", str(story.path), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == ""

    def no_diffing(*_: object) -> None:
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(Timeline, "diff", no_diffing)
    assert stats_of(story) == expected


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: "{ not json",
        lambda data: json.dumps({**data, "engine": "other"}),
        lambda data: json.dumps({**data, "format": 99}),
        lambda data: json.dumps(
            {**data, "pairs": {k: {**v, "words_inserted": "x"} for k, v in data["pairs"].items()}}
        ),
        lambda data: json.dumps({**data, "pairs": {k: [] for k in data["pairs"]}}),
    ],
)
def test_damaged_cache_is_rebuilt(story: GitStore, damage: Callable[[dict[str, Any]], str]) -> None:
    expected = stats_of(story)
    path = stats_cache_path(story, POLICY)
    path.write_text(damage(json.loads(path.read_text())))
    assert stats_of(story) == expected
    assert json.loads(path.read_text())["pairs"]


def test_rebuild_replaces_plausible_but_wrong_entries(story: GitStore) -> None:
    expected = stats_of(story)
    path = stats_cache_path(story, POLICY)
    data = json.loads(path.read_text())
    for entry in data["pairs"].values():
        entry["words_inserted"] = 999
    path.write_text(json.dumps(data))
    assert stats_of(story) == expected  # entries that do not match their seal are recomputed
    result = run_cli(["--store", str(story.path), "log", "--rebuild-cache", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert stats_of(story) == expected  # ...and the cache is never the source of truth


def test_backfill_recomputes_new_pairs_and_drops_old_ones(story: GitStore) -> None:
    stats_of(story)
    path = stats_cache_path(story, POLICY)
    before = set(json.loads(path.read_text())["pairs"])
    # A version captured between 1 and 2 rewrites the later commits.
    story.record([snapshot(story_texts()[0] + "\nA backfilled line.\n", "2016-03-01")])
    stats = stats_of(story)
    after = set(json.loads(path.read_text())["pairs"])
    assert len(stats) == 5
    assert len(after) == 4
    assert before - after  # the rewritten pairs are gone...
    commits = [v.commit for v in story.versions(POLICY)]
    assert after == {f"{a}..{b}" for a, b in itertools.pairwise(commits)}  # ...and only current


def test_change_stats_of_identical_texts() -> None:
    from policydiff.engine.compare import compare_texts

    stats = change_stats(compare_texts("# T\n\nSame.\n", "# T\n\nSame.\n"))
    assert stats.identical
    assert not stats.cosmetic_only
    assert ChangeStats.from_json(stats.to_json()) == stats
    assert ChangeStats.from_json({**stats.to_json(), "identical": 1}) is None


# --------------------------------------------------------------------------- CLI


def test_log_table_has_stats_columns(story: GitStore) -> None:
    result = run_cli(["--store", str(story.path), "log"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[:6] == ["#", "captured", "effective", "commit", "sections", "words"]
    assert "first" in lines[2]
    assert "+0 \u22120 cosmetic only" in lines[3]
    assert "cosmetic only" not in lines[4]


def test_log_json_adds_stats_and_no_stats_leaves_them_out(story: GitStore) -> None:
    result = run_cli(["--store", str(story.path), "log", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "policydiff.log/1"
    assert data["versions"][0]["stats"] is None
    second = data["versions"][1]
    assert second["version"] == 2
    assert second["stats"]["cosmetic_only"] is True
    assert set(second["stats"]) == {
        "sections_added",
        "sections_removed",
        "sections_changed",
        "sections_cosmetic",
        "sections_renamed",
        "sections_moved",
        "words_inserted",
        "words_deleted",
        "cosmetic_words",
        "substantive",
        "identical",
        "cosmetic_only",
        "moved_blocks",
        "words_moved",
    }
    bare = json.loads(
        run_cli(["--store", str(story.path), "log", "--format", "json", "--no-stats"]).stdout
    )
    assert all("stats" not in v for v in bare["versions"])
    plain = run_cli(["--store", str(story.path), "log", "--no-stats"]).stdout
    assert "sections" not in plain.splitlines()[1]


def test_no_stats_and_rebuild_conflict(story: GitStore) -> None:
    result = run_cli(["--store", str(story.path), "log", "--no-stats", "--rebuild-cache"])
    assert result.exit_code == 2
    assert result.stderr == "Error: --rebuild-cache needs the stats: drop --no-stats\n"


def test_warm_log_does_not_load_the_diff_engine(story: GitStore) -> None:
    stats_of(story)
    probe = (
        "import sys\n"
        "from policydiff.cli import main\n"
        "try:\n"
        f"    main(['--store', {str(story.path)!r}, 'log'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('ENGINE', 'policydiff.engine.compare' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "ENGINE False" in done.stderr
    assert "cosmetic only" in done.stdout
