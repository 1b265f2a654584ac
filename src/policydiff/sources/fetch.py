"""Fetch web pages politely: size limit, bounded redirects, retries with backoff, rate limit.

The only user of httpx. Retries happen on connection failures, truncated bodies, 429 and
the transient 5xx statuses (500, 502, 503, 504), waiting ``backoff * 2**attempt`` seconds or
what ``Retry-After`` asks, never more than ``max_wait`` (a longer ``Retry-After`` fails at
once rather than stalling a cron job). Redirects are followed by hand, at most
``max_redirects``, and only to http(s) URLs. A rate limit spaces the starts of requests
(retries included) at least ``60 / rate`` seconds apart.

A page has a ``deadline``: from its first request to its last byte, all attempts, redirects
and retry waits included. It is checked between the reads of the body (a server sending
a byte a second is cut off), and no single network wait is longer than the time left when
the request started, so a page takes at most ``deadline`` plus one ``timeout``.

Addresses: unless ``allow_private`` is set, a page whose URL is public may only lead to
public addresses. The starting URL's own class is trusted (the user typed
``http://127.0.0.1:8080/`` or an intranet name on purpose), and public addresses are
always allowed; every other class (loopback, private, link-local, unspecified, multicast,
reserved, in IPv4, IPv6 or IPv4 embedded in IPv6) is refused for redirects. Each hop's host
is checked before its request: literal addresses in any form ``getaddrinfo`` accepts
(``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``) without DNS, ``localhost`` names as
loopback (RFC 6761), other names by resolving them and checking every address. Against DNS
rebinding, direct connections resolve the name again at connect time, check every address
again, and connect only to an address so checked, never to a second, unchecked answer.
Through a proxy the proxy resolves names, so only the first check applies there.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urljoin, urlsplit

from policydiff import __version__
from policydiff.core.errors import InputError, NetworkError, UsageError

if TYPE_CHECKING:
    import httpcore
    import httpx

USER_AGENT = f"policydiff/{__version__} (+https://github.com/policydiff/policydiff)"
# The same default as snapshot import (ingest.DEFAULT_MAX_BYTES); fetch sits beside ingest
# in the layers, so the number is repeated rather than imported.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_DEADLINE = 300.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses to check and connect to; raises OSError when it cannot.
Resolver = Callable[[str, int], list[IPAddress]]
# address -> its class: "public" or one of the non-public classes below.
Classifier = Callable[[IPAddress], str]

PUBLIC = "public"
# The host forms inet_aton (and so getaddrinfo) reads as an IPv4 address: 127.1, 0x7f.1,
# 2130706433, 0177.0.0.1. Only these are tried without DNS.
_INET_ATON_FORM = re.compile(r"[0-9a-fA-FxX.]+")
# NAT64 prefixes (RFC 6052, RFC 8215): the last 32 bits are an IPv4 address.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


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
    deadline: float = DEFAULT_DEADLINE
    allow_private: bool = False

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_bytes < 1 or self.retries < 0 or self.backoff < 0:
            raise UsageError("fetch settings must be positive")
        if self.deadline <= 0:
            raise UsageError("--deadline must be a positive number of seconds")
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
    # Validators for a later conditional request (``ETag``, ``Last-Modified``), if sent.
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """Whether the server answered a conditional request with 304 Not Modified."""
        return self.status == 304


class HttpStatusError(NetworkError):
    """The server answered with an error status that retrying does not cure (4xx but 429)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AddressRefusedError(InputError):
    """A URL led to an address of a class the fetch may not reach (loopback, private...)."""


class _Retry(Exception):  # noqa: N818 - control flow, never leaves this module
    """A failed attempt that may succeed later."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def literal_address(host: str) -> IPAddress | None:
    """Return the address ``host`` spells literally (any form getaddrinfo reads), without DNS."""
    text = host.strip("[]").replace("%25", "%")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _INET_ATON_FORM.fullmatch(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 one carries (mapped, compatible, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    value = int(address)
    if value >> 32 == 0 and value > 1:
        # IPv4-compatible (::a.b.c.d, deprecated but still routed by some stacks).
        return ipaddress.IPv4Address(value)
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def address_class(address: IPAddress) -> str:
    """Return ``public`` or the non-public class of ``address`` (IPv4 inside IPv6 included)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and address_class(inner) != PUBLIC:
            return address_class(inner)
        if address.is_site_local:
            return "private"
    for name, test in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if test:
            return name
    # Shared address space (100.64.0.0/10) and the like: not reachable from the internet.
    return PUBLIC if address.is_global else "private"


