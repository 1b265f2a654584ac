"""Dates, line breaks and nesting from untrusted sources: refused cleanly, never written.

Capture times outside 1991-01-01 .. now + 1 day, effective dates more than ten years
ahead, trailer values holding any line break ``str.splitlines`` knows, deeply nested YAML,
JSON and CDX answers, and ``--max-size`` beyond what the code can use: each is one
``Error:`` line, exit 2, and the store left as it was. A store that already holds an
out-of-range commit (written before these checks, or by hand) stays readable, writable,
and ``verify`` reports the commit.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.reliability.harness import git
from helpers import run_cli
from httpserver import LocalServer, Reply
from policydiff.core.errors import UsageError
from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore
from policydiff.store.layout import build_message, parse_trailers

POLICY = "acme/privacy"
BODY = "# Privacy policy\n\n## 1. Data\n\nWe keep your data safe.\n"
# Every character Python's str.splitlines() breaks a line at, from all of Unicode (the
# reader's widest rule), not a hand-made list.
LINE_BREAKS = sorted(
    c for c in map(chr, range(sys.maxunicode + 1)) if len(f"a{c}b".splitlines()) > 1
)
DEEP = 100_000


def is_one_line(text: str) -> bool:
    """The reader's widest line rule, as an oracle independent of the code under test."""
    return text.splitlines() == [text]


def test_line_break_set_is_what_splitlines_knows() -> None:
    # A guard on the set the other tests use: U+2028 and friends, not only LF and CR.
    assert {"\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"} == set(
        LINE_BREAKS
    )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding two versions of POLICY (built once, copied for every test)."""
    root = tmp_path_factory.mktemp("dates-template")
    store = root / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    for day, text in [("2020-01-01", BODY), ("2021-01-01", BODY.replace("safe", "very safe"))]:
        source = root / f"{day}.md"
        source.write_text(text)
        added = run_cli(["--store", str(store), "add", str(source), "--policy", POLICY])
        assert added.exit_code == 0, added.stderr
    return store


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template store."""
    return Path(shutil.copytree(template, tmp_path / "store", symlinks=True))


def files_under(path: Path) -> dict[str, str]:
    """Return {relative path: sha256} of the files under ``path``, skipping ``.git``."""
    found = {}
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if relative.parts[0] != ".git" and file.is_file():
            found[str(relative)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


def store_state(path: Path) -> dict[str, object]:
    """What must not change on a refused command: refs, HEAD, the working tree's files."""
    return {
        "files": files_under(path),
        "refs": git(path, "for-each-ref", "--format=%(objectname) %(refname)"),
        "head": git(path, "rev-parse", "--symbolic-full-name", "HEAD", "HEAD"),
        "git_dir": sorted(
            p.name for p in (path / ".git").iterdir() if p.name not in {"index", "policydiff.lock"}
        ),
    }


# --------------------------------------------------------------------------- inputs

Maker = Callable[[Path], Path]


def file_of(text: str, name: str = "2020-06-01.md") -> Maker:
    """Return a maker writing ``text`` to ``in/<name>`` in the test's folder."""

    def make(tmp: Path) -> Path:
        path = tmp / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return make


def front(**fields: str) -> Maker:
    """A snapshot file with these front matter fields (YAML-quoted) and a body."""
    lines = "".join(f"{key}: {json.dumps(value)}\n" for key, value in fields.items())
    return file_of(f"---\n{lines}---\n{BODY.replace('safe', 'secure')}")


def wayback_header(url: str) -> Maker:
    """A snapshot file opening with a Wayback header linking ``url``."""
    return file_of(f"> Archived from {url}\n\n{BODY.replace('safe', 'secure')}", "page.md")


def foreign_repo(tmp: Path) -> Path:
    """A small foreign git repository with one commit of ``policy.md``."""
    repo = tmp / "in" / "foreign"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "policy.md").write_text(BODY)
    git(repo, "add", "policy.md")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return repo


