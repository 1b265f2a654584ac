"""``track`` of pages whose text their scripts insert: headless Chromium (the browser extra).

The pages are served by a real HTTP server on 127.0.0.1. Needs ``/usr/bin/chromium`` and
Playwright (``pip install 'policydiff[browser]'``); skipped without them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import chromium_available
from helpers import run_cli
from httpserver import LocalServer, Reply
from policydiff.store.gitstore import GitStore

try:
    import playwright  # noqa: F401
except ImportError:
    HAVE_PLAYWRIGHT = False
else:
    HAVE_PLAYWRIGHT = True

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (chromium_available() and HAVE_PLAYWRIGHT),
        reason="needs /usr/bin/chromium and the browser extra (playwright)",
    ),
]

FAST = ["--backoff", "0", "--retries", "1", "--timeout", "5"]
SHELL = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Acme</title>"
    "<script src='/app.js'></script></head><body><nav>Menu</nav>"
    "<main id='root'><p>Loading…</p></main></body></html>"
).encode()
# The text arrives after the load event, from a data call: only a browser sees it.
APP = b"""
window.addEventListener('load', () => {
  fetch('/api/policy.json').then(r => r.json()).then(data => {
    setTimeout(() => {
      const root = document.getElementById('root');
      root.innerHTML = '<h1>' + data.title + '</h1>' + data.paragraphs.map(p => '<p>' + p + '</p>').join('');
    }, 100);
  });
});
"""


def api(*paragraphs: str) -> Reply:
    body = json.dumps({"title": "Acme privacy", "paragraphs": list(paragraphs)}).encode()
    return Reply(body=body, content_type="application/json")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        running.route("/policy", Reply(body=SHELL))
        running.route("/app.js", Reply(body=APP, content_type="text/javascript"))
        running.route("/api/policy.json", api("We keep your data safe.", "We never sell it."))
        yield running


def settle(store_dir: Path, body: str) -> None:
    (store_dir / "policydiff.toml").write_text(body, encoding="utf-8")
    result = run_cli(["--store", str(store_dir), "config", "commit"])
    assert result.exit_code == 0, result.stderr


def track(store_dir: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--store", str(store_dir), "track", *FAST, *args])
    return result.exit_code, result.stdout, result.stderr


def last_message(store_dir: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(store_dir), "log", "-1", "--format=%B", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_text_inserted_by_scripts_is_recorded_and_marked(
    store_dir: Path, server: LocalServer
) -> None:
    settle(
        store_dir,
        f'[policy."acme/js"]\nurl = "{server.url("/policy")}"\nrender = "browser"\n'
        'select = "#root"\n'
        f'[policy."acme/plain"]\nurl = "{server.url("/policy")}"\nselect = "#root"\n',
    )
    code, out, err = track(store_dir, "acme/js")
    assert (code, out, err) == (0, "acme/js: recorded version 1\n", "")
    store = GitStore(store_dir)
    version = store.versions("acme/js")[-1]
    assert store.text(version) == "# Acme privacy\n\nWe keep your data safe.\n\nWe never sell it.\n"
    message = last_message(store_dir)
    assert "\nRendered-By: Chromium " in message
    assert "(headless, scripts run)" in message
    # Every request of the page went through policydiff's fetcher (its User-Agent).
    assert server.paths() == ["/policy", "/app.js", "/api/policy.json"]
    assert all(r.headers["user-agent"].startswith("policydiff/") for r in server.requests)

    # The same page without the browser: only the placeholder the scripts replace.
    code, out, _ = track(store_dir, "acme/plain")
    assert (code, out) == (0, "acme/plain: recorded version 1\n")
    store = GitStore(store_dir)
    assert store.text(store.versions("acme/plain")[-1]) == "Loading…\n"

    # A second run with a change in the data: a new version.
    server.route("/api/policy.json", api("We keep your data safe.", "We sell it."))
    code, out, _ = track(store_dir, "acme/js")
    assert (code, out) == (0, "acme/js: recorded version 2\n")


class Listener:
    """A TCP port that counts the connections made to it (nothing should connect)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_the_page_reaches_no_file_no_post_no_socket(
    store_dir: Path, server: LocalServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-FILE", encoding="utf-8")
    listener = Listener()
    try:
        other = f"127.0.0.1:{listener.port}"
        script = f"""
        const out = document.getElementById('root');
        function note(what) {{ out.insertAdjacentHTML('beforeend', '<p>' + what + '</p>'); }}
        fetch('{secret.as_uri()}').then(r => r.text()).then(t => note('read ' + t),
                                                            () => note('file refused'));
        fetch('http://{other}/collect', {{method: 'POST', body: 'x'}}).catch(() => {{}});
        navigator.sendBeacon('http://{other}/beacon', 'x');
        try {{ new WebSocket('ws://{other}/ws'); }} catch (e) {{}}
        note('Our policy text.');
        """
        server.route(
            "/hostile",
            Reply(
                body=(
                    "<html><body><main id='root'><h1>Policy</h1>"
                    f"<iframe src='{secret.as_uri()}'></iframe></main>"
                    f"<script>{script}</script></body></html>"
                ).encode()
            ),
        )
        settle(
            store_dir,
            f'[policy."x/hostile"]\nurl = "{server.url("/hostile")}"\nrender = "browser"\n'
            'select = "#root"\n',
        )
        code, out, err = track(store_dir)
        assert (code, out, err) == (0, "x/hostile: recorded version 1\n", "")
        store = GitStore(store_dir)
        text = store.text(store.versions("x/hostile")[-1])
        assert "Our policy text." in text
        assert "file refused" in text
        assert "TOP-SECRET" not in text
        source = store.source(store.versions("x/hostile")[-1])
        assert source is not None
        assert source[0] == "source.html"
        assert b"TOP-SECRET" not in source[1]
    finally:
        listener.close()
    assert listener.connections == 0


def test_a_missing_page_is_an_error_and_the_others_are_recorded(
    store_dir: Path, server: LocalServer
) -> None:
    settle(
        store_dir,
        f'[policy."a/gone"]\nurl = "{server.url("/gone")}"\nrender = "browser"\n'
        f'[policy."a/js"]\nurl = "{server.url("/policy")}"\nrender = "browser"\n'
        'select = "#root"\n',
    )
    code, out, err = track(store_dir)
    assert code == 2
    assert sorted(out.splitlines()) == [
        f"a/gone: error: cannot fetch {server.url('/gone')}: HTTP 404 Not Found",
        "a/js: recorded version 1",
    ]
    assert err == "Error: 1 of 2 policies failed (listed above); 1 version(s) recorded\n"


def test_size_limit_and_deadline_apply_to_the_rendered_page(
    store_dir: Path, server: LocalServer
) -> None:
    server.route(
        "/huge",
        Reply(
            body=b"<html><body><main id='root'></main><script>"
            b"document.getElementById('root').textContent = 'x'.repeat(300000);"
            b"</script></body></html>"
        ),
    )
    server.route(
        "/slow",
        Reply(body=b"<html><head><script src='/slow.js'></script></head><body>t</body></html>"),
    )
    server.route("/slow.js", Reply(body=b"1;", content_type="text/javascript", delay=4))
    settle(
        store_dir,
        f'[policy."a/huge"]\nurl = "{server.url("/huge")}"\nrender = "browser"\n'
        f'[policy."a/slow"]\nurl = "{server.url("/slow")}"\nrender = "browser"\n',
    )
    code, out, _ = track(store_dir, "a/huge", "--max-size", "100000")
    assert code == 2
    # The served page is small; what its script built is not.
    assert out.startswith(f"a/huge: error: {server.url('/huge')} rendered is over the size limit")
    assert out.endswith(" bytes or more, limit 100000 bytes); raise it with --max-size\n")
    # A script still loading at the deadline: the page may lack text, so it is an error.
    code, out, _ = track(store_dir, "a/slow", "--deadline", "2")
    assert code == 2
    assert out.startswith("a/slow: error: cannot ")
    assert "within the 2 s deadline (--deadline)" in out
    assert GitStore(store_dir).policies() == []


def test_open_terms_archive_execute_client_scripts_and_combine(
    store_dir: Path, server: LocalServer, tmp_path: Path
) -> None:
    server.route("/terms", Reply(body=b"<html><body><main><h1>Terms</h1><p>Be fair.</p></main>"))
    folder = tmp_path / "declarations"
    folder.mkdir()
    (folder / "Acme.json").write_text(
        json.dumps(
            {
                "name": "Acme",
                "terms": {
                    "Privacy Policy": {
                        "fetch": server.url("/policy"),
                        "select": "#root",
                        "executeClientScripts": True,
                    },
                    "Terms of Service": {
                        "combine": [
                            {"fetch": server.url("/terms"), "select": "main"},
                            {"fetch": server.url("/policy"), "executeClientScripts": True},
                        ],
                        "select": "#root",
                    },
                },
            }
        ),
        encoding="utf-8",
    )
    code, out, err = track(store_dir, "--declarations", str(tmp_path))
    assert (code, sorted(out.splitlines())) == (
        0,
        ["acme/privacy-policy: recorded version 1", "acme/terms-of-service: recorded version 1"],
    ), err
    settings = (store_dir / "policydiff.toml").read_text(encoding="utf-8")
    assert 'render = "browser"' in settings
    store = GitStore(store_dir)
    terms = store.text(store.versions("acme/terms-of-service")[-1])
    assert terms == (
        "# Terms\n\nBe fair.\n\n- - -\n\n# Acme privacy\n\nWe keep your data safe.\n\n"
        "We never sell it.\n"
    )
    message = last_message(store_dir)
    if "Policy: acme/terms-of-service" not in message:
        message = subprocess.run(
            ["git", "-C", str(store_dir), "log", "-2", "--format=%B", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert f"Combined-URL: {server.url('/terms')}\nCombined-URL: {server.url('/policy')}" in message
    assert "Rendered-By: Chromium " in message


def test_a_public_pages_scripts_cannot_reach_loopback(server: LocalServer) -> None:
    """127.0.0.1 plays a public host here; the page's script asks 127.0.0.2 (loopback)."""
    import ipaddress
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from policydiff.sources.fetch import Fetcher, FetchSettings, address_class
    from policydiff.sources.fetch_browser import Renderer

    asked: list[str] = []

    class Inside(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = b'{"text": "intranet secret"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    inside = HTTPServer(("127.0.0.2", 0), Inside)
    thread = threading.Thread(target=inside.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        port = inside.server_address[1]
        server.route(
            "/public",
            Reply(
                body=(
                    "<html><body><main id='root'><p>Public text.</p></main><script>"
                    f"fetch('http://127.0.0.2:{port}/secret').then(r => r.json()).then(d => "
                    "document.getElementById('root').insertAdjacentText('beforeend', d.text),"
                    " () => document.getElementById('root').insertAdjacentText('beforeend',"
                    " 'refused'));</script></body></html>"
                ).encode()
            ),
        )

        def classify(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
            return "public" if str(address) == "127.0.0.1" else address_class(address)

        settings = FetchSettings(retries=0, timeout=5, deadline=20)
        with Fetcher(settings, classify=classify) as fetcher, Renderer() as renderer:
            page = renderer.render(server.url("/public"), fetcher)
    finally:
        inside.shutdown()
        thread.join()
        inside.server_close()
    assert b"Public text." in page.content
    assert b"refused" in page.content
    assert b"intranet secret" not in page.content
    assert asked == []
