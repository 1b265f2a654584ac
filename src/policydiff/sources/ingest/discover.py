"""Find the snapshot files among the paths given to an import, in a stable order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from policydiff.core.errors import InputError, shown

SNAPSHOT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf"})
# Corpus and archive directories carry their own documentation next to the snapshots.
_SKIPPED_PREFIXES = ("README", "MANIFEST")


def is_snapshot_name(name: str) -> bool:
    """Whether a file met while walking a directory should be read as a snapshot."""
    if _passed_over(name):
        return False
    return Path(name).suffix.lower() in SNAPSHOT_SUFFIXES


def _passed_over(name: str) -> bool:
    """Whether a walk passes over ``name`` silently: hidden, documentation, metadata."""
    return (
        name.startswith(".")
        or name.upper().startswith(_SKIPPED_PREFIXES)
        or name.lower().endswith(".meta.json")
    )


def _raise_walk_error(err: OSError) -> None:
    """Turn an unreadable directory met by ``os.walk`` into an ``InputError``."""
    raise InputError(f"cannot read directory {shown(err.filename)}: {err.strerror or err}")


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, every link followed, is ``root`` or lies under it (``root`` real)."""
    return Path(os.path.realpath(path)).is_relative_to(root)


def _refusal(path: Path, real_root: Path) -> str | None:
    """Say why a file met in the walk of ``real_root`` must not be read, or None if it may be.

    A symbolic link leading out of the imported folder is refused (``ln -s ~/.ssh/id_rsa
    archive/acme/p/2020-01-01.md`` would otherwise be archived, then synced and
    published); a link to a file inside the folder is read like that file. A file
    without a snapshot extension (``.md``, ``.txt``, ``.html``...) is refused too: its
    name says nothing about it being a policy.
    """
    if path.is_symlink() and not _inside(path, real_root):
        return _OUTSIDE_FILE
    if not Path(path.name).suffix:
        extensions = ", ".join(sorted(SNAPSHOT_SUFFIXES))
        return f"no snapshot file extension ({extensions}): not read"
    return None


_OUTSIDE_FILE = "a symbolic link to a file outside the imported folder: not read"
_OUTSIDE_FOLDER = "a symbolic link to a folder outside the imported folder: not read"


def _walk(root: Path, real_root: Path, refused: list[tuple[Path, str]]) -> list[tuple[Path, Path]]:
    """Return the snapshot files under ``root`` (really ``real_root``), sorted, with real paths.

    Hidden directories are skipped. Files that look like snapshots but must not be read
    are added to ``refused`` with the reason. Symbolic links to folders are never entered
    (their files are walked where they really are, if inside ``root``); one leading out
    of ``root`` is refused.
    """
    found: list[tuple[tuple[str, ...], Path, Path]] = []
    for directory, subdirectories, files in os.walk(root, onerror=_raise_walk_error):
        # Pruning in place stops os.walk from entering .git, .cache and the like.
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        base = Path(directory)
        relative = base.relative_to(root).parts
        for name in subdirectories:
            linked = base / name
            if linked.is_symlink() and not _inside(linked, real_root):
                refused.append((linked, _OUTSIDE_FOLDER))
        for name in files:
            path = base / name
            # Other extensions (images, PDFs, JSON) are not snapshots: passed over.
            if _passed_over(name) or Path(name).suffix.lower() not in {*SNAPSHOT_SUFFIXES, ""}:
                continue
            reason = _refusal(path, real_root)
            if reason is not None:
                refused.append((path, reason))
            # Only regular files: a FIFO or device would block or never end when read.
            elif path.is_file():
                parts = (*relative, name)
                # The folders walked are real ones (links to folders are not entered), so
                # unless the file is a link its real path is the root's followed by the same
                # parts: no need to resolve each part again.
                real = path.resolve() if path.is_symlink() else real_root.joinpath(*parts)
                found.append((parts, path, real))
    # Sorting on path parts, not strings, so "a/b" sorts before "a-b/c" on every platform.
    return [(path, real) for _, path, real in sorted(found)]


def discover_snapshots(
    paths: Sequence[Path],
    refused: list[tuple[Path, str]] | None = None,
    real_roots: dict[Path, Path] | None = None,
) -> list[tuple[Path, Path | None]]:
    """Expand files and directories into ``(file, root)`` pairs, in argument order.

    A file named directly is always taken, with root ``None`` (a symbolic link named on
    the command line is followed: the user chose it). A directory is walked recursively
    and its snapshot files (see ``is_snapshot_name``) come back sorted, each with the
    directory as root so the policy id can come from the subdirectory. A file reached
    twice (through a link inside the folder) is listed once, at its first place.

    Files met in a walk that must not be read (see ``_refusal``) are appended to
    ``refused`` with the reason, for a per-file error; without a list, the first one
    raises ``InputError``. ``real_roots``, if given, receives each walked directory's real
    path as the walk saw it, for ``check_inside`` at read time.
    """
    result: list[tuple[Path, Path | None]] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            skipped: list[tuple[Path, str]] = []
            real_root = Path(os.path.realpath(path))
            files = _walk(path, real_root, skipped)
            if real_roots is not None:
                real_roots[path] = real_root
            if skipped and refused is None:
                bad, reason = skipped[0]
                raise InputError(f"{shown(bad)}: {reason}")
            if not files and not skipped:
                raise InputError(f"no snapshot files in directory: {shown(path)}")
            if refused is not None:
                refused.extend(skipped)
            pairs: list[tuple[Path, Path | None, Path]] = [
                (file, path, real) for file, real in files
            ]
        elif path.is_file():
            pairs = [(path, None, path.resolve())]
        elif path.exists():
            raise InputError(f"not a regular file or directory: {shown(path)}")
        else:
            raise InputError(f"no such file or directory: {shown(path)}")
        for file, root, key in pairs:
            if key not in seen:
                seen.add(key)
                result.append((file, root))
    return result


def check_inside(file: Path, real_root: Path) -> None:
    """Refuse ``file`` if it leads out of ``real_root`` now (swapped for a link after the walk).

    ``real_root`` is the real path of the walked directory as the walk saw it (see
    ``discover_snapshots``), not as it is now: a directory swapped for a link since
    would otherwise carry its own files with it.
    """
    if not _inside(file, real_root):
        raise InputError(f"{shown(file)}: {_OUTSIDE_FILE}")