VALID = file_of(BODY.replace("safe", "secure"))


@dataclass(frozen=True)
class Bad:
    """One bad input: the command (``{input}``: what ``make`` wrote), what the error names.

    ``per_file``: ``import`` lists the file as ``<file>: error: ...`` on stdout and ends
    with one ``Error:`` line counting the failures; ``message`` is looked for there.
    """

    args: tuple[str, ...]
    message: str
    make: Maker = VALID
    per_file: bool = False
    marker: str | None = None  # replaces policydiff-store.json


def add(*extra: str, captured: str | None = "2020-06-01") -> tuple[str, ...]:
    when = ("--captured", captured) if captured else ()
    return ("add", "{input}", "--policy", POLICY, *when, *extra)


def imp(*extra: str) -> tuple[str, ...]:
    return ("import", "--policy", POLICY, "{input}", *extra)


def captured(value: str) -> tuple[str, ...]:
    return add(captured=value)


BEFORE_WEB = "before 1991-01-01"
HUGE = "99999999999999999999"
IMPORT_GIT = ("import-git", "{input}", "--path", "policy.md", "--policy", POLICY)
CAPTURE = ("capture", "http://127.0.0.1:9/never-fetched", "--policy", POLICY)
WAYBACK = ("wayback", "http://example.org/p", "--policy", POLICY)

