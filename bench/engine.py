"""Diff engine: compare_texts on consecutive corpus pairs against git's word diff."""

from __future__ import annotations

import importlib
import importlib.util
import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path

import corpus
import measure
from table import Row, skipped

SECTION = "engine"
GIT_WORD_DIFF = ("git", "diff", "--no-index", "--word-diff=porcelain")
LARGEST_SHOWN = 5


def git_word_diff(old: Path, new: Path) -> measure.Run:
    """Run the reference: git's word diff of the two files (process start included)."""
    return measure.run_command([*GIT_WORD_DIFF, str(old), str(new)])


def _compare_texts() -> Callable[[str, str], object] | None:
    """Return policydiff.engine.compare.compare_texts, or None while it does not exist."""
    if importlib.util.find_spec("policydiff.engine.compare") is None:
        return None
    module = importlib.import_module("policydiff.engine.compare")
    function: Callable[[str, str], object] | None = getattr(module, "compare_texts", None)
    return function


def delegated_rows(quick: bool) -> list[Row] | None:
    """Return the diff-engine engineer's own rows (bench/bench_engine.py), if that exists."""
    if not (Path(__file__).parent / "bench_engine.py").exists():
        return None
    module = importlib.import_module("bench_engine")
    return [Row.from_dict(item, SECTION) for item in module.run(quick)]


def pair_rows(pairs: list[corpus.Pair], reps: int) -> list[Row]:
    """Time compare_texts and git's word diff on each pair, interleaved; total and largest."""
    compare_texts = _compare_texts()
    if compare_texts is None:
        return [
            skipped(
                SECTION, "compare_texts", "policydiff.engine.compare.compare_texts not there yet"
            )
        ]
    timings: list[tuple[corpus.Pair, float, float]] = []
    for pair in pairs:
        old = pair.old.path.read_text(encoding="utf-8")
        new = pair.new.path.read_text(encoding="utf-8")
        ours, theirs = [], []
        for _ in range(reps):
            ours.append(measure.time_call(partial(compare_texts, old, new)))
            theirs.append(git_word_diff(pair.old.path, pair.new.path).seconds)
        timings.append((pair, statistics.median(ours), statistics.median(theirs)))
    rows = [
        Row(
            SECTION,
            f"compare_texts, all {len(pairs)} consecutive pairs (sum of medians)",
            sum(t[1] for t in timings),
            reference="git diff --no-index --word-diff=porcelain",
            ref_value=sum(t[2] for t in timings),
            note=f"{reps} rep(s) per pair; git's time includes its process start",
        )
    ]
    largest = sorted(timings, key=lambda t: t[0].size, reverse=True)[:LARGEST_SHOWN]
    rows += [
        Row(
            SECTION,
            f"compare_texts {pair.label}",
            ours,
            reference="git word diff",
            ref_value=theirs,
            note=f"{pair.old.size / 1000:,.0f} KB -> {pair.new.size / 1000:,.0f} KB",
        )
        for pair, ours, theirs in largest
    ]
    return rows


def rows(pairs: list[corpus.Pair], reps: int, *, quick: bool, delegate: bool = True) -> list[Row]:
    """Section 1: the engine engineer's bench when present (and wanted), else this one."""
    return (delegate and delegated_rows(quick)) or pair_rows(pairs, reps)
