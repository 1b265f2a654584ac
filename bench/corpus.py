"""Read the shared test corpus: its documents, versions and consecutive pairs."""

from __future__ import annotations

import csv
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path:
    """Return the corpus folder: $POLICYDIFF_CORPUS, else ../shared/corpus beside the repo."""
    configured = os.environ.get("POLICYDIFF_CORPUS")
    return Path(configured) if configured else REPO.parent / "shared" / "corpus"


@dataclass(frozen=True, slots=True)
class CorpusVersion:
    """One file of the corpus."""

    document: str  # "<service>/<document-type>"
    date: str
    path: Path
    size: int


@dataclass(frozen=True, slots=True)
class Pair:
    """Two consecutive versions of one document."""

    old: CorpusVersion
    new: CorpusVersion

    @property
    def size(self) -> int:
        """Bytes on both sides, used to pick the largest pairs."""
        return self.old.size + self.new.size

    @property
    def label(self) -> str:
        """Short name such as ``instagram/privacy-policy 2025-06-21 -> 2025-06-25``."""
        return f"{self.old.document} {self.old.date} -> {self.new.date}"


def versions(root: Path | None = None) -> dict[str, list[CorpusVersion]]:
    """Return every document's versions, oldest first, read from MANIFEST.tsv."""
    root = root or corpus_dir()
    found: dict[str, list[CorpusVersion]] = {}
    with (root / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            document = f"{row['service']}/{row['document_type']}"
            found.setdefault(document, []).append(
                CorpusVersion(document, row["date"], root / row["path"], int(row["bytes"]))
            )
    for history in found.values():
        history.sort(key=lambda v: v.date)
    return dict(sorted(found.items()))


def pairs(root: Path | None = None) -> list[Pair]:
    """Return every consecutive pair of the corpus (98 for the full corpus)."""
    return [
        Pair(old, new)
        for history in versions(root).values()
        for old, new in itertools.pairwise(history)
    ]


def largest_pair(root: Path | None = None) -> Pair:
    """Return the pair with the most bytes (instagram 2025-06-21 -> 2025-06-25)."""
    return max(pairs(root), key=lambda p: p.size)
