"""Crashes: SIGKILL a real ``policydiff import`` anywhere; the archive stays whole, re-runs end it.

Every kill is followed by the same checks: the store holds either everything it held before
or every new version (one import is one atomic batch), ``policydiff verify`` passes, and
running the import again ends with exactly the expected versions, none missing, none twice.

Two kinds of kill:

* at random moments (fixed seed) inside each phase of the import in turn (reading, planning,
  fast-import, ref update, view refresh, reporting): the test waits for the git command that
  opens the phase, then a random part of the phase's length measured on one full run, and
  kills only the policydiff process, as ``kill -9 PID`` or the OOM killer would (git
  commands it had started run on to their end);
* at exact points of a write (the git shim holds the process there), killing the whole
  process group, as a power cut would.
"""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from fixtures.reliability.harness import (
    Expected,
    Shim,
    debris,
    in_store_order,
    phase_reached,
    phase_windows,
    previous_tips,
    recorded,
    sigkill,
    spawn,
    version_commits,
    write_corpus,
)
from helpers import run_cli

pytestmark = pytest.mark.slow

POLICIES = ("acme/privacy", "acme/terms", "globex/privacy", "initech/privacy")
SEED = 20240601
FIRST = date(2015, 1, 5)
KILLS = {"append": 24, "backfill": 8}
# Phases that random kills aim at in turn.
TARGETS = ("reading", "planning", "fast-import", "ref update", "view refresh", "reporting")


class Corpus:
    """200 weekly snapshots of 4 policies: ``early`` (the first 160) and ``late`` (the last 40).

    Appending imports all 200 into an empty store. A backfill imports them into a store that
    already holds ``late``: 160 versions go in before the existing 40, which are replayed.
    """

    def __init__(self, root: Path) -> None:
        self.early = root / "early"
        self.late = root / "late"
        early = write_corpus(self.early, count=160, policies=POLICIES, first=FIRST, label="early")
        late_first = FIRST + timedelta(weeks=160)
        late = write_corpus(
            self.late, count=40, policies=POLICIES, first=late_first, seed=2, label="late"
        )
        self.expected = in_store_order(early + late)
        self.args = ("import", str(self.early), str(self.late))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("crash-corpus"))


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus) -> dict[str, Path]:
    """Stores to copy before each kill: empty (append), and holding ``late`` (backfill)."""
    root = tmp_path_factory.mktemp("crash-templates")
    empty, backfill = root / "empty", root / "backfill"
    assert run_cli(["--store", str(empty), "init"]).exit_code == 0
    shutil.copytree(empty, backfill, symlinks=True)
    loaded = run_cli(["--store", str(backfill), "import", str(corpus.late)])
    assert loaded.exit_code == 0, loaded.stderr
    return {"append": empty, "backfill": backfill}


def fresh_store(template: Path, where: Path) -> Path:
    return Path(shutil.copytree(template, where, symlinks=True))


def check_survived(store: Path, before: list[Expected], corpus: Corpus) -> None:
    """Check a store after a kill: all or nothing recorded, verify passes, a re-run completes."""
    assert recorded(store) in (before, corpus.expected), "a killed import left part of its batch"
    verify = run_cli(["--store", str(store), "verify"])
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    # A short lock timeout: a write lock that outlived its killed holder fails this re-run.
    again = run_cli(["--store", str(store), *corpus.args], env={"POLICYDIFF_LOCK_TIMEOUT": "5"})
    assert again.exit_code == 0, again.stderr
    assert recorded(store) == corpus.expected
    assert version_commits(store) == len(corpus.expected)


