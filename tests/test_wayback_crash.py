"""Crashes: SIGKILL a real ``policydiff wayback`` anywhere; the archive stays whole, re-runs end it.

A local Wayback server (tests/httpserver.py) lists 40 captures of one page whose policy
text takes 6 distinct values in runs of 1-4 identical captures (each capture's raw HTML
differs, as real captures do, so none is collapsed by digest). A run records every change
of text once, dated at the first capture showing it: the expected versions.

Every kill is followed by the same checks: the versions the store holds are a prefix of the
expected ones (captures are recorded oldest first, in atomic batches, so a kill can cut the
list short but never leave a version dated at a wrong capture), ``policydiff verify``
passes, and running the backfill again ends with exactly the expected versions, none
missing, none twice, no leftovers; a third run then fetches no page and records nothing.

Two kinds of kill, as in tests/test_crash.py:

* at random moments (fixed seed): the test waits until the server has answered a random
  number of the run's 41 requests, then a random fraction of a batch's length, and kills
  only the policydiff process, as ``kill -9 PID`` would (git commands it started run on);
* at exact points (held there by a slow reply or the git shim), killing the whole process
  group as a power cut would: mid-download, fetched but not recorded, objects written but
  main not moved, just before main moves, main moved before the view refresh, and the batch
  recorded before this clone's record of seen captures is written.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fixtures.reliability.harness import (
    Expected,
    Run,
    Shim,
    debris,
    recorded,
    sigkill,
    spawn,
    version_commits,
)
from helpers import run_cli
from httpserver import LocalServer, Reply
from policydiff.sources.ingest.html import NO_RULES, page_text
from policydiff.sources.wayback import SeenLog, rules_key
from policydiff.store.gitstore import GitStore

POLICY = "acme/privacy"
ORIGINAL = "https://example.org/privacy"
CDX_PATH = "/cdx/search/cdx"
SEED = 20240815
CAPTURES = 40
KILLS = 12
BATCH = 4
FAST = ["--rate", "100000", "--backoff", "0", "--retries", "1", "--timeout", "5"]
CLAUSES = (
    "We collect contact data and keep it for 30 days.",
    "We collect usage data and keep it for 60 days.",
    "We collect location data and keep it for 90 days.",
    "We collect payment data and keep it for 120 days.",
    "We collect device data and keep it for 180 days.",
    "We collect cookie data and keep it for 365 days.",
)


@dataclass(frozen=True)
class Capture:
    """One capture the server lists: its timestamp, raw page and extracted text."""

    timestamp: str
    page: bytes
    text: str

    @property
    def path(self) -> str:
        return f"/web/{self.timestamp}id_/{ORIGINAL}"

    @property
    def captured(self) -> datetime:
        return datetime.strptime(self.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def make_captures() -> list[Capture]:
    """40 captures, a month apart, in runs of 1-4 with the same clause (fixed seed)."""
    rng = random.Random(SEED)
    clauses: list[int] = []
    while len(clauses) < CAPTURES:
        clause = rng.choice([c for c in range(len(CLAUSES)) if clauses[-1:] != [c]])
        clauses.extend([clause] * rng.randint(1, 4))
    captures = []
    for number, clause in enumerate(clauses[:CAPTURES]):
        timestamp = f"{2015 + number // 12}{number % 12 + 1:02d}15{number * 7 % 24:02d}3000"
        # Page chrome that extraction drops differs per capture, as on the real Wayback.
        page = (
            "<!DOCTYPE html><html><head><title>Privacy</title>"
            f"<script>var capture = {number};</script></head><body><!-- capture {number} -->"
            "<nav><a href='/'>Home</a></nav><main><h1>Example privacy policy</h1>"
            f"<h2>1. Data</h2><p>{CLAUSES[clause]}</p><h2>2. Contact</h2><p>Write to us.</p>"
            "</main></body></html>"
        ).encode()
        text = page_text(
            page, url=ORIGINAL, media_type="text/html", charset="utf-8", rules=NO_RULES
        ).text
        captures.append(Capture(timestamp, page, text))
    return captures


def expected_versions(captures: list[Capture]) -> list[Expected]:
    """One version per run of identical text, dated at the run's first capture."""
    versions: list[Expected] = []
    previous = None
    for capture in captures:
        if capture.text != previous:
            sha = hashlib.sha256(capture.text.encode()).hexdigest()
            versions.append(Expected(POLICY, capture.captured, sha))
        previous = capture.text
    return versions


