"""A full disk: a write fails with one ``Error:`` line saying what was recorded, and heals.

The store lives on a real, small file system (a tmpfs mounted for each test, as root) that
is filled up to a chosen margin. Two moments of a write are hit: git fast-import (nothing
is recorded, no temporary pack is left) and the working-tree refresh after ``main`` moved
(the versions are recorded, the view is half written; the next command finishes it, and
never overwrites a file the user changed). Where no tmpfs can be mounted, the git shim of
the crash tests makes the refresh fail instead, so the report and heal still run.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.reliability.harness import Shim, git, version_commits
from helpers import run_cli

POLICY = "acme/privacy"
KIB = 1024
NO_SPACE = "No space left on device"
# Highly compressible: its pack is a few KiB, its working-tree files are 2 x 400 KiB.
BIG_TEXT = "# Privacy policy\n\n" + "".join(
    f"Clause {i}: we keep your data.\n" for i in range(13000)
)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs mounted inside ``tmp_path`` (skipped where mounting is not allowed)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(fs: Path, leave: int) -> Path:
    """Take all but ``leave`` bytes of ``fs`` with one file; return it (delete it to free)."""
    filler = fs / "filler"
    stat = os.statvfs(fs)
    size = stat.f_bavail * stat.f_frsize - leave
    with filler.open("wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, size)
    return filler


def snapshots(folder: Path, texts: dict[str, str]) -> Path:
    """Write one snapshot file per capture day under ``folder/POLICY``; return ``folder``."""
    where = folder / POLICY
    where.mkdir(parents=True, exist_ok=True)
    for day, text in texts.items():
        (where / f"{day}.md").write_text(text, encoding="utf-8")
    return folder


def new_store(path: Path) -> Path:
    """Create a store at ``path`` holding one small version of POLICY."""
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    first = snapshots(path.parent / "first", {"2020-01-01": "# Privacy policy\n\nShort.\n"})
    added = run_cli(["--store", str(path), "import", str(first)])
    assert added.exit_code == 0, added.stderr
    return path


def refresh_error(recorded: str) -> str:
    """The one error line of a write whose view refresh found the disk full."""
    return (
        f"Error: recorded {recorded}, but refreshing the working tree failed: {NO_SPACE}; "
        "the next command will finish it"
    )


def debris(store: Path) -> list[str]:
    """Return what a failed write may leave: temporary packs, crash reports, marks, refs."""
    git_dir = store / ".git"
    found = [p.name for p in (git_dir / "objects" / "pack").glob("tmp_*")]
    found += [p.name for p in git_dir.glob("fast_import_crash_*")]
    found += [p.name for p in git_dir.glob("policydiff-marks-*")]
    return found + git(store, "for-each-ref", "--format=%(refname)", "refs/policydiff/tmp/").split()


def clean_view(store: Path) -> None:
    """Assert that the working tree and index are exactly ``main``'s."""
    assert git(store, "status", "--porcelain", "--untracked-files=all") == ""
    assert (store / "policies" / POLICY / "text.md").read_bytes() == git(
        store, "show", f"main:policies/{POLICY}/text.md"
    ).encode()


