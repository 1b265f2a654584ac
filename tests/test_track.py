"""``track``: capture every policy of policydiff.toml, politely, resumably, conditionally."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import run_cli
from httpserver import LocalServer, Reply
from policydiff.store.gitstore import GitStore

FAST = ["--backoff", "0", "--retries", "1", "--timeout", "5"]


def page(text: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>Acme</title></head><body><nav>Menu</nav>"
        f"<main><h1>Policy</h1><p>{text}</p><h2>Contact</h2><p>Write to us.</p></main>"
        "</body></html>"
    ).encode()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def settle(store_dir: Path, urls: dict[str, str], extra: str = "") -> None:
    """Write policydiff.toml with these policies' URLs and commit it."""
    body = "".join(f'[policy."{policy}"]\nurl = "{url}"\n{extra}\n' for policy, url in urls.items())
    (store_dir / "policydiff.toml").write_text(body, encoding="utf-8")
    result = run_cli(["--store", str(store_dir), "config", "commit"])
    assert result.exit_code == 0, result.stderr


def track(store_dir: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--store", str(store_dir), "track", *FAST, *args])
    return result.exit_code, result.stdout, result.stderr


def test_three_policies_two_change_one_fails(store_dir: Path, server: LocalServer) -> None:
    server.route("/one", Reply(body=page("One, first.")))
    server.route("/two", Reply(body=page("Two, first.")))
    server.route("/three", Reply(body=page("Three, first.")))
    settle(store_dir, {f"a/{name}": server.url(f"/{name}") for name in ("one", "two", "three")})

    code, out, err = track(store_dir, "--exit-code")
    assert (code, err) == (1, "")
    assert out == (
        "a/one: recorded version 1\na/three: recorded version 1\na/two: recorded version 1\n"
    )
    # Nothing new: exit 0, one line each.
    code, out, err = track(store_dir, "--exit-code")
    assert (code, out, err) == (0, "a/one: unchanged\na/three: unchanged\na/two: unchanged\n", "")

    server.route("/one", Reply(body=page("One, second.")))
    server.route("/two", Reply(body=page("Two, second.")))
    server.route("/three", Reply(500))
    code, out, err = track(store_dir, "--exit-code")
    assert code == 2
    assert out == (
        "a/one: recorded version 2\n"
        f"a/three: error: cannot fetch {server.url('/three')}: HTTP 500 Internal Server Error "
        "(gave up after 2 attempt(s))\n"
        "a/two: recorded version 2\n"
    )
    assert err == "Error: 1 of 3 policies failed (listed above); 2 version(s) recorded\n"
    store = GitStore(store_dir)
    assert [len(store.versions(p)) for p in ("a/one", "a/two", "a/three")] == [2, 2, 1]
    trailers = dict(store.versions("a/one")[-1].trailers)
    assert trailers["Extractor"].startswith("policydiff ")
    for name in ("markdownify ", "beautifulsoup4 ", "lxml "):
        assert name in trailers["Extractor"]
    assert run_cli(["--store", str(store_dir), "verify"]).exit_code == 0

    # JSON, and naming policies: only those are fetched.
    server.route("/three", Reply(body=page("Three, second.")))
    before = len(server.requests)
    result = run_cli(["--store", str(store_dir), "track", *FAST, "a/three", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert [r.path for r in server.requests[before:]] == ["/three"]
    assert json.loads(result.stdout) == {
        "schema": "policydiff.track/1",
        "policies": [
            {
                "policy": "a/three",
                "url": server.url("/three"),
                "status": "recorded",
                "version": 2,
                "not_modified": False,
                "error": None,
                "technical_reason": None,
            }
        ],
        "recorded": 1,
        "technical": 0,
        "failed": 0,
    }


def test_a_policy_without_url_and_a_suspect_page_are_errors(
    store_dir: Path, server: LocalServer
) -> None:
    long_text = " ".join(f"Clause {n} says what we do with data." for n in range(200))
    server.route("/p", Reply(body=page(long_text)))
    settle(store_dir, {"a/p": server.url("/p")})
    assert track(store_dir)[0] == 0
    server.route(
        "/p", Reply(body=b"<html><body><h1>Page not found</h1><p>Sorry.</p></body></html>")
    )
    code, out, err = track(store_dir, "a/p", "a/none")
    assert (code, err) == (
        2,
        "Error: 2 of 2 policies failed (listed above); 0 version(s) recorded\n",
    )
    lines = out.splitlines()
    assert lines[0] == "a/none: error: no url in the settings (policy.ID.url)"
    assert lines[1].startswith("a/p: error: ")
    assert "does not look like the policy" in lines[1]
    assert len(GitStore(store_dir).versions("a/p")) == 1


def test_conditional_requests_and_304(store_dir: Path, server: LocalServer) -> None:
    stamp = "Wed, 01 May 2024 10:00:00 GMT"
    server.route(
        "/p",
        Reply(body=page("Version one."), headers={"ETag": '"v1"', "Last-Modified": stamp}),
        Reply(304, content_type=None),
    )
    settle(store_dir, {"a/p": server.url("/p")})
    assert track(store_dir) == (0, "a/p: recorded version 1\n", "")
    assert "if-none-match" not in server.requests[-1].headers
    assert track(store_dir) == (0, "a/p: unchanged (not modified)\n", "")
    sent = server.requests[-1].headers
    assert (sent["if-none-match"], sent["if-modified-since"]) == ('"v1"', stamp)
    assert len(GitStore(store_dir).versions("a/p")) == 1
    # Other rules would extract another text: the validators are not sent.
    server.route("/p", Reply(body=page("Version one."), headers={"ETag": '"v1"'}))
    settle(store_dir, {"a/p": server.url("/p")}, extra='select = "main"\n')
    assert track(store_dir)[0] == 0
    assert "if-none-match" not in server.requests[-1].headers
    # track.json is derived data: a damaged one costs only a full fetch.
    state = store_dir / ".git" / "policydiff" / "track.json"
    assert json.loads(state.read_text())["policies"]["a/p"]["etag"] == '"v1"'
    state.write_text("{not json", encoding="utf-8")
    assert track(store_dir) == (0, "a/p: unchanged\n", "")
    assert "if-none-match" not in server.requests[-1].headers


def test_a_killed_run_leaves_a_valid_store_and_the_next_run_finishes(
    store_dir: Path, server: LocalServer
) -> None:
    server.route("/a", Reply(body=page("A text."), headers={"ETag": '"a1"'}), Reply(304))
    server.route("/b", Reply(body=page("B text."), delay=60))
    server.route("/c", Reply(body=page("C text.")))
    settle(store_dir, {p: server.url("/" + p[-1]) for p in ("s/a", "s/b", "s/c")})
    proc = subprocess.Popen(
        [sys.executable, "-m", "policydiff", "--store", str(store_dir), "track", *FAST],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        # s/a is recorded, then the run waits on the slow s/b (one request per host).
        # (s/a's validators are saved right after its version is recorded.)
        state = store_dir / ".git" / "policydiff" / "track.json"
        deadline = time.monotonic() + 30
        while not any(r.path == "/b" for r in server.requests) or not state.exists():
            assert time.monotonic() < deadline, "track never recorded s/a nor asked for /b"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    store = GitStore(store_dir)
    assert [len(store.versions(p)) for p in store.policies()] == [1]
    assert run_cli(["--store", str(store_dir), "verify"]).exit_code == 0

    server.route("/b", Reply(body=page("B text.")))
    before = len(server.requests)
    code, out, err = track(store_dir, "--exit-code")
    assert (code, err) == (1, ""), out + err
    assert out == (
        "s/a: unchanged (not modified)\ns/b: recorded version 1\ns/c: recorded version 1\n"
    )
    assert [r.path for r in server.requests[before:]] == ["/a", "/b", "/c"]
    assert run_cli(["--store", str(store_dir), "verify"]).exit_code == 0


def test_several_urls_are_one_document_all_or_nothing(store_dir: Path, server: LocalServer) -> None:
    server.route("/x", Reply(body=page("Page one.")))
    server.route("/y", Reply(404, b"gone", content_type="text/plain"))
    (store_dir / "policydiff.toml").write_text(
        f'[policy."a/p"]\nurl = ["{server.url("/x")}", "{server.url("/y")}"]\nselect = "main"\n',
        encoding="utf-8",
    )
    assert run_cli(["--store", str(store_dir), "config", "commit"]).exit_code == 0
    code, out, err = track(store_dir)
    # One page missing: the document is not the policy, so nothing is recorded.
    assert code == 2
    assert out == f"a/p: error: cannot fetch {server.url('/y')}: HTTP 404 Not Found\n"
    assert err == "Error: 1 of 1 policy failed (listed above); 0 version(s) recorded\n"
    assert GitStore(store_dir).policies() == []
    server.route("/y", Reply(body=page("Page two.")))
    code, out, err = track(store_dir)
    assert (code, out, err) == (0, "a/p: recorded version 1\n", "")
    store = GitStore(store_dir)
    assert store.text(store.versions("a/p")[-1]) == (
        "# Policy\n\nPage one.\n\n## Contact\n\nWrite to us.\n\n- - -\n\n"
        "# Policy\n\nPage two.\n\n## Contact\n\nWrite to us.\n"
    )


def test_one_request_at_a_time_per_host_hosts_in_parallel(store_dir: Path) -> None:
    delay = 0.5
    arrivals: dict[str, list[float]] = {}
    with LocalServer() as first, LocalServer() as second:
        urls: dict[str, str] = {}
        for name, running in (("first", first), ("second", second)):
            times = arrivals.setdefault(name, [])
            scripted = running._next

            def timed(path: str, scripted: object = scripted, times: list[float] = times) -> Reply:
                times.append(time.monotonic())
                return scripted(path)  # type: ignore[operator]

            running._next = timed  # type: ignore[method-assign]
            for page_name in ("x", "y"):
                running.route(f"/{page_name}", Reply(body=page(f"{name} {page_name}"), delay=delay))
                urls[f"{name}/{page_name}"] = running.url(f"/{page_name}")
        settle(store_dir, urls)
        code, out, err = track(store_dir, "--jobs", "4")
    assert (code, err) == (0, ""), out + err
    assert sorted(out.splitlines()) == [f"{p}: recorded version 1" for p in sorted(urls)]
    for times in arrivals.values():
        # The second page of a host is asked for only once the first has come back.
        assert len(times) == 2
        assert times[1] - times[0] >= delay * 0.9
    # The two hosts were served at the same time.
    assert abs(arrivals["first"][0] - arrivals["second"][0]) < delay


def test_nothing_to_track_is_one_error_line(store_dir: Path) -> None:
    code, out, err = track(store_dir)
    assert (code, out) == (2, "")
    assert err == (
        "Error: no policy has a URL in policydiff.toml "
        "(add one with 'policydiff config set policy.ID.url URL')\n"
    )
    bad = run_cli(["--store", str(store_dir), "track", "Not An Id"])
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: ")
    assert bad.stderr.count("\n") == 1
