"""Captures that are not the policy are flagged on import and never announced as a change."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import REPO, run_cli
from httpserver import LocalServer, Reply
from policydiff.engine.plausibility import suspect_reasons
from test_wayback import CDX_PATH, FIXTURES, ORIGINAL, PAGES, page_path

CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))
POLICY = "acme/privacy"
SECTIONS = "".join(
    f"## {i}. Section {i}\n\nWe process data of kind {i} for purpose {i}, lawfully.\n\n"
    for i in range(1, 25)
)
POLICY_TEXT = f"# Acme privacy policy\n\nLast updated: 1 May 2024\n\n{SECTIONS}"
ERROR_PAGE = "We're all mixed up\n==================\n\nRefresh this page or try again later.\n"


@pytest.mark.parametrize(
    ("previous", "text", "expected"),
    [
        (
            POLICY_TEXT,
            ERROR_PAGE,
            ["title looks like an error", "shrank by", "collapsed", "effective date disappeared"],
        ),
        (None, "# 404 Not Found\n\nThe page is gone.\n", ["title looks like an error"]),
        (POLICY_TEXT, POLICY_TEXT * 6, ["grew 6.0 times"]),
        (POLICY_TEXT, POLICY_TEXT.replace("## ", ""), []),  # headings lost, text kept: markup
        (POLICY_TEXT, POLICY_TEXT.replace("Last updated: 1 May 2024", ""), []),  # an edit
        ("# Short\n\nTiny.\n", "# Short\n\nA.\n", []),  # small policies change a lot
        (POLICY_TEXT, "# Error handling policy\n\n" + POLICY_TEXT[30:], []),  # long text
    ],
)
def test_suspect_reasons(previous: str | None, text: str, expected: list[str]) -> None:
    reasons = suspect_reasons(previous, text)
    assert len(reasons) == len(expected), reasons
    for reason, words in zip(reasons, expected, strict=True):
        assert words in reason


def add(store: Path, tmp_path: Path, day: str, text: str, *extra: str) -> str:
    snapshot = tmp_path / f"{day}.md"
    snapshot.write_text(f"---\ncaptured: {day}T00:00:00Z\n---\n{text}", encoding="utf-8")
    result = run_cli(["--store", str(store), "add", str(snapshot), "--policy", POLICY, *extra])
    assert result.exit_code == 0, result.stderr
    return result.stderr


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Two captures: the policy, then an error page."""
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    add(path, tmp_path, "2024-05-02", POLICY_TEXT)
    warned = add(path, tmp_path, "2024-06-01", ERROR_PAGE)
    assert "recorded as suspect (the title looks like an error" in warned
    assert "it will not be announced as a policy change" in warned
    return path


def test_suspect_version_is_recorded_marked_and_listed(store: Path) -> None:
    shown = run_cli(["--store", str(store), "show", f"{POLICY}@2", "--format", "json"])
    document = json.loads(shown.stdout)
    assert document["suspect"].startswith("the title looks like an error, consent or login page")
    assert document["text"] == ERROR_PAGE
    log = run_cli(["--store", str(store), "log", POLICY, "--no-stats"])
    assert "[suspect capture]" in log.stdout


def test_a_suspect_latest_version_is_not_announced(store: Path) -> None:
    result = run_cli(["--store", str(store), "announce", POLICY])
    assert result.exit_code == 2
    assert "did not look like the policy" in result.stderr
    assert "nothing to announce" in result.stderr


def test_the_next_good_version_is_compared_with_the_last_good_one(
    store: Path, tmp_path: Path
) -> None:
    edited = POLICY_TEXT.replace("purpose 3,", "purpose 3 and advertising,")
    assert "suspect" not in add(store, tmp_path, "2024-07-01", edited)
    announce = run_cli(["--store", str(store), "announce", POLICY, "--format", "json"])
    assert announce.exit_code == 0, announce.stderr
    assert "comparing with version 1, the last capture that looked like the policy" in (
        announce.stderr
    )
    document = json.loads(announce.stdout)
    assert (document["old"]["version"], document["new"]["version"]) == (1, 3)
    # One section changed, not "12 sections added" after an error page.
    assert document["counts"]["added"] == 0
    changelog = run_cli(["--store", str(store), "changelog", POLICY, "--format", "json"])
    entries = {e["version"]: e for e in json.loads(changelog.stdout)["versions"]}
    assert entries[2]["kind"] == "suspect"
    assert entries[2]["changes"] == []
    assert entries[3]["kind"] == "substantive"
    assert entries[3]["compared_with"] == 1
    text = run_cli(["--store", str(store), "changelog", POLICY]).stdout
    assert "## Version 2 - 2024-06-01 (suspect capture)" in text
    assert "Compared with version 1, the last capture that looked like the policy." in text
    feed = run_cli(["--store", str(store), "feed", POLICY])
    assert feed.exit_code == 0, feed.stderr
    assert "2024-06-01" not in feed.stdout


