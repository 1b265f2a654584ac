"""Untrusted network input: redirects to local addresses, slow servers, deep pages, odd codecs.

A captured page and a Wayback row are written by someone else. They may redirect the
fetcher to the capturing machine or its network (``127.0.0.1:8080/admin``, the cloud
metadata address 169.254.169.254, an intranet host), drip their body a byte a second,
nest 100,000 elements, or declare a charset that is no character set. Each must end in
one ``Error:`` line and exit 2 with the store unchanged.

Traffic: every test talks only to the local server on 127.0.0.1. A guard built on
Python's audit hooks (``socket.getaddrinfo`` and ``socket.connect`` events) watches every
lookup and connection the code under test makes while a test runs, and blocks (and
records) any whose host is not ``127.0.0.1``, so no packet can reach another address even
when the code is wrong; the tests assert that a refusal happened with nothing recorded by
the guard, that is before any lookup or connection. Where a test needs a public start,
the fetcher's own ``classify`` (which class an address is) or ``resolve`` (which addresses
a name has) parameter stands in for the internet: the local server's 127.0.0.1 is
declared public, or a test name resolves to chosen addresses. Nothing of policydiff is
replaced.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import REPO, run_cli
from httpserver import LocalServer, Reply
from policydiff.core.errors import NetworkError
from policydiff.sources.fetch import (
    AddressRefusedError,
    Fetcher,
    FetchSettings,
    IPAddress,
    address_class,
)
from test_bad_input import files_under, store_state

POLICY = "acme/privacy"
FAST = ["--backoff", "0", "--retries", "0", "--timeout", "5"]
PAGE = b"<html><body><main><h1>Privacy</h1><p>We keep your data safe.</p></main></body></html>"


# --------------------------------------------------------------------------- the guard


class NetworkGuard:
    """Blocks and records every lookup or connection to anything but 127.0.0.1."""

    def __init__(self) -> None:
        self.active = False
        self.blocked: list[tuple[str, str]] = []
        self.lookups: list[str] = []
        self._owner: int | None = None

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook: only socket events, only while a test has the guard on."""
        if not self.active or not event.startswith("socket."):
            return
        host: object = None
        if event == "socket.getaddrinfo":
            host = args[0]
            self.lookups.append(str(host))
        elif event == "socket.connect":
            address = args[1]
            host = address[0] if isinstance(address, tuple) else address
        elif event in {"socket.gethostbyname", "socket.gethostbyaddr"}:
            host = args[0]
        else:
            return
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if host != "127.0.0.1":
            self.blocked.append((event, str(host)))
            raise socket.gaierror(f"blocked by the test's network guard: {host}")


GUARD = NetworkGuard()
sys.addaudithook(GUARD.hook)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture
def guard(server: LocalServer) -> Iterator[NetworkGuard]:
    """The guard, on for the test (after the server is up: binding looks up its own name)."""
    GUARD.blocked.clear()
    GUARD.lookups.clear()
    GUARD.active = True
    try:
        yield GUARD
    finally:
        GUARD.active = False


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    return path


def capture(store: Path, url: str, *extra: str) -> tuple[int, str, str]:
    result = run_cli(["--store", str(store), "capture", url, "--policy", POLICY, *FAST, *extra])
    return result.exit_code, result.stdout, result.stderr