CAPTURE_LIST = make_captures()
EXPECTED = expected_versions(CAPTURE_LIST)


def cdx_body(captures: list[Capture]) -> bytes:
    rows = [["timestamp", "original", "digest", "statuscode", "mimetype"]]
    rows += [
        [c.timestamp, ORIGINAL, hashlib.sha1(c.page).hexdigest(), "200", "text/html"]
        for c in captures
    ]
    return json.dumps(rows).encode()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        running.route(CDX_PATH, Reply(body=cdx_body(CAPTURE_LIST), content_type="text/plain"))
        for capture in CAPTURE_LIST:
            running.route(capture.path, Reply(body=capture.page))
        yield running


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("wayback-crash-template") / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    return store


def wayback_args(server: LocalServer, *extra: str) -> list[str]:
    return [
        "wayback",
        ORIGINAL,
        "--policy",
        POLICY,
        "--endpoint",
        server.base,
        *FAST,
        "--batch-size",
        str(BATCH),
        *extra,
    ]


def start(store: Path, server: LocalServer, shim: Shim, logs: Path, **pause: str) -> Run:
    return spawn(store, *wayback_args(server), env=shim.env(**pause), logs=logs)


def page_requests(server: LocalServer) -> int:
    return sum(1 for path in server.paths() if path.startswith("/web/"))


def check_survived(store: Path, server: LocalServer) -> list[Expected]:
    """Check a store after a kill; return the versions the kill left."""
    left = recorded(store)
    assert left == EXPECTED[: len(left)], "a killed backfill recorded out of order"
    verify = run_cli(["--store", str(store), "verify"])
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    # A short lock timeout: a write lock that outlived its killed holder fails this re-run.
    again = run_cli(
        ["--store", str(store), *wayback_args(server)], {"POLICYDIFF_LOCK_TIMEOUT": "5"}
    )
    assert again.exit_code == 0, again.stdout + again.stderr
    assert again.stdout.count(" recorded as version ") == len(EXPECTED) - len(left)
    assert recorded(store) == EXPECTED
    assert version_commits(store) == len(EXPECTED)
    assert debris(store) == []
    for version in GitStore(store).versions(POLICY):
        stamp = version.captured_at.strftime("%Y%m%d%H%M%S")
        assert version.archive_url == f"{server.base}/web/{stamp}id_/{ORIGINAL}"
    # Done means done: nothing is fetched or recorded a second time.
    server.requests.clear()
    third = run_cli(["--store", str(store), *wayback_args(server)])
    assert third.exit_code == 0, third.stderr
    assert third.stdout.count(" skipped") == CAPTURES
    assert page_requests(server) == 0
    assert recorded(store) == EXPECTED
    return left


def test_an_uninterrupted_run_records_each_change_once(
    empty_store: Path, server: LocalServer, tmp_path: Path
) -> None:
    assert 10 <= len(EXPECTED) < CAPTURES
    assert len({v.sha256 for v in EXPECTED}) == len(CLAUSES)
    store = Path(shutil.copytree(empty_store, tmp_path / "store", symlinks=True))
    run = start(store, server, Shim.install(tmp_path), tmp_path / "logs")
    code, out, err = run.finish()
    assert code == 0, err
    assert out.count(" recorded as version ") == len(EXPECTED)
    assert out.count(" unchanged") == CAPTURES - len(EXPECTED)
    assert check_survived(store, server) == EXPECTED


def landing(run: Run, shim: Shim, server: LocalServer) -> str:
    """Where a kill landed, from the requests served and the git commands started."""
    if run.proc.poll() is not None:
        return "finished"
    writes = ("fast-import", "rev-parse --verify refs/policydiff/tmp/", "update-ref", "read-tree")
    commands = [args for _, args in shim.commands()]
    if commands and commands[-1].startswith(writes):
        return "recording"
    requests = len(server.requests)
    return "fetching" if requests > 1 else ("listing" if requests else "startup")


