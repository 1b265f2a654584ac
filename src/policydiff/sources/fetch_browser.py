"""Pages that need their scripts run: render them in headless Chromium (the browser extra).

Rendering goes through Playwright (``pip install 'policydiff[browser]'``) driving an
installed Chromium (Debian's ``/usr/bin/chromium``: the first of ``CHROMIUM_NAMES`` on
``PATH``); no
browser is ever downloaded. Chromium's own ``--dump-dom`` was measured as the
alternative and rejected: it reports no HTTP status (a 404 page is dumped as if it
were the policy), cannot wait for scripts that fill the page after the load event,
and lets the page reach any host with no size limit.

Every request the page makes (the document, its scripts, styles, data calls) is
intercepted and answered by policydiff's own ``Fetcher``: the same timeouts, size
limit, redirect guard, retries, ``Retry-After``, rate limit and address checks as a
plain fetch, one request at a time. Sub-requests may reach public addresses and the
page's own address class only (a public page's script cannot reach the intranet).
Only GET and HEAD over http(s) are answered; anything else (``file:``, POSTs of
analytics, more than ``MAX_REQUESTS`` requests, past the page's deadline) is refused.
Chromium itself is pointed at a proxy that goes nowhere, so what is not intercepted
(WebSockets, WebRTC) reaches nothing. The whole render fits in the page's
``deadline``; the rendered document is bounded by ``max_bytes``
and all its resources together by ``TOTAL_FACTOR`` times that.
Starting Chromium (once per worker, about a second) is bounded separately.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from policydiff.core.errors import InputError, NetworkError, PolicydiffError, UsageError
from policydiff.sources.fetch import USER_AGENT, Fetcher, Page

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright, Route

BROWSER_EXTRA = "policydiff[browser]"
RENDER_TRAILER = "Rendered-By"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MAX_REQUESTS = 200
TOTAL_FACTOR = 4
# How long the page may keep loading after its load event before its DOM is taken.
SETTLE_SECONDS = 10.0
LAUNCH_SECONDS = 60.0
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Nowhere: requests Chromium makes without asking the route handler fail here.
_DEAD_PROXY = "http://127.0.0.1:9"
_LAUNCH_ARGS = (
    f"--proxy-server={_DEAD_PROXY}",
    "--proxy-bypass-list=<-loopback>",  # loopback through the dead proxy too
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--dns-prefetch-disable",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-gpu",
)


class BrowserUnavailableError(UsageError):
    """Rendering needs the browser extra or a Chromium binary that is not installed."""


def find_chromium() -> str:
    """Return the Chromium binary to drive: the first of ``CHROMIUM_NAMES`` on PATH."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailableError(
        "rendering pages with scripts needs Chromium on PATH (Debian: apt-get install "
        f"chromium; one of {', '.join(CHROMIUM_NAMES)})"
    )


def _playwright() -> Playwright:
    """Start Playwright, or say which extra to install."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserUnavailableError(
            f"rendering pages with scripts needs the browser extra: pip install '{BROWSER_EXTRA}'"
        ) from None
    return sync_playwright().start()


@dataclass(slots=True)
class _Render:
    """One page's render: its budget and what its requests did."""

    url: str
    seconds: float  # the deadline
    ends_at: float
    budget: int
    requests: int = 0
    received: int = 0
    late: bool = False  # a request was refused for want of time: the page is not whole
    # The page itself when it is not HTML (a PDF): returned as fetched, not rendered.
    document: Page | None = None
    main_error: PolicydiffError | None = None
    # Pages fetched through a redirect, served when the browser follows it.
    redirected: dict[str, Page] = field(default_factory=dict)