def one_error(stderr: str) -> str:
    """Return the one ``Error:`` line ``stderr`` must consist of."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# --------------------------------------------------------------------------- item 10


# Redirect targets of another class than the start (the local server, loopback), each
# spelled the way an attacker would; all are refused before any lookup or connection.
NON_PUBLIC_TARGETS = [
    ("private-ipv4", "http://10.0.0.1/admin", "10.0.0.1 is a private"),
    ("private-172", "http://172.16.5.4:8080/", "172.16.5.4 is a private"),
    ("private-192", "http://192.168.1.1/", "192.168.1.1 is a private"),
    ("shared-cgnat", "http://100.64.0.1/", "100.64.0.1 is a private"),
    ("metadata-link-local", "http://169.254.169.254/latest/meta-data/", "is a link-local"),
    ("unspecified", "http://0.0.0.0:8080/", "0.0.0.0 is an unspecified"),
    ("unspecified-zero", "http://0:8080/", "0 (0.0.0.0) is an unspecified"),
    ("multicast", "http://224.0.0.1/", "224.0.0.1 is a multicast"),
    ("reserved", "http://240.0.0.1/", "240.0.0.1 is a reserved"),
    ("broadcast", "http://255.255.255.255/", "is a reserved"),
    ("decimal-private", "http://167772161/", "167772161 (10.0.0.1) is a private"),
    ("hex-private", "http://0xa.0.0.1/", "0xa.0.0.1 (10.0.0.1) is a private"),
    ("short-private", "http://10.1/", "10.1 (10.0.0.1) is a private"),
    ("decimal-metadata", "http://2852039166/", "(169.254.169.254) is a link-local"),
    ("ipv6-link-local", "http://[fe80::1]/", "is a link-local"),
    ("ipv6-unique-local", "http://[fc00::1]/", "is a private"),
    ("ipv6-site-local", "http://[fec0::1]/", "is a private"),
    ("ipv6-multicast", "http://[ff02::1]/", "is a multicast"),
    ("ipv6-unspecified", "http://[::]/", "is an unspecified"),
    ("ipv4-mapped", "http://[::ffff:10.0.0.1]/", "is a private"),
    ("ipv4-mapped-hex", "http://[::ffff:a9fe:a9fe]/", "is a link-local"),
    ("ipv4-compatible", "http://[::a9fe:a9fe]/", "is a link-local"),
    ("6to4-private", "http://[2002:a00:1::]/", "is a private"),
    ("nat64-metadata", "http://[64:ff9b::a9fe:a9fe]/", "is a link-local"),
]


@pytest.mark.parametrize(
    ("target", "says"),
    [pytest.param(target, says, id=name) for name, target, says in NON_PUBLIC_TARGETS],
)
def test_redirect_to_a_non_public_address_is_refused_before_any_connection(
    store: Path, server: LocalServer, guard: NetworkGuard, target: str, says: str
) -> None:
    server.route("/start", Reply(302, headers={"Location": target}))
    before = store_state(store)

    code, out, err = capture(store, server.url("/start"))

    assert (code, out) == (2, "")
    line = one_error(err)
    assert line.startswith(f"Error: refused to fetch {target}"), line
    assert says in line
    assert "--allow-private" in line
    assert server.paths() == ["/start"]
    assert guard.blocked == []
    # The only lookup was of the local server's own address, parsed without DNS.
    assert set(guard.lookups) <= {"127.0.0.1"}
    assert store_state(store) == before


def test_an_octal_host_httpx_cannot_parse_is_refused(
    store: Path, server: LocalServer, guard: NetworkGuard
) -> None:
    # httpx refuses the Location header itself (it reads no octal IPv4 forms).
    server.route("/start", Reply(302, headers={"Location": "http://0177.0.0.1/admin"}))
    code, _, err = capture(store, server.url("/start"))
    assert code == 2
    assert "Invalid IPv4 address: '0177.0.0.1'" in one_error(err)
    assert guard.blocked == []


def test_a_start_url_httpx_cannot_parse_is_refused(store: Path, guard: NetworkGuard) -> None:
    code, _, err = capture(store, "http://0177.0.0.1/policy")
    assert code == 2
    assert one_error(err) == (
        "Error: invalid URL 'http://0177.0.0.1/policy': Invalid IPv4 address: '0177.0.0.1'"
    )
    assert guard.blocked == []


def declared_public(address: IPAddress) -> str:
    """The local server's address plays a public site; every other address is what it is."""
    return "public" if address == ipaddress.IPv4Address("127.0.0.1") else address_class(address)


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/admin",
        "http://LOCALHOST.:{port}/admin",
        "http://admin.localhost:{port}/",
        "http://127.0.0.2:{port}/admin",
        "http://2130706434:{port}/admin",
        "http://0x7f.0.0.2:{port}/admin",
        "http://127.2:{port}/admin",
        "http://[::1]:{port}/admin",
        "http://[::ffff:127.0.0.2]:{port}/admin",
    ],
)
def test_a_public_page_cannot_redirect_to_loopback(
    server: LocalServer, guard: NetworkGuard, target: str
) -> None:
    port = server.base.rsplit(":", 1)[1]
    location = target.format(port=port)
    server.route("/start", Reply(302, headers={"Location": location}))
    with (
        Fetcher(FetchSettings(retries=0), classify=declared_public) as fetcher,
        pytest.raises(AddressRefusedError, match="is a loopback address") as refused,
    ):
        fetcher.get(server.url("/start"))
    assert location in str(refused.value)
    assert server.paths() == ["/start"]
    assert guard.blocked == []


