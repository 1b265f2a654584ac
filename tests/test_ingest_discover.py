from pathlib import Path

import pytest

from policydiff.core.errors import InputError
from policydiff.sources.ingest import discover_snapshots


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x", encoding="utf-8")
    return path


def test_directory_walk_filters_and_sorts(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    wanted = [
        touch(root / "a" / "privacy" / "2016-02-08.md"),
        touch(root / "a" / "privacy" / "2017-04-22T082216Z.wayback.txt"),
        touch(root / "a" / "terms" / "2018-01-01.md"),
        touch(root / "a-b" / "x.HTML"),
        touch(root / "b" / "p.markdown"),
        touch(root / "b" / "p.text"),
        touch(root / "b" / "q.htm"),
        touch(root / "top.txt"),
    ]
    for skipped in [
        ".hidden.md",
        ".git/HEAD",
        ".git/x.md",
        "a/.cache/2016-02-08.md",
        "README.md",
        "a/readme.txt",
        "MANIFEST.tsv",
        "MANIFEST",
        "a/privacy/2016-02-08.meta.json",
        "a/privacy/scan.png",
        "a/privacy/data.json",
    ]:
        touch(root / skipped)
    # Without a snapshot extension: refused (reported per file), not read.
    no_extension = touch(root / "a" / "terms" / "2018-02-01")
    refused: list[tuple[Path, str]] = []
    found = discover_snapshots([root], refused)
    assert refused == [(no_extension, refused[0][1])]
    assert "no snapshot file extension" in refused[0][1]
    assert found == [
        (path, root) for path in sorted(wanted, key=lambda p: p.relative_to(root).parts)
    ]
    assert [p.relative_to(root).as_posix() for p, _ in found][:3] == [
        "a/privacy/2016-02-08.md",
        "a/privacy/2017-04-22T082216Z.wayback.txt",
        "a/terms/2018-01-01.md",
    ]


def test_files_named_directly_are_taken_as_given(tmp_path: Path) -> None:
    one = touch(tmp_path / "README.md")
    two = touch(tmp_path / "d" / "2016-02-08.md")
    assert discover_snapshots([one, tmp_path / "d", two]) == [(one, None), (two, tmp_path / "d")]


def test_empty_directory(tmp_path: Path) -> None:
    touch(tmp_path / "d" / "README.md")
    with pytest.raises(InputError, match="no snapshot files in directory: "):
        discover_snapshots([tmp_path / "d"])


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match=f"^no such file or directory: {missing}$"):
        discover_snapshots([missing])
