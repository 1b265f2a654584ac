"""Time things: commands with their peak memory, and medians of interleaved repetitions."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None
# Slow figures are not worth repeating: one run above this many seconds is the median.
CHEAP_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Run:
    """One finished command."""

    seconds: float
    peak_rss_kb: int  # largest resident set of the process or any child it waited for; 0: unknown
    returncode: int
    stdout: bytes
    stderr: bytes


def run_command(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: IO[bytes] | None = None,
) -> Run:
    """Run a command to completion, timing it and reading its peak RSS.

    The peak comes from ``/usr/bin/time``: rusage read by this process would count the
    bench's own memory, which a child started from it holds until it execs.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as peak,
    ):
        wrapper = [TIME, "-f", "%M", "-o", peak.name] if TIME else []
        start = time.perf_counter()
        proc = subprocess.run(
            [*wrapper, *args],
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=out,
            stderr=err,
            check=False,
        )
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        # time prints "Command exited with non-zero status N" before the figure.
        figures = peak.read().split()
        peak_kb = int(figures[-1]) if figures and figures[-1].isdigit() else 0
        return Run(seconds, peak_kb, proc.returncode, out.read(), err.read())


def policydiff_command() -> list[str]:
    """Return how to start the installed CLI: the console script beside this Python."""
    script = Path(sys.executable).parent / "policydiff"
    if script.exists():
        return [str(script)]
    found = shutil.which("policydiff")
    return [found] if found else [sys.executable, "-m", "policydiff"]


def has_command(name: str) -> bool:
    """Whether ``policydiff NAME --help`` works (commands under construction may not exist)."""
    return run_command([*policydiff_command(), name, "--help"]).returncode == 0


def interleaved(tasks: Mapping[str, Callable[[], Run]], reps: int) -> dict[str, list[Run]]:
    """Run each task ``reps`` times round-robin, so noise hits all of them alike.

    A task is run at least twice when ``reps`` allows (a first run may pay one-off work
    such as building a cache); once two runs have both been slower than ``CHEAP_SECONDS``
    it is not repeated.
    """
    runs: dict[str, list[Run]] = {name: [] for name in tasks}
    for rep in range(reps):
        for name, task in tasks.items():
            if rep >= 2 and min(run.seconds for run in runs[name]) > CHEAP_SECONDS:
                continue
            runs[name].append(task())
    return runs


def median_seconds(runs: Sequence[Run]) -> float:
    """Median wall time of some runs."""
    return statistics.median(run.seconds for run in runs)


def peak_rss_mb(runs: Sequence[Run]) -> float | None:
    """Largest peak RSS of some runs, in MiB (None when unknown)."""
    peak = max(run.peak_rss_kb for run in runs)
    return peak / 1024 if peak else None


def time_call(function: Callable[[], object]) -> float:
    """Return the wall time of one call."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start
