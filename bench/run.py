"""policydiff benchmark suite: each figure next to a reference measured in the same run.

    python bench/run.py            full run (98 corpus pairs, a 100,000-version store)
    python bench/run.py --quick    small sample, well under a minute (CI runs this)
    python bench/run.py --json     machine-readable output instead of the table

Sections: ``engine`` (compare_texts against git's word diff; bench/bench_engine.py's own
rows when that file exists: its ``run(quick)`` returns dicts with the field names of
``table.Row``), ``cli`` (compare and --version end to end), ``process`` (compare, import from files and
site as a user runs them), ``store`` (import throughput
against git fast-import, then reads on the big store against a 10-version store),
``track`` (three ``track`` runs of many policies on local servers: all new, all 304, some
changed, against plain sequential fetches of the same pages).
Progress goes to stderr; the table (or JSON) to stdout and to bench/out/last-run.*.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cli_e2e
import corpus
import engine
import process
import store_scale
import storegen
import table
import track_many
from table import Row

import policydiff

OUT = Path(__file__).resolve().parent / "out"
SECTIONS = ("engine", "cli", "process", "store", "track")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line; --quick changes the defaults of the size options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sample for CI")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument("--reps", type=int, help="repetitions of cheap figures (median)")
    parser.add_argument("--pairs", type=int, help="corpus pairs for the engine section")
    parser.add_argument("--policies", type=int, help="policies in the generated store")
    parser.add_argument("--versions", type=int, help="versions per generated policy")
    parser.add_argument("--seed", type=int, default=storegen.DEFAULT_SEED)
    parser.add_argument("--batch", type=int, help="snapshots per GitStore.record call")
    parser.add_argument(
        "--ref-every", type=int, help="feed every Nth batch to the fast-import reference"
    )
    parser.add_argument(
        "--as-is-budget",
        type=float,
        help="seconds of unmodified record() before the rest of the store is written with "
        "its post-write lookup skipped (same commits; see store_scale.py)",
    )
    parser.add_argument(
        "--no-delegate",
        action="store_true",
        help="measure the engine here even when bench/bench_engine.py exists",
    )
    parser.add_argument(
        "--append", type=int, help="new versions appended to the big store (import at depth)"
    )
    parser.add_argument("--track-policies", type=int, help="policies tracked in the track section")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached store")
    parser.add_argument("--out", type=Path, default=OUT, help="cache and results folder")
    args = parser.parse_args(argv)
    full = {
        "reps": 5,
        "pairs": 0,
        "policies": 1000,
        "versions": 100,
        "batch": 2000,
        "ref_every": 2,
        "append": 20,
        "track_policies": 100,
    }
    quick = {
        "reps": 2,
        "pairs": 6,
        "policies": 20,
        "versions": 100,
        "batch": 500,
        "ref_every": 1,
        "append": 10,
        "track_policies": 20,
    }
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.as_is_budget is None:
        args.as_is_budget = math.inf if args.quick else 1800.0
    return args


def pick_pairs(count: int) -> list[corpus.Pair]:
    """Return all corpus pairs (count 0), or ``count`` spread evenly over the corpus."""
    every = corpus.pairs()
    if not count or count >= len(every):
        return every
    step = len(every) / count
    return [every[int(i * step)] for i in range(count)]


def progress(text: str) -> None:
    """Report progress on stderr (stdout carries the results)."""
    print(text, file=sys.stderr, flush=True)


def run_sections(args: argparse.Namespace) -> list[Row]:
    """Run the selected sections and return their rows."""
    wanted = set(args.sections.split(","))
    rows: list[Row] = []
    pairs = pick_pairs(args.pairs)
    if "engine" in wanted:
        progress(f"engine: {len(pairs)} corpus pairs, {args.reps} rep(s)")
        rows += engine.rows(pairs, args.reps, quick=args.quick, delegate=not args.no_delegate)
    if "cli" in wanted:
        progress("cli: compare of the largest pair, --version")
        rows += cli_e2e.rows(corpus.largest_pair(), args.reps)
    if "process" in wanted:
        progress(f"process: compare on {len(pairs)} pairs, import from files, site no-op")
        rows += process.rows(pairs, args.reps, quick=args.quick)
    if "store" in wanted:
        spec = storegen.Spec(args.policies, args.versions, args.seed)
        progress(f"store: {spec.total:,} versions ({spec.key}) in {args.out / 'stores'}")
        big, figures = store_scale.cached_store(
            spec,
            args.out,
            batch_size=args.batch,
            ref_every=args.ref_every,
            as_is_budget=args.as_is_budget,
            regenerate=args.regenerate,
            log=True,
        )
        rows += store_scale.import_rows(figures)
        work = args.out / f"work-{os.getpid()}"
        try:
            rows += store_scale.read_rows(spec, big, work, args.reps, log=True)
            progress(f"store: appending {args.append} versions to the big store")
            rows += store_scale.append_rows(spec, big, work, args.append)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if "track" in wanted:
        progress(f"track: {args.track_policies} policies on local servers, three runs")
        rows += track_many.rows(args.track_policies, args.reps)
    return rows


def metadata(args: argparse.Namespace, started: float) -> dict[str, object]:
    """Describe the run: versions of things, machine, load, duration."""
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "policydiff": policydiff.__version__,
        "python": platform.python_version(),
        "git": git.stdout.strip(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "seconds": round(time.perf_counter() - started, 1),
        "generator_version": storegen.GENERATOR_VERSION,
        "args": {k: (str(v) if isinstance(v, Path | float) else v) for k, v in vars(args).items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results."""
    started = time.perf_counter()
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = run_sections(args)
    meta = metadata(args, started)
    markdown = table.markdown(rows)
    document = table.as_json(rows, meta)
    (args.out / "last-run.md").write_text(markdown + "\n", encoding="utf-8")
    (args.out / "last-run.json").write_text(document + "\n", encoding="utf-8")
    print(document if args.json else markdown)
    progress(f"done in {meta['seconds']} s (load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
