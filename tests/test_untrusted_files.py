"""Untrusted files and output targets: archive folders, ``-o`` targets, the site folder.

An archive folder may come from someone else: its links must not smuggle in files from
outside it, its file names must not drive the terminal, and its policy ids must not nest.
An ``-o`` target may be a device, a pipe or a link: it is written into, never replaced by
a regular file. The site folder may hold links: nothing is written or deleted through them.
Paths the system cannot even look up end in one ``Error:`` line. Each refusal is exit 2,
one ``Error:`` line, and the store as it was (``store_state`` of test_bad_input).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.reliability.harness import git
from helpers import run_cli
from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore
from test_bad_input import store_state

BODY = "# Privacy policy\n\n## 1. Data\n\nWe keep your data safe.\n"
SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- top secret key material\n"


def one_error_line(stderr: str) -> str:
    """Return the single ``Error:`` line of a refused command's stderr."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """An empty store."""
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    return path


def stored_bytes(store: Path) -> str:
    """Every object in the store's git directory, as text (to look for smuggled data)."""
    out = subprocess.run(
        ["git", "-C", str(store), "cat-file", "--batch-all-objects", "--batch"],
        check=True,
        capture_output=True,
    ).stdout
    return out.decode("utf-8", "replace")


# --------------------------------------------------------------------------- import: links


def write(path: Path, text: str = BODY) -> Path:
    """Write ``text`` to ``path``, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def link_to_secret_file(archive: Path, outside: Path) -> Path:
    """``ln -s ~/.ssh/id_rsa archive/acme/p/2020-01-01.md`` (absolute link)."""
    link = archive / "acme" / "p" / "2020-01-01.md"
    link.symlink_to(write(outside / "id_rsa", SECRET))
    return link


def relative_link_to_secret_file(archive: Path, outside: Path) -> Path:
    """The same through a relative ``../../..`` link."""
    write(outside / "id_rsa", SECRET)
    link = archive / "acme" / "p" / "2020-01-01.md"
    link.symlink_to(Path("..", "..", "..", outside.name, "id_rsa"))
    return link


def link_to_secret_folder(archive: Path, outside: Path) -> Path:
    """A folder link out of the archive, to a folder of snapshot-named secrets."""
    write(outside / "keys" / "2020-01-01.md", SECRET)
    link = archive / "acme" / "keys"
    link.symlink_to(outside / "keys", target_is_directory=True)
    return link


def file_without_extension(archive: Path, outside: Path) -> Path:
    """A file whose name says nothing about being a policy (dated, so it would be read)."""
    return write(archive / "acme" / "p" / "2020-01-01", SECRET)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(link_to_secret_file, "symbolic link to a file outside", id="file-link-out"),
        pytest.param(
            relative_link_to_secret_file, "symbolic link to a file outside", id="relative-link"
        ),
        pytest.param(
            link_to_secret_folder, "symbolic link to a folder outside", id="folder-link-out"
        ),
        pytest.param(file_without_extension, "no snapshot file extension", id="no-extension"),
    ],
)
def test_import_refuses_what_does_not_belong_to_the_folder(
    make: Callable[[Path, Path], Path], reason: str, store: Path, tmp_path: Path
) -> None:
    archive, outside = tmp_path / "archive", tmp_path / "outside"
    outside.mkdir()
    good = write(archive / "acme" / "p" / "2020-06-01.md")
    refused = make(archive, outside)

    result = run_cli(["--store", str(store), "import", str(archive)])

    assert result.exit_code == 2, result.stdout
    assert "could not be recorded" in one_error_line(result.stderr)
    assert f"{refused}: error: " in result.stdout
    assert reason in result.stdout
    # The other file is recorded; the refused one is nowhere in the store.
    assert f"{good}: recorded as acme/p version 1" in result.stdout
    assert "top secret" not in stored_bytes(store)
    assert git(store, "ls-tree", "-r", "--name-only", "main", "--", "policies").split() == [
        "policies/acme/p/source.md",
        "policies/acme/p/text.md",
    ]


def test_import_reads_links_inside_the_folder_once(store: Path, tmp_path: Path) -> None:
    """A link to a file inside the folder is harmless: the file is recorded once."""
    archive = tmp_path / "archive"
    real = write(archive / "acme" / "p" / "2020-06-01.md")
    (archive / "acme" / "p" / "2020-07-01.md").symlink_to("2020-06-01.md")
    (archive / "acme" / "again").symlink_to("p", target_is_directory=True)

    result = run_cli(["--store", str(store), "import", str(archive)])

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.splitlines() == [
        f"{real}: recorded as acme/p version 1 (captured 2020-06-01T00:00:00Z)"
    ]


@pytest.mark.parametrize("command", ["add", "import"])
def test_a_link_named_on_the_command_line_is_read_and_said(
    command: str, store: Path, tmp_path: Path
) -> None:
    target = write(tmp_path / "elsewhere" / "2020-06-01.md")
    link = tmp_path / "2020-06-01.md"
    link.symlink_to(target)
    args = ["add", str(link)] if command == "add" else ["import", str(link)]

    result = run_cli(["--store", str(store), *args, "--policy", "acme/p"])

    assert result.exit_code == 0, result.stderr
    assert f"Note: {link} is a symbolic link; reading {target}" in result.stderr
    assert "recorded as acme/p version 1" in result.stdout


@pytest.mark.parametrize("swapped", ["file", "folder"])
def test_import_refuses_what_is_swapped_for_a_link_after_the_walk(
    swapped: str, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file, or the imported folder itself, replaced by a link between walk and read.

    The walk saw only regular files inside the folder; what is read must still be there.
    """
    from policydiff.sources import ingest

    archive, outside = tmp_path / "archive", tmp_path / "outside"
    write(archive / "acme" / "p" / "2020-06-01.md")
    later = write(archive / "acme" / "p" / "2020-07-01.md")
    for name in ("2020-06-01.md", "2020-07-01.md"):
        write(outside / "acme" / "p" / name, SECRET)
    walk = ingest.discover_snapshots

    def walk_then_swap(*args: Any, **kwargs: Any) -> Any:
        found = walk(*args, **kwargs)
        if swapped == "file":
            later.unlink()
            later.symlink_to(outside / "acme" / "p" / "2020-07-01.md")
        else:
            archive.rename(tmp_path / "moved")
            archive.symlink_to(outside, target_is_directory=True)
        return found

    monkeypatch.setattr(ingest, "discover_snapshots", walk_then_swap)

    result = run_cli(["--store", str(store), "import", str(archive)])

    assert result.exit_code == 2, result.stdout
    assert f"{later}: error: a symbolic link to a file outside the imported folder" in (
        result.stdout
    )
    assert "top secret" not in stored_bytes(store)
    recorded = 1 if swapped == "file" else 0
    assert result.stdout.count("recorded as acme/p") == recorded, result.stdout


