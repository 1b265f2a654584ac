"""Benchmark the diff engine against git word-diff on every consecutive corpus pair.

Usage: python bench/bench_engine.py [--quick] [--json]

For each pair the engine (``compare_texts`` on texts already read) and
``git diff --no-index --word-diff=porcelain`` (a process reading the two files) are timed
back to back in this one process run, so machine noise hits both alike. Each full pass
is repeated (3 times, 1 with --quick) and each pair keeps its fastest time. Wall time
is the figure; CPU time (this process for the engine, the child for git) is added in
the note because it is steadier on a busy machine.

Two engine figures are reported: *consecutive* compares pairs in corpus order, so a
version parsed as the new side of one pair is reused (parse cache) as the old side of
the next, as ``policydiff log`` would; *cold* clears every engine cache (parses, section
cuts, body diffs) before every pair, as a fresh process starts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from policydiff.engine import compare as engine  # noqa: E402

TOTAL_TARGET = 3.0  # engine total within 3x git's total (issue 17)
LARGEST_TARGET = 1.0  # seconds, largest pair


def corpus_dir() -> Path:
    """$POLICYDIFF_CORPUS, else ../shared/corpus beside the repository."""
    configured = os.environ.get("POLICYDIFF_CORPUS")
    return Path(configured) if configured else REPO.parent / "shared" / "corpus"


@dataclass(frozen=True, slots=True)
class Pair:
    """Two consecutive versions of one document."""

    document: str
    old: Path
    new: Path

    @property
    def label(self) -> str:
        return f"{self.document} {self.old.stem} -> {self.new.stem}"

    @property
    def size(self) -> int:
        return self.old.stat().st_size + self.new.stat().st_size


def corpus_pairs(root: Path) -> list[Pair]:
    """Every consecutive pair: <service>/<type>/<date>.md, in date order per document."""
    pairs: list[Pair] = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        files = sorted(folder.glob("*.md"))
        document = f"{folder.parent.name}/{folder.name}"
        pairs.extend(Pair(document, a, b) for a, b in pairwise(files))
    return pairs


Timing = tuple[float, float]  # (wall seconds, CPU seconds)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_git(pair: Pair) -> Timing:
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(
        ["git", "diff", "--no-index", "--word-diff=porcelain", str(pair.old), str(pair.new)],
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - start, _children_cpu() - cpu


def time_engine(old: str, new: str, *, cold: bool) -> Timing:
    if cold:
        engine.clear_caches()
    cpu = time.process_time()
    start = time.perf_counter()
    engine.compare_texts(old, new)
    return time.perf_counter() - start, time.process_time() - cpu


def _best(previous: Timing | None, value: Timing) -> Timing:
    if previous is None:
        return value
    return min(previous[0], value[0]), min(previous[1], value[1])


def _cpu_note(value: Timing, reference: Timing) -> str:
    ratio = value[1] / reference[1] if reference[1] else float("nan")
    return f"CPU {value[1] * 1000:,.0f} ms vs {reference[1] * 1000:,.0f} ms = {ratio:.2f}x"


def _sum(timings: dict[Pair, Timing]) -> Timing:
    return sum(t[0] for t in timings.values()), sum(t[1] for t in timings.values())


def run(quick: bool = False) -> list[dict[str, object]]:
    """Measure the engine against git; return result rows (bench/table.py Row fields)."""
    root = corpus_dir()
    if not (root / "MANIFEST.tsv").exists():
        return [
            {
                "section": "engine",
                "name": "corpus compare",
                "seconds": None,
                "note": f"skipped: no corpus at {root}",
            }
        ]
    pairs = corpus_pairs(root)
    texts = {
        p: (p.old.read_text(encoding="utf-8"), p.new.read_text(encoding="utf-8")) for p in pairs
    }
    warm: dict[Pair, Timing] = {}
    cold: dict[Pair, Timing] = {}
    git: dict[Pair, Timing] = {}
    for _ in range(1 if quick else 3):
        engine.clear_caches()
        for pair in pairs:
            old, new = texts[pair]
            git[pair] = _best(git.get(pair), time_git(pair))
            warm[pair] = _best(warm.get(pair), time_engine(old, new, cold=False))
        for pair in pairs:
            old, new = texts[pair]
            cold[pair] = _best(cold.get(pair), time_engine(old, new, cold=True))
    git_total = _sum(git)
    rows: list[dict[str, object]] = []
    for name, times in (("consecutive", warm), ("cold", cold)):
        total = _sum(times)
        rows.append(
            {
                "section": "engine",
                "name": f"{len(pairs)} corpus pairs, total ({name})",
                "seconds": total[0],
                "reference": "git diff --no-index --word-diff=porcelain",
                "ref_seconds": git_total[0],
                "target": f"<= {TOTAL_TARGET:g}x git",
                "met": total[0] <= TOTAL_TARGET * git_total[0],
                "note": _cpu_note(total, git_total),
            }
        )
    rows.extend(
        {
            "section": "engine",
            "name": f"{pair.label} ({pair.size / 1024:,.0f} KiB, cold)",
            "seconds": cold[pair][0],
            "reference": "git diff --no-index --word-diff=porcelain",
            "ref_seconds": git[pair][0],
            "target": f"< {LARGEST_TARGET:g} s",
            "met": cold[pair][0] < LARGEST_TARGET,
            "note": _cpu_note(cold[pair], git[pair]),
        }
        for pair in sorted(pairs, key=lambda p: p.size, reverse=True)[:5]
    )
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    """Render rows as a markdown table."""

    def ms(value: object) -> str:
        return "-" if not isinstance(value, float) else f"{value * 1000:,.1f} ms"

    lines = [
        "| measurement | policydiff | git word-diff | ratio | target | note |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        value, ref = row.get("seconds"), row.get("ref_seconds")
        ratio = (
            f"{value / ref:.2f}x" if isinstance(value, float) and isinstance(ref, float) else "-"
        )
        met = row.get("met")
        verdict = "" if met is None else (": met" if met else ": MISSED")
        lines.append(
            f"| {row['name']} | {ms(value)} | {ms(ref)} | {ratio} | {row.get('target', '')}"
            f"{verdict} | {row.get('note', '')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one pass instead of three")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    rows = run(quick=args.quick)
    print(json.dumps(rows, indent=2) if args.json else markdown(rows))


if __name__ == "__main__":
    main()
