"""CLI habits: one name per format, optional args marked, -q/--quiet, --no-pager, announce errors."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from helpers import REPO, run_cli
from httpserver import LocalServer, Reply

POLICY = "acme/privacy"
V1 = "# Privacy\n\n## Data\n\nWe collect your name.\n\n## Cookies\n\nWe use cookies.\n"
V2 = "# Privacy\n\n## Data\n\nWe collect your name and address.\n\n## Cookies\n\nWe use cookies.\n"
V3 = V2 + "\n## Rights\n\nYou may ask for a copy.\n"


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """Return a store holding three versions of acme/privacy (added with the CLI)."""
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    for day, text in (("2020-01-01", V1), ("2021-01-01", V2), ("2022-01-01", V3)):
        file = tmp_path / f"{day}.md"
        file.write_text(text, encoding="utf-8")
        added = run_cli(["--store", str(store), "add", str(file), "--policy", POLICY])
        assert added.exit_code == 0, added.stderr
    return store


# --- usage ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["show", "blame"])
def test_usage_marks_policy_ref_optional(name: str) -> None:
    result = run_cli([name, "--help"])
    assert result.stdout.startswith(f"Usage: policydiff {name} [OPTIONS] [POLICY[@REF]]\n")


# --- one name per format ----------------------------------------------------------------

TERMINAL_FORMATS = [
    ["log", POLICY],
    ["policies"],
    ["blame", POLICY],
    ["history", POLICY, "--section", "Data"],
    ["compare", POLICY],
]


@pytest.mark.parametrize("args", TERMINAL_FORMATS, ids=lambda args: args[0])
def test_table_and_term_are_one_format(filled: Path, args: list[str]) -> None:
    """Every terminal output is "term"; "table" is accepted for it and gives the same bytes."""
    store = ["--store", str(filled)]
    default = run_cli([*store, *args])
    term = run_cli([*store, *args, "--format", "term"])
    table = run_cli([*store, *args, "--format", "table"])
    assert default.exit_code == term.exit_code == table.exit_code == 0, table.stderr
    assert default.stdout == term.stdout == table.stdout
    assert term.stdout.strip()
    helped = run_cli([args[0], "--help"]).stdout
    assert "[default: term]" in " ".join(helped.split())
    assert "'table' also means 'term'" in " ".join(helped.split())


def test_unknown_format_lists_only_canonical_names(filled: Path) -> None:
    result = run_cli(["--store", str(filled), "log", POLICY, "--format", "tabel"])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Invalid value for '--format': 'tabel' is not one of 'term', 'json'.\n"
    )


# --- -q/--quiet ---------------------------------------------------------------------------

QUIET_COMMANDS = (
    "import", "add", "log", "blame", "search", "site", "sync", "capture", "wayback",
    "import-git", "reextract", "track",
)  # fmt: skip


@pytest.mark.parametrize("name", QUIET_COMMANDS)
def test_commands_with_progress_take_quiet(name: str) -> None:
    helped = " ".join(run_cli([name, "--help"]).stdout.split())
    assert "-q, --quiet Print only warnings and errors" in helped


def test_quiet_import_prints_only_problems(tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "store")]
    assert run_cli([*store, "init"]).exit_code == 0
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "2020-01-01.md").write_text(V1, encoding="utf-8")
    (folder / "2021-01-01.md").write_text(V2, encoding="utf-8")
    loud = run_cli([*store, "import", str(folder), "--policy", POLICY])
    assert loud.exit_code == 0
    assert loud.stdout.count("recorded as") == 2
    assert "2 version(s) recorded" in loud.stderr

    (folder / "2022-01-01.md").write_text(V3, encoding="utf-8")
    quiet = run_cli([*store, "import", "-q", str(folder), "--policy", POLICY])
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert len(run_cli([*store, "log", POLICY, "--format", "json"]).stdout) > 0
    versions = run_cli([*store, "log", POLICY, "--format", "json", "--no-stats"]).stdout
    assert versions.count('"version":') == 3

    # A file that fails is still named, and the error line still says why the exit is 2.
    (folder / "2023-01-01.md").write_text(V3 + "More words. " * 100, encoding="utf-8")
    failed = run_cli(
        [*store, "import", "--quiet", str(folder), "--policy", POLICY, "--max-size", "500"]
    )
    assert failed.exit_code == 2
    assert failed.stdout.count("\n") == 1
    assert "2023-01-01.md: error:" in failed.stdout
    assert failed.stderr.startswith("Error: 1 of 4 snapshot(s) could not be recorded")


def test_quiet_json_still_prints_the_document(tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "store")]
    assert run_cli([*store, "init"]).exit_code == 0
    file = tmp_path / "2020-01-01.md"
    file.write_text(V1, encoding="utf-8")
    result = run_cli([*store, "add", "-q", str(file), "--policy", POLICY, "--format", "json"])
    assert result.exit_code == 0
    assert '"policydiff.import/1"' in result.stdout
    assert result.stderr == ""


def test_quiet_site_search_and_import_git(filled: Path, tmp_path: Path) -> None:
    store = ["--store", str(filled)]
    loud = run_cli([*store, "site", str(tmp_path / "site")])
    assert loud.stderr.startswith("Site: ")
    quiet = run_cli([*store, "site", "-q", str(tmp_path / "site2")])
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert (tmp_path / "site2" / "index.html").is_file()

    found = run_cli([*store, "search", "-q", "address"])
    assert found.exit_code == 0
    assert found.stderr == ""
    assert POLICY in found.stdout  # the answer is data, not progress

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for day, text in (("2020-01-01", V1), ("2021-01-01", V2)):
        (repo / "privacy.md").write_text(text, encoding="utf-8")
        subprocess.run([*git, "add", "privacy.md"], check=True)
        env = {**os.environ, "GIT_AUTHOR_DATE": f"{day}T00:00:00Z"}
        subprocess.run([*git, "commit", "-q", "-m", day], check=True, env=env)
    args = [*store, "import-git", str(repo), "--path", "privacy.md", "--policy", "acme/git"]
    imported = run_cli([*args, "--quiet"])
    assert (imported.exit_code, imported.stdout, imported.stderr) == (0, "", "")
    again = run_cli(args)
    assert again.stdout.count(" skipped\n") == 2
    assert again.stderr == "2 commit(s): 0 recorded, 0 failed\n"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def _page(text: str) -> bytes:
    return f"<html><body><main><h1>Policy</h1><p>{text}</p></main></body></html>".encode()


def test_quiet_capture_and_track(tmp_path: Path, server: LocalServer) -> None:
    store_dir = tmp_path / "store"
    store = ["--store", str(store_dir)]
    fast = ["--retries", "1", "--backoff", "0", "--timeout", "5"]
    assert run_cli([*store, "init"]).exit_code == 0
    server.route("/ok", Reply(body=_page("First text.")))
    server.route("/broken", Reply(500))
    url = server.url("/ok")
    captured = run_cli([*store, "capture", "-q", url, "--policy", "acme/ok", *fast, "--exit-code"])
    assert (captured.exit_code, captured.stdout, captured.stderr) == (1, "", "")

    body = f'[policy."acme/ok"]\nurl = "{url}"\n[policy."acme/broken"]\n'
    body += f'url = "{server.url("/broken")}"\n'
    (store_dir / "policydiff.toml").write_text(body, encoding="utf-8")
    assert run_cli([*store, "config", "commit"]).exit_code == 0
    server.route("/ok", Reply(body=_page("Second text.")))
    tracked = run_cli([*store, "track", "-q", *fast])
    assert tracked.exit_code == 2
    # The failing policy's line stays (the error line points to it); the recorded one goes.
    assert tracked.stdout.startswith("acme/broken: error: ")
    assert tracked.stdout.count("\n") == 1
    assert tracked.stderr.startswith("Error: 1 of 2 policies failed")


# --- --no-pager -----------------------------------------------------------------------------


def _on_a_terminal(args: list[str], cwd: Path, pager: Path) -> str:
    """Run ``policydiff ARGS`` on a pseudo-terminal 5 lines high; return what it showed."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR"}},
        "PAGER": str(pager),
        "TERM": "xterm",
        "LINES": "5",
        "COLUMNS": "80",
        "PYTHONPATH": str(REPO / "src"),
    }
    main, child = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "policydiff", *args],
            stdin=child,
            stdout=child,
            stderr=child,
            cwd=cwd,
            env=env,
        )
        os.close(child)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(timeout=60) == 0, shown.decode(errors="replace")
    finally:
        os.close(main)
    return shown.decode("utf-8", "replace")