class Renderer:
    """Headless Chromium, started on first use and reused by one thread (a context manager).

    Playwright's synchronous API is bound to the thread that started it: a renderer
    belongs to one worker.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the browser and Playwright (if they were started)."""
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        try:
            if browser is not None:
                browser.close()
        except Exception:  # noqa: BLE001, S110 - a browser that died is closed already
            pass
        finally:
            if playwright is not None:
                playwright.stop()

    @property
    def version(self) -> str:
        """Return the trailer value saying what rendered the page."""
        shown = self._browser.version if self._browser is not None else "?"
        return f"Chromium {shown} (headless, scripts run)"

    def _start(self, seconds: float) -> Browser:
        """Return the running browser, starting it (within ``seconds``) if need be."""
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        executable = find_chromium()
        if self._playwright is None:
            self._playwright = _playwright()
        from playwright.sync_api import Error

        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=executable,
                args=list(_LAUNCH_ARGS),
                # Chromium cannot sandbox itself as root (containers); elsewhere it does.
                chromium_sandbox=os.geteuid() != 0,
                timeout=max(1.0, seconds) * 1000,
            )
        except Error as err:
            raise BrowserUnavailableError(
                f"cannot start Chromium ({executable}): {_first_line(err)}"
            ) from None
        return self._browser

    def render(self, url: str, fetcher: Fetcher) -> Page:
        """Return ``url`` as Chromium shows it once its scripts ran (HTML serialised, UTF-8).

        Every request goes through ``fetcher``; a page that is not HTML (a PDF) comes
        back as fetched. Raise ``NetworkError``/``InputError`` as a plain fetch would.
        """
        base = fetcher.settings
        # Starting the browser (once per worker) is bounded on its own, not by the page.
        browser = self._start(max(base.deadline, LAUNCH_SECONDS))
        from playwright.sync_api import Error
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        state = _Render(
            url=url,
            seconds=base.deadline,
            ends_at=self._clock() + base.deadline,
            budget=base.max_bytes * TOTAL_FACTOR,
        )
        context = browser.new_context(
            service_workers="block", accept_downloads=False, user_agent=USER_AGENT
        )
        try:
            context.route("**/*", lambda route: self._guarded(route, state, fetcher))
            page = context.new_page()
            try:
                page.goto(url, wait_until="load", timeout=self._left_ms(state))
            except Error as err:
                if state.document is not None:
                    return state.document  # a PDF or text: nothing to render
                if state.main_error is not None:
                    raise state.main_error from None
                if isinstance(err, PlaywrightTimeout):
                    raise NetworkError(
                        f"cannot render {url}: not loaded within the {base.deadline:g} s "
                        "deadline (--deadline)"
                    ) from None
                raise NetworkError(f"cannot render {url}: {_first_line(err)}") from None
            if state.document is not None:
                return state.document
            try:
                # Scripts that fetch the text after the load event: wait until the page
                # is quiet (no request for 0.5 s), within limits; then take what is there.
                settle = min(SETTLE_SECONDS * 1000, self._left_ms(state))
                page.wait_for_load_state("networkidle", timeout=settle)
            except (PlaywrightTimeout, NetworkError):
                pass
            if state.late or state.main_error is not None:
                # A script or style cut off by the deadline: what is shown may lack text.
                raise state.main_error or NetworkError(
                    f"cannot render {url}: not done within the {base.deadline:g} s deadline "
                    "(--deadline)"
                )
            try:
                size = int(page.evaluate("document.documentElement.outerHTML.length"))
                if size > base.max_bytes:
                    raise _too_large(url, size, base.max_bytes)
                content = page.content().encode("utf-8")
                final_url = page.url
            except Error as err:
                raise NetworkError(f"cannot render {url}: {_first_line(err)}") from None
            if len(content) > base.max_bytes:
                raise _too_large(url, len(content), base.max_bytes)
            return Page(
                url=url,
                final_url=final_url if final_url.startswith(("http://", "https://")) else url,
                status=200,
                media_type="text/html",
                charset="utf-8",
                content=content,
                fetched_at=datetime.now(UTC),
            )
        finally:
            fetcher.settings = base
            with contextlib.suppress(Error):
                context.close()

    def _left_ms(self, state: _Render) -> float:
        """Return the milliseconds left for the page (at least 1), raising when none are."""
        left = state.ends_at - self._clock()
        if left <= 0:
            raise NetworkError(
                f"cannot render {state.url}: not done within the {state.seconds:g} s deadline "
                "(--deadline)"
            )
        return max(1.0, left * 1000)

    def _guarded(self, route: Route, state: _Render, fetcher: Fetcher) -> None:
        """Answer one request; a request the page dropped meanwhile is no error of ours."""
        from playwright.sync_api import Error

        with contextlib.suppress(Error):
            self._answer(route, state, fetcher)

    def _answer(self, route: Route, state: _Render, fetcher: Fetcher) -> None:
        """Answer one request of the page with the fetcher, or refuse it."""
        request = route.request
        url = request.url
        main = request.is_navigation_request() and request.frame.parent_frame is None
        left = state.ends_at - self._clock()
        if (
            urlsplit(url).scheme not in {"http", "https"}
            or request.method not in {"GET", "HEAD"}
            or state.requests >= MAX_REQUESTS
            or left <= 0
            or state.document is not None
        ):
            state.late = state.late or left <= 0
            route.abort("blockedbyclient")
            return
        page = state.redirected.pop(url, None)
        if page is None:
            state.requests += 1
            fetcher.settings = dataclasses.replace(fetcher.settings, deadline=left)
            try:
                page = fetcher.get(url, trusted_from=state.url)
            except PolicydiffError as err:
                state.late = state.late or state.ends_at <= self._clock()
                if main and state.main_error is None:
                    state.main_error = err
                route.abort("failed")
                return
            state.received += len(page.content)
            if state.received > state.budget:
                if state.main_error is None:
                    state.main_error = InputError(
                        f"{state.url}: the page's resources together are over "
                        f"{state.budget} bytes ({TOTAL_FACTOR} times --max-size)"
                    )
                route.abort("failed")
                return
        if page.final_url != url:
            # Let the browser see the redirect, so that relative links resolve as served.
            state.redirected[page.final_url] = page
            route.fulfill(status=302, headers={"location": page.final_url})
            return
        if main and page.media_type not in _HTML_TYPES:
            state.document = page
            route.abort("blockedbyclient")
            return
        headers = {}
        if page.media_type:
            charset = f"; charset={page.charset}" if page.charset else ""
            headers["content-type"] = page.media_type + charset
        route.fulfill(status=page.status, headers=headers, body=page.content)


def _first_line(err: BaseException) -> str:
    """Return the first line of a Playwright error (its call log follows)."""
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def _too_large(url: str, size: int, limit: int) -> InputError:
    """Return the error for a rendered page over the size limit."""
    return InputError(
        f"{url} rendered is over the size limit ({size} bytes or more, limit {limit} "
        "bytes); raise it with --max-size"
    )
