"""``announce --send``: the draft delivered over SMTP to a real server on 127.0.0.1.

The server is aiosmtpd's ``Controller`` (a dev dependency) with a handler that keeps every
envelope, so the tests check what a mail server really received: the bytes of the message,
the envelope sender and recipients, the login, and the TLS of the session. STARTTLS and
SMTPS run with a certificate made for the test by the ``openssl`` program (skipped without
it); the client trusts it through ``SSL_CERT_FILE``, as a user with a private CA would.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiosmtpd", reason="aiosmtpd (the dev extra) runs the test SMTP server")

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from helpers import REPO, run_cli, seed_body
from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore
from test_announce import parse_message
from test_bad_input import store_state

POLICY = "koozali/privacy-policy"
ADDRESSES = [
    "--to",
    "list@example.org, archive@example.net",
    "--from",
    "Policy Team <policy@example.org>",
]
DATE = ["--date", "2024-05-01T09:00:00+00:00"]
MESSAGE_ID = re.compile(rb"^Message-ID: <[^>\r\n]+>\r?$", re.MULTILINE)
# A store template without [TODO] places: what a maintainer sends after writing it.
TEMPLATE = "We changed {{ title }}.\n\n{% for change in changes %}- {{ change.line }}\n{% endfor %}"
USER, PASSWORD = "announcer", "s3cret-pass"


@dataclass
class Received:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    data: bytes
    login: str | None
    tls: bool


@dataclass
class Keeper:
    """aiosmtpd handler: keeps every message; refuses recipients named ``refused@...``."""

    messages: list[Received] = field(default_factory=list)
    # Seconds to wait before answering the end of DATA (a server that stalls).
    delay: float = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        login = session.auth_data.login.decode() if session.authenticated else None
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                login,
                # STARTTLS sets session.ssl; SMTPS shows on the transport.
                session.ssl is not None
                or server.transport.get_extra_info("sslcontext") is not None,
            )
        )
        return "250 OK queued"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=data)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Smtp:
    """A running server: its port and what it received."""

    port: int
    keeper: Keeper

    @property
    def messages(self) -> list[Received]:
        return self.keeper.messages

    def args(self, *security: str) -> list[str]:
        return ["--smtp-host", "127.0.0.1", "--smtp-port", str(self.port), *security]


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Smtp]]:
    """Start aiosmtpd servers on free ports of 127.0.0.1; stop them after the test."""
    started: list[Controller] = []

    def start(delay: float = 0.0, **kwargs: Any) -> Smtp:
        keeper = Keeper(delay=delay)
        port = free_port()
        with warnings.catch_warnings():
            # aiosmtpd warns when AUTH is allowed without TLS: the localhost tests want that.
            warnings.simplefilter("ignore")
            controller = Controller(keeper, hostname="127.0.0.1", port=port, **kwargs)
            controller.start()
        started.append(controller)
        return Smtp(port, keeper)

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def archive(store: GitStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitStore:
    """A store with two versions; git config isolated from the user's; no SMTP variables."""
    monkeypatch.setenv("POLICYDIFF_STORE", str(store.path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("POLICYDIFF_SMTP_USER", "POLICYDIFF_SMTP_PASSWORD", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(store.path.parent)
    body = seed_body()
    v2 = body.replace("Your privacy matters to us.", "Your privacy matters a great deal to us.")
    store.record([snapshot(body, "2017-04-22"), snapshot(v2, "2020-01-01")])
    return store


def snapshot(text: str, when: str) -> Snapshot:
    return Snapshot(
        policy=POLICY,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
    )


def no_todo_template(store: GitStore) -> None:
    folder = store.path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / "announce.email.j2").write_text(TEMPLATE, encoding="utf-8")


def git_config(store: GitStore, key: str, value: str) -> None:
    subprocess.run(["git", "-C", str(store.path), "config", key, value], check=True)


def one_error(result: Any) -> str:
    """Check the failure shape (one Error line, exit 2, nothing on stdout); return the line."""
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    return str(result.stderr)


def without_message_id(data: bytes) -> bytes:
    assert len(MESSAGE_ID.findall(data)) == 1
    return MESSAGE_ID.sub(b"Message-ID: <same>", data)


def draft(*args: str) -> bytes:
    result = run_cli(["announce", POLICY, *ADDRESSES, *DATE, "--format", "email", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout_bytes


def send(*args: str, env: dict[str, str | None] | None = None) -> Any:
    return run_cli(["announce", POLICY, *ADDRESSES, *DATE, "--send", *args], env=env)


# --------------------------------------------------------------------------- delivery


@pytest.mark.parametrize("template", ["ascii", "built-in"])
def test_sends_the_draft_byte_for_byte(
    archive: GitStore, smtp_server: Callable[..., Smtp], template: str
) -> None:
    # The built-in template has typographic quotes and [TODO] places: 8-bit, --allow-todo.
    extra = ["--allow-todo"] if template == "built-in" else []
    if template == "ascii":
        no_todo_template(archive)
    server = smtp_server()
    expected = draft()
    assert expected.isascii() == (template == "ascii")
    before = store_state(archive.path)
    result = send("--yes", *extra, *server.args("--smtp-security", "none"))
    assert result.exit_code == 0, result.stderr
    assert store_state(archive.path) == before  # sending reads the store, never writes it
    assert result.stdout == ""
    assert "Sent the announcement to list@example.org, archive@example.net" in result.stderr
    [got] = server.messages
    assert got.sender == "policy@example.org"
    assert got.recipients == ["list@example.org", "archive@example.net"]
    assert got.login is None
    assert not got.tls
    # SMTP carries lines ending in CRLF; apart from that and the Message-ID (random per
    # run), the server holds exactly the bytes `announce --format email` printed.
    assert b"\n" not in got.data.replace(b"\r\n", b"")
    assert without_message_id(got.data) == without_message_id(expected.replace(b"\n", b"\r\n"))


def test_git_config_gives_the_server(archive: GitStore, smtp_server: Callable[..., Smtp]) -> None:
    no_todo_template(archive)
    server = smtp_server()
    git_config(archive, "policydiff.smtp.host", "127.0.0.1")
    git_config(archive, "policydiff.smtp.port", str(server.port))
    git_config(archive, "policydiff.smtp.security", "none")
    result = send("--yes")
    assert result.exit_code == 0, result.stderr
    assert len(server.messages) == 1


def test_todo_places_are_refused_unless_allowed(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    server = smtp_server()
    refused = one_error(send("--yes", *server.args("--smtp-security", "none")))
    assert "[TODO" in refused
    assert "--allow-todo" in refused
    assert "nothing was sent" in refused
    assert server.messages == []
    allowed = send("--yes", "--allow-todo", *server.args("--smtp-security", "none"))
    assert allowed.exit_code == 0, allowed.stderr
    [got] = server.messages
    assert b"[TODO" in got.data


def test_without_a_terminal_yes_is_required(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    no_todo_template(archive)
    server = smtp_server()
    line = one_error(send(*server.args("--smtp-security", "none")))
    assert "--yes" in line
    assert "nothing was sent" in line
    assert server.messages == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--format", "text"], "does not go with --format"),
        (["--mbox", "drafts.mbox"], "does not go with --format, --mbox"),
        (["-o", "draft.eml"], "or --output"),
        (["--smtp-host", "a b"], "invalid SMTP host"),
        ([], "no SMTP server"),
    ],
)
def test_bad_send_options_are_one_error(archive: GitStore, args: list[str], needle: str) -> None:
    no_todo_template(archive)
    assert needle in one_error(send("--yes", *args))
    assert not Path("drafts.mbox").exists()
    assert not Path("draft.eml").exists()


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("policydiff.smtp.port", "25x", "invalid git config policydiff.smtp.port '25x'"),
        ("policydiff.smtp.port", "70000", "invalid git config policydiff.smtp.port"),
        ("policydiff.smtp.security", "tls", "invalid git config policydiff.smtp.security"),
        ("policydiff.smtp.host", "smtp example", "invalid SMTP host"),
    ],
)
def test_bad_git_config_is_one_error(archive: GitStore, key: str, value: str, needle: str) -> None:
    no_todo_template(archive)
    if key != "policydiff.smtp.host":
        git_config(archive, "policydiff.smtp.host", "127.0.0.1")
    git_config(archive, key, value)
    assert needle in one_error(send("--yes"))


def test_smtp_options_need_send(archive: GitStore) -> None:
    result = run_cli(["announce", POLICY, *ADDRESSES, "--yes"])
    assert "go with --send" in one_error(result)


def test_connection_refused_is_one_error(archive: GitStore) -> None:
    no_todo_template(archive)
    before = store_state(archive.path)
    closed = free_port()
    line = one_error(send("--yes", "--smtp-host", "127.0.0.1", "--smtp-port", str(closed)))
    assert f"127.0.0.1:{closed}" in line
    assert "nothing was sent" in line
    assert store_state(archive.path) == before


def test_a_refused_recipient_sends_nothing(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    no_todo_template(archive)
    server = smtp_server()
    result = run_cli(
        [
            "announce",
            POLICY,
            "--to",
            "list@example.org, refused@example.org",
            "--from",
            "policy@example.org",
            "--send",
            "--yes",
            *server.args("--smtp-security", "none"),
        ]
    )
    line = one_error(result)
    assert "refused@example.org (550" in line
    assert "nothing was sent" in line
    assert server.messages == []


def test_8bit_draft_needs_8bitmime(archive: GitStore, smtp_server: Callable[..., Smtp]) -> None:
    # decode_data=True makes aiosmtpd leave 8BITMIME out of its EHLO answer.
    server = smtp_server(decode_data=True)
    line = one_error(send("--yes", "--allow-todo", *server.args("--smtp-security", "none")))
    assert "does not accept 8-bit mail" in line
    assert "nothing was sent" in line
    assert server.messages == []
    no_todo_template(archive)
    assert send("--yes", *server.args("--smtp-security", "none")).exit_code == 0
    assert len(server.messages) == 1


def test_a_silent_server_times_out(archive: GitStore) -> None:
    no_todo_template(archive)
    with socket.socket() as silent:
        # Connections are accepted by the kernel (backlog) but nobody ever greets them.
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        started = time.monotonic()
        line = one_error(
            send(
                "--yes",
                "--smtp-host",
                "127.0.0.1",
                "--smtp-port",
                str(port),
                "--smtp-timeout",
                "0.5",
            )
        )
    assert time.monotonic() - started < 10
    assert "timed out" in line
    assert "nothing was sent" in line


def test_a_stall_after_the_data_says_it_may_have_been_sent(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    no_todo_template(archive)
    server = smtp_server(delay=3.0)
    line = one_error(
        send("--yes", "--smtp-timeout", "0.5", *server.args("--smtp-security", "none"))
    )
    assert "timed out" in line
    assert "may or may not have accepted the message" in line


# --------------------------------------------------------------------------- edited drafts


def edited_draft(path: Path, *, bcc: bytes = b"") -> bytes:
    """Write the draft to ``path`` with `-o`, fill in its [TODO] places, add a Bcc header."""
    result = run_cli(["announce", POLICY, *ADDRESSES, *DATE, "-o", str(path)])
    assert result.exit_code == 0, result.stderr
    data = path.read_bytes()
    assert b"[TODO" in data
    data = re.sub(rb"\[TODO[^\]]*\]", b"Done.", data)
    data = data.replace(b"\nSubject:", b"\n" + bcc + b"Subject:", 1) if bcc else data
    path.write_bytes(data)
    return data


def test_an_edited_draft_goes_as_written_without_its_bcc(
    archive: GitStore, smtp_server: Callable[..., Smtp], tmp_path: Path
) -> None:
    server = smtp_server()
    path = tmp_path / "draft.eml"
    bcc = b"Bcc: Hidden One <hidden@example.net>,\n  other-hidden@example.net\n"
    data = edited_draft(path, bcc=bcc)
    result = run_cli(
        [
            "announce",
            "--send",
            "--draft",
            str(path),
            "--yes",
            *server.args("--smtp-security", "none"),
        ]
    )
    assert result.exit_code == 0, result.stderr
    [got] = server.messages
    assert got.recipients == [
        "list@example.org",
        "archive@example.net",
        "hidden@example.net",
        "other-hidden@example.net",
    ]
    assert "through" in result.stderr
    assert "and 2 Bcc recipients" in result.stderr
    assert "hidden" not in result.stderr
    assert b"hidden" not in got.data.lower()
    assert b"bcc" not in got.data.lower()
    assert got.data == data.replace(bcc, b"").replace(b"\n", b"\r\n")


def test_a_draft_with_todo_places_names_them(
    archive: GitStore, smtp_server: Callable[..., Smtp], tmp_path: Path
) -> None:
    server = smtp_server()
    path = tmp_path / "draft.eml"
    assert run_cli(["announce", POLICY, *ADDRESSES, "-o", str(path)]).exit_code == 0
    line = one_error(run_cli(["announce", "--send", "--draft", str(path), "--yes", *server.args()]))
    assert re.search(r"the draft still has \d+ \[TODO\] place\(s\): \[TODO: ", line)
    assert server.messages == []


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d.replace(b"\nTo:", b"\nTo: x@example.org\nTo:", 1), "one To header, not 2"),
        (lambda d: d.replace(b"From:", b"X-From:", 1), "one From header, not 0"),
        (lambda d: d.replace(b"\nTo: ", b"\nTo: not an address, ", 1), "To is not a valid"),
        (lambda d: d.replace(b"\n\n", b"\n", 1).replace(b"\n\n", b"\n"), "no blank line"),
        (lambda d: d.replace(b"text/plain", b"text/html", 1), "not text/plain"),
        (lambda d: d + b"x" * 1000 + b"\n", "over 998 bytes"),
        (lambda d: d + b"x" * 1_000_001, "over 1,000,000 bytes"),
    ],
)
def test_a_broken_draft_is_one_error(
    archive: GitStore,
    smtp_server: Callable[..., Smtp],
    tmp_path: Path,
    change: Callable[[bytes], bytes],
    needle: str,
) -> None:
    server = smtp_server()
    path = tmp_path / "draft.eml"
    path.write_bytes(change(edited_draft(path)))
    line = one_error(run_cli(["announce", "--send", "--draft", str(path), "--yes", *server.args()]))
    assert needle in line
    assert server.messages == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([POLICY, "--send"], "takes no POLICY"),
        (["--to", "a@example.org", "--send"], "takes no POLICY"),
        ([], "go with --send"),
    ],
)
def test_draft_option_misuse(
    archive: GitStore, tmp_path: Path, args: list[str], needle: str
) -> None:
    path = tmp_path / "draft.eml"
    edited_draft(path)
    line = one_error(run_cli(["announce", *args, "--draft", str(path), "--yes"]))
    assert needle in line