# fmt: off
CASES = [
    # Capture times before the web (and before 1970: git cannot read them back).
    *(pytest.param(Bad(captured(value), f"--captured {shown} is {BEFORE_WEB}"), id=f"add-captured-{value}")
      for value, shown in [
          ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59+00:00"),
          ("1900-01-01", "1900-01-01T00:00:00+00:00"),
          ("0001-01-01", "0001-01-01T00:00:00+00:00"),
          ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+01:00"),  # an OverflowError before
          ("1990-12-31T23:59:59Z", "1990-12-31T23:59:59+00:00"),
          ("19000101000000", "1900-01-01T00:00:00+00:00"),
      ]),
    pytest.param(Bad(captured("2999-12-31"), "--captured 2999-12-31T00:00:00+00:00 is in the future"), id="add-captured-2999"),
    pytest.param(Bad(add(captured=None), f"front matter 'captured' 1900-01-01T00:00:00+00:00 is {BEFORE_WEB}", make=front(captured="1900-01-01")), id="add-front-matter-captured-1900"),
    pytest.param(Bad(imp(), f"front matter 'captured' 1900-01-01T00:00:00+00:00 is {BEFORE_WEB}", make=front(captured="1900-01-01"), per_file=True), id="import-front-matter-captured-1900"),
    pytest.param(Bad(imp(), f"front matter 'captured' 0001-01-01T00:00:00+00:00 is {BEFORE_WEB}", make=front(captured="0001-01-01"), per_file=True), id="import-front-matter-captured-0001"),
    pytest.param(Bad(imp(), f"front matter 'captured' 1969-12-31T23:59:59+00:00 is {BEFORE_WEB}", make=front(captured="1969-12-31T23:59:59Z"), per_file=True), id="import-front-matter-captured-1969"),
    pytest.param(Bad(imp(), f"date in the file name 1985-01-01T00:00:00+00:00 is {BEFORE_WEB}", make=file_of(BODY, "1985-01-01.md"), per_file=True), id="import-file-name-1985"),
    pytest.param(Bad(imp(), f"Wayback capture time 1900-01-01T00:00:00+00:00 is {BEFORE_WEB}", make=wayback_header("https://web.archive.org/web/19000101000000/http://example.org/p"), per_file=True), id="import-wayback-header-1900"),
    pytest.param(Bad(imp(), "Wayback capture time 2999-12-31T00:00:00+00:00 is in the future", make=wayback_header("https://web.archive.org/web/29991231000000/http://example.org/p"), per_file=True), id="import-wayback-header-2999"),
    # Effective dates: any past day is fine (a trailer only), decades ahead is refused.
    pytest.param(Bad(add("--effective", "2999-01-01"), "--effective 2999-01-01 is more than 10 years ahead"), id="add-effective-2999"),
    pytest.param(Bad(imp(), "front matter 'effective' 2999-01-01 is more than 10 years ahead", make=front(captured="2020-06-01", effective="2999-01-01"), per_file=True), id="import-front-matter-effective-2999"),
    # Trailer values with a Unicode line break, from every source of them.
    *(pytest.param(Bad(imp(), f"front matter '{key}' must be a non-empty single line", make=front(captured="2020-06-01", **{key: f"http://example.org/a{br}b"}), per_file=True), id=f"import-front-matter-{key}-U+{ord(br):04X}")
      for key in ("source", "archive") for br in ("\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e")),
    pytest.param(Bad(imp(), "holds a line break (U+2028)", make=wayback_header("https://web.archive.org/web/20200101000000/http://example.org/a\u2028b"), per_file=True), id="import-wayback-header-url-U+2028"),
    pytest.param(Bad(imp(), "holds a line break (U+0085)", make=wayback_header("https://web.archive.org/web/20200101000000/http://example.org/a\x85b"), per_file=True), id="import-wayback-header-url-NEL"),
    pytest.param(Bad(add("--source", "http://example.org/a\u2028b"), "--source must be an http(s) URL"), id="add-source-U+2028"),
    pytest.param(Bad((*IMPORT_GIT, "--source-name", "origin\u2028Policy: evil/x"), "--source-name holds a line break (U+2028)", make=foreign_repo), id="import-git-source-name-U+2028"),
    pytest.param(Bad((*IMPORT_GIT, "--source-name", "origin\x85x"), "--source-name holds a line break (U+0085)", make=foreign_repo), id="import-git-source-name-NEL"),
    # Sizes beyond what the code can use.
    pytest.param(Bad(add("--max-size", HUGE), "--max-size"), id="add-max-size-huge"),
    pytest.param(Bad(imp("--max-size", HUGE), "--max-size"), id="import-max-size-huge"),
    pytest.param(Bad(imp("--max-size", str(2**63)), "--max-size"), id="import-max-size-2**63"),
    pytest.param(Bad((*IMPORT_GIT, "--max-size", HUGE), "--max-size", make=foreign_repo), id="import-git-max-size-huge"),
    pytest.param(Bad((*CAPTURE, "--max-size", HUGE), "--max-size"), id="capture-max-size-huge"),
    pytest.param(Bad((*WAYBACK, "--endpoint", "http://127.0.0.1:9", "--max-size", HUGE), "--max-size"), id="wayback-max-size-huge"),
    # Nesting deep enough to exhaust Python's recursion limit.
    pytest.param(Bad(imp(), "invalid YAML front matter: nested too deeply", make=file_of(f"---\npolicy: {'[' * DEEP}\n---\n{BODY}"), per_file=True), id="import-front-matter-nested-lists"),
    pytest.param(Bad(add(captured=None), "invalid YAML front matter: nested too deeply", make=file_of(f"---\ncaptured: {'{a: ' * DEEP}\n---\n{BODY}")), id="add-front-matter-nested-maps"),
    pytest.param(Bad(("log", POLICY), "policydiff-store.json is unreadable", marker="[" * DEEP), id="marker-nested-lists"),
    pytest.param(Bad(("policies",), "policydiff-store.json is unreadable", marker='{"a":' * DEEP), id="marker-nested-objects"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES)
def test_refused_with_one_error_line_and_store_unchanged(
    case: Bad, store: Path, tmp_path: Path
) -> None:
    given_input = case.make(tmp_path)
    if case.marker is not None:
        (store / "policydiff-store.json").write_text(case.marker)
    before = store_state(store)
    args = [a.replace("{input}", str(given_input)) for a in case.args]
    result = run_cli(["--store", str(store), *args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    if case.per_file:
        assert result.stdout.startswith(str(given_input)), result.stdout
        assert ": error: " in result.stdout
        assert case.message in result.stdout, result.stdout
        assert "could not be recorded" in lines[0]
    else:
        assert case.message in lines[0]
    assert store_state(store) == before


def test_front_matter_block_that_is_not_front_matter_may_nest_deeply(
    store: Path, tmp_path: Path
) -> None:
    # A "---" block without a known key is markdown, not YAML to fail on: it is kept as text.
    path = file_of(f"---\n{'[' * DEEP}\n---\n{BODY}")(tmp_path)
    result = run_cli(["--store", str(store), "add", str(path), "--policy", POLICY])
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_old_and_recent_effective_dates_are_trailers_only(store: Path, tmp_path: Path) -> None:
    for number, effective in [(3, "0001-01-01"), (4, "1900-01-01")]:
        path = file_of(BODY.replace("safe", f"safe {number}"))(tmp_path)
        result = run_cli(
            [
                *("--store", str(store), "add", str(path), "--policy", POLICY),
                *("--captured", f"202{number}-01-01", "--effective", effective),
            ]
        )
        assert result.exit_code == 0, result.stderr
        # The commit is dated at the capture, whatever the effective date says.
        stamp = git(store, "log", "-1", "--format=%ct", "main").strip()
        assert int(stamp) == int(datetime(2020 + number, 1, 1, tzinfo=UTC).timestamp())
        assert f"Effective-Date: {effective}" in git(store, "log", "-1", "--format=%B", "main")
    shown = run_cli(["--store", str(store), "show", POLICY, "--at", "1950-01-01"])
    assert shown.exit_code == 0, shown.stderr
    assert run_cli(["--store", str(store), "verify"]).exit_code == 0


def test_effective_date_decades_ahead_in_the_text_is_not_taken(store: Path, tmp_path: Path) -> None:
    path = file_of("# Policy\n\nEffective date: 2999-01-01\n\nWe keep nothing.\n")(tmp_path)
    args = [a.replace("{input}", str(path)) for a in add(captured="2022-06-01")]
    result = run_cli(["--store", str(store), *args])
    assert result.exit_code == 0, result.stderr
    message = git(store, "log", "-1", "--format=%B", "main")
    assert "Captured-At: 2022-06-01T00:00:00Z" in message
    assert "Effective-Date" not in message


# --------------------------------------------------------------------------- Wayback CDX


def cdx_body(*timestamps: str) -> bytes:
    header = ["timestamp", "original", "digest", "statuscode", "mimetype"]
    rows = [[ts, "http://example.org/p", f"D{ts}", "200", "text/html"] for ts in timestamps]
    return json.dumps([header, *rows]).encode()


@pytest.fixture
def cdx_server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(cdx_body("20200101000000", "19000101000000"), "1900-01-01", id="row-1900"),
        pytest.param(cdx_body("19690101000000"), BEFORE_WEB, id="row-1969"),
        pytest.param(cdx_body("29991231000000"), "2999-12-31T00:00:00+00:00 is in the future", id="row-2999"),
        pytest.param(cdx_body("20171399000000"), "impossible timestamp '20171399000000'", id="row-month-13"),
        pytest.param(cdx_body("20170230000000"), "impossible timestamp '20170230000000'", id="row-february-30"),
        pytest.param(b"[" * DEEP + b"]" * DEEP, "nested too deeply", id="nested-lists"),
        pytest.param(b'{"a":' * DEEP, "Wayback CDX answer", id="nested-objects-unclosed"),
    ],
)  # fmt: skip
def test_wayback_cdx_answer_out_of_range_is_refused(
    body: bytes, message: str, store: Path, cdx_server: LocalServer
) -> None:
    cdx_server.route("/cdx/search/cdx", Reply(body=body, content_type="application/json"))
    before = store_state(store)
    result = run_cli(
        [
            *("--store", str(store), *WAYBACK, "--endpoint", cdx_server.base),
            *("--rate", "100000", "--retries", "0", "--timeout", "5"),
        ]
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: the Wayback CDX answer"), lines[0]
    assert message in lines[0]
    # Nothing fetched beyond the listing, nothing recorded.
    assert [r.path for r in cdx_server.requests] == ["/cdx/search/cdx"]
    assert store_state(store) == before


# --------------------------------------------------------------------------- import-git


def commit_at(repo: Path, text: str, when: str, subject: str) -> None:
    (repo / "policy.md").write_text(text)
    git(repo, "add", "policy.md")
    subprocess.run(
        [
            *("git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"),
            *("commit", "-q", "-m", subject),
        ],
        check=True,
        env={"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "PATH": "/usr/bin:/bin"},
    )


def test_import_git_fails_out_of_range_commits_and_sanitises_subjects(
    store: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "foreign"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_at(repo, BODY + "v1\n", "1980-01-01T00:00:00Z", "epoch-era commit")
    commit_at(repo, BODY + "v2\n", "2022-06-01T00:00:00Z", "a\u2028Policy: evil/x\x07bell\x85end")
    commit_at(repo, BODY + "v3\n", "@32503593600 +0000", "far future")
    before = git(store, "rev-list", "--count", "main")
    result = run_cli(
        ["--store", str(store), "import-git", str(repo), "--path", "policy.md", "--policy", POLICY]
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: 2 commit(s) could not be imported (see above)"]
    assert f"failed: capture time 1980-01-01T00:00:00+00:00 is {BEFORE_WEB}" in result.stdout
    assert "failed: capture time 2999-12-31T00:00:00+00:00 is in the future" in result.stdout
    assert int(git(store, "rev-list", "--count", "main")) == int(before) + 1
    message = git(store, "log", "-1", "--format=%B", "main")
    # The subject's line breaks and control characters became spaces: one trailer line.
    assert "Source-Subject: a Policy: evil/x bell end\n" in message
    assert run_cli(["--store", str(store), "log", POLICY]).exit_code == 0
    assert run_cli(["--store", str(store), "verify"]).exit_code == 0


# --------------------------------------------------------------------------- trailer rule


@pytest.mark.parametrize("char", LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_every_line_break_is_refused_by_the_writer(char: str) -> None:
    value = f"http://example.org/a{char}b"
    assert not is_one_line(value)
    with pytest.raises(UsageError, match=rf"holds a line break \(U\+{ord(char):04X}\)"):
        snapshot(source_url=value)
    with pytest.raises(UsageError, match="line break"):
        snapshot(extra_trailers=(("Note", value),))


def snapshot(**fields: object) -> Snapshot:
    values: dict[str, object] = {
        "policy": POLICY,
        "text": BODY,
        "raw": BODY.encode(),
        "raw_suffix": "md",
        "captured_at": datetime(2020, 6, 1, tzinfo=UTC),
    }
    return Snapshot(**(values | fields))  # type: ignore[arg-type]


# Values mixing ordinary text with every line-breaking and control character.
TRAILER_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(LINE_BREAKS),
        st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\ud800", " ", "\t", "\xa0", ":"]),
    ),
    max_size=40,
)


@given(value=TRAILER_TEXT)
@settings(max_examples=600, deadline=None)
def test_trailer_value_round_trips_or_is_refused(value: str) -> None:
    try:
        snap = snapshot(source_url=value or None, extra_trailers=(("Note", value),))
    except UsageError:
        assert (
            not value
            or not is_one_line(value)
            or value != value.strip()
            or re.search(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]", value)
        )
        return
    trailers = parse_trailers(build_message(snap))
    assert ("Note", value) in trailers
    assert trailers[-1] == ("Note", value)
    assert ("Source-URL", value) in trailers


@pytest.fixture(scope="module")
def hypothesis_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStore]:
    root = tmp_path_factory.mktemp("trailer-store")
    assert run_cli(["--store", str(root / "s"), "init"]).exit_code == 0
    with GitStore(root / "s") as opened:
        yield opened


COUNTER = iter(range(10**9))


@given(value=TRAILER_TEXT)
@settings(max_examples=40, deadline=None)
def test_store_holds_any_accepted_value_and_stays_readable(
    value: str, hypothesis_store: GitStore
) -> None:
    text = f"{BODY}{next(COUNTER)}\n"
    try:
        snap = snapshot(text=text, extra_trailers=(("Note", value),))
    except UsageError:
        return  # refused before anything is written (the other test checks why)
    [result] = hypothesis_store.record([snap])
    assert result.version is not None
    # Read back by a fresh store object: from git (and the history cache), not from memory.
    with GitStore(hypothesis_store.path) as fresh:
        latest = fresh.versions(POLICY)[-1]
        assert ("Note", value) in latest.trailers
        assert fresh.text(latest) == text


# --------------------------------------------------------------------------- existing damage


def hash_commit(store: Path, raw: str) -> str:
    """Write a commit object as given (git's checks off, as a hand-made one) and return it."""
    return subprocess.run(
        ["git", "-C", str(store), "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
        input=raw,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def rewrite_version(
    store: Path, rev: str, *, stamp: str, captured: str, source: str | None = None
) -> str:
    """Redate the version at ``rev`` (and give it a Source-URL) by hand, as an old store had it.

    The commits after it on main are carried over onto the rewritten one; returns its id.
    """
    old = git(store, "rev-parse", rev).strip()
    header, _, message = git(store, "cat-file", "commit", old).partition("\n\n")
    lines = [
        f"{line.rsplit(' ', 2)[0]} {stamp} +0000"
        if line.startswith(("author ", "committer "))
        else line
        for line in header.split("\n")
    ]
    message = re.sub(r"(?m)^Captured-At: .*$", f"Captured-At: {captured}", message)
    if source is not None:
        message = message.replace("Text-SHA256:", f"Source-URL: {source}\nText-SHA256:", 1)
    bad = new = hash_commit(store, "\n".join(lines) + "\n\n" + message)
    for later in git(store, "rev-list", "--reverse", "--first-parent", f"{old}..main").split():
        raw = git(store, "cat-file", "commit", later)
        new = hash_commit(store, re.sub(r"(?m)^parent [0-9a-f]+$", f"parent {new}", raw, count=1))
        old = later
    git(store, "update-ref", "refs/heads/main", new)
    return bad


def rewrite_tip(store: Path, *, stamp: str, captured: str, source: str | None = None) -> str:
    """Redate main's tip by hand (see ``rewrite_version``)."""
    return rewrite_version(store, "main", stamp=stamp, captured=captured, source=source)


def test_write_on_a_history_git_cannot_graph_ends(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A version dated -1 with two later ones: git's commit-graph write never ends on it
    # (generation data v2), so every write hung after recording. Bounded, then written
    # with generation version 1, after which writes run normally.
    third = file_of(BODY.replace("safe", "safe again"), "2022-01-01.md")(tmp_path)
    assert run_cli(["--store", str(store), "add", str(third), "--policy", POLICY]).exit_code == 0
    for graph in (store / ".git" / "objects" / "info").glob("commit-graph*"):
        shutil.rmtree(graph) if graph.is_dir() else graph.unlink()
    bad = rewrite_version(store, "main~2", stamp="-1", captured="1969-12-31T23:59:59Z")
    monkeypatch.setattr("policydiff.store.gitstore.COMMIT_GRAPH_TIMEOUT", 3.0)
    for day in ("2023-01-01", "2023-02-01"):
        new = file_of(BODY.replace("safe", f"safe {day}"), f"{day}.md")(tmp_path)
        started = time.monotonic()
        result = run_cli(["--store", str(store), "add", str(new), "--policy", POLICY])
        assert result.exit_code == 0, result.stderr
        assert time.monotonic() - started < 30
    assert (store / ".git" / "objects" / "info" / "commit-graphs" / "commit-graph-chain").exists()
    checked = run_cli(["--store", str(store), "verify"])
    assert checked.exit_code == 2
    assert f"PROBLEM: {bad[:10]}: Captured-At 1969-12-31T23:59:59+00:00 is {BEFORE_WEB}" in (
        checked.stdout
    )


DAMAGE = [
    pytest.param("-2208988800", "1900-01-01T00:00:00Z", None, f"1900-01-01T00:00:00+00:00 is {BEFORE_WEB}", id="1900"),
    pytest.param("-1", "1969-12-31T23:59:59Z", None, f"1969-12-31T23:59:59+00:00 is {BEFORE_WEB}", id="1969"),
    pytest.param("32503593600", "2999-12-31T00:00:00Z", None, "past what git's commit-graph can hold", id="2999"),
    pytest.param("1609459200", "2021-01-01T00:00:00Z", "http://a\u2028b\x85c", "trailer Source-URL holds a line break other than LF", id="U+2028-NEL-in-source-url"),
    pytest.param("1609459200", "0001-01-01T00:00:00+01:00", None, "is not a policydiff version", id="unconvertible-trailer"),
]  # fmt: skip


@pytest.mark.parametrize(("stamp", "captured_at", "source", "reported"), DAMAGE)
def test_store_already_holding_a_bad_commit_is_read_and_reported(
    stamp: str, captured_at: str, source: str | None, reported: str, store: Path, tmp_path: Path
) -> None:
    # Warm the history cache first, so it is brought up to date across the rewrite too.
    assert run_cli(["--store", str(store), "log", POLICY]).exit_code == 0
    bad = rewrite_tip(store, stamp=stamp, captured=captured_at, source=source)
    if stamp == "32503593600":
        # What every write did after recording it: the graph stores the date wrongly.
        git(store, "commit-graph", "write", "--reachable", "--changed-paths", "--split")
    unreadable_trailer = captured_at.startswith("0001")
    new = file_of(BODY.replace("safe", "kept safe"), "2022-06-01.md")(tmp_path)
    newer = file_of(BODY.replace("safe", "kept very safe"), "2022-07-01.md")(tmp_path)
    runs = {
        "verify-first": ["verify"],
        "policies": ["policies"],
        "log": ["log", POLICY],
        "show": ["show", POLICY],
        "show-first": ["show", f"{POLICY}@1"],
        "add": ["add", str(new), "--policy", POLICY],
        "import": ["import", "--policy", POLICY, str(newer)],
        "verify": ["verify"],
        "verify-policy": ["verify", POLICY],
    }
    for name, args in runs.items():
        result = run_cli(["--store", str(store), *args])
        assert "Traceback" not in result.stderr + result.stdout, (name, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        if name.startswith("verify"):
            assert result.exit_code == 2, (name, result.stdout, result.stderr)
            assert reported in result.stdout, (name, result.stdout)
            assert errors == ["Error: the archive failed verification (see the report above)"]
            if name == "verify-first":
                assert bad[:10] in result.stdout, result.stdout
        elif unreadable_trailer:
            # The version cannot be built from its trailers: at worst one clean error naming it.
            assert result.exit_code in {0, 2}, (name, result.stderr)
            if result.exit_code == 2:
                assert len(result.stderr.splitlines()) == 1, (name, result.stderr)
                assert errors, (name, result.stderr)
                assert reported in errors[0], (name, result.stderr)
        else:
            assert result.exit_code == 0, (name, result.stdout, result.stderr)
            assert not errors, (name, result.stderr)
            if source is None and name in {"policies", "log", "show"}:
                assert "Warning:" in result.stderr, (name, result.stderr)
    if not unreadable_trailer:
        versions = GitStore(store).versions(POLICY)
        assert len(versions) == 4
        assert source is None or any(v.source_url == source for v in versions)
