"""Fetch web pages politely: size limit, bounded redirects, retries with backoff, rate limit.

The only user of httpx. Retries happen on connection failures, truncated bodies, 429 and
the transient 5xx statuses (500, 502, 503, 504), waiting ``backoff * 2**attempt`` seconds or
what ``Retry-After`` asks, never more than ``max_wait`` (a longer ``Retry-After`` fails at
once rather than stalling a cron job). Redirects are followed by hand, at most
``max_redirects``, and only to http(s) URLs. A rate limit spaces the starts of requests
(retries included) at least ``60 / rate`` seconds apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import urljoin, urlsplit

from policydiff import __version__
from policydiff.errors import InputError, NetworkError, UsageError

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"policydiff/{__version__} (+https://github.com/policydiff/policydiff)"
# The same default as snapshot import (ingest.DEFAULT_MAX_BYTES); fetch sits beside ingest
# in the layers, so the number is repeated rather than imported.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How patient and how polite a fetcher is."""

    timeout: float = 30.0
    max_bytes: int = DEFAULT_MAX_BYTES
    retries: int = 3
    backoff: float = 2.0
    max_wait: float = 120.0
    max_redirects: int = 5
    rate: float | None = None

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_bytes < 1 or self.retries < 0 or self.backoff < 0:
            raise UsageError("fetch settings must be positive")
        if self.rate is not None and self.rate <= 0:
            raise UsageError("--rate must be a positive number of requests per minute")


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched page: the bytes as received and what the server said about them."""

    url: str
    final_url: str
    status: int
    media_type: str | None
    charset: str | None
    content: bytes
    fetched_at: datetime


class HttpStatusError(NetworkError):
    """The server answered with an error status that retrying does not cure (4xx but 429)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Retry(Exception):  # noqa: N818 - control flow, never leaves this module
    """A failed attempt that may succeed later."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def check_url(url: str, *, what: str = "URL") -> str:
    """Return ``url`` if it is a one-line http(s) URL with a host, else raise ``UsageError``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in url):
        raise UsageError(f"{what} must be an http(s) URL, got {url[:80]!r}")
    return url


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (delay or HTTP date), if readable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _content_type(value: str | None) -> tuple[str | None, str | None]:
    """Split a Content-Type header into its lower-cased media type and charset."""
    if not value:
        return None, None
    media, *params = value.split(";")
    charset = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return media.strip().lower() or None, charset


class Fetcher:
    """An HTTP client for polite, bounded GET requests (use as a context manager)."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import httpx

        self.settings = settings or FetchSettings()
        self._sleep = sleep
        self._clock = clock
        self._last_start: float | None = None
        self.requests = 0
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(self.settings.timeout),
            follow_redirects=False,
        )

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
        """Close the connection pool."""
        self._client.close()

    def _throttle(self) -> None:
        """Wait until the rate limit allows the next request to start."""
        if self.settings.rate is not None and self._last_start is not None:
            wait = self._last_start + 60.0 / self.settings.rate - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_start = self._clock()

    def get(self, url: str) -> Page:
        """Fetch ``url`` (following redirects, retrying transient failures) and return it."""
        check_url(url)
        attempt = 0
        while True:
            try:
                return self._get_once(url)
            except _Retry as retry:
                if attempt >= self.settings.retries:
                    raise NetworkError(
                        f"cannot fetch {url}: {retry.reason} "
                        f"(gave up after {attempt + 1} attempt(s))"
                    ) from None
                wait = retry.wait
                if wait is None:
                    wait = self.settings.backoff * 2**attempt
                if wait > self.settings.max_wait:
                    raise NetworkError(
                        f"cannot fetch {url}: {retry.reason}; the server asks to retry after "
                        f"{wait:g} s, more than the {self.settings.max_wait:g} s limit"
                    ) from None
                self._sleep(wait)
                attempt += 1

    def _get_once(self, url: str) -> Page:
        """Make one attempt: follow redirects, read the body within the size limit."""
        import httpx

        current = url
        for _ in range(self.settings.max_redirects + 1):
            self._throttle()
            self.requests += 1
            try:
                with self._client.stream("GET", current) as response:
                    if response.status_code in _REDIRECT_STATUSES:
                        current = self._redirect_target(current, response)
                        continue
                    if response.status_code in RETRY_STATUSES:
                        raise _Retry(
                            f"HTTP {response.status_code} {response.reason_phrase}",
                            parse_retry_after(response.headers.get("retry-after")),
                        )
                    if response.status_code != 200:
                        raise HttpStatusError(
                            f"cannot fetch {current}: HTTP {response.status_code} "
                            f"{response.reason_phrase}",
                            response.status_code,
                        )
                    content = self._read_limited(current, response)
                    media_type, charset = _content_type(response.headers.get("content-type"))
                    return Page(
                        url=url,
                        final_url=current,
                        status=response.status_code,
                        media_type=media_type,
                        charset=charset,
                        content=content,
                        fetched_at=datetime.now(UTC),
                    )
            except httpx.TimeoutException:
                raise _Retry(f"timed out after {self.settings.timeout:g} s") from None
            except httpx.TransportError as err:
                # Refused connections, resets and bodies cut short (RemoteProtocolError).
                raise _Retry(str(err) or type(err).__name__) from None
        raise NetworkError(f"cannot fetch {url}: more than {self.settings.max_redirects} redirects")

    def _redirect_target(self, current: str, response: httpx.Response) -> str:
        """Return where a redirect points, refusing anything but http(s)."""
        location: str | None = response.headers.get("location")
        if not location:
            raise NetworkError(f"cannot fetch {current}: redirect without a Location header")
        target: str = urljoin(current, location.strip())
        if urlsplit(target).scheme not in {"http", "https"}:
            raise NetworkError(f"cannot fetch {current}: redirect to a non-http(s) URL {target!r}")
        return target

    def _read_limited(self, url: str, response: httpx.Response) -> bytes:
        """Read the body, refusing it as soon as it passes the size limit."""
        limit = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(url, int(declared), limit)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _too_large(url, size, limit)
            chunks.append(chunk)
        return b"".join(chunks)


def _too_large(url: str, size: int, limit: int) -> InputError:
    """Return the error for a page over the size limit."""
    return InputError(
        f"{url} is over the size limit ({size} bytes or more, limit {limit} bytes); "
        "raise it with --max-size"
    )