@pytest.mark.parametrize(
    "args",
    [
        ["compare", "old.md", "new.md"],
        ["--store", "store", "blame", POLICY],
        ["--store", "store", "history", POLICY, "--section", "Data"],
    ],
    ids=lambda args: args[-1] if args[0] == "compare" else args[2],
)
def test_no_pager_skips_the_pager(filled: Path, args: list[str]) -> None:
    """Output taller than the terminal goes through $PAGER, unless --no-pager."""
    cwd = filled.parent
    (cwd / "old.md").write_text(V1, encoding="utf-8")
    (cwd / "new.md").write_text(V3, encoding="utf-8")
    marker = cwd / "paged.txt"
    pager = cwd / "pager.sh"
    pager.write_text(f'#!/bin/sh\ncat > "{marker}"\n', encoding="utf-8")
    pager.chmod(0o755)
    _on_a_terminal(args, cwd, pager)
    assert marker.is_file()
    assert "Data" in marker.read_text(encoding="utf-8")
    marker.unlink()
    shown = _on_a_terminal([*args, "--no-pager"], cwd, pager)
    assert not marker.exists()
    assert "Data" in shown


# --- announce -------------------------------------------------------------------------------


def test_announce_names_every_missing_address(filled: Path) -> None:
    store = ["--store", str(filled)]
    both = run_cli([*store, "announce", POLICY, "1", "2"])
    assert both.exit_code == 2
    assert both.stdout == ""
    assert both.stderr == (
        "Error: no To and From addresses: pass --to ADDRESS or set one with 'policydiff "
        "config set announce.to ADDRESS'; pass --from ADDRESS or set one with 'policydiff "
        "config set announce.from ADDRESS'\n"
    )
    one = run_cli([*store, "announce", POLICY, "1", "2", "--to", "list@example.org"])
    assert one.stderr == (
        "Error: no From address: pass --from ADDRESS or set one with 'policydiff config set "
        "announce.from ADDRESS'\n"
    )
    config = run_cli([*store, "config", "set", "announce.from", "team@example.org"])
    assert config.exit_code == 0, config.stderr
    other = run_cli([*store, "announce", POLICY, "1", "2"])
    assert other.stderr.startswith("Error: no To address: pass --to ADDRESS")


