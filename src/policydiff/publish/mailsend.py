"""Send one e-mail over SMTP (stdlib ``smtplib``): TLS policy, credentials rule, timeouts.

Security modes (``Server.security``):

- ``None`` (the default): STARTTLS when the server offers it, else an unencrypted session,
  in which no password is ever sent;
- ``"starttls"``: STARTTLS is required; a server that does not offer it gets nothing;
- ``"ssl"``: TLS from the first byte (SMTPS, usually port 465);
- ``"none"``: never encrypt; a password is sent only to a loopback host (a local relay).

Certificates and host names are checked with the system's trust store
(``ssl.create_default_context``, which honours ``SSL_CERT_FILE``). ``timeout`` bounds the
connection and each command's reply. Delivery is all or nothing up to DATA: when the server
refuses any recipient the transaction is reset and nothing is sent, so that running the
command again after a fix never mails anyone twice. Every failure is a ``MailError`` whose
message says whether the message went out.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from policydiff.core.errors import PolicydiffError, UsageError

SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {None: 587, "starttls": 587, "ssl": 465, "none": 25}
DEFAULT_TIMEOUT = 30.0
_MAX_REPLY = 200
NOTHING_SENT = "nothing was sent"
MAYBE_SENT = "the server may or may not have accepted the message: check before sending it again"


class MailError(PolicydiffError):
    """Sending failed; the message says whether anything was sent."""


@dataclass(frozen=True)
class Server:
    """Where and how to send: host, port, security mode, credentials and timeout."""

    host: str
    port: int
    security: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    user: str | None = None
    password: str | None = None

    @property
    def address(self) -> str:
        """Return ``host:port`` for messages (IPv6 literals in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Delivery:
    """What was sent: the recipients the server accepted and how the session was protected."""

    recipients: tuple[str, ...]
    protection: str


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost`` (RFC 6761) or a loopback literal."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> str:
    """Return ``host`` if it is one plain host name or IP literal, else raise UsageError."""
    candidate = host.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_")
    if not candidate or len(candidate) > 253 or not set(candidate) <= allowed:
        raise UsageError(f"invalid SMTP host {host[:80]!r}: give a host name or an IP address")
    return candidate


def check_server(server: Server) -> None:
    """Refuse, before connecting, a setup that would send a password in clear text."""
    if server.security not in (None, *SECURITY_MODES):
        raise UsageError(f"invalid SMTP security {server.security!r}: use starttls, ssl or none")
    if (server.user is None) != (server.password is None):
        missing = "password" if server.password is None else "user"
        raise UsageError(
            f"SMTP {missing} missing: set both git config policydiff.smtp.user and "
            "policydiff.smtp.password (or POLICYDIFF_SMTP_USER and POLICYDIFF_SMTP_PASSWORD)"
        )
    if server.user is not None and server.security == "none" and not is_loopback(server.host):
        raise UsageError(
            f"refusing to send the SMTP password unencrypted to {server.host}: "
            "--smtp-security none sends credentials only to localhost; use starttls or ssl"
        )


def _reply(err: BaseException) -> str:
    """Return a server reply or socket error as one short line."""
    if isinstance(err, smtplib.SMTPResponseException):
        text = err.smtp_error
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        line = f"{err.smtp_code} {' '.join(shown.split())}"
    elif isinstance(err, TimeoutError):
        line = "timed out"
    elif isinstance(err, OSError) and err.strerror:
        line = err.strerror
    else:
        line = " ".join(str(err).split()) or type(err).__name__
    return line[:_MAX_REPLY]


def _text(reply: bytes | str) -> str:
    """Return a server reply's text as one short line."""
    shown = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(shown.split())[:_MAX_REPLY]


def _connect(server: Server, context: ssl.SSLContext) -> smtplib.SMTP:
    """Open the session (TLS from the start for ``ssl``), or raise MailError."""
    try:
        if server.security == "ssl":
            return smtplib.SMTP_SSL(
                server.host, server.port, timeout=server.timeout, context=context
            )
        return smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    except (OSError, smtplib.SMTPException) as err:
        raise MailError(
            f"cannot connect to the SMTP server {server.address}: {_reply(err)}; {NOTHING_SENT}"
        ) from None


def _secure(client: smtplib.SMTP, server: Server, context: ssl.SSLContext) -> str:
    """Say hello and switch to TLS as the mode asks; return how the session is protected."""
    client.ehlo_or_helo_if_needed()
    if server.security == "ssl":
        return "TLS"
    if server.security == "none":
        return "unencrypted"
    if client.has_extn("starttls"):
        client.starttls(context=context)
        client.ehlo()
        return "STARTTLS"
    if server.security == "starttls":
        raise MailError(
            f"the SMTP server {server.address} does not offer STARTTLS; {NOTHING_SENT} "
            "(use --smtp-security ssl for TLS from the start)"
        )
    if server.user is not None:
        raise MailError(
            f"the SMTP server {server.address} does not offer STARTTLS: refusing to send "
            f"the password unencrypted; {NOTHING_SENT}"
        )
    return "unencrypted: the server does not offer STARTTLS"


def _transaction(
    client: smtplib.SMTP, data: bytes, sender: str, recipients: Sequence[str]
) -> tuple[str, ...]:
    """Run MAIL, RCPT and DATA; refuse to send unless every recipient is accepted."""
    options: list[str] = []
    if not data.isascii():
        if not client.has_extn("8bitmime"):
            raise MailError(f"the SMTP server does not accept 8-bit mail; {NOTHING_SENT}")
        options.append("BODY=8BITMIME")
    code, reply = client.mail(sender, options)
    if code != 250:
        client.rset()
        raise MailError(
            f"the SMTP server refused the sender {sender}: {code} {_text(reply)}; {NOTHING_SENT}"
        )
    refused: list[str] = []
    for recipient in recipients:
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            refused.append(f"{recipient} ({code} {_text(reply)})")
    if refused:
        client.rset()
        raise MailError(f"the SMTP server refused {', '.join(refused)}; {NOTHING_SENT}")
    return tuple(recipients)


def send(data: bytes, sender: str, recipients: Sequence[str], server: Server) -> Delivery:
    """Send the message ``data`` from ``sender`` to ``recipients``; raise MailError on failure.

    ``data`` goes as it is, but for its line ends, made CRLF as SMTP requires (``smtplib``
    sends bytes unchanged, and servers refuse or misread bare LF). Headers the recipients
    must not see, such as Bcc, must already be gone.
    """
    check_server(server)
    data = re.sub(rb"\r?\n", b"\r\n", data)
    context = ssl.create_default_context()
    client = _connect(server, context)
    in_data = False
    try:
        protection = _secure(client, server, context)
        if server.user is not None and server.password is not None:
            client.login(server.user, server.password)
        accepted = _transaction(client, data, sender, recipients)
        in_data = True
        code, reply = client.data(data)
        in_data = False
        if code != 250:
            raise MailError(
                f"the SMTP server refused the message: {code} {_text(reply)}; {NOTHING_SENT}"
            )
    except smtplib.SMTPAuthenticationError as err:
        raise MailError(
            f"the SMTP server refused the login of {server.user}: {_reply(err)}; {NOTHING_SENT}"
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise MailError(
            f"the SMTP server {server.address} does not offer AUTH (login); {NOTHING_SENT}"
        ) from None
    except smtplib.SMTPDataError as err:
        raise MailError(
            f"the SMTP server refused the message: {_reply(err)}; {NOTHING_SENT}"
        ) from None
    except (OSError, smtplib.SMTPException) as err:
        outcome = MAYBE_SENT if in_data else NOTHING_SENT
        raise MailError(
            f"sending through {server.address} failed: {_reply(err)}; {outcome}"
        ) from None
    finally:
        _close(client)
    return Delivery(accepted, protection)


def _close(client: smtplib.SMTP) -> None:
    """End the session politely; a failing QUIT changes nothing about what was sent."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
