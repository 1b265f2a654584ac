"""``track`` of policies combined from several pages, and of browser policies without a browser.

Pages come from a real HTTP server on 127.0.0.1; none of these tests needs Chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import run_cli
from httpserver import LocalServer, Reply
from pdf_factory import make_pdf
from policydiff.sources import fetch_browser
from policydiff.store.gitstore import GitStore

FAST = ["--backoff", "0", "--retries", "1", "--timeout", "5"]


def html(body: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>T</title></head><body>{body}</body></html>".encode()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        running.route(
            "/one",
            Reply(body=html("<nav>Menu</nav><main><h1>Terms</h1><p>Part one.</p></main>")),
        )
        running.route(
            "/two",
            Reply(
                body=html(
                    "<main><p>Ignored intro.</p><div id='rules'><h2>Rules</h2><p>Part two.</p>"
                    "<p class='ad'>Buy now.</p></div></main>"
                ),
                content_type="text/html; charset=iso-8859-1",
            ),
        )
        running.route("/three", Reply(body=b"Part three, plain text.\n", content_type="text/plain"))
        yield running


def settle(store_dir: Path, body: str) -> tuple[int, str]:
    (store_dir / "policydiff.toml").write_text(body, encoding="utf-8")
    result = run_cli(["--store", str(store_dir), "config", "commit"])
    return result.exit_code, result.stderr


def track(store_dir: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--store", str(store_dir), "track", *FAST, *args])
    return result.exit_code, result.stdout, result.stderr


def git(store_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(store_dir), *args], capture_output=True, text=True, check=True
    ).stdout


def test_combine_joins_pages_in_order_with_each_pages_rules(
    store_dir: Path, server: LocalServer
) -> None:
    one, two, three = server.url("/one"), server.url("/two"), server.url("/three")
    code, err = settle(
        store_dir,
        '[policy."acme/terms"]\nselect = "main"\n'
        f'combine = [{{url = "{one}"}}, {{url = "{two}", select = "#rules", remove = ".ad"}},'
        f' {{url = "{three}"}}]\n',
    )
    assert (code, err) == (0, "")
    code, out, err = track(store_dir)
    assert (code, out, err) == (0, "acme/terms: recorded version 1\n", "")
    store = GitStore(store_dir)
    version = store.versions("acme/terms")[-1]
    # Open Terms Archive's separator between the pages: a Markdown rule.
    assert store.text(version) == (
        "# Terms\n\nPart one.\n\n- - -\n\n## Rules\n\nPart two.\n\n- - -\n\n"
        "Part three, plain text.\n"
    )
    message = git(store_dir, "log", "-1", "--format=%B", "main")
    # Provenance: every page, in order; the first is the Source-URL.
    assert f"Source-URL: {one}\n" in message
    assert f"Combined-URL: {one}\nCombined-URL: {two}\nCombined-URL: {three}\n" in message
    assert "Rendered-By" not in message
    # The pages' charsets differ, so no single one is claimed for the stored source.
    assert "Fetched-Charset" not in message
    # The source: every page as received, in order, each after a marker.
    source = store.source(version)
    assert source is not None
    name, raw = source
    assert name == "source.html"
    assert raw.index(b"page 1 of 3") < raw.index(b"Part one.") < raw.index(b"page 2 of 3")
    assert raw.index(b"Part two.") < raw.index(b"page 3 of 3") < raw.index(b"Part three")

    # Re-extraction with one policy-wide rule would not be the same document: left alone.
    result = run_cli(["--store", str(store_dir), "reextract", "acme/terms"])
    assert result.exit_code == 0
    assert result.stdout.startswith("version 1 (captured ")
    assert result.stdout.endswith("): skipped (combined from several pages)\n")

    # Nothing changed: nothing new. One page changes: a new version.
    assert track(store_dir)[1] == "acme/terms: unchanged\n"
    server.route("/three", Reply(body=b"Part three, amended.\n", content_type="text/plain"))
    assert track(store_dir)[1] == "acme/terms: recorded version 2\n"


def test_one_failing_page_fails_the_policy_and_not_the_others(
    store_dir: Path, server: LocalServer
) -> None:
    settle(
        store_dir,
        f'[policy."a/combined"]\nurl = ["{server.url("/one")}", "{server.url("/missing")}"]\n'
        f'[policy."a/single"]\nurl = "{server.url("/one")}"\nselect = "main"\n',
    )
    code, out, err = track(store_dir)
    assert code == 2
    assert sorted(out.splitlines()) == [
        f"a/combined: error: cannot fetch {server.url('/missing')}: HTTP 404 Not Found",
        "a/single: recorded version 1",
    ]
    assert err == "Error: 1 of 2 policies failed (listed above); 1 version(s) recorded\n"
    assert GitStore(store_dir).policies() == ["a/single"]


def test_a_pdf_cannot_be_combined(store_dir: Path, server: LocalServer) -> None:
    server.route(
        "/terms.pdf",
        Reply(body=make_pdf([("h1", "Terms"), ("p", "PDF part.")]), content_type="application/pdf"),
    )
    settle(
        store_dir,
        f'[policy."a/p"]\nurl = ["{server.url("/one")}", "{server.url("/terms.pdf")}"]\n',
    )
    code, out, _ = track(store_dir)
    assert code == 2
    assert out == (
        f"a/p: error: {server.url('/terms.pdf')} is a PDF: combine joins HTML and text pages only\n"
    )


def test_combine_pages_need_a_url(store_dir: Path) -> None:
    settle(store_dir, '[policy."a/p"]\ncombine = [{select = "main"}]\n')
    code, out, _ = track(store_dir)
    assert (code, out) == (2, "a/p: error: combine: page 1 has no url, nor has the policy\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[policy."a/p"]\nurl = "https://a.example/"\nrender = "firefox"\n',
            (
                'policydiff.toml line 3: policy."a/p".render: must be one of http, browser, '
                "not 'firefox'"
            ),
        ),
        (
            '[policy."a/p"]\ncombine = [{url = "https://a.example/", fetch = "x"}]\n',
            "policydiff.toml line 2: policy.\"a/p\".combine: page 1: unknown setting 'fetch'",
        ),
        (
            '[policy."a/p"]\ncombine = []\n',
            (
                'policydiff.toml line 2: policy."a/p".combine: must be a list of 1 to 20 pages, '
                "each a table of url, select, remove, render"
            ),
        ),
        (
            '[policy."a/p"]\ncombine = [{url = "https://a.example/", select = "p["}]\n',
            (
                'policydiff.toml line 2: policy."a/p".combine: page 1: select: invalid CSS '
                "selector 'p[': "
            ),
        ),
        (
            '[policy."a/p"]\ncombine = "https://a.example/"\n',
            (
                'policydiff.toml line 2: policy."a/p".combine: must be a list of tables, one per '
                "page: [{url = ...}, ...]"
            ),
        ),
    ],
)
def test_bad_render_and_combine_settings_name_the_line(
    store_dir: Path, body: str, message: str
) -> None:
    code, err = settle(store_dir, body)
    assert code == 2
    assert err.startswith(f"Error: {message}")
    assert err.count("\n") == 1


def test_settings_round_trip_through_config_set(store_dir: Path, server: LocalServer) -> None:
    combine = (
        f'[{{"url": "{server.url("/one")}"}}, '
        f'{{"url": "{server.url("/two")}", "select": [{{"startBefore": "h2", '
        '"endBefore": ".ad"}], "render": "http"}]'
    )
    result = run_cli(["--store", str(store_dir), "config", "set", "policy.a/p.combine", combine])
    assert result.exit_code == 0, result.stderr
    text = (store_dir / "policydiff.toml").read_text(encoding="utf-8")
    # Written as TOML tables, the range selector as an inline table.
    assert 'select = [{startBefore = "h2", endBefore = ".ad"}]' in text
    assert track(store_dir)[:2] == (0, "a/p: recorded version 1\n")
    store = GitStore(store_dir)
    assert store.text(store.versions("a/p")[-1]) == (
        "# Terms\n\nPart one.\n\n- - -\n\n## Rules\n\nPart two.\n"
    )


def test_browser_policy_without_the_extra_names_it(
    store_dir: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As if playwright were not installed: its import fails.
    monkeypatch.setitem(sys.modules, "playwright", None)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    # A Chromium on PATH (never started: the missing extra is found first).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "chromium").write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    (bin_dir / "chromium").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    settle(
        store_dir,
        f'[policy."a/js"]\nurl = "{server.url("/one")}"\nrender = "browser"\n'
        f'[policy."a/plain"]\nurl = "{server.url("/one")}"\n',
    )
    code, out, err = track(store_dir)
    assert code == 2
    assert sorted(out.splitlines()) == [
        (
            "a/js: error: rendering pages with scripts needs the browser extra: "
            "pip install 'policydiff[browser]'"
        ),
        "a/plain: recorded version 1",
    ]
    assert err == "Error: 1 of 2 policies failed (listed above); 1 version(s) recorded\n"


def test_browser_policy_without_chromium_names_it(
    store_dir: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if no Chromium were installed: none of the names it goes by is on PATH.
    monkeypatch.setattr(fetch_browser, "CHROMIUM_NAMES", ("no-such-chromium",))
    settle(store_dir, f'[policy."a/js"]\nurl = "{server.url("/one")}"\nrender = "browser"\n')
    code, out, _ = track(store_dir)
    assert code == 2
    assert out == (
        "a/js: error: rendering pages with scripts needs Chromium on PATH (Debian: apt-get "
        "install chromium; one of no-such-chromium)\n"
    )
    assert server.paths() == []