# --------------------------------------------------------------------------- credentials


def test_login_from_the_environment_on_localhost(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    no_todo_template(archive)
    server = smtp_server(authenticator=check_login, auth_require_tls=False)
    env = {"POLICYDIFF_SMTP_USER": USER, "POLICYDIFF_SMTP_PASSWORD": PASSWORD}
    result = send("--yes", *server.args("--smtp-security", "none"), env=env)
    assert result.exit_code == 0, result.stderr
    [got] = server.messages
    assert got.login == USER


def test_login_from_git_config_and_a_wrong_password(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    no_todo_template(archive)
    server = smtp_server(authenticator=check_login, auth_require_tls=False)
    git_config(archive, "policydiff.smtp.user", USER)
    git_config(archive, "policydiff.smtp.password", PASSWORD)
    assert send("--yes", *server.args("--smtp-security", "none")).exit_code == 0
    assert [m.login for m in server.messages] == [USER]
    git_config(archive, "policydiff.smtp.password", "wrong")
    line = one_error(send("--yes", *server.args("--smtp-security", "none")))
    assert f"refused the login of {USER}" in line
    assert "nothing was sent" in line
    assert "wrong" not in line
    assert len(server.messages) == 1


def test_a_store_host_never_gets_the_global_password(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    """A store's own .git/config (one unpacked from elsewhere) names the server: the
    password in the user's global config is not sent there; the user's choice of host is."""
    no_todo_template(archive)
    server = smtp_server(authenticator=check_login, auth_require_tls=False)
    for key, value in (("user", USER), ("password", PASSWORD)):
        subprocess.run(["git", "config", "--global", f"policydiff.smtp.{key}", value], check=True)
    git_config(archive, "policydiff.smtp.host", "127.0.0.1")
    git_config(archive, "policydiff.smtp.port", str(server.port))
    git_config(archive, "policydiff.smtp.security", "none")
    line = one_error(send("--yes"))
    assert "policydiff.smtp.host is set in this store's .git/config" in line
    assert "global git config" in line
    assert "nothing was sent" in line
    assert server.messages == []
    assert send("--yes", "--smtp-host", "127.0.0.1").exit_code == 0
    subprocess.run(["git", "config", "--global", "policydiff.smtp.host", "127.0.0.1"], check=True)
    subprocess.run(
        ["git", "-C", str(archive.path), "config", "--unset", "policydiff.smtp.host"], check=True
    )
    assert send("--yes").exit_code == 0
    assert [m.login for m in server.messages] == [USER, USER]


def test_no_password_in_clear_text(archive: GitStore, smtp_server: Callable[..., Smtp]) -> None:
    no_todo_template(archive)
    # A server without STARTTLS: the default mode would fall back to clear text.
    server = smtp_server(authenticator=check_login, auth_require_tls=False)
    env = {"POLICYDIFF_SMTP_USER": USER, "POLICYDIFF_SMTP_PASSWORD": PASSWORD}
    line = one_error(send("--yes", *server.args(), env=env))
    assert "does not offer STARTTLS" in line
    assert "nothing was sent" in line
    # `none` sends a password only to localhost: the same loopback server by a public name
    # is not needed to show the refusal, which happens before any connection.
    remote = one_error(
        send("--yes", "--smtp-host", "smtp.example.org", "--smtp-security", "none", env=env)
    )
    assert "unencrypted to smtp.example.org" in remote
    half = one_error(send("--yes", *server.args(), env={"POLICYDIFF_SMTP_USER": USER}))
    assert "SMTP password missing" in half
    assert server.messages == []


def test_starttls_required_but_not_offered(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    no_todo_template(archive)
    server = smtp_server()
    line = one_error(send("--yes", *server.args("--smtp-security", "starttls")))
    assert "does not offer STARTTLS" in line
    assert server.messages == []


def test_plain_server_in_default_mode_sends_and_says_so(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    no_todo_template(archive)
    server = smtp_server()
    result = send("--yes", *server.args())
    assert result.exit_code == 0, result.stderr
    assert "does not offer STARTTLS" in result.stderr
    assert len(server.messages) == 1


# --------------------------------------------------------------------------- TLS


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl program is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_starttls_with_login(
    archive: GitStore, smtp_server: Callable[..., Smtp], certificate: tuple[Path, Path]
) -> None:
    no_todo_template(archive)
    server = smtp_server(
        tls_context=server_context(certificate), require_starttls=True, authenticator=check_login
    )
    env = {
        "POLICYDIFF_SMTP_USER": USER,
        "POLICYDIFF_SMTP_PASSWORD": PASSWORD,
        "SSL_CERT_FILE": str(certificate[0]),
    }
    result = send("--yes", *server.args(), env=env)
    assert result.exit_code == 0, result.stderr
    assert "(STARTTLS)" in result.stderr
    [got] = server.messages
    assert got.tls
    assert got.login == USER


def test_untrusted_certificate_sends_nothing(
    archive: GitStore, smtp_server: Callable[..., Smtp], certificate: tuple[Path, Path]
) -> None:
    no_todo_template(archive)
    server = smtp_server(tls_context=server_context(certificate), require_starttls=True)
    line = one_error(send("--yes", *server.args()))
    assert "CERTIFICATE_VERIFY_FAILED" in line or "certificate" in line
    assert "nothing was sent" in line
    assert server.messages == []


def test_ssl_from_the_start(
    archive: GitStore, smtp_server: Callable[..., Smtp], certificate: tuple[Path, Path]
) -> None:
    no_todo_template(archive)
    server = smtp_server(ssl_context=server_context(certificate))
    result = send(
        "--yes", *server.args("--smtp-security", "ssl"), env={"SSL_CERT_FILE": str(certificate[0])}
    )
    assert result.exit_code == 0, result.stderr
    assert "(TLS)" in result.stderr
    [got] = server.messages
    assert got.tls


# --------------------------------------------------------------------------- terminal


def run_on_terminal(answer: bytes, args: list[str]) -> tuple[int, str]:
    """Run the real CLI with a pseudo-terminal as stdin and stdout; answer the prompt."""
    main, child = pty.openpty()
    command = [sys.executable, "-m", "policydiff", "announce", POLICY, *ADDRESSES, *args]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    process = subprocess.Popen(command, stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    seen = b""
    deadline = time.monotonic() + 60
    answered = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(main, answer)
            answered = True
        if process.poll() is not None and not ready:
            break
    code = process.wait(timeout=30)
    os.close(main)
    return code, seen.decode("utf-8", "replace")


@pytest.mark.parametrize(("answer", "sent"), [(b"y\n", True), (b"n\n", False), (b"\x04", False)])
def test_terminal_shows_the_draft_and_asks(
    archive: GitStore, smtp_server: Callable[..., Smtp], answer: bytes, sent: bool
) -> None:
    no_todo_template(archive)
    server = smtp_server()
    code, screen = run_on_terminal(answer, ["--send", *server.args("--smtp-security", "none")])
    assert "Subject: " in screen
    assert "We changed" in screen
    assert "Send this to list@example.org, archive@example.net through 127.0.0.1:" in screen
    assert len(server.messages) == (1 if sent else 0)
    assert code == (0 if sent else 2)
    if not sent:
        assert "Error: not confirmed; nothing was sent" in screen


# --------------------------------------------------------------------------- store settings

SETTINGS = """\
[announce]
to = "list@example.org"
from = "Policy Team <policy@example.org>"
reply_to = "Privacy questions <privacy@example.org>"
list_name = "Koozali announcements"
footer = \"\"\"You get this because you subscribed to the policy list.
Unsubscribe: https://lists.example.org/unsubscribe\"\"\"
site_url = "https://policies.example.org/archive/"
"""


def commit_settings(store: GitStore, text: str = SETTINGS) -> None:
    (store.path / "policydiff.toml").write_text(text, encoding="utf-8")
    result = run_cli(["config", "commit"])
    assert result.exit_code == 0, result.stderr


def announce_settings(*args: str) -> Any:
    return run_cli(["announce", POLICY, *DATE, *args])


FOOTER_LINES = (
    "You get this because you subscribed to the policy list.",
    "Unsubscribe: https://lists.example.org/unsubscribe",
)
SITE_DIFF = "https://policies.example.org/archive/policies/koozali/privacy-policy/diffs/1-2.html"


def test_store_settings_give_reply_to_footer_and_site_link_in_every_format(
    archive: GitStore, smtp_server: Callable[..., Smtp]
) -> None:
    from policydiff import __version__

    commit_settings(archive)
    drafted = announce_settings("--format", "email")
    assert drafted.exit_code == 0, drafted.stderr
    head, _, _ = without_message_id(drafted.stdout_bytes).partition(b"\n\n")
    assert head == (
        b"From: Policy Team <policy@example.org>\n"
        b"To: list@example.org\n"
        b"Reply-To: Privacy questions <privacy@example.org>\n"
        b"Subject: [ANNOUNCE] Privacy policy: changes (effective date not updated)\n"
        b"Date: Wed, 01 May 2024 09:00:00 +0000\n"
        b"Message-ID: <same>\n"
        b'Content-Type: text/plain; charset="utf-8"\n'
        b"Content-Transfer-Encoding: quoted-printable\n"
        b"MIME-Version: 1.0"
    )
    signature = "\n".join(
        ["-- ", "Koozali announcements", *FOOTER_LINES, f"Drafted with policydiff {__version__}"]
    )
    body = parse_message(drafted.stdout_bytes).get_content()
    assert body.endswith("\n\n" + signature + "\n")
    assert f"Every change, word by word:\n  {SITE_DIFF}\n" in body

    text = announce_settings("--format", "text").stdout
    assert text.endswith("\n\n" + signature + "\n")
    assert f"Every change, word by word:\n  {SITE_DIFF}\n" in text
    markdown = announce_settings("--format", "markdown").stdout
    assert markdown.endswith(
        "\n---\n\n"
        f"{FOOTER_LINES[0]}\\\n{FOOTER_LINES[1]}\n\n"
        f"Koozali announcements · Drafted with policydiff {__version__}\n"
    )
    assert f"**Every change, word by word:** <{SITE_DIFF}>\n" in markdown
    html = announce_settings("--format", "html").stdout
    assert (
        f'<footer><p class="footer">{FOOTER_LINES[0]}<br>{FOOTER_LINES[1]}</p>'
        f"<p>Koozali announcements · Drafted with policydiff {__version__}</p></footer>\n"
    ) in html
    assert f'<a href="{SITE_DIFF}">{SITE_DIFF}</a>' in html
    assert json.loads(announce_settings("--format", "json").stdout)["footer"] == "\n".join(
        FOOTER_LINES
    )

    # Sent: the server holds the draft's bytes, Reply-To included.
    server = smtp_server()
    result = send_settings("--yes", "--allow-todo", *server.args("--smtp-security", "none"))
    assert result.exit_code == 0, result.stderr
    [got] = server.messages
    assert got.recipients == ["list@example.org"]
    expected = drafted.stdout_bytes.replace(b"\n", b"\r\n")
    assert without_message_id(got.data) == without_message_id(expected)


def send_settings(*args: str) -> Any:
    return run_cli(["announce", POLICY, *DATE, "--send", *args])


def test_the_site_link_names_a_page_the_site_writes(archive: GitStore, tmp_path: Path) -> None:
    commit_settings(archive)
    diff_url = json.loads(announce_settings("--format", "json").stdout)["diff_url"]
    assert diff_url == SITE_DIFF
    site = tmp_path / "public"
    built = run_cli(["site", str(site)])
    assert built.exit_code == 0, built.stderr
    page = site / diff_url.removeprefix("https://policies.example.org/archive/")
    assert page.is_file()
    # announce.diff_url, when set, is the link instead.
    commit_settings(archive, SETTINGS + 'diff_url = "https://example.org/d/{old}..{new}"\n')
    assert json.loads(announce_settings("--format", "json").stdout)["diff_url"] == (
        "https://example.org/d/1..2"
    )


def test_long_histories_link_to_the_timeline_when_the_site_has_no_such_diff() -> None:
    from policydiff.publish.site import ALL_PAIRS_MAX, diff_page_path, has_diff_page

    many = ALL_PAIRS_MAX + 3
    assert has_diff_page(2, 5, ALL_PAIRS_MAX)
    assert diff_page_path("a/p", 2, 5) == "policies/a/p/diffs/2-5.html"
    assert has_diff_page(2, 3, many)
    assert has_diff_page(2, many, many)
    assert not has_diff_page(2, 5, many)
    assert not has_diff_page(3, 3, many)


def test_reply_to_flag_wins_and_bad_reply_to_is_one_error(archive: GitStore) -> None:
    commit_settings(archive)
    drafted = announce_settings("--format", "email", "--reply-to", "desk@example.org")
    assert drafted.exit_code == 0, drafted.stderr
    assert parse_message(drafted.stdout_bytes).get_all("Reply-To") == ["desk@example.org"]
    injected = announce_settings("--reply-to", "a@example.org\r\nBcc: evil@example.net")
    assert "Reply-To must be one line" in one_error(injected)
    assert "Reply-To must be one address" in one_error(
        announce_settings("--reply-to", "a@example.org, b@example.org")
    )
    # A personal value in git config (checked when read, like the committed file's).
    git_config(archive, "policydiff.announce.reply-to", "not an address")
    assert "git config policydiff.announce.reply-to: " in one_error(announce_settings())


def test_a_draft_with_two_reply_to_headers_is_refused(archive: GitStore, tmp_path: Path) -> None:
    no_todo_template(archive)
    data = draft()
    edited = tmp_path / "draft.eml"
    edited.write_bytes(
        data.replace(b"\nSubject:", b"\nReply-To: a@example.org\nReply-To: b@example.org\nSubject:")
    )
    result = run_cli(["announce", "--send", "--draft", str(edited), "--yes"])
    assert "must have one Reply-To header, not 2" in one_error(result)
    edited.write_bytes(data.replace(b"\nSubject:", b"\nReply-To: nobody\nSubject:"))
    result = run_cli(["announce", "--send", "--draft", str(edited), "--yes"])
    assert "Reply-To is not a valid e-mail address" in one_error(result)