def test_format_choice_is_a_click_choice() -> None:
    """Shell completion offers the canonical names only (the alias stays a quiet extra)."""
    from policydiff.cli.common import FormatChoice

    choice = FormatChoice(["term", "json"])
    assert isinstance(choice, click.Choice)
    ctx = click.Context(click.Command("x"))
    offered = [item.value for item in choice.shell_complete(ctx, click.Option(["--f"]), "t")]
    assert offered == ["term"]
    assert choice.convert("table", None, None) == "term"


def test_quiet_wayback_keeps_only_failed_captures(store_dir: Path) -> None:
    """With -q a backfill prints the captures that failed (the error line points to them)."""
    from test_wayback import CDX_PATH, FIXTURES, PAGES, page_path, wayback

    with LocalServer() as server:
        cdx = (FIXTURES / "cdx.json").read_bytes()
        server.route(CDX_PATH, Reply(body=cdx, content_type="text/plain"))
        for timestamp in PAGES:
            server.route(
                page_path(timestamp), Reply(body=(FIXTURES / f"{timestamp}.html").read_bytes())
            )
        server.route(page_path(PAGES[1]), Reply(404, b"gone"))
        code, out, err = wayback(store_dir, server, "-q")
    assert code == 2
    assert out.startswith(f"{PAGES[1]} failed: cannot fetch")
    assert out.count("\n") == 1
    assert err == "Error: 1 capture(s) failed; re-run to retry them\n"
