"""`import` from files: texts streamed to git as they are read, each file read once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import run_cli

# A character outside the BMP: Python stores such a text at 4 bytes per character, so a
# few small files weigh as much in memory as a big batch.
WIDE = "\U0001f512"
FILE_CHARS = 1_000_000


def reflog_batches(store: Path) -> list[int]:
    """Versions written by each ``record`` of main, oldest first (one reflog entry each)."""
    out = subprocess.run(
        ["git", "-C", str(store), "reflog", "show", "--format=%gs", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    prefix = "policydiff: record "
    return [int(line[len(prefix) :].split()[0]) for line in out.splitlines() if prefix in line][
        ::-1
    ]


def peak_import_mib(store: Path, source: Path) -> float:
    """Import ``source`` into a new store in a fresh process; return that process's peak RSS."""
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    code = (
        "import resource\n"
        "from policydiff.cli import main\n"
        "try:\n"
        f"    main(['--store', {str(store)!r}, 'import', {str(source)!r}])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return int(run.stdout.strip().splitlines()[-1]) / 1024


def write_wide(source: Path, count: int) -> None:
    """Write ``count`` policies of one large wide-character file each."""
    for i in range(count):
        body = f"# Policy {i}\n\n" + (f"{WIDE} clause {i} " * (FILE_CHARS // 10)) + "\n"
        target = source / "example" / f"wide-{i}" / f"2020-01-{i + 1:02d}.md"
        target.parent.mkdir(parents=True)
        target.write_text(body, encoding="utf-8")


def test_import_streams_texts_in_one_write(tmp_path: Path) -> None:
    """Peak memory does not grow with the number of files, and the import is one write.

    Each file weighs about 8 MiB in memory (4 bytes a character, plus its source): holding
    even a few at once, as the batched import did, would show in the peak.
    """
    few, many = 2, 10
    write_wide(tmp_path / "few", few)
    write_wide(tmp_path / "many", many)
    peak_few = peak_import_mib(tmp_path / "store-few", tmp_path / "few")
    peak_many = peak_import_mib(tmp_path / "store-many", tmp_path / "many")
    print(f"peak RSS: {few} files {peak_few:.0f} MiB, {many} files {peak_many:.0f} MiB")
    assert peak_many - peak_few < 12, (peak_few, peak_many)
    assert reflog_batches(tmp_path / "store-many") == [many]


def test_small_import_reads_each_file_once(tmp_path: Path) -> None:
    """Files that fit in one batch are read from disk once, not once per pass."""
    source = tmp_path / "in"
    for i in range(3):
        target = source / "example" / "privacy" / f"2020-0{i + 1}-01.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"# Policy\n\nVersion {i} of the text.\n", encoding="utf-8")
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    # Count the opens of the snapshot files with Python's audit hook, in a fresh process.
    code = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda e, a: opened.append(str(a[0])) if e == 'open' else None)\n"
        "from policydiff.cli import main\n"
        "try:\n"
        f"    main(['--store', {str(store)!r}, 'import', {str(source)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sum(1 for p in opened if p.startswith({str(source)!r}) and p.endswith('.md')))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.strip().splitlines()[-1]) == 3
    assert reflog_batches(store) == [3]


def test_policy_out_of_capture_order_is_judged_in_capture_order(tmp_path: Path) -> None:
    """Files whose names do not sort by capture time: suspect judged in capture order.

    Read in name order, the shrunk text comes first and has nothing to be judged against;
    in capture order it follows a long text and is suspect. Only that policy's files are
    read a second time; the other policy's files are read once.
    """
    long_text = "# Privacy policy\n\n" + "We keep your data safe and tell you how. " * 60
    files = {
        "1.md": ("2020-03-01", "# Privacy policy\n\nShort.\n"),
        "2.md": ("2020-01-01", long_text),
        "3.md": ("2020-02-01", long_text + "\nOne more clause.\n"),
    }
    source = tmp_path / "in"
    for name, (day, text) in files.items():
        target = source / "example" / "unordered" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"---\ncaptured: {day}\n---\n{text}", encoding="utf-8")
    for day in ("2020-01-01", "2020-02-01"):
        target = source / "example" / "ordered" / f"{day}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"# Terms\n\nTerms as of {day}.\n", encoding="utf-8")
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    code = (
        "import collections, json, sys\n"
        "opened = collections.Counter()\n"
        "sys.addaudithook(lambda e, a: opened.update([str(a[0])]) if e == 'open' else None)\n"
        "from policydiff.cli import main\n"
        "try:\n"
        f"    main(['--store', {str(store)!r}, 'import', {str(source)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps({{p[len({str(source)!r}):]: n for p, n in opened.items()"
        f" if p.startswith({str(source)!r}) and p.endswith('.md')}}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    opens = json.loads(run.stdout.strip().splitlines()[-1])
    assert opens == {
        "/example/ordered/2020-01-01.md": 1,
        "/example/ordered/2020-02-01.md": 1,
        "/example/unordered/1.md": 2,
        "/example/unordered/2.md": 2,
        "/example/unordered/3.md": 2,
    }
    assert run.stderr.count("recorded as suspect") == 1
    assert "1.md: recorded as suspect (the text shrank" in run.stderr
    log = run_cli(["--store", str(store), "log", "example/unordered", "--format", "json"])
    assert log.exit_code == 0, log.stderr
    versions = json.loads(log.stdout)["versions"]
    assert [(v["captured_at"][:10], v["suspect"] is not None) for v in versions] == [
        ("2020-01-01", False),
        ("2020-02-01", False),
        ("2020-03-01", True),
    ]


def test_policy_met_again_after_another_is_judged_against_its_last_text(tmp_path: Path) -> None:
    """A policy's last plausible text survives the import moving on to other policies.

    Two folders both hold ``acme/privacy``; between them come other policies, so its last
    text is held compressed meanwhile, and the shrunk capture in the second folder is
    still judged against it.
    """
    long_text = "# Privacy policy\n\n" + "We keep your data safe and tell you how. " * 60
    layout = {
        "first/acme/privacy/2020-01-01.md": long_text,
        "first/acme/terms/2020-01-01.md": "# Terms\n\nBe nice.\n",
        "first/beta/privacy/2020-01-01.md": "# Beta privacy\n\nNothing kept.\n",
        "second/acme/privacy/2020-02-01.md": "# Privacy policy\n\nShort.\n",
    }
    for name, text in layout.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    result = run_cli(
        ["--store", str(store), "import", str(tmp_path / "first"), str(tmp_path / "second")]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("recorded as suspect (the text shrank") == 1
    log = run_cli(["--store", str(store), "log", "acme/privacy", "--format", "json"])
    versions = json.loads(log.stdout)["versions"]
    assert [v["suspect"] is not None for v in versions] == [False, True]
    assert reflog_batches(store) == [4]
