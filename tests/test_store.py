"""The git-backed store: recording, ordering, dedupe, backfill, reading back, verify."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policydiff.core.errors import (
    NotAStoreError,
    StoreBusyError,
    StoreError,
    UnknownVersionError,
    UsageError,
)
from policydiff.core.model import Snapshot
from policydiff.core.refs import parse_ref
from policydiff.store.gitstore import GitStore, init_store
from policydiff.store.layout import parse_trailers, text_path


def snap(policy: str, text: str, when: str, **kw: object) -> Snapshot:
    captured = datetime.fromisoformat(when).replace(tzinfo=UTC)
    return Snapshot(
        policy=policy,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=captured,
        origin=f"{policy}@{when}",
        **kw,  # type: ignore[arg-type]
    )


def git(store: GitStore, *args: str, input_: str | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(store.path), *args],
        check=True,
        capture_output=True,
        text=True,
        input=input_,
    ).stdout


def texts(store: GitStore, policy: str) -> list[str]:
    return [store.text(v) for v in store.versions(policy)]


def test_init_creates_browsable_repo(store: GitStore) -> None:
    assert (store.path / "README.md").read_text().startswith("# policydiff store")
    assert "format" in (store.path / "policydiff-store.json").read_text()
    assert git(store, "rev-parse", "--is-bare-repository").strip() == "false"
    assert store.policies() == []


def test_init_refuses_non_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("hi")
    with pytest.raises(StoreError, match="not empty"):
        init_store(tmp_path)


def test_open_rejects_non_stores(tmp_path: Path) -> None:
    with pytest.raises(NotAStoreError, match="no store"):
        GitStore(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotAStoreError, match="is a file"):
        GitStore(tmp_path / "file")
    with pytest.raises(NotAStoreError, match="not a git repository"):
        GitStore(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path / "plain")], check=True)
    with pytest.raises(NotAStoreError, match="not a policydiff store"):
        GitStore(tmp_path / "plain")


def test_newer_format_refused(store_dir: Path) -> None:
    (store_dir / "policydiff-store.json").write_text('{"format": 99}')
    with pytest.raises(StoreError, match="newer than this policydiff supports"):
        GitStore(store_dir)


def test_one_commit_per_version_with_trailers(store: GitStore) -> None:
    s = snap(
        "koozali/privacy-policy",
        "# Policy\n\nText.\n",
        "2017-04-22T08:22:16",
        effective_date=date(2016, 2, 8),
        source_url="https://wiki.contribs.org/SME_Server:Privacy_policy",
        archive_url="https://web.archive.org/web/20170422082216id_/x",
    )
    (result,) = store.record([s])
    assert result.version is not None
    assert result.version.number == 1
    log = git(store, "log", "-1", "--format=%s%n%ad%n%cd%n%(trailers)", "--date=iso-strict")
    lines = log.splitlines()
    assert lines[0] == "koozali/privacy-policy: record version captured 2017-04-22"
    assert lines[1] == lines[2] == "2017-04-22T08:22:16+00:00"
    trailers = dict(parse_trailers(git(store, "log", "-1", "--format=%B")))
    assert trailers["Policy"] == "koozali/privacy-policy"
    assert trailers["Captured-At"] == "2017-04-22T08:22:16Z"
    assert trailers["Effective-Date"] == "2016-02-08"
    assert trailers["Text-SHA256"] == s.text_sha256
    assert trailers["Source-SHA256"] == s.raw_sha256
    assert trailers["Recorded-By"].startswith("policydiff ")
    changed = git(store, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == [
        "policies/koozali/privacy-policy/source.md",
        "policies/koozali/privacy-policy/text.md",
    ]
    # The view follows: the working tree holds the text, so plain git tools see it.
    assert (store.path / text_path("koozali/privacy-policy")).read_text() == s.text
    assert store.local_changes() == []


def test_identical_text_records_nothing(store: GitStore) -> None:
    store.record([snap("a/b", "one\n", "2020-01-01")])
    tip = store.tip()
    (again,) = store.record([snap("a/b", "one\n", "2021-01-01")])
    assert again.status == "unchanged"
    assert store.tip() == tip
    assert len(store.versions("a/b")) == 1


def test_backfill_lands_in_timeline_and_keeps_previous_tip(store: GitStore) -> None:
    store.record([snap("a/b", "v2\n", "2020-01-01"), snap("c/d", "x\n", "2020-06-01")])
    store.record([snap("a/b", "v3\n", "2022-01-01")])
    before = store.tip()
    (older,) = store.record([snap("a/b", "v1\n", "2018-01-01")])
    assert older.version is not None
    assert older.version.number == 1
    assert texts(store, "a/b") == ["v1\n", "v2\n", "v3\n"]
    assert texts(store, "c/d") == ["x\n"]
    dates = [v.captured_at.year for v in store.versions("a/b")]
    assert dates == [2018, 2020, 2022]
    # The whole first-parent chain stays ordered by capture time.
    stamps = [int(x) for x in git(store, "log", "--format=%ct", "--first-parent").split()][:-1]
    assert stamps == sorted(stamps, reverse=True)
    assert [commit for _, commit in store.previous_tips()] == [before]
    assert store.verify().ok


def test_backfill_identical_to_next_version_is_not_a_new_version(store: GitStore) -> None:
    store.record([snap("a/b", "same\n", "2022-01-01")])
    (older,) = store.record([snap("a/b", "same\n", "2018-01-01")])
    assert older.status == "unchanged"
    assert len(store.versions("a/b")) == 1


def test_batch_is_merged_in_capture_order(store: GitStore) -> None:
    results = store.record(
        [
            snap("a/b", "3\n", "2003-01-01"),
            snap("a/b", "1\n", "2001-01-01"),
            snap("a/b", "1\n", "2001-06-01"),
            snap("a/b", "2\n", "2002-01-01"),
        ]
    )
    assert [r.status for r in results] == ["recorded", "unchanged", "recorded", "recorded"]
    assert texts(store, "a/b") == ["1\n", "2\n", "3\n"]


def test_batch_blobs_delta_within_their_own_policy(store: GitStore) -> None:
    # fast-import deltas each blob against the one written before it: interleaved
    # policies must not chain through each other (reads would rebuild unrelated texts).
    def body(name: str, edit: int) -> str:
        lines = [f"{name} clause {i}: we process personal data for purpose {i}." for i in range(80)]
        lines[edit] = f"{name} clause {edit}: changed in version {edit}."
        return "\n".join(lines) + "\n"

    # Enough objects that fast-import keeps a pack (fewer are written loose, undeltified).
    batch = [
        snap(policy, body(policy, n), f"{2000 + n}-01-0{1 + k}")
        for n in range(20)
        for k, policy in enumerate(("x/one", "y/two"))
    ]
    store.record(batch)
    for policy in ("x/one", "y/two"):
        blobs = [
            git(store, "rev-parse", f"{v.commit}:{text_path(policy)}").strip()
            for v in store.versions(policy)
        ]
        bases = git(store, "cat-file", "--batch-check=%(deltabase)", input_="\n".join(blobs))
        own = set(blobs) | {"0" * 40}
        packs = git(store, "count-objects", "-v")
        assert set(bases.split()) <= own, (policy, bases, blobs, packs)
        assert set(bases.split()) - {"0" * 40}, ("no deltas", policy, bases, packs)
    assert store.verify().ok


def test_refs_resolve(store: GitStore) -> None:
    store.record(
        [
            snap("a/b", "1\n", "2001-01-01", effective_date=date(2000, 12, 1)),
            snap("a/b", "2\n", "2002-01-01"),
            snap("a/b", "3\n", "2003-01-01"),
        ]
    )
    v = store.versions("a/b")
    assert store.resolve("a/b", parse_ref("latest")) == v[2]
    assert store.resolve("a/b", parse_ref("previous")) == v[1]
    assert store.resolve("a/b", parse_ref("1")) == v[0]
    # An all-digit ref is a version number (documented), so abbreviate to a prefix with a letter.
    prefix = next(v[1].commit[:n] for n in range(8, 41) if not v[1].commit[:n].isdigit())
    assert store.resolve("a/b", parse_ref(prefix)) == v[1]
    # In force on a date: effective date when stated, else the capture day.
    assert store.resolve("a/b", parse_ref("2000-12-15")) == v[0]
    assert store.resolve("a/b", parse_ref("2002-06-30")) == v[1]
    with pytest.raises(UnknownVersionError):
        store.resolve("a/b", parse_ref("4"))
    with pytest.raises(UnknownVersionError):
        store.resolve("a/b", parse_ref("1999-01-01"))


# Every tampering check runs on the whole store (one walk + fsck) and on one policy
# (its versions from the history cache, re-hashed, its folder followed between them).
SCOPES = pytest.mark.parametrize("scope", [None, "a/b"], ids=["store", "policy"])


@SCOPES
def test_verify_catches_hand_edited_working_file(store: GitStore, scope: str | None) -> None:
    store.record([snap("a/b", "text\n", "2020-01-01")])
    (store.path / text_path("a/b")).write_text("tampered\n")
    report = store.verify(scope)
    assert not report.ok
    assert any("differs from the recorded version" in p for p in report.problems)
    # Writes refuse rather than bury the edit.
    with pytest.raises(StoreError, match="local changes"):
        store.record([snap("a/b", "new\n", "2021-01-01")])


@SCOPES
def test_verify_catches_committed_edit(store: GitStore, scope: str | None) -> None:
    store.record([snap("a/b", "text\n", "2020-01-01")])
    (store.path / text_path("a/b")).write_text("tampered\n")
    git(store, "commit", "-qam", "sneaky edit")
    sneaky = git(store, "rev-parse", "HEAD").strip()
    report = store.verify(scope)
    assert f"{sneaky[:10]}: changes a/b without policydiff trailers" in " ".join(report.problems)


@SCOPES
def test_verify_catches_edit_between_versions(store: GitStore, scope: str | None) -> None:
    store.record([snap("a/b", "one\n", "2020-01-01"), snap("c/d", "other\n", "2020-02-01")])
    (store.path / text_path("a/b")).write_text("slipped in\n")
    # Dated before the next version, so that version lands after it (no replay).
    when = {"GIT_AUTHOR_DATE": "2020-06-01T00:00:00Z", "GIT_COMMITTER_DATE": "2020-06-01T00:00:00Z"}
    subprocess.run(
        ["git", "-C", str(store.path), "commit", "-qam", "edit between versions"],
        check=True,
        env={**os.environ, **when},
    )
    sneaky = git(store, "rev-parse", "HEAD").strip()
    store.record([snap("a/b", "two\n", "2021-01-01")])
    assert git(store, "rev-parse", "main~1").strip() == sneaky
    report = store.verify(scope)
    assert not report.ok
    assert f"{sneaky[:10]}: changes a/b without" in " ".join(report.problems)
    # The other policy is untouched: checked alone it is fine.
    assert store.verify("c/d").ok


@SCOPES
def test_verify_catches_version_that_touches_another_policy(
    store: GitStore, scope: str | None
) -> None:
    store.record([snap("a/b", "one\n", "2020-01-01")])
    (store.path / "stray.txt").write_text("not a policy\n")
    git(store, "add", "stray.txt")
    git(store, "commit", "-q", "--amend", "--no-edit")
    report = store.verify(scope)
    assert any("also touches stray.txt" in p for p in report.problems)


@SCOPES
def test_verify_catches_rewritten_commit(store: GitStore, scope: str | None) -> None:
    store.record([snap("a/b", "one\n", "2020-01-01"), snap("a/b", "two\n", "2021-01-01")])
    # Rewrite history: amend the latest version's text but keep its message and trailers.
    (store.path / text_path("a/b")).write_text("forged\n")
    git(store, "add", "-A")
    git(store, "commit", "-q", "--amend", "--no-edit")
    report = store.verify(scope)
    problems = " ".join(report.problems)
    assert "does not match its Text-SHA256" in problems
    assert "rewritten outside policydiff" in problems


def test_invalid_policy_rejected_without_side_effect(store: GitStore) -> None:
    tip = store.tip()
    for bad in [
        "../x",
        "-n",
        "--output=/tmp/x",
        "A/B",
        "a//b",
        "a/",
        "/a",
        "a b",
        "a\nb",
        "x" * 200,
    ]:
        with pytest.raises(UsageError):
            store.record([snap(bad, "t\n", "2020-01-01")])
    assert store.tip() == tip
    assert store.policies() == []


@pytest.mark.parametrize(
    "ref",
    ["--output=/tmp/x", "-n", "HEAD~1..HEAD", "$(id)", "@{-1}", "2016-02-30", "0", "9999-01-01"],
)
def test_bad_refs_rejected(ref: str) -> None:
    with pytest.raises(UsageError):
        parse_ref(ref)


def test_store_busy_when_locked(store: GitStore) -> None:
    with store.write_lock(timeout=1), pytest.raises(StoreBusyError, match="store busy"):
        store.record([snap("a/b", "t\n", "2020-01-01")], lock_timeout=0.2)


def test_git_index_lock_reported_busy(store: GitStore) -> None:
    (Path(store.repo.git_dir) / "index.lock").write_text("")
    with pytest.raises(StoreBusyError, match=r"index\.lock"):
        store.record([snap("a/b", "t\n", "2020-01-01")])
    assert store.policies() == []


def test_view_healed_after_interrupted_refresh(store: GitStore) -> None:
    store.record([snap("a/b", "one\n", "2020-01-01")])
    old = store.tip()
    store.record([snap("a/b", "two\n", "2021-01-01")])
    # Simulate a crash between moving main and refreshing the index and working tree.
    git(store, "read-tree", "-m", "-u", store.tip(), old)
    assert store.heal_view()
    assert (store.path / text_path("a/b")).read_text() == "two\n"
    assert store.verify().ok


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.text(min_size=1).filter(lambda t: "\r" not in t and t.strip()))
def test_any_utf8_text_round_trips(tmp_path_factory: pytest.TempPathFactory, body: str) -> None:
    store = GitStore(init_store(tmp_path_factory.mktemp("rt") / "s"))
    (result,) = store.record([snap("p/q", body, "2020-01-01")])
    assert result.version is not None
    assert store.text(result.version) == body
    assert store.verify().ok


def test_tree_entry_lookup_survives_malformed_trees() -> None:
    from policydiff.store.layout import _tree_entry_at

    good = b"100644 a.md\0" + b"\x01" * 20 + b"40000 dir\0" + b"\x02" * 20
    assert _tree_entry_at(good, "dir") == good.index(b"\x02")
    assert _tree_entry_at(good, "missing") is None
    for broken in (b"100644 a.md", b"100644a.md\0" + b"\x01" * 20, b"\0\0\0"):
        assert _tree_entry_at(broken, "a.md") is None
    # A truncated last entry: the intact one is still found, the cut one is not.
    assert _tree_entry_at(good[:-3], "a.md") == len(b"100644 a.md\0")
    assert _tree_entry_at(good[:-3], "dir") is None
