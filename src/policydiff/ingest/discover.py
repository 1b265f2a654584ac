"""Find the snapshot files among the paths given to an import, in a stable order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from policydiff.errors import InputError

SNAPSHOT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".html", ".htm", ""})
# Corpus and archive directories carry their own documentation next to the snapshots.
_SKIPPED_PREFIXES = ("README", "MANIFEST")


def is_snapshot_name(name: str) -> bool:
    """Whether a file met while walking a directory should be read as a snapshot."""
    if name.startswith(".") or name.upper().startswith(_SKIPPED_PREFIXES):
        return False
    if name.lower().endswith(".meta.json"):
        return False
    return Path(name).suffix.lower() in SNAPSHOT_SUFFIXES


def _raise_walk_error(err: OSError) -> None:
    """Turn an unreadable directory met by ``os.walk`` into an ``InputError``."""
    raise InputError(f"cannot read directory {err.filename}: {err.strerror or err}")


def _walk(root: Path) -> list[Path]:
    """Return the snapshot files under ``root``, skipping hidden directories, sorted."""
    found: list[tuple[tuple[str, ...], Path]] = []
    for directory, subdirectories, files in os.walk(root, onerror=_raise_walk_error):
        # Pruning in place stops os.walk from entering .git, .cache and the like.
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        base = Path(directory)
        for name in files:
            path = base / name
            # Only regular files: a FIFO or device would block or never end when read.
            if is_snapshot_name(name) and path.is_file():
                found.append((path.relative_to(root).parts, path))
    # Sorting on path parts, not strings, so "a/b" sorts before "a-b/c" on every platform.
    return [path for _, path in sorted(found)]


def discover_snapshots(paths: Sequence[Path]) -> list[tuple[Path, Path | None]]:
    """Expand files and directories into ``(file, root)`` pairs, in argument order.

    A file named directly is always taken, with root ``None``. A directory is walked
    recursively and its snapshot files (see ``is_snapshot_name``) come back sorted, each with
    the directory as root so the policy id can come from the subdirectory. A file reached
    twice is listed once, at its first place.
    """
    result: list[tuple[Path, Path | None]] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files = _walk(path)
            if not files:
                raise InputError(f"no snapshot files in directory: {path}")
            pairs: list[tuple[Path, Path | None]] = [(file, path) for file in files]
        elif path.is_file():
            pairs = [(path, None)]
        elif path.exists():
            raise InputError(f"not a regular file or directory: {path}")
        else:
            raise InputError(f"no such file or directory: {path}")
        for file, root in pairs:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                result.append((file, root))
    return result
