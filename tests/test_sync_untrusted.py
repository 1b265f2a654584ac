"""A sync remote is untrusted: whatever it offers is checked before ``main`` moves.

Each row crafts one hostile history with plain git in a clone of a real bare remote (a
symlinked template pointing at a local secret, a file outside ``policies/``, a forged
``Text-SHA256``, a version touching two policies, text that is not UTF-8, a changed
marker file, dates from 1900 or 2999, a submodule, a merge...), pushes it, and runs the
real ``policydiff sync``: exit 2, one ``Error:`` line after the per-commit details, and
the local store exactly as it was (every ref including ``refs/policydiff/*``, HEAD, the
working tree, the git directory's entries, the commit-graph files). The legitimate cases
(a version recorded by another policydiff, a configuration change taken with
``--accept-config``) still sync. ``verify`` reports what a remote could have smuggled in
before this check existed: a symbolic link or other non-regular file in the store's tree.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fixtures.reliability.harness import git
from helpers import run_cli
from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore
from policydiff.store.layout import build_message
from test_bad_input import store_state

POLICY = "acme/privacy"
OTHER = "acme/terms"
BODY = "# Privacy policy\n\n## 1. Data\n\nWe keep your data safe.\n"
SECRET = "SECRET-TOKEN-4711\n"
STAMP_2022 = int(datetime(2022, 3, 1, tzinfo=UTC).timestamp())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small store (two policies, three versions) and a bare remote holding the same."""
    root = tmp_path_factory.mktemp("sync-untrusted")
    store = root / "local"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    for day, policy, text in [
        ("2020-01-01", POLICY, BODY),
        ("2020-06-01", OTHER, "# Terms\n\nBe nice.\n"),
        ("2021-01-01", POLICY, BODY.replace("safe", "very safe")),
    ]:
        source = root / f"{day}.md"
        source.write_text(text)
        added = run_cli(
            ["--store", str(store), "add", str(source), "--policy", policy, "--captured", day]
        )
        assert added.exit_code == 0, added.stderr
    bare = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    assert run_cli(["--store", str(store), "sync", str(bare)]).exit_code == 0
    (root / "secret.txt").write_text(SECRET)
    return root


@dataclass
class Setup:
    """One test's copies: the local store, the bare remote, a plain clone to craft in."""

    local: Path
    remote: Path
    work: Path
    secret: Path


@pytest.fixture
def setup(origin: Path, tmp_path: Path) -> Setup:
    """Fresh copies of the store and the remote, and a clone of the remote to attack from."""
    root = Path(shutil.copytree(origin, tmp_path / "w", symlinks=True))
    work = root / "work"
    subprocess.run(
        ["git", "clone", "-q", "-b", "main", str(root / "remote.git"), str(work)], check=True
    )
    return Setup(root / "local", root / "remote.git", work, root / "secret.txt")


