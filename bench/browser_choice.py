"""Measure the two ways to render script-built pages (the choice in policydiff/fetch_browser.py).

Playwright driving the installed Chromium, every request answered by policydiff's Fetcher,
against ``chromium --headless --dump-dom`` run once per page. Both load the same page from
a local HTTP server: a shell whose text a script fetches and inserts after the load event.
Reported per way: seconds per page (median), whether the text was seen, whether a 404 is
told apart from a page, and how many connections the page's script made to another port
(a stand-in for a host the page should not reach). The reference is a plain fetch.
Run: pip install 'policydiff[browser]' && python bench/browser_choice.py [--pages N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from httpserver import LocalServer, Reply
from policydiff.sources.fetch import Fetcher, FetchSettings
from policydiff.sources.fetch_browser import Renderer, find_chromium

TEXT = "We keep your data safe."


def shell(other_port: int) -> bytes:
    """Return the page: its text arrives from a data call after the load event."""
    return (
        "<html><body><main id='root'>Loading</main><script>"
        "window.addEventListener('load', () => {"
        f"  fetch('http://127.0.0.1:{other_port}/track', {{method: 'POST'}}).catch(() => {{}});"
        "  fetch('/data.json').then(r => r.json()).then(d => { setTimeout(() => {"
        "    document.getElementById('root').textContent = d.text; }, 300); });"
        "});</script></body></html>"
    ).encode()


class Counter:
    """A TCP port counting the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.count += 1
            conn.close()


def dump_dom(chromium: str, url: str, profile: Path, budget_ms: int | None) -> str:
    """Return what ``chromium --dump-dom`` prints for ``url``."""
    args = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", f"--user-data-dir={profile}", "--dump-dom",
    ]  # fmt: skip
    if budget_ms is not None:
        args.append(f"--virtual-time-budget={budget_ms}")
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=120, check=False)
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5, help="pages rendered per way")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    counter = Counter()
    rows: list[tuple[str, float, bool, bool, int]] = []
    with LocalServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.route("/page", Reply(body=shell(counter.port)))
        server.route("/data.json", Reply(body=json.dumps({"text": TEXT}).encode()))
        url, missing = server.url("/page"), server.url("/missing")
        settings = FetchSettings(retries=0, timeout=10, deadline=30)

        times = []
        with Fetcher(settings) as fetcher:
            for _ in range(args.pages):
                start = time.perf_counter()
                page = fetcher.get(url)
                times.append(time.perf_counter() - start)
        rows.append(("plain fetch (reference)", statistics.median(times),
                     TEXT.encode() in page.content, True, 0))  # fmt: skip

        before = counter.count
        times = []
        with Fetcher(settings) as fetcher, Renderer() as renderer:
            start = time.perf_counter()
            renderer.render(url, fetcher)
            first = time.perf_counter() - start
            for _ in range(args.pages):
                start = time.perf_counter()
                page = renderer.render(url, fetcher)
                times.append(time.perf_counter() - start)
            try:
                renderer.render(missing, fetcher)
                tells_404 = False
            except Exception:  # noqa: BLE001 - any error is "told apart"
                tells_404 = True
        rows.append((f"Playwright (first page, browser start: {first:.2f} s)",
                     statistics.median(times), TEXT.encode() in page.content, tells_404,
                     counter.count - before))  # fmt: skip

        for budget in (None, 5000):
            before = counter.count
            times = []
            for number in range(args.pages):
                start = time.perf_counter()
                dom = dump_dom(chromium, url, Path(tmp) / f"p{budget}-{number}", budget)
                times.append(time.perf_counter() - start)
            error_page = dump_dom(chromium, missing, Path(tmp) / f"m{budget}", budget)
            label = "--dump-dom" + (f" --virtual-time-budget={budget}" if budget else "")
            rows.append((label, statistics.median(times), TEXT in dom,
                         not error_page.strip(), counter.count - before))  # fmt: skip
    counter.stop.set()
    reference = rows[0][1]
    print("| way | s/page (median) | ratio to plain | text seen | 404 told apart | "
          "connections to another port |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for label, seconds, seen, told, reached in rows:
        print(f"| {label} | {seconds:.3f} | {seconds / reference:.0f}x | {seen} | {told} | "
              f"{reached} |")  # fmt: skip
    print(f"\n{args.pages} page(s) per way; Chromium: {chromium} "
          f"({shutil.which('chromium') or '-'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