@pytest.mark.parametrize("scenario", ["append", "backfill"])
def test_sigkill_at_random_points(
    scenario: str, corpus: Corpus, templates: dict[str, Path], tmp_path: Path
) -> None:
    shim = Shim.install(tmp_path)
    template = templates[scenario]
    before = recorded(template)

    # Measure one full import, traced, to know when each phase runs.
    store = fresh_store(template, tmp_path / "calibration")
    run = spawn(store, *corpus.args, env=shim.env(), logs=tmp_path / "calibration-logs")
    code, _, err = run.finish()
    assert code == 0, err
    windows = phase_windows(shim.commands(), run.started, time.time())
    assert set(TARGETS) <= set(windows), windows
    shutil.rmtree(store)

    rng = random.Random(f"{SEED}-{scenario}")
    landed: Counter[str] = Counter()
    for kill in range(KILLS[scenario]):
        target = TARGETS[kill % len(TARGETS)]
        low, high = windows[target]
        delay = rng.uniform(0, high - low)
        store = fresh_store(template, tmp_path / f"kill-{kill}")
        run = spawn(store, *corpus.args, env=shim.env(), logs=tmp_path / f"logs-{kill}")
        if shim.wait_for_phase(run, target):
            time.sleep(delay)
        started = [args for _, args in shim.commands()]
        finished = run.proc.poll() is not None
        sigkill(run, group=False)
        landed["finished" if finished else phase_reached(started)] += 1
        check_survived(store, before, corpus)
        shutil.rmtree(store)

    # Where the kills landed (printed: see it with -rP). A kill aimed at a phase comes after
    # the command opening it, so it lands there or later; how much later varies with load.
    print(f"{scenario}: {sum(landed.values())} kills survived, landed in {dict(landed)}")
    assert sum(landed.values()) == KILLS[scenario]
    assert len(set(landed) - {"finished"}) >= 3, landed


# --------------------------------------------------------------------------- exact points

POINTS = [
    # (scenario, hold before/after, this git command, main moved by then, .git/index.lock held)
    pytest.param("append", "before", "rev-parse refs/heads/main^*", False, False, id="lock-held-before-planning"),
    pytest.param("append", "after", "fast-import*", False, False, id="objects-written-main-not-moved"),
    pytest.param("append", "before", "update-ref -m*", False, False, id="just-before-compare-and-swap"),
    pytest.param("append", "before", "read-tree*", True, False, id="main-moved-view-not-refreshed"),
    pytest.param("append", "before", "read-tree*", True, True, id="view-refresh-cut-off"),
    pytest.param("append", "after", "read-tree*", True, False, id="view-refreshed-before-report"),
    pytest.param("backfill", "before", "update-ref refs/policydiff/previous/*", False, False, id="backfill-before-keeping-previous-tip"),
    pytest.param("backfill", "after", "update-ref refs/policydiff/previous/*", False, False, id="backfill-previous-tip-kept-main-not-moved"),
    # A backfill leaves the newest versions, so main's tree, as they were: no stale view here.
    pytest.param("backfill", "before", "read-tree*", True, False, id="backfill-main-moved-before-view-refresh"),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "when", "command", "moved", "index_locked"), POINTS)
def test_power_cut_at_exact_points(
    scenario: str,
    when: str,
    command: str,
    moved: bool,
    index_locked: bool,
    corpus: Corpus,
    templates: dict[str, Path],
    tmp_path: Path,
) -> None:
    shim = Shim.install(tmp_path)
    store = fresh_store(templates[scenario], tmp_path / "store")
    before = recorded(store)
    run = spawn(store, *corpus.args, env=shim.env(**{when: command}), logs=tmp_path / "logs")
    shim.wait_paused(run)
    if index_locked:
        # git read-tree takes .git/index.lock first and renames it over the index last.
        (store / ".git" / "index.lock").write_bytes(b"")
    sigkill(run, group=True)
    assert recorded(store) == (corpus.expected if moved else before)
    check_survived(store, before, corpus)


LEFTOVERS = [
    # (scenario, hold after this git command, backfill rewrites the store has seen)
    pytest.param("append", "fast-import*", 0, id="private-ref-and-marks-file"),
    pytest.param("backfill", "update-ref refs/policydiff/previous/*", 1, id="previous-tip-kept-twice"),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "command", "rewrites"), LEFTOVERS)
def test_a_rerun_leaves_nothing_of_a_killed_write(
    scenario: str,
    command: str,
    rewrites: int,
    corpus: Corpus,
    templates: dict[str, Path],
    tmp_path: Path,
) -> None:
    shim = Shim.install(tmp_path)
    store = fresh_store(templates[scenario], tmp_path / "store")
    run = spawn(store, *corpus.args, env=shim.env(after=command), logs=tmp_path / "logs")
    shim.wait_paused(run)
    sigkill(run, group=True)
    again = run_cli(["--store", str(store), *corpus.args])
    assert again.exit_code == 0, again.stderr
    # refs/policydiff/tmp/<pid>-<ns> and .git/policydiff-marks-<pid> of the killed run
    assert debris(store) == []
    assert len(previous_tips(store)) == rewrites


# Crashes during `policydiff wayback` are tested in tests/test_wayback_crash.py.