def local_state(store: Path) -> dict[str, object]:
    """``store_state`` plus the commit-graph files and what a fetch could leave behind."""
    state = store_state(store)
    info = store / ".git" / "objects" / "info"
    state["commit_graph"] = {
        str(p.relative_to(info)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(info.rglob("*"))
        if p.is_file()
    }
    state["all_refs"] = git(store, "for-each-ref")
    # Not even unreferenced objects: what a refused remote sent stays out of the store.
    objects = store / ".git" / "objects"
    state["objects"] = sorted(str(p.relative_to(objects)) for p in objects.rglob("*"))
    return state


# --------------------------------------------------------------------------- crafting


def version_message(
    policy: str, text: bytes, when: datetime, *, source: bytes | None = None
) -> str:
    """Return the commit message policydiff would write for a version with ``text``."""
    snapshot = Snapshot(
        policy=policy,
        text=text.decode("utf-8", "replace"),
        raw=text if source is None else source,
        raw_suffix="md",
        # The model refuses captures out of range: build at a valid time, then put the
        # (maybe hostile) time in, as a remote's hand-made commit would have it.
        captured_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    message = build_message(snapshot).replace(
        "Captured-At: 2020-01-01T00:00:00Z", f"Captured-At: {when:%Y-%m-%dT%H:%M:%SZ}"
    )
    # build_message hashes the text as str: restore the hash of the exact bytes.
    return message.replace(snapshot.text_sha256, hashlib.sha256(text).hexdigest())


def commit_raw(
    work: Path,
    message: str,
    stamp: int,
    *,
    committer: int | None = None,
    parents: list[str] | None = None,
) -> str:
    """Commit the index of ``work`` as a raw commit object (any date), and move main to it."""
    tree = git(work, "write-tree").strip()
    parents = parents if parents is not None else [git(work, "rev-parse", "HEAD").strip()]
    when = committer if committer is not None else stamp
    body = (
        f"tree {tree}\n"
        + "".join(f"parent {p}\n" for p in parents)
        + f"author policydiff <policydiff@localhost> {stamp} +0000\n"
        + f"committer policydiff <policydiff@localhost> {when} +0000\n\n"
        + message
    )
    made = subprocess.run(
        ["git", "-C", str(work), "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
        input=body.encode("utf-8"),
        capture_output=True,
        check=True,
    )
    commit = made.stdout.decode().strip()
    git(work, "update-ref", "refs/heads/main", commit)
    return commit


def write(work: Path, path: str, data: bytes) -> None:
    """Write a file in the clone and stage it."""
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    git(work, "add", "--", path)


def add_version(
    work: Path,
    policy: str,
    text: bytes,
    when: datetime,
    *,
    message: str | None = None,
    committer: int | None = None,
) -> str:
    """Stage a policy's text and source and commit them as a version dated ``when``."""
    folder = f"policies/{policy}"
    write(work, f"{folder}/text.md", text)
    write(work, f"{folder}/source.md", text)
    stamp = int(when.timestamp())
    return commit_raw(
        work, message or version_message(policy, text, when), stamp, committer=committer
    )


def push(work: Path) -> None:
    """Push the clone's main to the remote."""
    git(work, "push", "-q", "--force", "origin", "main")


WHEN = datetime(2022, 3, 1, tzinfo=UTC)
NEW_TEXT = BODY.replace("safe", "safe and sound").encode()


def symlink_template(s: Setup) -> None:
    (s.work / "templates").mkdir()
    (s.work / "templates" / "announce.email.j2").symlink_to(s.secret)
    git(s.work, "add", "templates")
    commit_raw(s.work, "Add a nicer announcement template\n", STAMP_2022)


def symlink_text(s: Setup) -> None:
    folder = s.work / "policies" / POLICY
    (folder / "text.md").unlink()
    (folder / "text.md").symlink_to(s.secret)
    git(s.work, "add", "-A", "policies")
    commit_raw(s.work, version_message(POLICY, SECRET.encode(), WHEN), STAMP_2022)


def file_outside(s: Setup) -> None:
    write(s.work, "tools/run.sh", b"#!/bin/sh\necho hi\n")
    commit_raw(s.work, "Add a helper\n", STAMP_2022)


def version_outside(s: Setup) -> None:
    write(s.work, "notes.txt", b"hello\n")
    add_version(s.work, POLICY, NEW_TEXT, WHEN)


def gitattributes(s: Setup) -> None:
    write(s.work, ".gitattributes", b"* filter=evil\n")
    commit_raw(s.work, "Attributes\n", STAMP_2022)


def bad_text_sha(s: Setup) -> None:
    message = version_message(POLICY, b"what the trailer promises\n", WHEN)
    add_version(s.work, POLICY, NEW_TEXT, WHEN, message=message)


def two_policies(s: Setup) -> None:
    write(s.work, f"policies/{OTHER}/text.md", b"# Terms\n\nBe very nice.\n")
    add_version(s.work, POLICY, NEW_TEXT, WHEN)


def invalid_utf8(s: Setup) -> None:
    add_version(s.work, POLICY, b"# Privacy\n\nWe keep \xff\xfe your data.\n", WHEN)


def marker_change(s: Setup) -> None:
    write(s.work, "policydiff-store.json", b'{"format": 99}\n')
    commit_raw(s.work, "Upgrade the store\n", STAMP_2022)


def readme_change(s: Setup) -> None:
    write(s.work, "README.md", b"# Nothing to see here\n")
    commit_raw(s.work, "Shorter README\n", STAMP_2022)


def date_1900(s: Setup) -> None:
    add_version(s.work, POLICY, NEW_TEXT, datetime(1900, 1, 1, tzinfo=UTC))


def date_2999(s: Setup) -> None:
    add_version(s.work, POLICY, NEW_TEXT, datetime(2999, 12, 31, tzinfo=UTC))


def bad_captured_at(s: Setup) -> None:
    message = version_message(POLICY, NEW_TEXT, WHEN).replace(
        "Captured-At: 2022-03-01T00:00:00Z", "Captured-At: last tuesday"
    )
    add_version(s.work, POLICY, NEW_TEXT, WHEN, message=message)


def date_not_captured_at(s: Setup) -> None:
    add_version(s.work, POLICY, NEW_TEXT, WHEN, committer=STAMP_2022 + 3600)


def out_of_order(s: Setup) -> None:
    add_version(s.work, POLICY, NEW_TEXT, datetime(2019, 1, 1, tzinfo=UTC))


def submodule(s: Setup) -> None:
    head = git(s.work, "rev-parse", "HEAD").strip()
    git(s.work, "update-index", "--add", "--cacheinfo", f"160000,{head},policies/{POLICY}/sub")
    add_version(s.work, POLICY, NEW_TEXT, WHEN)


def executable_text(s: Setup) -> None:
    add_version(s.work, POLICY, NEW_TEXT, WHEN)
    git(s.work, "update-index", "--chmod=+x", f"policies/{POLICY}/text.md")
    git(s.work, "reset", "-q", "--soft", "HEAD~1")
    commit_raw(s.work, version_message(POLICY, NEW_TEXT, WHEN), STAMP_2022)


def text_unchanged(s: Setup) -> None:
    # Every version changes its text (the history cache relies on it): a "version" that
    # only swaps the source is not one policydiff would write.
    text = (s.work / "policies" / POLICY / "text.md").read_bytes()
    write(s.work, f"policies/{POLICY}/source.md", b"another source\n")
    message = version_message(POLICY, text, WHEN, source=b"another source\n")
    commit_raw(s.work, message, STAMP_2022)


def hand_edit(s: Setup) -> None:
    write(s.work, f"policies/{POLICY}/text.md", NEW_TEXT)
    commit_raw(s.work, "Fix a typo\n", STAMP_2022)


def merge_commit(s: Setup) -> None:
    head = git(s.work, "rev-parse", "HEAD").strip()
    side = add_version(s.work, POLICY, NEW_TEXT, WHEN)
    commit_raw(s.work, "Merge\n", STAMP_2022, parents=[head, side])


def policy_git_reads_differently(s: Setup) -> None:
    # git's trailer parser accepts a block with one git-made trailer and 25% trailers;
    # policydiff's reads none here. The history cache would then file this README commit
    # as a version of POLICY, and every read of POLICY would fail.
    write(s.work, "README.md", b"# Store\n")
    message = f"Tidy\n\nSigned-off-by: x <x@example.org>\nPolicy: {POLICY}\nsee above\n"
    commit_raw(s.work, message, STAMP_2022)


Craft = Callable[[Setup], None]

HOSTILE: list[tuple[str, Craft, str]] = [
    ("symlink-template", symlink_template, "a symbolic link"),
    ("symlink-text", symlink_text, "a symbolic link"),
    ("file-outside-policies", file_outside, "outside policies/"),
    ("version-touches-outside", version_outside, "also touches notes.txt"),
    ("gitattributes", gitattributes, "git's own control files"),
    ("bad-text-sha256", bad_text_sha, "Text-SHA256"),
    ("two-policies", two_policies, f"also touches policies/{OTHER}/text.md"),
    ("invalid-utf8-text", invalid_utf8, "not valid UTF-8"),
    ("marker-change", marker_change, "configuration (policydiff-store.json)"),
    ("readme-change", readme_change, "configuration (README.md)"),
    ("date-1900", date_1900, "before 1991-01-01"),
    ("date-2999", date_2999, "in the future"),
    ("bad-captured-at", bad_captured_at, "not a policydiff version"),
    ("date-not-captured-at", date_not_captured_at, "differs from its Captured-At"),
    ("out-of-order", out_of_order, "captured before the version preceding it"),
    ("submodule", submodule, "a submodule"),
    ("executable", executable_text, "an executable"),
    ("text-unchanged", text_unchanged, "does not change its text"),
    ("hand-edit", hand_edit, "without policydiff trailers"),
    ("merge-commit", merge_commit, "merge commit"),
    ("trailer-read-differently", policy_git_reads_differently, "Policy trailer"),
]


def refused(s: Setup, *extra: str) -> str:
    """Run sync against the crafted remote; check it is refused and nothing local changed."""
    before = local_state(s.local)
    result = run_cli(["--store", str(s.local), "sync", str(s.remote), *extra])
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("Error: refused what"), result.stderr
    assert all(line.startswith("refused: ") for line in lines[:-1]), result.stderr
    assert "Traceback" not in result.stderr
    assert local_state(s.local) == before
    assert not git(s.local, "for-each-ref", "refs/policydiff/incoming")
    git(s.local, "commit-graph", "verify")
    assert run_cli(["--store", str(s.local), "verify"]).exit_code == 0
    return result.stderr


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    ("craft", "expected"), [row[1:] for row in HOSTILE], ids=[r[0] for r in HOSTILE]
)
def test_hostile_remote_is_refused_and_nothing_changes(
    setup: Setup, craft: Craft, expected: str
) -> None:
    craft(setup)
    push(setup.work)
    remote_before = git(setup.remote, "for-each-ref")
    stderr = refused(setup)
    assert expected in stderr
    # Nothing was pushed either.
    assert git(setup.remote, "for-each-ref") == remote_before


@pytest.mark.parametrize(
    "craft", [symlink_template, bad_text_sha, two_policies, date_1900], ids=lambda f: f.__name__
)
def test_hostile_remote_is_refused_when_timelines_diverged(setup: Setup, craft: Craft) -> None:
    # The local store has a version the remote lacks: sync would replay both timelines.
    source = setup.local.parent / "local-new.md"
    source.write_text(BODY.replace("safe", "safe, promise"))
    added = run_cli(
        ["--store", str(setup.local), "add", str(source), "--policy", OTHER, "--captured",
         "2022-01-01"]
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    craft(setup)
    push(setup.work)
    refused(setup)


def test_symlinked_template_never_reaches_announce(setup: Setup) -> None:
    symlink_template(setup)
    push(setup.work)
    refused(setup, "--accept-config")  # a symlink is refused even with --accept-config
    announce = run_cli(
        ["--store", str(setup.local), "announce", "--format", "email", "--to", "a@example.org",
         "--from", "b@example.org", POLICY]
    )  # fmt: skip
    assert announce.exit_code == 0, announce.stderr
    assert "SECRET-TOKEN" not in announce.stdout


def test_version_recorded_by_another_policydiff_syncs(setup: Setup) -> None:
    other = GitStore(setup.work)
    other.record(
        [Snapshot(policy=POLICY, text=NEW_TEXT.decode(), raw=NEW_TEXT, raw_suffix="md",
                  captured_at=WHEN)]
    )  # fmt: skip
    other.close()
    push(setup.work)
    result = run_cli(["--store", str(setup.local), "sync", str(setup.remote)])
    assert result.exit_code == 0, result.stderr
    assert "1 version(s) pulled" in result.stderr
    assert (setup.local / "policies" / POLICY / "text.md").read_bytes() == NEW_TEXT
    assert not git(setup.local, "for-each-ref", "refs/policydiff/incoming")
    assert run_cli(["--store", str(setup.local), "verify"]).exit_code == 0


def test_accept_config_takes_marker_and_template_changes(setup: Setup) -> None:
    marker = {"format": 1, "created_by": "policydiff", "maintainer": "legal@example.org"}
    write(setup.work, "policydiff-store.json", json.dumps(marker).encode())
    write(setup.work, "templates/announce.email.j2", b"Changed: {{ policy }}\n")
    commit_raw(setup.work, "Store settings and a template\n", STAMP_2022)
    push(setup.work)
    refused(setup)
    result = run_cli(["--store", str(setup.local), "sync", "--accept-config", str(setup.remote)])
    assert result.exit_code == 0, result.stderr
    assert json.loads((setup.local / "policydiff-store.json").read_text()) == marker
    assert (setup.local / "templates" / "announce.email.j2").is_file()
    assert run_cli(["--store", str(setup.local), "verify"]).exit_code == 0


def test_accept_config_still_refuses_an_unreadable_marker(setup: Setup) -> None:
    marker_change(setup)
    push(setup.work)
    stderr = refused(setup, "--accept-config")
    assert "store format this policydiff cannot read" in stderr


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("120000", "a symbolic link"), ("160000", "a submodule"), ("100755", "an executable")],
)
def test_verify_reports_non_regular_files_in_the_tree(
    origin: Path, tmp_path: Path, mode: str, kind: str
) -> None:
    store = Path(shutil.copytree(origin / "local", tmp_path / "local", symlinks=True))
    if mode == "120000":  # a link to the secret, as a remote could once have sent
        made = subprocess.run(
            ["git", "-C", str(store), "hash-object", "-w", "--stdin"],
            input=str(origin / "secret.txt").encode(),
            capture_output=True,
            check=True,
        )
        target = made.stdout.decode().strip()
    elif mode == "160000":
        target = git(store, "rev-parse", "HEAD").strip()
    else:
        target = git(store, "rev-parse", f"HEAD:policies/{POLICY}/text.md").strip()
    path = "templates/announce.email.j2" if mode == "120000" else "extra/thing"
    git(store, "update-index", "--add", "--cacheinfo", f"{mode},{target},{path}")
    git(store, "-c", "user.name=x", "-c", "user.email=x@example.org", "commit", "-qm", "by hand")
    git(store, "checkout", "-q", "--", ".")
    result = run_cli(["--store", str(store), "verify"])
    assert result.exit_code == 2, result.stdout
    assert f"{path} is {kind}" in result.stdout
