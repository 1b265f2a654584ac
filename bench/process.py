"""Commands as a user runs them: compare, import and site as processes, against git."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import corpus
import engine
import measure
from table import THROUGHPUT, Row, skipped

SECTION = "process"
SLOWEST_SHOWN = 3  # by in-process engine time (those not already among the below)
SLOWEST_BY_PROCESS = 5  # by the process's median wall time
ALL_PAIRS_RATIO = 10.0  # compare over all corpus pairs: within 10x of git's total
PAIR_MAX_SECONDS = 0.400  # no single pair over 400 ms
IMPORT_RATIO = 0.5  # at least half git fast-import's throughput
IMPORT_PEAK_MB = 200.0
SITE_NOOP_SECONDS = 1.0


def user_env() -> dict[str, str]:
    """The environment of a user's shell: Python may keep its bytecode cache.

    A bench started with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module
    of policydiff at each start (about 40 ms of a compare), which no installed copy does.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(args: list[str], cwd: Path | None = None) -> measure.Run:
    """Run a policydiff command as a user would."""
    return measure.run_command([*measure.policydiff_command(), *args], cwd=cwd, env=user_env())


def compare_rows(pairs: list[corpus.Pair], reps: int) -> list[Row]:
    """``compare OLD NEW --format json`` on every pair, and on the slowest by engine time."""
    if not measure.has_command("compare"):
        return [skipped(SECTION, "compare as a process", "no 'compare' command yet")]
    from policydiff.engine.compare import compare_texts

    run(["--version"])  # writes the bytecode cache once, as the first run after install
    engine_seconds = {
        pair: measure.time_call(
            partial(
                compare_texts,
                pair.old.path.read_text(encoding="utf-8"),
                pair.new.path.read_text(encoding="utf-8"),
            )
        )
        for pair in pairs
    }
    medians: dict[corpus.Pair, tuple[float, float]] = {}
    for pair in pairs:
        command = ["compare", str(pair.old.path), str(pair.new.path), "--format", "json"]
        runs = measure.interleaved(
            {
                "ours": partial(run, command),
                "git": partial(engine.git_word_diff, pair.old.path, pair.new.path),
            },
            reps,
        )
        medians[pair] = (measure.median_seconds(runs["ours"]), measure.median_seconds(runs["git"]))
    total = sum(ours for ours, _ in medians.values())
    git_total = sum(git for _, git in medians.values())
    worst = max(ours for ours, _ in medians.values())
    rows = [
        Row(
            SECTION,
            f"policydiff compare --format json, all {len(pairs)} pairs as processes (sum of medians)",
            total,
            reference="git diff --no-index --word-diff=porcelain",
            ref_value=git_total,
            target="<= 10x git; no pair > 400 ms",
            met=total <= ALL_PAIRS_RATIO * git_total and worst <= PAIR_MAX_SECONDS,
            note=f"slowest pair {worst * 1000:.0f} ms; {reps} interleaved rep(s) per pair",
        )
    ]
    rows.append(click_floor_row(len(pairs), git_total, reps))
    by_process = sorted(pairs, key=lambda p: medians[p][0], reverse=True)[:SLOWEST_BY_PROCESS]
    rows += [
        Row(
            SECTION,
            f"policydiff compare --format json ({pair.label}), slow as a process",
            medians[pair][0],
            reference="git word diff",
            ref_value=medians[pair][1],
            target="< 400 ms",
            met=medians[pair][0] < PAIR_MAX_SECONDS,
            note=f"engine in-process {engine_seconds[pair] * 1000:.0f} ms",
        )
        for pair in by_process
    ]
    slowest = sorted(pairs, key=lambda p: engine_seconds[p], reverse=True)[:SLOWEST_SHOWN]
    slowest = [pair for pair in slowest if pair not in by_process]
    rows += [
        Row(
            SECTION,
            f"policydiff compare --format json ({pair.label}), slow in the engine",
            medians[pair][0],
            reference="git word diff",
            ref_value=medians[pair][1],
            target="< 400 ms",
            met=medians[pair][0] < PAIR_MAX_SECONDS,
            note=f"engine in-process {engine_seconds[pair] * 1000:.0f} ms",
        )
        for pair in slowest
    ]
    return rows