def test_allow_private_follows_the_redirect(server: LocalServer, guard: NetworkGuard) -> None:
    port = server.base.rsplit(":", 1)[1]
    server.route("/start", Reply(302, headers={"Location": f"http://127.2:{port}/admin"}))
    settings = FetchSettings(retries=0, allow_private=True)
    with (
        Fetcher(settings, classify=declared_public) as fetcher,
        pytest.raises(NetworkError, match="cannot fetch") as failed,
    ):
        fetcher.get(server.url("/start"))
    # Followed: the connection to 127.0.0.2 was tried, and stopped by the guard alone.
    assert not isinstance(failed.value, AddressRefusedError)
    assert guard.blocked == [("socket.getaddrinfo", "127.0.0.2")]


def test_a_loopback_start_may_redirect_within_loopback_and_to_public(
    store: Path, server: LocalServer, guard: NetworkGuard
) -> None:
    # The user asked for 127.0.0.1: its class is trusted, so tests and local servers work.
    server.route("/start", Reply(302, headers={"Location": "/policy"}))
    server.route("/policy", Reply(body=PAGE))
    code, out, err = capture(store, server.url("/start"))
    assert (code, err) == (0, "")
    assert out.startswith(f"{POLICY}: recorded version 1")
    assert guard.blocked == []


@pytest.mark.parametrize(
    "how",
    [["--allow-private"], ["config"]],
    ids=["option", "setting"],
)
def test_allow_private_lifts_the_refusal(
    store: Path, server: LocalServer, guard: NetworkGuard, how: list[str]
) -> None:
    server.route("/start", Reply(302, headers={"Location": "http://169.254.169.254/latest/"}))
    if how == ["config"]:
        guard.active = False
        set_ = run_cli(["--store", str(store), "config", "set", "fetch.allow_private", "yes"])
        assert set_.exit_code == 0, set_.stderr
        guard.active = True
        how = []
    code, _, err = capture(store, server.url("/start"), *how)
    # Followed: the connection was tried (and stopped by the guard, so nothing was sent).
    assert code == 2
    assert "refused to fetch" not in err
    assert one_error(err).startswith("Error: cannot fetch")
    assert guard.blocked == [("socket.getaddrinfo", "169.254.169.254")]


def test_a_name_is_checked_by_every_address_it_resolves_to(
    server: LocalServer, guard: NetworkGuard
) -> None:
    asked: list[str] = []
    names = {
        "intranet.test": ["10.1.2.3"],
        "mixed.test": ["93.184.215.14", "10.1.2.3"],
    }

    def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(a) for a in names[host]]

    for name, shown in [("intranet.test", "(10.1.2.3)"), ("mixed.test", "(10.1.2.3)")]:
        server.route("/start", Reply(302, headers={"Location": f"http://{name}/"}))
        with (
            Fetcher(FetchSettings(retries=0), resolve=resolve) as fetcher,
            pytest.raises(AddressRefusedError, match="is a private address") as refused,
        ):
            fetcher.get(server.url("/start"))
        assert f"{name} {shown}" in str(refused.value)
    assert asked == ["intranet.test", "mixed.test"]
    assert guard.blocked == []