# --------------------------------------------------------------------------- names shown


ESCAPE_NAME = "2020-06-01 a\x1b[31mred\nb\x07.md"


def test_file_names_with_controls_are_shown_escaped(store: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    write(archive / "acme" / "p" / ESCAPE_NAME)
    write(archive / "acme" / "p" / "2020-07-01 \x1b]0;owned\x07")  # refused: no extension

    result = run_cli(["--store", str(store), "import", str(archive)])

    assert result.exit_code == 2
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream
        assert "\x07" not in stream
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines  # one per file: the newline in the name forged none
    assert "2020-06-01 a\\x1b[31mred\\x0ab\\x07.md: recorded as acme/p version 1" in lines[0]
    assert "2020-07-01 \\x1b]0;owned\\x07: error: no snapshot file extension" in lines[1]
    one_error_line(result.stderr)


def test_error_lines_escape_file_names(store: Path, tmp_path: Path) -> None:
    missing = tmp_path / "gone \x1b[2J\x1b]52;c;cGF3bmVk\x07.md"
    result = run_cli(["--store", str(store), "add", str(missing), "--policy", "acme/p"])
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert "\x1b" not in line
    assert "\x07" not in line
    assert "gone \\x1b[2J\\x1b]52;c;cGF3bmVk\\x07.md" in line


def test_unified_diff_escapes_terminal_controls(tmp_path: Path) -> None:
    old = write(tmp_path / "old.md")
    new = write(
        tmp_path / "new.md", BODY + "\nClear \x1b[2J\x1b]0;title\x07 and \u202eevil\u202c.\n"
    )
    result = run_cli(["--store", str(tmp_path / "none"), "compare", str(old), str(new), "--format", "unified"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\x07" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "+Clear \\x1b[2J\\x1b]0;title\\x07 and \\u202eevil\\u202c.\n" in result.stdout


# --------------------------------------------------------------------------- -o targets


def report_args(tmp_path: Path) -> dict[str, list[str]]:
    """One command line per command with -o (the target appended), needing no store."""
    old = write(tmp_path / "in" / "old.md")
    new = write(tmp_path / "in" / "new.md", BODY.replace("safe", "very safe"))
    return {
        "compare": ["compare", str(old), str(new), "--format", "unified", "-o"],
        "announce": ["announce", str(old), str(new), "--format", "text", "-o"],
    }


def store_report_args(tmp_path: Path) -> dict[str, list[str]]:
    """The -o commands that read a store: changelog and feed (the store made here)."""
    store = tmp_path / "rstore"
    run_cli(["--store", str(store), "init"])
    for day, text in [("2020-01-01", BODY), ("2021-01-01", BODY.replace("safe", "very safe"))]:
        source = write(tmp_path / "rin" / f"{day}.md", text)
        assert run_cli(["--store", str(store), "add", str(source), "--policy", "acme/p"]).exit_code == 0  # fmt: skip
    return {
        "changelog": ["--store", str(store), "changelog", "acme/p", "-o"],
        "feed": ["--store", str(store), "feed", "acme/p", "-o"],
    }


COMMANDS = ["compare", "announce", "changelog", "feed"]


def args_for(command: str, tmp_path: Path) -> list[str]:
    """The command line of ``command`` up to and including ``-o``."""
    if command in {"changelog", "feed"}:
        return store_report_args(tmp_path)[command]
    return ["--store", str(tmp_path / "no-store"), *report_args(tmp_path)[command]]


def device(path: Path, minor: int) -> Path:
    """A copy of /dev/null (minor 3) or /dev/full (minor 7) at ``path`` (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("making device nodes needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    try:
        os.close(os.open(path, os.O_WRONLY))
    except PermissionError:
        pytest.skip("the temporary folder is mounted nodev")
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_output_to_a_full_device_is_one_error_and_the_device_stays(
    command: str, tmp_path: Path
) -> None:
    full = device(tmp_path / "full", 7)
    result = run_cli([*args_for(command, tmp_path), str(full)])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "No space left on device" in one_error_line(result.stderr)
    assert stat.S_ISCHR(full.lstat().st_mode)
    assert full.lstat().st_rdev == os.makedev(1, 7)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".full")] == []


@pytest.mark.parametrize("command", COMMANDS)
def test_output_to_a_null_device_writes_into_it(command: str, tmp_path: Path) -> None:
    null = device(tmp_path / "null", 3)
    result = run_cli([*args_for(command, tmp_path), str(null)])
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert null.lstat().st_rdev == os.makedev(1, 3)


@pytest.mark.parametrize("command", COMMANDS)
def test_output_to_a_pipe_nobody_reads_is_refused_not_waited_on(
    command: str, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = run_cli([*args_for(command, tmp_path), str(fifo)])
    assert result.exit_code == 2
    assert "a named pipe that no program is reading" in one_error_line(result.stderr)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("command", COMMANDS)
def test_output_to_a_read_pipe_goes_to_its_reader(command: str, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # Opened for reading first (non-blocking, so no writer is needed): the reader is there.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = run_cli([*args_for(command, tmp_path), str(fifo)])
        assert result.exit_code == 0, result.stderr
        received = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert b"very safe" in received or b"acme/p" in received


@pytest.mark.parametrize("command", COMMANDS)
def test_output_to_a_directory_is_refused(command: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = run_cli([*args_for(command, tmp_path), str(folder)])
    assert result.exit_code == 2
    assert "directory" in one_error_line(result.stderr)
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_output_through_a_link_replaces_the_target_and_keeps_the_link(
    command: str, tmp_path: Path
) -> None:
    target = write(tmp_path / "reports" / "latest.txt", "old report\n")
    link = tmp_path / "report.txt"
    link.symlink_to(Path("reports", "latest.txt"))
    result = run_cli([*args_for(command, tmp_path), str(link)])
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink()
    assert link.readlink() == Path("reports", "latest.txt")
    assert target.read_text(encoding="utf-8") != "old report\n"
    # The rename happened in the target's folder: no temporary file left anywhere.
    assert sorted(p.name for p in target.parent.iterdir()) == ["latest.txt"]


def own_stdout(tmp_path: Path, target: str) -> Path:
    """A link standing for /dev/stdout: the real one is never risked if the code is wrong."""
    link = tmp_path / "stdout"
    link.symlink_to(target)
    return link


@pytest.mark.parametrize("target", ["/proc/self/fd/1", "/dev/fd/1"])
def test_output_to_dev_stdout_keeps_what_was_written_around_it(target: str, tmp_path: Path) -> None:
    """``{ echo head; policydiff ... -o /dev/stdout; echo tail; } > out`` keeps all three."""
    args = report_args(tmp_path)["compare"]
    out = tmp_path / "out.txt"
    script = (
        f'echo head; "{sys.executable}" -m policydiff --store "{tmp_path / "none"}" '
        + " ".join(f'"{a}"' for a in args)
        + f' "{own_stdout(tmp_path, target)}"; echo tail'
    )
    with out.open("wb") as handle:
        subprocess.run(["sh", "-c", script], stdout=handle, check=True, timeout=60)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("head\n--- "), text
    assert text.endswith("tail\n"), text
    assert "+We keep your data very safe." in text


def test_output_to_dev_stdout_in_a_pipe(tmp_path: Path) -> None:
    args = report_args(tmp_path)["compare"]
    result = subprocess.run(
        [sys.executable, "-m", "policydiff", "--store", str(tmp_path / "none"), *args, str(own_stdout(tmp_path, "/proc/self/fd/1"))],
        capture_output=True,
        check=False,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"+We keep your data very safe." in result.stdout


# --------------------------------------------------------------------------- site folder


@pytest.fixture
def site_store(tmp_path: Path) -> Path:
    """A store with two versions of acme/p and one of other."""
    path = tmp_path / "sstore"
    run_cli(["--store", str(path), "init"])
    for policy, day, text in [
        ("acme/p", "2020-01-01", BODY),
        ("acme/p", "2021-01-01", BODY.replace("safe", "very safe")),
        ("other", "2020-02-01", BODY),
    ]:
        source = write(tmp_path / "sin" / policy / f"{day}.md", text)
        assert run_cli(["--store", str(path), "add", str(source), "--policy", policy]).exit_code == 0  # fmt: skip
    return path


def tree_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (links not followed)."""
    return {
        str(p.relative_to(folder)): (b"->" + bytes(p.readlink()) if p.is_symlink() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file() or p.is_symlink()
    }  # fmt: skip


def page_link_out(out: Path, victim: Path) -> None:
    """OUTDIR/index.html -> a file outside."""
    (out / "index.html").unlink()
    (out / "index.html").symlink_to(victim / "victim.html")


def folder_link_out(out: Path, victim: Path) -> None:
    """OUTDIR/policies -> a folder outside (which the site would write into)."""
    shutil.rmtree(out / "policies")
    (out / "policies").symlink_to(victim, target_is_directory=True)


def stale_folder_link_out(out: Path, victim: Path) -> None:
    """OUTDIR/policies/other -> a folder outside holding files named like its stale pages."""
    shutil.copytree(out / "policies" / "other", victim / "other-copy")
    shutil.rmtree(out / "policies" / "other")
    (out / "policies" / "other").symlink_to(victim / "other-copy", target_is_directory=True)


def manifest_link_out(out: Path, victim: Path) -> None:
    """OUTDIR/.policydiff-site.json -> a file outside."""
    manifest = out / ".policydiff-site.json"
    shutil.copy(manifest, victim / "manifest.json")
    manifest.unlink()
    manifest.symlink_to(victim / "manifest.json")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(page_link_out, id="page-link"),
        pytest.param(folder_link_out, id="folder-link"),
        pytest.param(stale_folder_link_out, id="stale-pages-behind-link"),
        pytest.param(manifest_link_out, id="manifest-link"),
    ],
)
def test_site_never_writes_or_deletes_through_links(
    make: Callable[[Path, Path], None], site_store: Path, tmp_path: Path
) -> None:
    out, victim = tmp_path / "site", tmp_path / "victim"
    victim.mkdir()
    write(victim / "victim.html", "precious\n")
    assert run_cli(["--store", str(site_store), "site", str(out)]).exit_code == 0
    make(out, victim)
    before_victim, before_out = tree_of(victim), tree_of(out)

    # Only acme/p: other's pages are stale and would be removed.
    result = run_cli(["--store", str(site_store), "site", str(out), "--policy", "acme/p"])

    assert result.exit_code == 2, result.stderr
    assert "is a symbolic link" in one_error_line(result.stderr)
    assert tree_of(victim) == before_victim
    assert tree_of(out) == before_out


def test_site_refuses_a_link_swapped_in_while_writing(site_store: Path, tmp_path: Path) -> None:
    """The writes themselves never follow a link (not only the check before them)."""
    from policydiff.publish.site import write_pages

    out, victim = tmp_path / "site", tmp_path / "victim"
    victim.mkdir()
    out.mkdir()

    def pages() -> object:
        yield "policies/a/index.html", "<p>a</p>"
        (out / "policies" / "b").symlink_to(victim, target_is_directory=True)
        yield "policies/b/index.html", "<p>b</p>"

    from policydiff.core.errors import UsageError

    with pytest.raises(UsageError, match="is a symbolic link"):
        write_pages(out, pages())  # type: ignore[arg-type]
    assert list(victim.iterdir()) == []


# --------------------------------------------------------------------------- nested ids


def add(store: Path, policy: str, day: str, text: str = BODY) -> tuple[int, str]:
    """Add ``text`` as ``policy`` captured on ``day``; return the exit code and stderr."""
    source = write(store.parent / "adds" / f"{day}.md", text)
    result = run_cli(["--store", str(store), "add", str(source), "--policy", policy])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        pytest.param("acme", "acme/sub", "acme", id="inside-existing"),
        pytest.param("acme/sub", "acme", "acme/sub", id="around-existing"),
        pytest.param("acme", "acme/sections", "acme", id="site-section-folder"),
        pytest.param("acme", "acme/text.md", "acme", id="store-text-file"),
        pytest.param("acme/privacy", "acme/privacy/2021/x", "acme/privacy", id="deep"),
    ],
)
def test_nesting_policy_ids_are_refused(first: str, second: str, clash: str, store: Path) -> None:
    assert add(store, first, "2020-01-01")[0] == 0
    before = store_state(store)
    code, stderr = add(store, second, "2021-01-01", BODY.replace("safe", "very safe"))
    assert code == 2
    line = one_error_line(stderr)
    assert f"policy id {second!r} clashes with the existing policy {clash!r}" in line
    assert store_state(store) == before