FLOOR_REPS = 15


def click_floor_row(pairs: int, git_total: float, reps: int) -> Row:
    """What no click command can beat: Python starting and importing click, once per pair.

    The compare target is set against git's word diff; this row shows, in the same run,
    how much of it the interpreter and the CLI library take before policydiff runs a line.
    """
    runs = measure.interleaved(
        {
            "click": partial(
                measure.run_command, [sys.executable, "-c", "import click"], env=user_env()
            ),
            "python": partial(measure.run_command, [sys.executable, "-c", "pass"], env=user_env()),
        },
        max(reps, FLOOR_REPS),
    )
    click_start = measure.median_seconds(runs["click"])
    python_start = measure.median_seconds(runs["python"])
    return Row(
        SECTION,
        f"floor: python -c 'import click', once per pair ({pairs} pairs)",
        click_start * pairs,
        reference="git diff --no-index --word-diff=porcelain, all pairs",
        ref_value=git_total,
        target="measured (no target)",
        note=f"python -c 'import click' {click_start * 1000:.0f} ms, python -c pass"
        f" {python_start * 1000:.0f} ms; 10x git is {ALL_PAIRS_RATIO * git_total / pairs * 1000:.0f}"
        " ms per pair",
    )


def write_files(root: Path, count: int) -> list[tuple[str, datetime, Path]]:
    """Write ``count`` distinct snapshot files from corpus texts; return (policy, time, path)."""
    sources = [v.path for versions in corpus.versions().values() for v in versions]
    written = []
    for i in range(count):
        source = sources[i % len(sources)]
        policy = f"{source.parent.parent.name}{i % 7}/{source.parent.name}"
        # One an hour from 2000: even 100,000 files end in 2011, all in the past (a capture
        # time in the future is refused; one a day ran past today after 11,000 files).
        moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(hours=i)
        path = root / policy / f"{moment:%Y-%m-%dT%H%M%SZ}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source.read_text(encoding="utf-8") + f"\n\nRevision {i}.\n", "utf-8")
        written.append((policy, moment, path))
    return written


def fast_import_stream(files: list[tuple[str, datetime, Path]], out: Path) -> None:
    """Write a fast-import stream committing the files in date order, blobs grouped by policy."""
    with out.open("wb") as stream:
        marks: dict[Path, int] = {}
        for policy in sorted({policy for policy, _, _ in files}):
            for _, _, path in (f for f in files if f[0] == policy):
                data = path.read_bytes()
                marks[path] = len(marks) + 1
                stream.write(b"blob\nmark :%d\ndata %d\n%s\n" % (marks[path], len(data), data))
        for policy, moment, path in sorted(files, key=lambda f: f[1]):
            stamp = int(moment.timestamp())
            message = f"{policy} {moment:%Y-%m-%dT%H%M%SZ}".encode()
            stream.write(
                b"commit refs/heads/main\ncommitter b <b@b> %d +0000\ndata %d\n%s\nM 100644 :%d %s\n\n"
                % (stamp, len(message), message, marks[path], f"{policy}/text.md".encode())
            )
        stream.write(b"done\n")


IMPORT_REPS = 3  # import runs are long: three interleaved pairs, medians