def test_sigkill_at_random_points(empty_store: Path, server: LocalServer, tmp_path: Path) -> None:
    shim = Shim.install(tmp_path)
    rng = random.Random(SEED)
    landed: Counter[str] = Counter()
    left_behind: Counter[int] = Counter()
    for kill in range(KILLS):
        store = Path(shutil.copytree(empty_store, tmp_path / f"store-{kill}", symlinks=True))
        server.requests.clear()
        # The CDX request, then one per capture: wait for a random one to be served.
        wanted = rng.randint(0, CAPTURES + 1)
        delay = rng.uniform(0, 0.1)
        run = start(store, server, shim, tmp_path / f"logs-{kill}")
        deadline = time.monotonic() + 30
        while len(server.requests) < wanted and run.proc.poll() is None:
            assert time.monotonic() < deadline, "the backfill stalled"
            time.sleep(0.002)
        time.sleep(delay)
        landed[landing(run, shim, server)] += 1
        sigkill(run, group=False)
        left_behind[len(check_survived(store, server))] += 1
        shutil.rmtree(store)

    # Where the kills landed and how many versions they left (see with -rP).
    print(f"{KILLS} kills survived; landed {dict(landed)}; versions left {dict(left_behind)}")
    assert sum(landed.values()) == KILLS
    assert landed["finished"] <= KILLS // 3, landed
    assert len(left_behind) >= 4, left_behind


# --------------------------------------------------------------------------- exact points

# Captures recorded before each exact-point kill: the killed run resumes after them.
DONE_BEFORE = 9


@dataclass(frozen=True)
class Point:
    """Where to hold the run, and whether the held batch is in main by then."""

    pause: dict[str, str]
    moved: bool


POINTS = {
    "mid-download": Point({}, moved=False),
    "fetched-not-recorded": Point({"before": "fast-import*"}, moved=False),
    "objects-written-main-not-moved": Point({"after": "fast-import*"}, moved=False),
    "just-before-main-moves": Point({"before": "update-ref -m*"}, moved=False),
    "main-moved-view-not-refreshed": Point({"after": "update-ref -m*"}, moved=True),
    "recorded-seen-log-not-written": Point({"after": "read-tree*"}, moved=True),
}


def versions_up_to(index: int) -> list[Expected]:
    """The expected versions whose first capture is among the first ``index`` captures."""
    last = CAPTURE_LIST[index - 1].captured
    return [v for v in EXPECTED if v.captured <= last]


@pytest.mark.parametrize("name", list(POINTS))
def test_power_cut_at_exact_points(
    name: str, empty_store: Path, server: LocalServer, tmp_path: Path
) -> None:
    point = POINTS[name]
    store = Path(shutil.copytree(empty_store, tmp_path / "store", symlinks=True))
    # An earlier run stopped after DONE_BEFORE captures: the killed run is a resume.
    until = CAPTURE_LIST[DONE_BEFORE - 1].captured.date().isoformat()
    first = run_cli(["--store", str(store), *wayback_args(server, "--to", until)])
    assert first.exit_code == 0, first.stderr
    before = recorded(store)
    assert before == versions_up_to(DONE_BEFORE)
    # The batch the run is held in records a version (so it runs fast-import at all).
    assert len(versions_up_to(DONE_BEFORE + BATCH)) > len(before)

    shim = Shim.install(tmp_path)
    held = CAPTURE_LIST[DONE_BEFORE + 1]
    if name == "mid-download":
        # The second capture of the resumed run hangs until the run is killed.
        server.route(held.path, Reply(body=held.page, delay=30))
    server.requests.clear()
    run = start(store, server, shim, tmp_path / "logs", **point.pause)
    if name == "mid-download":
        deadline = time.monotonic() + 30
        while held.path not in server.paths():
            assert run.proc.poll() is None, run.finish()
            assert time.monotonic() < deadline, "the held capture was never requested"
            time.sleep(0.005)
    else:
        shim.wait_paused(run)
    sigkill(run, group=True)
    server.route(held.path, Reply(body=held.page))

    assert recorded(store) == (versions_up_to(DONE_BEFORE + BATCH) if point.moved else before)
    # This clone's record of seen captures still ends where the earlier run stopped.
    seen = SeenLog(store / ".git").seen(POLICY, rules_key(NO_RULES))
    assert seen == {c.timestamp for c in CAPTURE_LIST[:DONE_BEFORE]}
    check_survived(store, server)
