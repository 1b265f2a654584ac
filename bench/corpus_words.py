"""Substantive words changed over every consecutive corpus pair, and verdict changes.

    python bench/corpus_words.py OUT.json               measure, write per-pair figures
    python bench/corpus_words.py OUT.json --against A.json   also list pairs whose
                                                        verdict or section statuses differ

Pairs are listed as tests/test_corpus_compare.py lists them (../shared/corpus, or
$POLICYDIFF_CORPUS). Used for the closing note of issue 13: run it on two checkouts and
compare.
"""

from __future__ import annotations

import argparse
import json
import os
from itertools import pairwise
from pathlib import Path
from typing import Any

from policydiff.engine.compare import compare_texts

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))


def measure() -> dict[str, dict[str, Any]]:
    """Return per-pair verdicts: substantive, words inserted/deleted, section statuses."""
    out: dict[str, dict[str, Any]] = {}
    for folder in sorted(p for p in CORPUS.glob("*/*") if p.is_dir()):
        dates = sorted(f.stem for f in folder.glob("*.md"))
        document = f"{folder.parent.name}/{folder.name}"
        for old, new in pairwise(dates):
            diff = compare_texts(
                (folder / f"{old}.md").read_text(encoding="utf-8"),
                (folder / f"{new}.md").read_text(encoding="utf-8"),
            )
            out[f"{document} {old} {new}"] = {
                "substantive": diff.summary.substantive,
                "words_inserted": diff.summary.words_inserted,
                "words_deleted": diff.summary.words_deleted,
                "statuses": [s.status.value for s in diff.sections],
            }
    return out


def main() -> None:
    """Measure the corpus, write the figures, compare with an earlier run if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--against", type=Path)
    args = parser.parse_args()
    now = measure()
    args.out.write_text(json.dumps(now, indent=1), encoding="utf-8")
    words = sum(int(v["words_inserted"]) + int(v["words_deleted"]) for v in now.values())
    print(f"{len(now)} pairs, {words} substantive words changed")
    if args.against is None:
        return
    before = json.loads(args.against.read_text(encoding="utf-8"))
    for key, then in before.items():
        if key not in now:
            continue
        if (
            then["substantive"] != now[key]["substantive"]
            or then["statuses"] != now[key]["statuses"]
        ):
            changed = [
                (index, a, b)
                for index, (a, b) in enumerate(
                    zip(then["statuses"], now[key]["statuses"], strict=False)
                )
                if a != b
            ]
            print(f"verdict changed: {key}: {changed}")


if __name__ == "__main__":
    main()