def import_row(count: int, reps: int = IMPORT_REPS) -> Row:
    """``policydiff import DIR`` of ``count`` files against git fast-import of the same texts.

    Both run as processes, interleaved (ours, then git, ``reps`` times, each into a fresh
    repository), so load on the machine hits both alike; the verdict uses the medians.
    Peak RSS is the largest over our runs (the process or any git it waited for).
    """
    name = f"policydiff import DIR ({count:,} snapshot files)"
    ours: list[measure.Run] = []
    git: list[measure.Run] = []
    with tempfile.TemporaryDirectory(prefix="pd-bench-import-") as tmp:
        work = Path(tmp)
        files = write_files(work / "files", count)
        fast_import_stream(files, work / "stream")
        for rep in range(reps):
            store = work / f"store-{rep}"
            run(["--store", str(store), "init"])
            ours.append(
                run(["--store", str(store), "import", str(work / "files"), "--format", "json"])
            )
            shutil.rmtree(store)
            target = work / f"git-{rep}"
            subprocess.run(["git", "init", "-q", str(target)], check=True)
            git.append(fast_import(target, work / "stream"))
            shutil.rmtree(target)
    peak = measure.peak_rss_mb(ours)
    failed = any(r.returncode != 0 for r in ours)
    value = count / measure.median_seconds(ours)
    reference = count / measure.median_seconds(git)
    git_peak = measure.peak_rss_mb(git)
    return Row(
        SECTION,
        name,
        value,
        unit=THROUGHPUT,
        reference="git fast-import of the same texts, blobs grouped by policy",
        ref_value=reference,
        target=">= 0.5x fast-import; peak < 200 MiB",
        met=not failed and value >= IMPORT_RATIO * reference and (peak or 0) < IMPORT_PEAK_MB,
        peak_rss_mb=peak,
        note=("FAILED; " if failed else "")
        + f"median {measure.median_seconds(ours):.1f} s vs git {measure.median_seconds(git):.1f} s"
        + f" ({reps} interleaved rep(s)); git peak {git_peak or 0:.0f} MiB",
    )


def fast_import(target: Path, stream: Path) -> measure.Run:
    """Run ``git fast-import`` of a stream file into the repository ``target``."""
    with stream.open("rb") as stdin:
        return measure.run_command(
            ["git", "-C", str(target), "fast-import", "--quiet", "--done"], stdin=stdin
        )


def site_rows(reps: int, documents: int | None) -> list[Row]:
    """``site`` on the corpus store (or its first ``documents``): first build, then no-ops."""
    with tempfile.TemporaryDirectory(prefix="pd-bench-site-") as tmp:
        work = Path(tmp)
        folders = sorted({v.path.parent for vs in corpus.versions().values() for v in vs})
        for folder in folders[:documents]:
            shutil.copytree(folder, work / "corpus" / folder.relative_to(corpus.corpus_dir()))
        store = str(work / "store")
        run(["--store", store, "init"])
        run(["--store", store, "import", str(work / "corpus")])
        site = ["--store", store, "site", str(work / "site")]
        cold = run(site)
        runs = measure.interleaved({"noop": partial(run, site)}, reps)["noop"]
    seconds = statistics.median(r.seconds for r in runs)
    label = "corpus store" if documents is None else f"{documents} corpus documents"
    return [
        Row(SECTION, f"policydiff site ({label}, first build)", cold.seconds,
            peak_rss_mb=measure.peak_rss_mb([cold]), note="one run"),
        Row(SECTION, f"policydiff site ({label}, nothing new)", seconds, target="< 1 s",
            met=seconds < SITE_NOOP_SECONDS, peak_rss_mb=measure.peak_rss_mb(runs),
            note=f"{len(runs)} rep(s)"),
    ]  # fmt: skip


def rows(pairs: list[corpus.Pair], reps: int, *, quick: bool) -> list[Row]:
    """The process section."""
    return [
        *compare_rows(pairs, reps),
        import_row(100 if quick else 2000, min(reps, IMPORT_REPS)),
        *site_rows(reps, 2 if quick else None),
    ]


def main(argv: list[str] | None = None) -> None:
    """Run only the import rows: ``python bench/process.py --import-files 2000 10000``."""
    import argparse

    import table

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--import-files", type=int, nargs="+", default=[2000])
    parser.add_argument("--reps", type=int, default=IMPORT_REPS)
    args = parser.parse_args(argv)
    print(table.markdown([import_row(count, args.reps) for count in args.import_files]))


if __name__ == "__main__":
    main()
