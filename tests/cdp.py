"""Test helper: drive headless Chromium over the DevTools protocol on a pipe (no network port).

``--remote-debugging-pipe`` makes Chromium read JSON commands from file descriptor 3 and
write replies and events to descriptor 4, each message ended by a NUL byte. That is
enough to load a local page, read what a reader sees (``innerText``, computed styles),
click a label (the page itself runs no script: its CSP forbids it, the protocol's
evaluation is the browser's, not the page's), collect console and CSP messages, and take
a screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any, Self

from browser import CHROMIUM, FLAGS, TIMEOUT


def _high(fd: int) -> int:
    """Return a copy of ``fd`` numbered 10 or more (the original closed)."""
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return copy


class DevTools:
    """One headless Chromium with a page attached, spoken to over the pipe."""

    def __init__(self, profile: Path, size: tuple[int, int] = (1200, 1600)) -> None:
        to_browser_read, self._write = os.pipe()
        self._read, from_browser_write = os.pipe()
        # The child's ends must not already be 3 or 4, or wiring one would close the other.
        to_browser_read = _high(to_browser_read)
        from_browser_write = _high(from_browser_write)
        # Chromium expects its ends as descriptors 3 (commands) and 4 (replies).
        args = [
            str(CHROMIUM),
            *FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            "about:blank",
        ]

        def wire() -> None:  # runs in the child before exec
            os.dup2(to_browser_read, 3)
            os.dup2(from_browser_write, 4)

        # close_fds=False: subprocess would close 3 and 4 after wiring them; every other
        # descriptor of this process is close-on-exec (PEP 446), the two ends included.
        self._process = subprocess.Popen(
            args,
            close_fds=False,
            preexec_fn=wire,  # noqa: PLW1509 - only dup2, before any thread exists in the child
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=size[0],
            height=size[1],
            deviceScaleFactor=1,
            mobile=False,
        )

    def close(self) -> None:
        """Stop this browser (only the process this helper started)."""
        try:
            self._send({"id": self._take_id(), "method": "Browser.close"})
            self._process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait(timeout=10)
        finally:
            os.close(self._write)
            os.close(self._read)
            if self._process.stderr is not None:
                self._process.stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the protocol ----------------------------------------------------------------------

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._write, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no answer from chromium in time")
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium closed the pipe")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        found: dict[str, Any] = json.loads(message)
        return found

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events meanwhile are kept in ``events``)."""
        number = self._take_id()
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        self._send(message)
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == number:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Return the next event called ``method`` (earlier ones already seen count)."""
        for event in self.events:
            if event.get("method") == method:
                self.events.remove(event)
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = self._receive(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    # -- what the tests use ----------------------------------------------------------------

    def load(self, page: Path) -> None:
        """Load a local page and wait until it has loaded."""
        self.call("Page.navigate", session=True, url=page.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """Return the value of a JavaScript expression evaluated by the browser in the page."""
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, target: Path) -> Path:
        """Save a PNG of the whole page to ``target``."""
        target.parent.mkdir(parents=True, exist_ok=True)
        shot = self.call(
            "Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True
        )
        target.write_bytes(base64.b64decode(shot["data"]))
        return target

    def problems(self) -> list[str]:
        """Return the console, log and exception messages seen so far (CSP reports included)."""
        # A round trip makes sure events sent before it have arrived.
        self.evaluate("1")
        found: list[str] = []
        for event in self.events:
            method = event.get("method")
            params = event.get("params", {})
            if method == "Log.entryAdded":
                entry = params.get("entry", {})
                found.append(f"{entry.get('level')}: {entry.get('source')}: {entry.get('text')}")
            elif method == "Runtime.consoleAPICalled":
                found.append(f"console.{params.get('type')}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails')}")
        return found