def test_ids_that_only_share_a_prefix_do_not_nest(store: Path) -> None:
    assert add(store, "acme", "2020-01-01")[0] == 0
    assert add(store, "acme-sub", "2020-02-01")[0] == 0
    assert add(store, "ac", "2020-03-01")[0] == 0


def test_import_refuses_nesting_ids_file_by_file(store: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    kept = write(archive / "acme" / "2020-01-01.md")
    nested = write(archive / "acme" / "sections" / "2020-02-01.md")
    other = write(archive / "other" / "2020-03-01.md")
    result = run_cli(["--store", str(store), "import", str(archive)])
    assert result.exit_code == 2
    one_error_line(result.stderr)
    assert f"{kept}: recorded as acme version 1" in result.stdout
    assert f"{other}: recorded as other version 1" in result.stdout
    assert (
        f"{nested}: error: policy id 'acme/sections' clashes with the new policy 'acme'"
        in result.stdout
    )


@pytest.fixture
def legacy_nested_store(store: Path) -> Path:
    """A store as policydiff wrote it before nested ids were refused: acme, acme/sections.

    Recorded through the store's own writer below the id check, as the old ``record`` did.
    """
    days = ["2020-01-01", "2020-06-01", "2021-01-01", "2021-06-01"]
    snapshots = [
        ("acme", days[0], BODY),
        ("acme/sections", days[1], BODY.replace("safe", "sound")),
        ("acme", days[2], BODY.replace("safe", "very safe")),
        ("acme/sections", days[3], BODY.replace("safe", "very sound")),
    ]
    from policydiff.sources.ingest import parse_timestamp

    with GitStore(store) as opened, opened.write_lock():
        for policy, day, text in snapshots:
            snapshot = Snapshot(
                policy=policy,
                text=text,
                raw=text.encode(),
                raw_suffix="md",
                captured_at=parse_timestamp(day),
                effective_date=None,
            )
            # The writer below the new id check, as the old record() called it.
            opened._record_locked([snapshot])
    return store


@pytest.mark.parametrize("policy", [None, "acme", "acme/sections"])
def test_verify_has_no_false_problems_with_nested_ids(
    policy: str | None, legacy_nested_store: Path
) -> None:
    result = run_cli(["--store", str(legacy_nested_store), "verify", *([policy] if policy else [])])  # fmt: skip
    assert result.exit_code == 0, result.stdout
    assert "PROBLEM" not in result.stdout


@pytest.mark.parametrize("policy", ["acme", "acme/sections"])
def test_verify_still_finds_edits_to_a_nested_policy(
    policy: str, legacy_nested_store: Path
) -> None:
    text = legacy_nested_store / "policies" / policy / "text.md"
    text.write_text(text.read_text() + "Edited by hand.\n")
    git(legacy_nested_store, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "edit")
    result = run_cli(["--store", str(legacy_nested_store), "verify", policy])
    assert result.exit_code == 2
    assert f"changes {policy} without policydiff trailers" in result.stdout
    # The other policy is not blamed for it.
    other = "acme/sections" if policy == "acme" else "acme"
    assert run_cli(["--store", str(legacy_nested_store), "verify", other]).exit_code == 0


def test_legacy_store_can_still_record_its_nested_policies(legacy_nested_store: Path) -> None:
    assert add(legacy_nested_store, "acme/sections", "2022-01-01", BODY + "More.\n")[0] == 0
    assert add(legacy_nested_store, "acme", "2022-02-01", BODY + "Even more.\n")[0] == 0


def test_site_refuses_ids_whose_pages_would_collide(
    legacy_nested_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    result = run_cli(["--store", str(legacy_nested_store), "site", str(out)])
    assert result.exit_code == 2
    assert "'acme' and 'acme/sections' cannot share a site" in one_error_line(result.stderr)
    assert not out.exists()
    alone = run_cli(["--store", str(legacy_nested_store), "site", str(out), "--policy", "acme"])
    assert alone.exit_code == 0, alone.stderr


# --------------------------------------------------------------------------- long paths


NAME_OVER_255 = "n" * 300
PATH_OVER_4096 = "/".join(["p" * 200] * 25)


def long_path_cases() -> list[object]:
    """One row per command and path argument; ``{long}`` is the long path."""
    rows = [
        ("store", ["--store", "{long}", "policies"]),
        ("store-import", ["--store", "{long}", "import", "{in}"]),
        ("init-store", ["--store", "{long}", "init"]),
        ("init-arg", ["--store", "{store}", "init", "{long}"]),
        ("import", ["--store", "{store}", "import", "{long}"]),
        ("import-subfolder", ["--store", "{store}", "import", "{tmp}/{long}/x"]),
        ("add", ["--store", "{store}", "add", "{long}", "--policy", "acme/p"]),
        ("compare-file", ["--store", "{store}", "compare", "{in}", "{long}"]),
        ("compare-o", ["--store", "{store}", "compare", "{in}", "{in}", "-o", "{long}"]),
        ("announce-o", ["--store", "{store}", "announce", "{in}", "{in2}", "--format", "text", "-o", "{long}"]),
        ("site", ["--store", "{store}", "site", "{long}"]),
        ("import-git", ["--store", "{store}", "import-git", "{long}", "--path", "x.md", "--policy", "acme/p"]),
        ("sync", ["--store", "{store}", "sync", "{long}"]),
        ("sync-store", ["--store", "{long}", "sync"]),
    ]  # fmt: skip
    return [
        pytest.param(args, long, id=f"{name}-{kind}")
        for name, args in rows
        for kind, long in [("name", NAME_OVER_255), ("path", PATH_OVER_4096)]
    ]


@pytest.mark.parametrize(("args", "long"), long_path_cases())
def test_paths_too_long_are_one_error_line(
    args: list[str], long: str, store: Path, tmp_path: Path
) -> None:
    assert add(store, "acme/p", "2020-01-01")[0] == 0  # site needs a policy to get that far
    given = write(tmp_path / "in" / "2020-06-01.md")
    second = write(tmp_path / "in" / "2020-07-01.md", BODY.replace("safe", "very safe"))
    values = {"{long}": long, "{store}": str(store), "{in}": str(given), "{in2}": str(second), "{tmp}": str(tmp_path)}  # fmt: skip
    line = []
    for arg in args:
        filled = arg
        for key, value in values.items():
            filled = filled.replace(key, value)
        line.append(filled)
    before = store_state(store)

    result = run_cli(line)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    error = one_error_line(result.stderr)
    assert "too long" in error, error
    assert len(error) < 600, error  # the path is shortened, not printed whole
    assert store_state(store) == before
