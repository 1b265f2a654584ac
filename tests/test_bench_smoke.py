"""The benchmark suite still runs: every piece on a tiny sample, checked for its rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS") or REPO.parent / "shared" / "corpus")

# 5 policies x 10 versions, 2 corpus pairs, one repetition: a few seconds.
TINY = [
    "--quick", "--json", "--no-delegate", "--pairs", "2", "--policies", "5",
    "--versions", "10", "--batch", "25", "--reps", "1", "--append", "4",
    "--sections", "engine,cli,process,store",
]  # fmt: skip
EXPECTED = [
    ("engine", "compare_texts, all 2 consecutive pairs"),
    ("cli", "policydiff compare OLD.md NEW.md --format json"),
    ("cli", "policydiff --version"),
    ("process", "policydiff compare --format json, all 2 pairs"),
    ("process", "policydiff import DIR"),
    ("process", "policydiff site"),
    ("store", "import: GitStore.record batches"),
    ("store", "log "),
    ("store", "show --at oldest date "),
    ("store", "compare two oldest versions "),
    ("store", "blame latest version "),
    ("store", "verify one policy "),
    ("store", "import: append 2 versions"),
]


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(), reason="no corpus")
def test_quick_bench_runs_every_piece(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), *TINY, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    names = [(row["section"], row["name"]) for row in rows]
    for section, prefix in EXPECTED:
        assert any(s == section and n.startswith(prefix) for s, n in names), (section, prefix)
    for row in rows:
        # Measured, or skipped with a reason (commands still being written).
        assert row["value"] is not None or row["note"].startswith("skipped: "), row
        if row["value"] is not None and row["ref_value"] is not None:
            assert row["ratio"] == pytest.approx(row["value"] / row["ref_value"])
        assert "FAILED" not in row["note"], row
        assert "exit " not in row["note"], row
    assert "GitStore.record" in (tmp_path / "last-run.md").read_text(encoding="utf-8")
    # The generated store is cached for the next run.
    assert list((tmp_path / "stores").glob("gen*-5x10-*/import.json"))


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(), reason="no corpus")
def test_quick_track_section_runs(tmp_path: Path) -> None:
    # Its own process and time limit: three track runs are three policydiff starts.
    tiny = ["--quick", "--json", "--reps", "1", "--sections", "track", "--track-policies", "4"]
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), *tiny, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [row["name"] for row in rows] == [
        "policydiff track, 4 policies: first run, all new",
        "policydiff track, 4 policies: second run, all unchanged (304)",
        "policydiff track, 4 policies: third run, 1 changed",
    ]
    for row in rows:
        assert row["value"] is not None, row
        assert row["ratio"] == pytest.approx(row["value"] / row["ref_value"])
        assert row["met"] is None, row  # False: a run failed or said something else
        assert "FAILED" not in row["note"], row
    assert "HTTP 0x200 4x304" in rows[1]["note"]
    assert "HTTP 1x200 3x304" in rows[2]["note"]
