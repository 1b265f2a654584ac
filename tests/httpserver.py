"""A real HTTP server on 127.0.0.1 for tests: scripted replies per path, requests recorded.

with LocalServer() as server:
    server.route("/page", Reply(503), Reply(body=b"<p>hi</p>"))   # then repeats the last
    fetch(server.url("/page"))
    assert server.paths() == ["/page", "/page"]
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "text/html; charset=utf-8"
    # Declare the full length but send only half, then drop the connection.
    truncate: bool = False
    # Send no Content-Length: the body ends when the connection closes.
    unsized: bool = False
    delay: float = 0.0
    # Send the body one byte at a time, this many seconds apart (a slow-drip server).
    drip: float = 0.0


@dataclass
class Request:
    """One request the server received."""

    path: str
    query: str
    headers: dict[str, str]


class LocalServer:
    """A threaded HTTP/1.0 server on an ephemeral port of 127.0.0.1."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with server._lock:
                    server.requests.append(
                        Request(
                            parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()}
                        )
                    )
                    reply = server._next(parts.path)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    if reply.content_type:
                        self.send_header("Content-Type", reply.content_type)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if not reply.unsized:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.truncate:
                        self.wfile.write(reply.body[: len(reply.body) // 2])
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if reply.drip:
                        for byte in reply.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.drip)
                        return
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (a timeout test): nothing to do.
                    pass

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval makes shutdown (each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def _next(self, path: str) -> Reply:
        """Return the next scripted reply for ``path`` (the last one repeats); 404 if none."""
        replies = self.routes.get(path)
        if not replies:
            return Reply(404, b"not found", content_type="text/plain")
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def route(self, path: str, *replies: Reply) -> None:
        """Answer requests for ``path`` with ``replies`` in turn, repeating the last."""
        with self._lock:
            self.routes[path] = list(replies)

    @property
    def base(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server."""
        return self.base + path

    def paths(self) -> list[str]:
        """Return the paths requested so far, in order."""
        with self._lock:
            return [r.path for r in self.requests]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