def test_technical_from_front_matter_and_flag(tmp_path: Path) -> None:
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    add(path, tmp_path, "2024-05-02", POLICY_TEXT)
    add(path, tmp_path, "2024-05-03", POLICY_TEXT.replace("lawfully", "lawfully "), "--technical")
    front = tmp_path / "t.md"
    front.write_text(f"---\ncaptured: 2024-05-04T00:00:00Z\ntechnical: true\n---\n{POLICY_TEXT}x\n")
    assert run_cli(["--store", str(path), "add", str(front), "--policy", POLICY]).exit_code == 0
    log = run_cli(["--store", str(path), "log", POLICY, "--format", "json", "--no-stats"])
    assert [v["technical"] for v in json.loads(log.stdout)["versions"]] == [False, True, True]


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(), reason="no corpus")
def test_corpus_flags_the_error_page_and_the_over_broad_capture_only(tmp_path: Path) -> None:
    source = tmp_path / "corpus"
    shutil.copytree(CORPUS, source, ignore=shutil.ignore_patterns("*.tsv", "README*"))
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    imported = run_cli(["--store", str(path), "import", str(source)])
    assert imported.exit_code == 0, imported.stderr
    flagged = sorted(
        line.split(": recorded as suspect")[0].rsplit("corpus/", 1)[1]
        for line in imported.stderr.splitlines()
        if "recorded as suspect" in line
    )
    assert flagged == [
        "instagram/privacy-policy/2025-06-25.md",  # the whole Privacy Center (README)
        "spotify/privacy-policy/2023-05-12.md",  # "We're all mixed up" (README)
    ]
    announce = run_cli(["--store", str(path), "announce", "spotify/privacy-policy"])
    assert announce.exit_code == 2
    assert "nothing to announce" in announce.stderr


# --------------------------------------------------------------------------- fetching

FAST = ["--backoff", "0", "--retries", "1", "--timeout", "5"]
ERROR_HTML = (
    b"<html><head><title>Oops</title></head><body><main><h1>We're all mixed up</h1>"
    b"<p>Refresh this page or try again later.</p></main></body></html>"
)


def policy_html() -> bytes:
    body = "".join(
        f"<h2>{i}. Section {i}</h2><p>We process data of kind {i}.</p>" for i in range(1, 30)
    )
    return f"<html><body><main><h1>Privacy</h1><p>Last updated: 1 May 2024</p>{body}</main></body></html>".encode()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def test_capture_refuses_an_error_page_unless_accepted(tmp_path: Path, server: LocalServer) -> None:
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    server.route("/p", Reply(body=policy_html()), Reply(body=ERROR_HTML))
    args = ["--store", str(path), "capture", server.url("/p"), "--policy", POLICY, *FAST]
    assert run_cli(args).exit_code == 0
    refused = run_cli(args)
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1
    assert "does not look like the policy (the title looks like an error" in refused.stderr
    assert "--accept-suspect" in refused.stderr
    log = json.loads(run_cli(["--store", str(path), "log", POLICY, "--format", "json"]).stdout)
    assert len(log["versions"]) == 1
    accepted = run_cli([*args, "--accept-suspect"])
    assert accepted.exit_code == 0, accepted.stderr
    assert "warning: recording a suspect capture" in accepted.stderr
    log = json.loads(run_cli(["--store", str(path), "log", POLICY, "--format", "json"]).stdout)
    assert [v["suspect"] is not None for v in log["versions"]] == [False, True]


def test_wayback_fails_a_suspect_capture_and_goes_on(tmp_path: Path, server: LocalServer) -> None:
    server.route(
        CDX_PATH, Reply(body=(FIXTURES / "cdx.json").read_bytes(), content_type="text/plain")
    )
    for timestamp in PAGES:
        body = (FIXTURES / f"{timestamp}.html").read_bytes()
        server.route(
            page_path(timestamp), Reply(body=ERROR_HTML if timestamp == PAGES[2] else body)
        )
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    args = ["--store", str(path), "wayback", ORIGINAL, "--policy", "koozali/privacy-policy"]
    args += ["--endpoint", server.base, "--rate", "100000", *FAST]
    first = run_cli(args)
    assert first.exit_code == 2
    assert f"{PAGES[2]} failed: does not look like the policy" in first.stdout
    second = run_cli([*args, "--accept-suspect"])
    assert second.exit_code == 0, second.stdout + second.stderr
    assert f"{PAGES[2]} recorded as version" in second.stdout