def test_dns_rebinding_is_checked_at_connect_time(server: LocalServer, guard: NetworkGuard) -> None:
    """A name public when checked and loopback when connected is refused, nothing is sent."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(a) for a in next(answers)]

    port = int(server.base.rsplit(":", 1)[1])
    with (
        Fetcher(FetchSettings(retries=0), resolve=rebinding) as fetcher,
        pytest.raises(
            AddressRefusedError,
            match=r"refused to connect to policy\.test:\d+: at connect time policy\.test "
            r"\(127\.0\.0\.1\) is a loopback address",
        ),
    ):
        fetcher.get(f"http://policy.test:{port}/start")
    # Once to classify the start, once at connect time; connected to neither answer.
    assert asked == ["policy.test", "policy.test"]
    assert server.paths() == []
    assert guard.blocked == []


def test_wayback_capture_redirecting_to_a_private_address_fails_alone(
    store: Path, server: LocalServer, guard: NetworkGuard
) -> None:
    import json

    rows = [
        ["timestamp", "original", "digest", "statuscode", "mimetype"],
        ["20200101000000", "https://acme.example/privacy", "A", "200", "text/html"],
    ]
    server.route("/cdx/search/cdx", Reply(body=json.dumps(rows).encode()))
    server.route(
        "/web/20200101000000id_/https://acme.example/privacy",
        Reply(302, headers={"Location": "http://10.0.0.1/admin"}),
    )
    before = store_state(store)
    result = run_cli(
        [
            *("--store", str(store), "wayback", "https://acme.example/privacy"),
            *("--policy", POLICY, "--endpoint", server.base, "--rate", "6000", *FAST),
        ]
    )
    assert result.exit_code == 2
    assert "failed: refused to fetch http://10.0.0.1/admin" in result.stdout
    assert result.stderr.splitlines()[-1] == "Error: 1 capture(s) failed; re-run to retry them"
    assert guard.blocked == []
    assert files_under(store) == before["files"]


# --------------------------------------------------------------------------- deadline


def test_a_slow_drip_server_is_cut_off_at_the_deadline(
    store: Path, server: LocalServer, guard: NetworkGuard
) -> None:
    # 400 bytes at one every 50 ms: 20 s, each read well inside the 5 s --timeout.
    server.route("/drip", Reply(body=PAGE * 4, drip=0.05))
    before = store_state(store)
    started = time.monotonic()
    code, out, err = capture(store, server.url("/drip"), "--deadline", "1", "--retries", "2")
    took = time.monotonic() - started
    assert (code, out) == (2, "")
    assert "not done within the 1 s deadline (--deadline)" in one_error(err)
    assert took < 4, took
    # The deadline covers the page, retries included: no second attempt was started.
    assert server.paths() == ["/drip"]
    assert store_state(store) == before


def test_no_retry_is_started_that_the_deadline_cannot_wait_for(server: LocalServer) -> None:
    server.route("/busy", Reply(503, headers={"Retry-After": "50"}))
    waits: list[float] = []
    with (
        Fetcher(FetchSettings(deadline=30, max_wait=120), sleep=waits.append) as fetcher,
        pytest.raises(NetworkError, match="no time left to retry within the 30 s deadline"),
    ):
        fetcher.get(server.url("/busy"))
    assert waits == []


# --------------------------------------------------------------------------- deep HTML


def nested(depth: int) -> bytes:
    return b"<html><body>" + b"<div>" * depth + b"<p>x</p>" + b"</div>" * depth + b"</body></html>"


def test_deeply_nested_html_is_refused_early(tmp_path: Path, store: Path) -> None:
    page = tmp_path / "2020-01-01.html"
    page.write_bytes(nested(100_000))
    before = store_state(store)
    started = time.monotonic()
    command = [sys.executable, "-m", "policydiff", "--store", str(store), "add", str(page)]
    done = subprocess.run(
        [*command, "--policy", POLICY],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    took = time.monotonic() - started
    print(f"100,000 nested divs refused in {took:.2f} s (whole process)")
    assert done.returncode == 2
    assert one_error(done.stderr).endswith(
        "nests its elements too deeply to extract (more than 256 levels)"
    )
    assert store_state(store) == before


def test_deep_captured_page_is_refused_and_a_deep_enough_one_is_kept(
    store: Path, server: LocalServer, guard: NetworkGuard
) -> None:
    server.route("/deep", Reply(body=nested(20_000)))
    code, _, err = capture(store, server.url("/deep"))
    assert code == 2
    assert "too deeply to extract" in one_error(err)
    server.route("/fine", Reply(body=nested(250)))
    assert capture(store, server.url("/fine"))[0] == 0


# --------------------------------------------------------------------------- codecs

NOT_TEXT_CODECS = [
    "idna",
    "punycode",
    "undefined",
    "unicode_escape",
    "raw_unicode_escape",
    "rot13",
    "base64",
    "hex",
    "zlib",
]


@pytest.mark.parametrize("codec", NOT_TEXT_CODECS)
def test_encoding_option_refuses_codecs_that_are_not_text_encodings(
    tmp_path: Path, store: Path, codec: str
) -> None:
    source = tmp_path / "2020-01-01.md"
    source.write_text("# Privacy\n\nWe keep your data safe.\n")
    before = store_state(store)
    for command in (["add", str(source)], ["import", str(source)]):
        result = run_cli(["--store", str(store), *command, "--policy", POLICY, "--encoding", codec])
        assert result.exit_code == 2
        assert one_error(result.stderr) == f"Error: unknown text encoding {codec!r} for --encoding"
    assert store_state(store) == before


@pytest.mark.parametrize("label", ["idna", "IDNA", "punycode", "base64", "rot13", "undefined"])
def test_html_declaring_a_non_text_charset_is_refused(
    tmp_path: Path, store: Path, label: str
) -> None:
    source = tmp_path / "2020-01-01.html"
    source.write_bytes(f"<html><head><meta charset={label}></head>".encode() + PAGE[6:])
    before = store_state(store)
    result = run_cli(["--store", str(store), "add", str(source), "--policy", POLICY])
    assert result.exit_code == 2
    assert one_error(result.stderr).endswith(
        f"HTML declares unknown charset {label!r}; pass --encoding to name the real one"
    )
    assert store_state(store) == before


def test_a_header_charset_that_is_no_text_encoding_is_ignored(
    store: Path, server: LocalServer, guard: NetworkGuard
) -> None:
    # As browsers ignore an unknown label: the page is read as if it declared none.
    server.route("/p", Reply(body=PAGE, content_type="text/html; charset=idna"))
    code, out, err = capture(store, server.url("/p"))
    assert (code, err) == (0, "")
    assert out.startswith(f"{POLICY}: recorded version 1")


def test_captured_page_declaring_idna_is_refused(
    store: Path, server: LocalServer, guard: NetworkGuard
) -> None:
    server.route("/p", Reply(body=b"<meta charset=idna>" + PAGE, content_type="text/html"))
    before = store_state(store)
    code, _, err = capture(store, server.url("/p"))
    assert code == 2
    assert "HTML declares unknown charset 'idna'" in one_error(err)
    assert store_state(store) == before


# --------------------------------------------------------------------------- --select


def remembered(store: Path, name: str) -> str:
    got = run_cli(["--store", str(store), "config", "get", f"policy.{POLICY}.{name}"])
    return got.stdout


def test_select_is_remembered_only_after_a_successful_capture(
    store: Path, server: LocalServer, guard: NetworkGuard
) -> None:
    server.route("/p", Reply(body=PAGE))
    server.route("/gone", Reply(404, body=b"gone", content_type="text/plain"))
    # A selector that matches nothing, then a page that cannot be fetched: nothing saved.
    code, _, err = capture(store, server.url("/p"), "--select", "#no-such-thing")
    assert code == 2
    assert "matches nothing" in one_error(err)
    code, _, err = capture(store, server.url("/gone"), "--select", "main", "--remove", "h1")
    assert code == 2
    assert "HTTP 404" in one_error(err)
    assert remembered(store, "select") == ""
    assert remembered(store, "remove") == ""
    # A capture that records: now it is remembered (and said once).
    code, _, err = capture(store, server.url("/p"), "--select", "main")
    assert code == 0
    assert err.startswith("Remembered --select 'main' for acme/privacy")
    assert remembered(store, "select") == "main\n"


# --------------------------------------------------------------------------- announce


@pytest.mark.parametrize(
    ("option", "address", "says"),
    [
        ("--from", "me@exämple.org", "From has a non-ASCII domain 'exämple.org'; write it as me@xn--exmple-cua.org"),
        ("--to", "Zoë <list@exämple.org>", "To has a non-ASCII domain 'exämple.org'; write it as list@xn--exmple-cua.org"),
    ],
)  # fmt: skip
def test_announce_refuses_a_non_ascii_domain(
    tmp_path: Path, store: Path, option: str, address: str, says: str
) -> None:
    for day, text in [("2020-01-01", "We keep data."), ("2021-01-01", "We sell data.")]:
        source = tmp_path / f"{day}.md"
        source.write_text(f"# Privacy\n\n{text}\n")
        assert (
            run_cli(["--store", str(store), "add", str(source), "--policy", POLICY]).exit_code == 0
        )
    before = store_state(store)
    other = {"--from": ["--to", "list@example.org"], "--to": ["--from", "me@example.org"]}
    result = run_cli(["--store", str(store), "announce", POLICY, option, address, *other[option]])
    assert (result.exit_code, result.stdout) == (2, "")
    assert one_error(result.stderr) == f"Error: {says}"
    assert store_state(store) == before
    # The ASCII form is accepted, and a non-ASCII display name is fine.
    ok = run_cli(
        [
            *("--store", str(store), "announce", POLICY),
            *("--from", "Zoë <me@xn--exmple-cua.org>", "--to", "list@example.org"),
        ]
    )
    assert ok.exit_code == 0, ok.stderr
    assert "From: =?utf-8?q?Zo=C3=AB?= <me@xn--exmple-cua.org>" in ok.stdout


def test_the_guard_blocks_what_it_should(guard: NetworkGuard) -> None:
    """The guard itself: a lookup of another host fails without being sent."""
    with pytest.raises(socket.gaierror, match="blocked by the test's network guard"):
        socket.getaddrinfo("10.0.0.1", 80)
    assert guard.blocked == [("socket.getaddrinfo", "10.0.0.1")]