def is_localhost_name(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a name under it (always loopback, RFC 6761)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Return the addresses of ``host``: a literal as it is, else what getaddrinfo answers."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


class _AddressGuard:
    """Which address classes the current page may reach, and the checks that enforce it."""

    def __init__(self, resolve: Resolver, classify: Classifier) -> None:
        self.resolve = resolve
        self.classify = classify
        # None: every class allowed (--allow-private).
        self.allowed: frozenset[str] | None = None

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Return the addresses of ``host``: a literal without DNS, else the resolver's."""
        literal = literal_address(host)
        return [literal] if literal is not None else self.resolve(host, port)

    def classes(self, host: str, port: int) -> list[tuple[IPAddress | None, str]]:
        """Return the addresses of ``host`` with their classes ([] if it does not resolve)."""
        if literal_address(host) is None and is_localhost_name(host):
            return [(None, "loopback")]
        try:
            addresses = self.addresses(host, port)
        except (OSError, UnicodeError):
            # Unresolvable here: a direct connection fails (or is checked when it resolves),
            # a proxy resolves the name itself.
            return []
        return [(address, self.classify(address)) for address in addresses]

    def refused(
        self, found: Iterable[tuple[IPAddress | None, str]]
    ) -> tuple[IPAddress | None, str] | None:
        """Return the first of ``found`` whose class is not allowed, if any."""
        if self.allowed is None:
            return None
        return next(((a, kind) for a, kind in found if kind not in self.allowed), None)

    def check(self, url: str, host: str, found: Iterable[tuple[IPAddress | None, str]]) -> None:
        """Raise ``AddressRefusedError`` if a redirect's host has an address not allowed."""
        bad = self.refused(found)
        if bad is not None:
            raise AddressRefusedError(
                f"refused to fetch {url[:200]}: {_describe(host, *bad)}, and the page did "
                "not start there; pass --allow-private to allow it"
            )


def _describe(host: str, address: IPAddress | None, kind: str) -> str:
    """Return e.g. ``0x7f.1 (127.0.0.1) is a loopback address``."""
    shown = host if address is None or str(address) == host else f"{host} ({address})"
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{shown} is {article} {kind} address"


def _guarded_backend(guard: _AddressGuard) -> httpcore.NetworkBackend:
    """Return a network backend that connects only to addresses the guard has checked."""
    import httpcore

    class GuardedBackend(httpcore.SyncBackend):
        """Resolve once, check every address, connect to a checked one (no second lookup)."""

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore.NetworkStream:
            try:
                addresses = guard.addresses(host, port)
            except (OSError, UnicodeError) as err:
                raise httpcore.ConnectError(f"cannot resolve {host}: {err}") from None
            if not addresses:
                raise httpcore.ConnectError(f"cannot resolve {host}: no address")
            bad = guard.refused((a, guard.classify(a)) for a in addresses)
            if bad is not None:
                # Checked before as something allowed: the name's answer changed (rebinding).
                raise AddressRefusedError(
                    f"refused to connect to {host}:{port}: at connect time {_describe(host, *bad)}"
                    "; pass --allow-private to allow it"
                )
            *others, last = addresses
            for address in others:
                try:
                    return super().connect_tcp(
                        str(address), port, timeout, local_address, socket_options
                    )
                except (httpcore.ConnectError, httpcore.ConnectTimeout):
                    continue
            return super().connect_tcp(str(last), port, timeout, local_address, socket_options)

    return GuardedBackend()


def check_url(url: str, *, what: str = "URL") -> str:
    """Return ``url`` if it is a one-line http(s) URL with a host, else raise ``UsageError``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in url):
        raise UsageError(f"{what} must be an http(s) URL, got {url[:80]!r}")
    _host_port(url, what=what)
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
    """An HTTP client for polite, bounded GET requests (use as a context manager).

    ``resolve`` and ``classify`` decide which addresses a host has and which class each
    is; the defaults are the system resolver and ``address_class``.
    """

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        resolve: Resolver = resolve_host,
        classify: Classifier = address_class,
    ) -> None:
        self.settings = settings or FetchSettings()
        self._sleep = sleep
        self._clock = clock
        self._last_start: float | None = None
        self._ends_at: float | None = None
        self.requests = 0
        self._guard = _AddressGuard(resolve, classify)
        self._client = self._new_client()

    def _new_client(self) -> httpx.Client:
        """Return an httpx client whose direct connections go through the address guard."""
        import httpcore
        import httpx

        client = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(self.settings.timeout),
            follow_redirects=False,
        )
        # httpx builds its direct transport itself (so that proxy settings from the
        # environment keep working); its connection pool takes the network backend.
        pool = getattr(client._transport, "_pool", None)  # noqa: SLF001 - see above
        if not isinstance(pool, httpcore.ConnectionPool):
            client.close()
            raise TypeError("this httpx version hides its connection pool; cannot guard it")
        pool._network_backend = _guarded_backend(self._guard)  # noqa: SLF001 - see above
        return client

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

    def _allow_from(self, url: str) -> None:
        """Set the address classes this page may reach: public, and its own URL's classes."""
        if self.settings.allow_private:
            allowed = None
        else:
            host, port = _host_port(url)
            allowed = frozenset({PUBLIC, *(kind for _, kind in self._guard.classes(host, port))})
        if allowed != self._guard.allowed:
            # A pooled connection was checked against the previous page's classes.
            self._client.close()
            self._client = self._new_client()
            self._guard.allowed = allowed

    def get(
        self,
        url: str,
        *,
        validators: dict[str, str] | None = None,
        trusted_from: str | None = None,
    ) -> Page:
        """Fetch ``url`` (following redirects, retrying transient failures) and return it.

        ``validators`` (``If-None-Match``, ``If-Modified-Since``) make the request
        conditional: a 304 answer comes back as an empty page whose ``not_modified`` is set.
        ``trusted_from``: the page this request is made for (a script's or an image's
        page); then that page's address classes are trusted, not ``url``'s own.
        """
        check_url(url)
        headers = {
            name: value
            for name, value in (validators or {}).items()
            if name in {"If-None-Match", "If-Modified-Since"} and value.isprintable()
        }
        self._ends_at = None
        attempt = 0
        while True:
            try:
                # Each attempt: an intranet name that did not resolve before may now.
                self._allow_from(trusted_from or url)
                if trusted_from is not None:
                    host, port = _host_port(url)
                    self._guard.check(url, host, self._guard.classes(host, port))
                return self._get_once(url, headers)
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
                if self._ends_at is not None and self._clock() + wait >= self._ends_at:
                    raise NetworkError(
                        f"cannot fetch {url}: {retry.reason}; no time left to retry within "
                        f"the {self.settings.deadline:g} s deadline (--deadline)"
                    ) from None
                self._sleep(wait)
                attempt += 1

    def _time_left(self, url: str) -> float:
        """Return the seconds left for this page, raising ``NetworkError`` when none are."""
        if self._ends_at is None:
            self._ends_at = self._clock() + self.settings.deadline
        left = self._ends_at - self._clock()
        if left <= 0:
            raise NetworkError(
                f"cannot fetch {url}: not done within the {self.settings.deadline:g} s "
                "deadline (--deadline)"
            )
        return left

    def _get_once(self, url: str, headers: dict[str, str] | None = None) -> Page:
        """Make one attempt: follow redirects, read the body within the size limit."""
        import httpx

        current = url
        for _ in range(self.settings.max_redirects + 1):
            self._throttle()
            # The deadline starts with the first request, after the rate limit's wait.
            left = self._time_left(url)
            self.requests += 1
            try:
                with self._client.stream(
                    "GET",
                    current,
                    headers=headers,
                    timeout=httpx.Timeout(min(self.settings.timeout, left)),
                ) as response:
                    if response.status_code in _REDIRECT_STATUSES:
                        current = self._redirect_target(current, response)
                        continue
                    if response.status_code == 304 and headers:
                        return Page(
                            url=url,
                            final_url=current,
                            status=304,
                            media_type=None,
                            charset=None,
                            content=b"",
                            fetched_at=datetime.now(UTC),
                        )
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
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                    )
            except httpx.TimeoutException:
                self._time_left(url)
                raise _Retry(f"timed out after {self.settings.timeout:g} s") from None
            except httpx.TransportError as err:
                # Refused connections, resets and bodies cut short (RemoteProtocolError).
                raise _Retry(str(err) or type(err).__name__) from None
        raise NetworkError(f"cannot fetch {url}: more than {self.settings.max_redirects} redirects")

    def _redirect_target(self, current: str, response: httpx.Response) -> str:
        """Return where a redirect points, refusing non-http(s) URLs and addresses not allowed."""
        location: str | None = response.headers.get("location")
        if not location:
            raise NetworkError(f"cannot fetch {current}: redirect without a Location header")
        target: str = urljoin(current, location.strip())
        if urlsplit(target).scheme not in {"http", "https"}:
            raise NetworkError(f"cannot fetch {current}: redirect to a non-http(s) URL {target!r}")
        try:
            host, port = _host_port(target)
        except UsageError:
            raise NetworkError(
                f"cannot fetch {current}: redirect to an invalid URL {target[:200]!r}"
            ) from None
        # Checked before the request: a refused redirect sends nothing to its target.
        self._guard.check(target, host, self._guard.classes(host, port))
        return target

    def _read_limited(self, url: str, response: httpx.Response) -> bytes:
        """Read the body, refusing it past the size limit or the page's deadline."""
        limit = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(url, int(declared), limit)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            self._time_left(url)
            size += len(chunk)
            if size > limit:
                raise _too_large(url, size, limit)
            chunks.append(chunk)
        return b"".join(chunks)


def _host_port(url: str, *, what: str = "URL") -> tuple[str, int]:
    """Return the host httpx connects to for ``url`` (as it will spell it) and the port."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as err:
        raise UsageError(f"invalid {what} {url[:200]!r}: {err}") from None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.raw_host.decode("ascii"), port


def _too_large(url: str, size: int, limit: int) -> InputError:
    """Return the error for a page over the size limit."""
    return InputError(
        f"{url} is over the size limit ({size} bytes or more, limit {limit} bytes); "
        "raise it with --max-size"
    )
