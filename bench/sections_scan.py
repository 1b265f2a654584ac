"""The block scanner against markdown-it: parse time in-process, and compare as a process.

    python bench/sections_scan.py --before /work/base/.venv/bin/policydiff

Rows, each beside git's word diff of the same pair measured in the same loop:
- ``split_sections`` and ``table_maps`` of the largest corpus files, by the scanner
  (what split_sections does now) and by markdown-it (what it did before), in-process;
- ``policydiff compare OLD NEW --format json`` as a process on the largest pair, the
  slowest pairs, and the sum over every pair (``--before`` runs an older install of
  policydiff in the same loop).
Medians of interleaved repetitions: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import corpus
import engine
import measure
import process

from policydiff.engine import sections
from policydiff.engine.blockscan import scan_blocks, scan_tables

LARGEST_FILES = 5
# The path every text took before the scanner, kept private in sections on purpose.
SECTIONS_FROM = sections._sections_from  # noqa: SLF001
PARSED_BLOCKS = sections._parsed_blocks  # noqa: SLF001
PARSED_TABLES = sections._parsed_tables  # noqa: SLF001
BUILD_PARSERS = sections._parsers  # noqa: SLF001


def seconds_of(function: Callable[[], object]) -> measure.Run:
    """Time one in-process call as a Run (no process, no memory figure)."""
    start = time.perf_counter()
    function()
    return measure.Run(time.perf_counter() - start, 0, 0, b"", b"")


def ms(seconds: float) -> str:
    """Milliseconds, one decimal."""
    return f"{seconds * 1000:.1f} ms"


def parse_rows(pairs: list[corpus.Pair], reps: int) -> list[str]:
    """Sections and tables of the largest files: scanner vs markdown-it, with git's pair diff."""
    newest = sorted(pairs, key=lambda pair: pair.new.size, reverse=True)[:LARGEST_FILES]
    BUILD_PARSERS()  # markdown-it's import and set-up are not parse time
    lines = []
    for pair in newest:
        text = pair.new.path.read_text(encoding="utf-8")
        runs = measure.interleaved(
            {
                # split_sections keeps recent texts' sections: time the cut itself.
                "scan": partial(
                    seconds_of, partial(lambda t: SECTIONS_FROM(t, sections.top_blocks(t)), text)
                ),
                "markdown-it": partial(
                    seconds_of,
                    partial(lambda t: SECTIONS_FROM(t, PARSED_BLOCKS(t)), text),
                ),
                "scan tables": partial(seconds_of, partial(sections.table_maps, text)),
                "markdown-it tables": partial(seconds_of, partial(PARSED_TABLES, text)),
                "git": partial(engine.git_word_diff, pair.old.path, pair.new.path),
            },
            reps,
        )
        median = {name: measure.median_seconds(found) for name, found in runs.items()}
        scanned = "scanned" if scan_blocks(text) is not None else "fell back"
        tables = "scanned" if scan_tables(text) is not None else "fell back"
        lines.append(
            f"| {pair.new.document} {pair.new.date} ({pair.new.size // 1024} KiB, {scanned}/{tables})"
            f" | {ms(median['scan'])} | {ms(median['markdown-it'])}"
            f" | {median['markdown-it'] / median['scan']:.1f}x"
            f" | {ms(median['scan tables'])} | {ms(median['markdown-it tables'])}"
            f" | {ms(median['git'])} |"
        )
    return [
        (
            "| file (new side of a pair) | split_sections, scanner | markdown-it | speed-up"
            " | table_maps, scanner | markdown-it | git word diff of the pair |"
        ),
        "|---|---|---|---|---|---|---|",
        *lines,
    ]


def compare_medians(pair: corpus.Pair, reps: int, before: Path | None) -> dict[str, float]:
    """Median wall time of compare as a process (ours, before) and git, interleaved."""
    command = ["compare", str(pair.old.path), str(pair.new.path), "--format", "json"]
    tasks: dict[str, Callable[[], measure.Run]] = {"ours": partial(process.run, command)}
    if before is not None:
        tasks["before"] = partial(
            measure.run_command, [str(before), *command], env=process.user_env()
        )
    tasks["git"] = partial(engine.git_word_diff, pair.old.path, pair.new.path)
    runs = measure.interleaved(tasks, reps)
    for name, found in runs.items():
        if any(run.returncode not in {0, 1} for run in found):
            raise SystemExit(f"{name} failed on {pair.label}: {found[0].stderr[-500:]!r}")
    return {name: measure.median_seconds(found) for name, found in runs.items()}


def process_rows(
    pairs: list[corpus.Pair], reps: int, all_reps: int, before: Path | None
) -> list[str]:
    """Compare as a process: the largest pair on its own, then every pair summed."""
    names = ["ours", *(["before"] if before else []), "git"]
    header = [
        "| compare --format json as a process | "
        + " | ".join(names)
        + " | ours/git"
        + (" | before/git" if before else "")
        + " |",
        "|---" * (len(names) + 2 + bool(before)) + "|",
    ]

    def row(label: str, median: dict[str, float]) -> str:
        cells = " | ".join(ms(median[name]) for name in names)
        ratios = f" | {median['ours'] / median['git']:.1f}x"
        if before:
            ratios += f" | {median['before'] / median['git']:.1f}x"
        return f"| {label} | {cells}{ratios} |"

    largest = corpus.largest_pair()
    lines = [
        row(
            f"largest pair, {largest.label} (median of {reps})",
            compare_medians(largest, reps, before),
        )
    ]
    if all_reps:
        every = {}
        for index, pair in enumerate(pairs, 1):
            print(f"  pair {index}/{len(pairs)} {pair.label}", file=sys.stderr)
            every[pair] = compare_medians(pair, all_reps, before)
        total = {name: sum(median[name] for median in every.values()) for name in names}
        lines.append(row(f"all {len(pairs)} pairs (sum of medians of {all_reps})", total))
        for name in names[:-1]:
            worst = max(every, key=lambda pair: every[pair][name])
            lines.append(row(f"slowest pair for {name}: {worst.label}", every[worst]))
        over = sum(1 for median in every.values() if median["ours"] > process.PAIR_MAX_SECONDS)
        lines.append(f"| pairs over {process.PAIR_MAX_SECONDS * 1000:.0f} ms (ours) | {over} |")
        ratio = statistics.median(m["ours"] / m["git"] for m in every.values())
        lines.append(f"| median per-pair ratio ours/git | {ratio:.1f}x |")
    return [*header, *lines]


def main(argv: list[str] | None = None) -> None:
    """Print the tables (markdown) to stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older policydiff executable to run alike")
    parser.add_argument(
        "--reps", type=int, default=7, help="repetitions of each parse and the largest pair"
    )
    parser.add_argument(
        "--all-reps", type=int, default=3, help="repetitions per pair (0: skip all pairs)"
    )
    args = parser.parse_args(argv)
    pairs = corpus.pairs()
    print("\n".join(parse_rows(pairs, args.reps)))
    print()
    print("\n".join(process_rows(pairs, args.reps, args.all_reps, args.before)))


if __name__ == "__main__":
    main()
