"""`import` from files: batches bounded by bytes held in memory, each file read once if it fits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import run_cli
from policydiff.cli.store_cmds import IMPORT_BATCH_BYTES

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


def test_import_cuts_batches_by_bytes_not_count(tmp_path: Path) -> None:
    """A dozen wide-character files, 60 MiB in memory: split into several atomic writes."""
    count = 14
    per_file = 4 * FILE_CHARS  # what one text weighs in memory, source bytes aside
    assert count * per_file > IMPORT_BATCH_BYTES  # the files cannot all go in one batch
    source = tmp_path / "in"
    for i in range(count):
        body = f"# Policy {i}\n\n" + (f"{WIDE} clause {i} " * (FILE_CHARS // 10)) + "\n"
        target = source / "example" / f"wide-{i}" / f"2020-01-{i + 1:02d}.md"
        target.parent.mkdir(parents=True)
        target.write_text(body, encoding="utf-8")
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    result = run_cli(["--store", str(store), "import", str(source)])
    assert result.exit_code == 0, result.stderr
    batches = reflog_batches(store)
    assert sum(batches) == count
    assert len(batches) >= 2
    assert max(batches) * per_file <= IMPORT_BATCH_BYTES


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
