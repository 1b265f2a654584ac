"""``policydiff track`` of many policies against local HTTP servers, three runs.

The pages are corpus texts turned into HTML (headings and paragraphs), spread over
``HOSTS`` local servers (each its own host:port, so ``track``'s one-request-per-host rule
lets ``--jobs`` of them be fetched at once). The servers answer ``If-None-Match`` with 304
as real sites do. A fresh store gets a policydiff.toml naming every page, then:

1. first run: every policy new (fetch, extract, vet, one commit each);
2. second run: nothing changed, every page answers 304;
3. third run: ``CHANGED`` pages carry a new paragraph (and a new ETag).

Each run is the installed ``policydiff`` program as a process, as cron runs it. The
reference, measured in the same run: the same pages fetched one after the other with
``urllib`` in this process (plain GETs, nothing extracted or stored), as a loop of
``curl`` would, minus its process starts.
"""

from __future__ import annotations

import hashlib
import html
import re
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import corpus
import measure
from process import user_env
from table import Row

SECTION = "track"
HOSTS = 4
CHANGED_SHARE = 10  # one page in ten changes before the third run
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def page_html(markdown: str, title: str) -> bytes:
    """Return a policy page: the markdown's headings and paragraphs, inside site chrome."""
    body: list[str] = []
    for part in re.split(r"\n\s*\n", markdown):
        block = part.strip()
        if not block:
            continue
        heading = _HEADING.match(block)
        if heading and "\n" not in block:
            level = len(heading[1])
            body.append(f"<h{level}>{html.escape(heading[2])}</h{level}>")
        else:
            body.append(f"<p>{html.escape(' '.join(block.split()))}</p>")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "</head><body><nav><a href='/'>Home</a> <a href='/help'>Help</a></nav><main>"
        + "\n".join(body)
        + "</main><footer>© Example</footer></body></html>"
    ).encode()


def corpus_pages(count: int) -> list[bytes]:
    """Return ``count`` pages: the corpus documents' latest texts, each made distinct."""
    latest = [history[-1].path for history in corpus.versions().values()]
    pages = []
    for i in range(count):
        text = latest[i % len(latest)].read_text(encoding="utf-8")
        pages.append(page_html(f"# Policy {i}\n\n{text}", f"Policy {i}"))
    return pages


class Site:
    """Pages served by one local server, with ETags and 304 answers."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.hits = {"200": 0, "304": 0}
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = site.pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    with site._lock:
                        site.hits["304"] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with site._lock:
                    site.hits["200"] += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        """Return the address of a path on this server."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"


@contextmanager
def serving(pages: list[bytes]) -> Iterator[tuple[list[Site], list[str]]]:
    """Serve the pages round-robin over ``HOSTS`` servers; yield them and the page URLs."""
    sites = [Site() for _ in range(HOSTS)]
    urls = []
    for i, body in enumerate(pages):
        site = sites[i % HOSTS]
        site.pages[f"/policy/{i}"] = body
        urls.append(site.url(f"/policy/{i}"))
    for site in sites:
        site.thread.start()
    try:
        yield sites, urls
    finally:
        for site in sites:
            site.server.shutdown()
            site.server.server_close()


def plain_fetch(urls: list[str]) -> float:
    """Return the seconds to GET every URL one after the other (the reference)."""
    start = time.perf_counter()
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as answer:
            answer.read()
    return time.perf_counter() - start


def settings(urls: list[str]) -> str:
    """Return a policydiff.toml tracking every URL."""
    return "".join(
        f'[policy."bench/policy-{i:03d}"]\nurl = "{url}"\nselect = "main"\n\n'
        for i, url in enumerate(urls)
    )


def rows(count: int, reps: int) -> list[Row]:
    """Time three ``track`` runs of ``count`` policies next to plain sequential fetches."""
    if not measure.has_command("track"):
        from table import skipped

        return [skipped(SECTION, "policydiff track", "no 'track' command yet")]
    pages = corpus_pages(count)
    command = measure.policydiff_command()
    env = user_env()
    results: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pd-bench-track-") as tmp, serving(pages) as served:
        sites, urls = served
        store = Path(tmp) / "store"
        measure.run_command([*command, "--store", str(store), "init"], env=env)
        (store / "policydiff.toml").write_text(settings(urls), encoding="utf-8")
        committed = measure.run_command([*command, "--store", str(store), "config", "commit"])
        if committed.returncode != 0:
            raise RuntimeError(committed.stderr.decode("utf-8", "replace"))
        reference = min(plain_fetch(urls) for _ in range(max(1, reps)))
        size = sum(len(page) for page in pages) / len(pages) / 1024

        def track(label: str, expect: str, expected_lines: int) -> None:
            before = {k: sum(s.hits[k] for s in sites) for k in ("200", "304")}
            run = measure.run_command([*command, "--store", str(store), "track"], env=env)
            lines = run.stdout.decode("utf-8", "replace").splitlines()
            hits = {k: sum(s.hits[k] for s in sites) - before[k] for k in ("200", "304")}
            matching = sum(1 for line in lines if expect in line)
            failed = run.returncode != 0 or matching != expected_lines
            results.append(
                Row(
                    SECTION,
                    f"policydiff track, {count} policies: {label}",
                    run.seconds,
                    reference=f"urllib GET of the same {count} pages, one after the other",
                    ref_value=reference,
                    target="measured (no target)",
                    met=None if not failed else False,
                    peak_rss_mb=measure.peak_rss_mb([run]),
                    note=(
                        f"{run.seconds / count * 1000:.1f} ms per policy; {matching} "
                        f"'{expect}'; HTTP {hits['200']}x200 {hits['304']}x304; "
                        f"{HOSTS} hosts, --jobs 4; pages {size:.0f} KiB on average"
                        + (f"; FAILED: exit {run.returncode}" if failed else "")
                    ),
                )
            )

        track("first run, all new", "recorded version 1", count)
        track("second run, all unchanged (304)", "unchanged (not modified)", count)
        changed = list(range(0, count, CHANGED_SHARE))
        for i in changed:
            site = sites[i % HOSTS]
            path = f"/policy/{i}"
            site.pages[path] = site.pages[path].replace(
                b"</main>", b"<p>We added this paragraph in the new version.</p></main>"
            )
        track(f"third run, {len(changed)} changed", "recorded version 2", len(changed))
    return results
