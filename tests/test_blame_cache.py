"""The blame cache: remembered blames give the same answer and resume where they stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_cli
from policydiff.engine.history import BLAME_KEEP, Blame, BlameCache, Granularity, Timeline, blame
from policydiff.store.gitstore import GitStore
from test_blame import DATES, POLICY, build_story, snapshot, story_texts


def summary(result: Blame) -> list[tuple[str, int, int]]:
    """Each entry as (text, since number, edited number)."""
    return [(e.text, e.since.number, e.edited.number) for e in result.entries]


def fresh(store: GitStore, *, by: Granularity = Granularity.PARAGRAPH, **kw: object) -> Blame:
    """Blame without the cache, on a new timeline."""
    return blame(Timeline(store, POLICY), by=by, use_cache=False, **kw)  # type: ignore[arg-type]


def cache_files(store: GitStore) -> list[Path]:
    return sorted((Path(store.repo.git_dir) / "policydiff" / "blame").glob("*.json"))


@pytest.fixture
def story(tmp_path: Path) -> GitStore:
    """A private copy of the story (these tests write to its cache)."""
    return build_story(tmp_path / "store", count=4)


def test_cached_blame_equals_a_fresh_one(story: GitStore) -> None:
    first = blame(Timeline(story, POLICY))
    assert cache_files(story)
    timeline = Timeline(story, POLICY)
    again = blame(timeline)
    assert summary(again) == summary(first) == summary(fresh(story))
    # Answered from the cache: nothing was diffed.
    assert not timeline._diffs


def test_resumes_after_new_versions_with_one_diff_each(story: GitStore) -> None:
    blame(Timeline(story, POLICY))  # remembers version 4
    texts = story_texts()
    story.record([snapshot(texts[4], DATES[4], technical=True), snapshot(texts[5], DATES[5])])
    for by in Granularity:
        for technical in (False, True):
            blame(
                Timeline(story, POLICY),
                story.versions(POLICY)[3],
                by=by,
                include_technical=technical,
            )
    for by in Granularity:
        for technical in (False, True):
            timeline = Timeline(story, POLICY)
            resumed = blame(timeline, by=by, include_technical=technical)
            expected = fresh(story, by=by, include_technical=technical)
            assert summary(resumed) == summary(expected)
            # From version 4: one diff to 6, or two through the technical version 5.
            assert len(timeline._diffs) == (2 if technical else 1)


def test_older_versions_and_granularities_are_kept_apart(story: GitStore) -> None:
    versions = story.versions(POLICY)
    for version in versions:
        for by in Granularity:
            cached = blame(Timeline(story, POLICY), version, by=by)
            again = blame(Timeline(story, POLICY), version, by=by)
            uncached = blame(Timeline(story, POLICY), version, by=by, use_cache=False)
            assert summary(cached) == summary(again) == summary(uncached)
            assert cached.version == version


def test_a_damaged_or_stale_cache_is_ignored(story: GitStore) -> None:
    expected = summary(fresh(story))
    blame(Timeline(story, POLICY))
    (path,) = cache_files(story)
    document = json.loads(path.read_text())
    for entry in document["blames"].values():
        entry["origins"] = entry["origins"][:-1]  # one unit short
        entry["commits"] = [*entry["commits"][:1], "0" * 40]  # a commit not in the history
    path.write_text(json.dumps(document))
    assert summary(blame(Timeline(story, POLICY))) == expected
    path.write_text("{not json")
    assert summary(blame(Timeline(story, POLICY))) == expected
    document["engine"] = "another engine"
    path.write_text(json.dumps(document))
    assert summary(blame(Timeline(story, POLICY))) == expected


def test_rebuild_recomputes_everything(story: GitStore) -> None:
    blame(Timeline(story, POLICY))
    timeline = Timeline(story, POLICY)
    rebuilt = blame(timeline, rebuild=True)
    assert len(timeline._diffs) == len(story.versions(POLICY)) - 1
    assert summary(rebuilt) == summary(fresh(story))


def test_backfill_rewrites_commits_so_old_entries_no_longer_match(story: GitStore) -> None:
    before = blame(Timeline(story, POLICY))
    texts = story_texts()
    # A version before all others: every commit after it is replayed under a new id.
    story.record([snapshot(texts[0].replace("Koozali", "Koozali SME"), "2015-01-01")])
    after = blame(Timeline(story, POLICY))
    assert summary(after) == summary(fresh(story))
    assert after.chain[0].commit != before.chain[0].commit


def test_keeps_a_bounded_number_of_blames(tmp_path: Path) -> None:
    cache = BlameCache(tmp_path / "c.json", POLICY, "engine", b"k" * 32)
    for n in range(BLAME_KEEP + 5):
        cache.put(Granularity.PARAGRAPH, False, f"{n:040x}", [("a" * 40, "b" * 40)])
    cache.save()
    assert len(json.loads((tmp_path / "c.json").read_text())["blames"]) == BLAME_KEEP


def test_cli_rebuild_cache_flag(story: GitStore) -> None:
    args = ["--store", str(story.path), "blame", POLICY, "--format", "json"]
    first = run_cli(args)
    rebuilt = run_cli([*args, "--rebuild-cache"])
    assert first.exit_code == rebuilt.exit_code == 0
    assert json.loads(first.stdout) == json.loads(rebuilt.stdout)
