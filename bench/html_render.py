"""Time the formatted HTML redline against the plain one it replaced, on the corpus pairs.

Both render the same excerpts of the same diffs in one process: the reference writes each
piece as one escaped line with ``<del>``/``<ins>`` (``render.html.redline``), the measured
path parses the piece's markdown and lays the runs over it (``render.html.formatted``).
Run: ``python bench/html_render.py`` (prints both totals, the ratio, and the 5 largest).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import pairs

from policydiff.core.diff_model import DocumentDiff
from policydiff.engine.compare import compare_texts
from policydiff.engine.report import Elided, Run, View, excerpt
from policydiff.publish.render.html import formatted, redline


def _pieces(diff: DocumentDiff) -> list[tuple[Run, ...]]:
    """Return every shown piece of every changed section (cosmetic edits shown)."""
    view = View(show_cosmetic=True)
    return [
        piece
        for section in diff.sections
        for piece in excerpt(section, view, diff.moves)
        if not isinstance(piece, Elided)
    ]


def _timed(render: Callable[[tuple[Run, ...]], str], pieces: list[tuple[Run, ...]]) -> float:
    """Return the best of three times to render all pieces."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for piece in pieces:
            render(piece)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Print the totals over all pairs, their ratio and the five largest pairs."""
    rows: list[tuple[str, int, float, float]] = []
    for pair in pairs():
        old, new = (v.path.read_text(encoding="utf-8") for v in (pair.old, pair.new))
        pieces = _pieces(compare_texts(old, new))
        size = sum(len(run.text) for piece in pieces for run in piece)
        rows.append((pair.label, size, _timed(formatted, pieces), _timed(redline, pieces)))
    new_total = sum(r[2] for r in rows)
    old_total = sum(r[3] for r in rows)
    print(f"pairs: {len(rows)}, characters shown: {sum(r[1] for r in rows):,}")
    print(f"formatted: {new_total:.2f} s  plain (reference): {old_total:.2f} s  ")
    print(f"ratio: {new_total / old_total:.1f}x")
    for name, size, new_time, old_time in sorted(rows, key=lambda r: -r[1])[:5]:
        print(f"  {name}: {size:,} chars  {new_time * 1000:.0f} ms vs {old_time * 1000:.0f} ms")


if __name__ == "__main__":
    main()
