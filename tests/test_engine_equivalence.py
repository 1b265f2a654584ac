"""The engine's output on the corpus is what it was before its speed work, byte for byte.

tests/data/engine_digests.tsv holds, for every consecutive corpus pair and for the first
and last version of each document, the sha256 of the JSON report and of every field of
the DocumentDiff, as written by the engine before its speed-up (tests/engine_digests.py
run with that checkout's interpreter). Optimisations must leave them unchanged; a change
of output made on purpose rewrites the file with the same script.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine_digests import CORPUS, digest, read

pytestmark = pytest.mark.corpus

DIGESTS = Path(__file__).resolve().parent / "data" / "engine_digests.tsv"


def _expected() -> list[tuple[str, str, str, str, str]]:
    rows = [line.split("\t") for line in DIGESTS.read_text(encoding="utf-8").splitlines()]
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows if r]


EXPECTED = _expected() if (CORPUS / "MANIFEST.tsv").exists() else []


@pytest.mark.skipif(not EXPECTED, reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize(
    ("document", "old", "new", "report", "fields"),
    EXPECTED,
    ids=[" ".join(row[:3]) for row in EXPECTED],
)
def test_engine_output_unchanged(
    document: str, old: str, new: str, report: str, fields: str
) -> None:
    assert digest(read(document, old), read(document, new)) == (report, fields)


@pytest.mark.skipif(not EXPECTED, reason=f"no corpus at {CORPUS}")
def test_digests_cover_every_consecutive_pair() -> None:
    from engine_digests import consecutive_pairs

    assert set(consecutive_pairs()) <= {row[:3] for row in EXPECTED}