def refresh_fails(small_fs: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """Import two big versions with too little room for the view; return store, filler, tip."""
    store = new_store(small_fs / "store")
    bigger = snapshots(
        tmp_path / "in",
        {"2021-01-01": BIG_TEXT, "2022-01-01": BIG_TEXT.replace("keep", "guard")},
    )
    filler = fill(small_fs, 200 * KIB)
    before = time.monotonic()
    failed = run_cli(["--store", str(store), "import", str(bigger)])
    took = time.monotonic() - before
    assert failed.exit_code == 2, failed.stdout + failed.stderr
    assert failed.stderr.splitlines() == [refresh_error("2 versions")], failed.stderr
    assert took < 30
    # The versions are in main, whole; only the view is behind (and half written).
    assert version_commits(store) == 3
    assert git(store, "show", f"main:policies/{POLICY}/text.md").startswith("# Privacy")
    assert git(store, "diff-index", "--cached", "--name-only", "main") != ""
    return store, filler, git(store, "rev-parse", "main").strip()


@pytest.mark.parametrize(
    "then",
    [
        ["add", "{later}/acme/privacy/2023-01-01.md", "--policy", POLICY],
        ["import", "{later}"],
        ["verify"],
    ],
    ids=["add", "import", "verify"],
)
def test_full_disk_during_view_refresh_is_reported_and_healed(
    small_fs: Path, tmp_path: Path, then: list[str]
) -> None:
    store, filler, tip = refresh_fails(small_fs, tmp_path)
    filler.unlink()
    later = snapshots(tmp_path / "later", {"2023-01-01": "# Privacy policy\n\nLater.\n"})
    args = [a.replace("{later}", str(later)) for a in then]
    healed = run_cli(["--store", str(store), *args])
    assert healed.exit_code == 0, healed.stderr
    clean_view(store)
    assert git(store, "rev-list", "--count", "main").strip() == (
        "4" if then[0] == "verify" else "5"
    )
    assert git(store, "merge-base", "--is-ancestor", tip, "main") == ""
    verified = run_cli(["--store", str(store), "verify"])
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    assert debris(store) == []


def test_full_disk_heal_never_overwrites_a_user_edit(small_fs: Path, tmp_path: Path) -> None:
    store, filler, _ = refresh_fails(small_fs, tmp_path)
    filler.unlink()
    mine = store / "policies" / POLICY / "text.md"
    mine.write_text("my own notes\n", encoding="utf-8")
    refused = run_cli(["--store", str(store), "import", str(tmp_path / "in")])
    assert refused.exit_code == 2
    assert len(refused.stderr.splitlines()) == 1
    assert "local changes" in refused.stderr
    assert mine.read_text(encoding="utf-8") == "my own notes\n"
    # The remedy the error names restores the old view, which the next command heals.
    git(store, "checkout", "--", ".")
    again = run_cli(["--store", str(store), "import", str(tmp_path / "in")])
    assert again.exit_code == 0, again.stderr
    clean_view(store)


def test_full_disk_during_fast_import_records_nothing(small_fs: Path, tmp_path: Path) -> None:
    store = new_store(small_fs / "store")
    tip = git(store, "rev-parse", "main").strip()
    noise = random.Random(12)
    # Incompressible text: its pack needs about its own size, far more than is left.
    texts = {
        f"202{i}-01-01": "# Privacy policy\n\n"
        + "".join(f"{noise.getrandbits(128):032x}\n" for _ in range(8000))
        for i in (1, 2, 3)
    }
    source = snapshots(tmp_path / "in", texts)
    view = (store / "policies" / POLICY / "text.md").read_bytes()
    filler = fill(small_fs, 100 * KIB)
    failed = run_cli(["--store", str(store), "import", str(source)])
    assert failed.exit_code == 2, failed.stdout + failed.stderr
    assert failed.stderr.splitlines() == [
        f"Error: nothing was recorded: writing the new versions failed: {NO_SPACE}"
    ], failed.stderr
    assert git(store, "rev-parse", "main").strip() == tip
    assert (store / "policies" / POLICY / "text.md").read_bytes() == view
    assert debris(store) == []
    filler.unlink()
    again = run_cli(["--store", str(store), "import", str(source)])
    assert again.exit_code == 0, again.stderr
    assert version_commits(store) == 4
    clean_view(store)
    assert run_cli(["--store", str(store), "verify"]).exit_code == 0


def test_untracked_files_equal_to_main_are_healed(tmp_path: Path) -> None:
    # A refresh that wrote a new policy's files but not the index: they are untracked, and
    # hold main's content. They are our view, not the user's: the next write finishes it.
    store = new_store(tmp_path / "store")
    old = git(store, "rev-parse", "main").strip()
    newer = snapshots(tmp_path / "in", {"2021-01-01": "# Privacy policy\n\nNewer.\n"})
    other = tmp_path / "2021-06-01.md"
    other.write_text("# Terms\n\nOther.\n", encoding="utf-8")
    assert (
        run_cli(["--store", str(store), "add", str(other), "--policy", "acme/terms"]).exit_code == 0
    )
    git(store, "read-tree", old)  # the index back at the old tip; files stay as main has them
    assert "?? policies/acme/terms/" in git(store, "status", "--porcelain")
    added = run_cli(["--store", str(store), "import", str(newer)])
    assert added.exit_code == 0, added.stderr
    clean_view(store)


def test_refresh_failure_reported_through_git_shim(tmp_path: Path) -> None:
    # Runs wherever a tmpfs cannot be mounted: git's refresh is made to fail as on a full disk.
    store = new_store(tmp_path / "store")
    shim = Shim.install(tmp_path)
    env = shim.env(PD_FAIL="read-tree -m -u *", PD_FAIL_MESSAGE=f"fatal: write error: {NO_SPACE}")
    source = snapshots(tmp_path / "in", {"2021-01-01": "# Privacy policy\n\nNewer.\n"})
    failed = run_cli(["--store", str(store), "import", str(source)], env=env)
    assert failed.exit_code == 2
    assert failed.stderr.splitlines() == [refresh_error("1 version")]
    assert version_commits(store) == 2
    verified = run_cli(["--store", str(store), "verify"])
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    clean_view(store)


def test_stale_pack_debris_is_removed_by_the_next_write(tmp_path: Path) -> None:
    store = new_store(tmp_path / "store")
    git_dir = store / ".git"
    stale = [git_dir / "objects" / "pack" / "tmp_pack_dead01", git_dir / "fast_import_crash_99"]
    fresh = git_dir / "objects" / "pack" / "tmp_pack_live01"
    hour_ago = time.time() - 3600
    for path in [*stale, fresh]:
        path.write_bytes(b"PACK")
    for path in stale:
        os.utime(path, (hour_ago, hour_ago))
    source = snapshots(tmp_path / "in", {"2021-01-01": "# Privacy policy\n\nNewer.\n"})
    assert run_cli(["--store", str(store), "import", str(source)]).exit_code == 0
    assert not any(path.exists() for path in stale)
    # A file written within the last minute may belong to a git process someone runs here.
    assert fresh.exists()
