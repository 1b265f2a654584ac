"""The HTTP client against a real local server: retries, Retry-After, redirects, limits, rate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from httpserver import LocalServer, Reply
from policydiff import __version__
from policydiff.core.errors import InputError, NetworkError, UsageError
from policydiff.sources.fetch import (
    USER_AGENT,
    Fetcher,
    FetchSettings,
    check_url,
    parse_retry_after,
)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


class FakeClock:
    """A clock that only moves when slept on: records every wait, takes no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def fetcher(clock: FakeClock | None = None, **settings: object) -> Fetcher:
    clock = clock or FakeClock()
    return Fetcher(FetchSettings(**settings), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]


def test_get_returns_body_type_and_sends_an_honest_user_agent(server: LocalServer) -> None:
    server.route("/p", Reply(body=b"<p>hi</p>", content_type="text/html; charset=ISO-8859-1"))
    with fetcher() as client:
        page = client.get(server.url("/p"))
    assert page.content == b"<p>hi</p>"
    assert (page.status, page.media_type, page.charset) == (200, "text/html", "ISO-8859-1")
    assert page.final_url == page.url == server.url("/p")
    assert page.fetched_at.tzinfo is UTC
    assert server.requests[0].headers["user-agent"] == USER_AGENT
    assert f"policydiff/{__version__} (+https://github.com/policydiff/policydiff)" == USER_AGENT


def test_5xx_is_retried_with_exponential_backoff(server: LocalServer) -> None:
    server.route("/p", Reply(503), Reply(502), Reply(500), Reply(body=b"ok"))
    clock = FakeClock()
    with fetcher(clock, backoff=0.5, retries=3) as client:
        assert client.get(server.url("/p")).content == b"ok"
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert len(server.requests) == 4


def test_gives_up_after_the_retries(server: LocalServer) -> None:
    server.route("/p", Reply(503))
    clock = FakeClock()
    with fetcher(clock, backoff=0.01, retries=2) as client, pytest.raises(NetworkError) as err:
        client.get(server.url("/p"))
    assert "HTTP 503 Service Unavailable" in str(err.value)
    assert "3 attempt(s)" in str(err.value)
    assert len(server.requests) == 3


def test_429_honours_retry_after(server: LocalServer) -> None:
    server.route("/p", Reply(429, headers={"Retry-After": "7"}), Reply(body=b"ok"))
    clock = FakeClock()
    with fetcher(clock, backoff=0.01) as client:
        assert client.get(server.url("/p")).content == b"ok"
    assert clock.sleeps == [7.0]


def test_a_retry_after_beyond_the_limit_fails_at_once(server: LocalServer) -> None:
    server.route("/p", Reply(429, headers={"Retry-After": "3600"}))
    clock = FakeClock()
    with fetcher(clock, max_wait=60) as client, pytest.raises(NetworkError, match="3600 s"):
        client.get(server.url("/p"))
    assert clock.sleeps == []
    assert len(server.requests) == 1


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_client_errors_are_not_retried(server: LocalServer) -> None:
    with fetcher() as client, pytest.raises(NetworkError, match="HTTP 404 Not Found"):
        client.get(server.url("/missing"))
    assert len(server.requests) == 1


def test_redirects_are_followed_within_the_limit(server: LocalServer) -> None:
    server.route("/a", Reply(301, headers={"Location": "/b"}))
    server.route("/b", Reply(302, headers={"Location": server.url("/c")}))
    server.route("/c", Reply(body=b"here"))
    with fetcher() as client:
        page = client.get(server.url("/a"))
    assert (page.content, page.url, page.final_url) == (b"here", server.url("/a"), server.url("/c"))


def test_too_many_redirects(server: LocalServer) -> None:
    for i in range(7):
        server.route(f"/r{i}", Reply(307, headers={"Location": f"/r{i + 1}"}))
    with fetcher() as client, pytest.raises(NetworkError, match="more than 5 redirects"):
        client.get(server.url("/r0"))
    assert len(server.requests) == 6
    server.requests.clear()
    with fetcher(max_redirects=1) as client, pytest.raises(NetworkError, match="more than 1"):
        client.get(server.url("/r0"))


def test_redirects_to_other_schemes_are_refused(server: LocalServer) -> None:
    server.route("/a", Reply(302, headers={"Location": "file:///etc/passwd"}))
    server.route("/b", Reply(302))
    with fetcher() as client:
        with pytest.raises(NetworkError, match="non-http"):
            client.get(server.url("/a"))
        with pytest.raises(NetworkError, match="without a Location"):
            client.get(server.url("/b"))


def test_size_limit_declared_and_streamed(server: LocalServer) -> None:
    server.route("/big", Reply(body=b"x" * 2000))
    server.route("/stream", Reply(body=b"x" * 2000, unsized=True))
    server.route("/fits", Reply(body=b"x" * 1000, unsized=True))
    with fetcher(max_bytes=1000) as client:
        with pytest.raises(InputError, match=r"size limit.*--max-size"):
            client.get(server.url("/big"))
        with pytest.raises(InputError, match="size limit"):
            client.get(server.url("/stream"))
        assert len(client.get(server.url("/fits")).content) == 1000


def test_truncated_body_is_retried(server: LocalServer) -> None:
    server.route("/p", Reply(body=b"a" * 5000, truncate=True), Reply(body=b"a" * 5000))
    with fetcher(backoff=0) as client:
        assert client.get(server.url("/p")).content == b"a" * 5000
    server.route("/q", Reply(body=b"a" * 5000, truncate=True))
    with fetcher(backoff=0, retries=1) as client, pytest.raises(NetworkError, match="2 attempt"):
        client.get(server.url("/q"))


def test_timeouts_are_retried_then_reported(server: LocalServer) -> None:
    server.route("/slow", Reply(body=b"late", delay=0.5))
    with (
        fetcher(timeout=0.05, retries=1, backoff=0) as client,
        pytest.raises(NetworkError, match="timed out"),
    ):
        client.get(server.url("/slow"))


def test_rate_limit_spaces_request_starts(server: LocalServer) -> None:
    server.route("/p", Reply(503), Reply(body=b"ok"))
    clock = FakeClock()
    with fetcher(clock, rate=6.0, backoff=1.0) as client:
        client.get(server.url("/p"))
        client.get(server.url("/p"))
    # 10 s apart at 6 a minute: the 1 s backoff counts towards the spacing.
    assert clock.sleeps == [1.0, 9.0, 10.0]


def test_connection_refused_is_a_network_error() -> None:
    with LocalServer() as closed:
        url = closed.url("/")
    with fetcher(retries=0) as client, pytest.raises(NetworkError, match="cannot fetch"):
        client.get(url)


@pytest.mark.parametrize("url", ["ftp://e.test/x", "e.test/x", "https://", "https://e.test/a b"])
def test_check_url_refuses_non_http_urls(url: str) -> None:
    with pytest.raises(UsageError):
        check_url(url)
    with fetcher() as client, pytest.raises(UsageError):
        client.get(url)


def test_settings_are_validated() -> None:
    with pytest.raises(UsageError):
        FetchSettings(rate=0)
    with pytest.raises(UsageError):
        FetchSettings(timeout=0)
