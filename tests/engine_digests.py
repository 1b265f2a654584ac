"""Digests of the engine's output on corpus pairs: what the equivalence test compares.

Run as a script with any checkout's interpreter to write the digests of that checkout's
engine (``python tests/engine_digests.py OUT.tsv [--extra]``); the test computes the same
digests with the code under test and compares them with tests/data/engine_digests.tsv.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from enum import Enum
from itertools import pairwise
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))


def consecutive_pairs(root: Path = CORPUS) -> list[tuple[str, str, str]]:
    """(document, old date, new date) for every consecutive corpus pair, in corpus order."""
    if not (root / "MANIFEST.tsv").exists():
        return []
    found: list[tuple[str, str, str]] = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        dates = sorted(f.stem for f in folder.glob("*.md"))
        document = f"{folder.parent.name}/{folder.name}"
        found.extend((document, a, b) for a, b in pairwise(dates))
    return found


def distant_pairs(root: Path = CORPUS) -> list[tuple[str, str, str]]:
    """(document, first date, last date) for every document with three versions or more."""
    if not (root / "MANIFEST.tsv").exists():
        return []
    found: list[tuple[str, str, str]] = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        dates = sorted(f.stem for f in folder.glob("*.md"))
        if len(dates) >= 3:
            found.append((f"{folder.parent.name}/{folder.name}", dates[0], dates[-1]))
    return found


def _plain(value: Any) -> Any:
    """Reduce engine values to JSON-able data: dataclasses by field, enums by name."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # dates


def digest(old: str, new: str) -> tuple[str, str]:
    """sha256 of the JSON report (as ``compare --format json`` writes it) and of every field."""
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport, View, side_from_text
    from policydiff.publish.render.json_report import render

    diff = compare_texts(old, new)
    report = CompareReport(side_from_text("old", old), side_from_text("new", new), diff)
    rendered = render(report, View())
    fields = json.dumps(_plain(diff), ensure_ascii=False, sort_keys=True)
    return (
        hashlib.sha256(rendered.encode("utf-8")).hexdigest(),
        hashlib.sha256(fields.encode("utf-8")).hexdigest(),
    )


def read(document: str, date: str, root: Path = CORPUS) -> str:
    """The text of one corpus version."""
    return (root / document / f"{date}.md").read_text(encoding="utf-8")


def main(argv: list[str]) -> None:
    """Write one line per pair: document, old date, new date, report digest, fields digest."""
    out = Path(argv[0])
    pairs = consecutive_pairs()
    if "--extra" in argv:
        pairs += distant_pairs()
    lines = []
    for document, a, b in pairs:
        lines.append("\t".join((document, a, b, *digest(read(document, a), read(document, b)))))
        print(lines[-1], file=sys.stderr)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
