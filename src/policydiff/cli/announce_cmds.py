"""Commands that tell people about policy changes: announce, changelog and feed."""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policydiff.cli.common import F, emit_json, message, open_store, store_path
from policydiff.cli.completion import complete_compare_args, complete_policy
from policydiff.core.errors import StoreError, UsageError

if TYPE_CHECKING:
    from email.message import EmailMessage

    from policydiff.cli.resolve import Pair
    from policydiff.publish.announce import Announcement
    from policydiff.publish.changelog import HistoryEntry
    from policydiff.publish.feed import FeedLinks
    from policydiff.publish.mailsend import Server
    from policydiff.store.gitstore import GitStore

# publish.mailsend's, named here for the options so that changelog, feed and a drafted
# announce load no smtplib or ssl (tens of ms): a test keeps the two equal.
SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_TIMEOUT = 30.0
ANNOUNCE_FORMATS = ("email", "text", "markdown", "html", "json")
STORE_TEMPLATES = "templates"


# --------------------------------------------------------------------------- shared


def _settings(store: GitStore | None) -> dict[str, str]:
    """Return the store clone's settings (none without a store)."""
    if store is None:
        return {}
    from policydiff.cli.config_cmd import settings_values

    # Every layer: git config, the local file, the committed policydiff.toml.
    return settings_values(store)


def _try_store() -> GitStore | None:
    """Open the selected store if there is one (comparing two files needs none)."""
    try:
        return open_store()
    except StoreError:
        return None


def _write_bytes(data: bytes, output: Path | None, what: str) -> None:
    """Write output to a file atomically, or to stdout as raw bytes."""
    if output is not None:
        from policydiff.cli.common import write_atomic

        write_atomic(output, data.decode("utf-8"))
        message(f"Wrote the {what} to {output}")
        return
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        sys.stdout.flush()
        buffer.write(data)
    sys.stdout.flush()


def _output_option() -> Callable[[F], F]:
    """Return the --output option shared by the three commands."""
    return click.option(
        "--output",
        "-o",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write to this file (atomically) instead of stdout.",
    )


# --------------------------------------------------------------------------- announce


def _latest_pair(store: GitStore, policy: str | None) -> Pair:
    """Return the latest non-technical version of a policy and the version just before it.

    The version before may be a technical re-extraction: it renders the previous policy
    with the same extractor as the new version, so the diff holds only the policy's change.
    """
    from policydiff.cli.resolve import Pair
    from policydiff.core.errors import UnknownVersionError
    from policydiff.engine.report import side_from_version

    chosen = store.require_policy(policy)
    history = store.versions(chosen)
    if history and history[-1].suspect:
        raise UnknownVersionError(
            f"the latest capture of {chosen} (version {history[-1].number}) did not look like "
            f"the policy ({history[-1].suspect}): nothing to announce; give two versions to "
            "compare them anyway"
        )
    edits = [v for v in history if not v.technical and not v.suspect]
    if not edits or edits[-1].number < 2:
        raise UnknownVersionError(
            f"{chosen} has no earlier version to compare its latest edit with"
        )
    new = edits[-1]
    # The version before, skipping suspect captures: compared with the last good one.
    before = [v for v in history[: new.number - 1] if not v.suspect]
    if not before:
        raise UnknownVersionError(f"{chosen} has no earlier good capture to compare with")
    old = before[-1]
    if old.number != new.number - 1:
        message(
            f"Note: version {new.number - 1} of {chosen} was a suspect capture; comparing "
            f"with version {old.number}, the last capture that looked like the policy"
        )
    return Pair(side_from_version(old), store.text(old), side_from_version(new), store.text(new))


def _resolve(args: tuple[str, ...]) -> Pair:
    """Resolve the arguments as compare does; the defaults skip technical versions."""
    from policydiff.cli.resolve import resolve_pair
    from policydiff.core.refs import validate_policy_id

    if not args:
        return _latest_pair(open_store(), None)
    if len(args) == 1 and "@" not in args[0] and not Path(args[0]).is_file():
        try:
            validate_policy_id(args[0])
        except UsageError:
            pass
        else:
            store = open_store()
            if args[0] in store.policies():
                return _latest_pair(store, args[0])
    return resolve_pair(args, store_path())


def _source_url(store: GitStore, pair: Pair) -> str | None:
    """Return the new version's source URL, or the latest one recorded before it."""
    from policydiff.publish.announce import safe_url

    side = pair.new
    if side.policy is None or side.version is None:
        return None
    for version in reversed(store.versions(side.policy)[: side.version]):
        url = safe_url(version.source_url)
        if url is not None:
            return url
    return None


def _site_diff_url(store: GitStore, site_url: str, pair: Pair) -> str | None:
    """Return the address of the pair's redline on the published site (``site``'s layout).

    None unless both sides are versions of one policy in this store. When the site makes
    no page for the pair (it skips some pairs of long histories), the policy's timeline.
    """
    from policydiff.publish.site import diff_page_path, has_diff_page, policy_home_path

    old, new = pair.old, pair.new
    if old.policy is None or old.policy != new.policy or old.version is None:
        return None
    if new.version is None or old.policy not in store.policies():
        return None
    count = len(store.versions(old.policy))
    if has_diff_page(old.version, new.version, count):
        path = diff_page_path(old.policy, old.version, new.version)
    else:
        path = policy_home_path(old.policy)
    return _on_site(site_url, path)


def _on_site(site_url: str, path: str) -> str:
    """Return the address of a page ``site`` writes at ``path`` under the published site."""
    from urllib.parse import quote

    return f"{site_url.rstrip('/')}/{quote(path, safe='/')}"


def _compare_command(pair: Pair) -> str:
    """Return the command that shows the full diff of this pair."""
    old, new = pair.old, pair.new
    if old.policy is not None and old.policy == new.policy:
        words = [old.policy, str(old.version), str(new.version)]
    else:
        words = [
            f"{side.policy}@{side.version}" if side.policy is not None else side.label
            for side in (old, new)
        ]
    return "policydiff compare " + " ".join(shlex.quote(word) for word in words)


def _template_source(fmt: str, template: Path | None) -> tuple[str | None, str | None]:
    """Return (source, name) of the template to use: --template, the store's, or None."""
    from policydiff.publish.announce import template_name

    candidate = template
    if candidate is None:
        in_store = store_path() / STORE_TEMPLATES / template_name(fmt)
        candidate = in_store if in_store.is_file() else None
    if candidate is None:
        return None, None
    try:
        return candidate.read_text(encoding="utf-8"), str(candidate)
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or err
        raise UsageError(f"cannot read template {candidate}: {reason}") from None


def _parse_when(value: str | None) -> datetime:
    """Return the Date header's time: --date (ISO 8601), else now in the local zone."""
    if value is None:
        return datetime.now().astimezone()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"invalid --date {value[:40]!r}: use ISO 8601, e.g. 2024-05-01T09:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _address_settings(given: dict[str, str | None], settings: dict[str, str]) -> dict[str, str]:
    """Return each address (flag -> value) from its option, else the store's config.

    Every missing one is named in the one error, so that a first run learns all it needs.
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for flag, value in given.items():
        key = f"announce.{flag.removeprefix('--')}"
        chosen = value if value is not None else settings.get(key)
        if chosen is None:
            missing.append(flag)
        else:
            found[flag] = chosen
    if missing:
        names = " and ".join(flag.removeprefix("--").capitalize() for flag in missing)
        how = "; ".join(
            f"pass {flag} ADDRESS or set one with 'policydiff config set "
            f"announce.{flag.removeprefix('--')} ADDRESS'"
            for flag in missing
        )
        noun = "address" if len(missing) == 1 else "addresses"
        raise UsageError(f"no {names} {noun}: {how}")
    return found


def _build_message(
    announcement: Announcement,
    body: str,
    *,
    to_addr: str | None,
    from_addr: str | None,
    reply_to: str | None,
    settings: dict[str, str],
    when: datetime,
) -> EmailMessage:
    """Return the e-mail: validated addresses, safe subject, body as rendered."""
    from policydiff.publish.announce import build_email, parse_address, parse_addresses

    addresses = _address_settings({"--to": to_addr, "--from": from_addr}, settings)
    to = parse_addresses(addresses["--to"], "To")
    sender = parse_address(addresses["--from"], "From")
    # Optional: replies go to the list (or a person) rather than to the sending bot.
    answer = reply_to if reply_to is not None else settings.get("announce.reply_to")
    return build_email(
        body,
        subject=announcement.subject,
        sender=sender,
        to=to,
        when=when,
        reply_to=parse_address(answer, "Reply-To") if answer is not None else None,
    )


def _append_mbox(path: Path, mail: EmailMessage) -> None:
    """Append a message to an mbox file, holding its lock (dot-lock and flock)."""
    import mailbox
    import time

    entry = mailbox.mboxMessage(mail)
    sender = mail["From"].addresses[0].addr_spec
    entry.set_from(sender, time.gmtime())
    try:
        box = mailbox.mbox(path, create=True)
        try:
            box.lock()
            try:
                box.add(entry)
                box.flush()
            finally:
                box.unlock()
        finally:
            box.close()
    except (OSError, mailbox.Error) as err:
        reason = getattr(err, "strerror", None) or err
        raise UsageError(f"cannot append to {path}: {reason}") from None


@dataclass(frozen=True)
class SendOptions:
    """The command's --send options, as given (None: not given)."""

    yes: bool
    allow_todo: bool
    host: str | None
    port: int | None
    security: str | None
    timeout: float | None

    def given(self) -> bool:
        """Whether any of them was given."""
        return (
            self.yes
            or self.allow_todo
            or any(
                value is not None for value in (self.host, self.port, self.security, self.timeout)
            )
        )


_TODO = re.compile(r"\[TODO[^\]\n]{0,200}\]?")
MAX_DRAFT_BYTES = 1_000_000
SMTP_ENV = {"user": "POLICYDIFF_SMTP_USER", "password": "POLICYDIFF_SMTP_PASSWORD"}


def _git_setting(store: GitStore | None, key: str) -> tuple[str, str] | None:
    """Return (value, scope) of ``git config KEY`` in the store clone (global without one)."""
    import subprocess

    from policydiff.core.gitenv import static_environment

    where = [] if store is not None else ["--global"]
    try:
        done = subprocess.run(
            ["git", "config", *where, "--show-scope", "--get", key],
            cwd=store.path if store is not None else None,
            env={**os.environ, **static_environment()},
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise StoreError(f"cannot run git config to read {key}: {err}") from None
    if done.returncode == 1:
        return None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise StoreError(f"git config cannot read {key}: {reason[0] if reason else 'failed'}")
    scope, _, value = done.stdout.decode("utf-8", "replace").rstrip("\n").partition("\t")
    return (value, scope) if value else None


def _git_value(store: GitStore | None, key: str) -> str | None:
    """Return the value of ``git config KEY`` in the store clone, if set."""
    found = _git_setting(store, key)
    return found[0] if found is not None else None


# The scopes of git config that belong to the repository rather than to the user.
_STORE_SCOPES = ("local", "worktree")


def _server(store: GitStore | None, options: SendOptions) -> Server:
    """Return the SMTP server to use: options, else git config; login: environment, else git."""
    from policydiff.publish.mailsend import DEFAULT_PORTS, Server, check_host

    configured_host = None if options.host else _git_setting(store, "policydiff.smtp.host")
    host = options.host or (configured_host[0] if configured_host else None)
    if host is None:
        raise UsageError(
            "no SMTP server: pass --smtp-host HOST or set it with "
            "'git config policydiff.smtp.host HOST' in the store; nothing was sent"
        )
    security = options.security or _git_value(store, "policydiff.smtp.security")
    if security is not None and security not in SECURITY_MODES:
        raise UsageError(
            f"invalid git config policydiff.smtp.security {security[:40]!r}: "
            "use starttls, ssl or none"
        )
    port = options.port
    if port is None:
        configured = _git_value(store, "policydiff.smtp.port")
        if configured is not None:
            if not configured.isdigit() or not 1 <= int(configured) <= 65535:
                raise UsageError(
                    f"invalid git config policydiff.smtp.port {configured[:40]!r}: "
                    "use a number from 1 to 65535"
                )
            port = int(configured)
    # The environment wins over git config: CI jobs pass secrets as variables.
    user = os.environ.get(SMTP_ENV["user"]) or _git_value(store, "policydiff.smtp.user")
    password = os.environ.get(SMTP_ENV["password"])
    if not password:
        stored = _git_setting(store, "policydiff.smtp.password")
        password = stored[0] if stored else None
        # A store unpacked from elsewhere brings its own .git/config: its host must not
        # receive the password kept in the user's own (global or system) config.
        if (
            stored is not None
            and stored[1] not in _STORE_SCOPES
            and configured_host is not None
            and configured_host[1] in _STORE_SCOPES
        ):
            raise UsageError(
                f"policydiff.smtp.host is set in this store's .git/config but the SMTP "
                f"password in your {stored[1]} git config: pass --smtp-host or set the host "
                f"in your {stored[1]} config too, so that a store from elsewhere cannot send "
                "your password to its server; nothing was sent"
            )
    return Server(
        host=check_host(host),
        port=port if port is not None else DEFAULT_PORTS[security],
        security=security,
        timeout=options.timeout if options.timeout is not None else DEFAULT_TIMEOUT,
        user=user,
        password=password,
    )


def _todo_places(mail: EmailMessage) -> list[str]:
    """Return the distinct [TODO ...] places left in the message's subject and body."""
    body = mail.get_content() if not mail.is_multipart() else ""
    found = _TODO.findall(f"{mail['Subject']}\n{body}")
    return list(dict.fromkeys(" ".join(place.split()) for place in found))


def _recipients(mail: EmailMessage, headers: tuple[str, ...] = ("To", "Cc", "Bcc")) -> list[str]:
    """Return the envelope recipients: those of To, Cc and Bcc, each once."""
    found = [
        address.addr_spec
        for name in headers
        for header in mail.get_all(name) or []
        for address in header.addresses
    ]
    return list(dict.fromkeys(found))


def _interactive() -> bool:
    """Whether someone can be asked: stdin and stdout are a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _drop_header(data: bytes, name: str) -> bytes:
    """Return the message ``data`` without the header ``name`` (continuation lines too).

    Works on the bytes, so that everything else goes out exactly as it was written.
    """
    end = re.search(rb"\r?\n\r?\n", data)
    head, body = (data[: end.start()], data[end.start() :]) if end else (data, b"")
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().lower() == name.lower().encode()
        if not dropping:
            kept.append(line)
    return b"".join(kept) + body


def _read_draft(path: Path) -> tuple[EmailMessage, bytes]:
    """Return an edited draft file, parsed and as bytes, checked as announce builds one."""
    import email
    from email import policy
    from email.message import EmailMessage

    from policydiff.publish.announce import parse_address, parse_addresses

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_DRAFT_BYTES + 1)
    except OSError as err:
        raise UsageError(f"cannot read the draft {path}: {err.strerror or err}") from None
    if len(data) > MAX_DRAFT_BYTES:
        raise UsageError(f"the draft {path} is over {MAX_DRAFT_BYTES:,} bytes")
    if re.search(rb"\r?\n\r?\n", data) is None:
        raise UsageError(f"the draft {path} has no blank line between its headers and its body")
    mail = email.message_from_bytes(data, policy=policy.default)
    if not isinstance(mail, EmailMessage) or mail.is_multipart() or mail.defects:
        raise UsageError(f"the draft {path} is not a plain-text e-mail as announce writes one")
    if mail.get_content_type() != "text/plain":
        raise UsageError(f"the draft {path} is {mail.get_content_type()}, not text/plain")
    once = ("From", "To", "Subject", "Cc", "Bcc", "Reply-To")
    for name, most in ((name, 1) for name in once):
        values = mail.get_all(name) or []
        if len(values) > most or (not values and name in {"From", "To", "Subject"}):
            raise UsageError(f"the draft {path} must have one {name} header, not {len(values)}")
    parse_address(str(mail["From"]), "From")
    for name in ("To", "Cc", "Bcc", "Reply-To"):
        if mail[name] is not None:
            parse_addresses(str(mail[name]), name)
    long_line = next((i for i, line in enumerate(data.splitlines(), 1) if len(line) > 998), None)
    if long_line is not None:
        raise UsageError(f"line {long_line} of the draft {path} is over 998 bytes (SMTP's limit)")
    try:
        mail.get_content()
    except (LookupError, ValueError, UnicodeError) as err:
        raise UsageError(f"cannot decode the body of the draft {path}: {err}") from None
    return mail, data


def _send(mail: EmailMessage, data: bytes, store: GitStore | None, options: SendOptions) -> None:
    """Check the draft, ask (on a terminal) and send ``data``; every refusal sends nothing."""
    from policydiff.publish.mailsend import check_server, send

    places = _todo_places(mail)
    if places and not options.allow_todo:
        shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
        raise UsageError(
            f"the draft still has {len(places)} [TODO] place(s): {shown}; fill them in or pass "
            "--allow-todo; nothing was sent"
        )
    if not options.yes and not _interactive():
        raise UsageError(
            "not on a terminal: pass --yes to send without confirming; nothing was sent"
        )
    server = _server(store, options)
    check_server(server)
    recipients = _recipients(mail)
    # Bcc recipients get the message through the envelope only, never in a header.
    data = _drop_header(data, "Bcc")
    if not options.yes:
        _write_bytes(data, None, "announcement")
        try:
            confirmed = click.confirm(
                f"\nSend this to {', '.join(recipients)} through {server.address}?", default=False
            )
        except click.exceptions.Abort:  # end of input or Ctrl-C at the prompt
            confirmed = False
        if not confirmed:
            raise UsageError("not confirmed; nothing was sent")
    sender = mail["From"].addresses[0].addr_spec
    delivery = send(data, sender, recipients, server)
    # Bcc addresses stay out of the log too (CI logs are often public): only their number.
    hidden = [r for r in delivery.recipients if r not in _recipients(mail, ("To", "Cc"))]
    listed = [r for r in delivery.recipients if r not in hidden]
    more = f" and {len(hidden)} Bcc recipient{'s' if len(hidden) != 1 else ''}" if hidden else ""
    message(
        f"Sent the announcement to {', '.join(listed)}{more} through {server.address} "
        f"({delivery.protection})"
    )


@click.command("announce")
@click.argument(
    "args", nargs=-1, metavar="[POLICY] [OLD] [NEW]", shell_complete=complete_compare_args
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(ANNOUNCE_FORMATS),
    default="email",
    show_default=True,
    help="An e-mail, a text, markdown or HTML post, or the context as JSON.",
)
@click.option("--to", "to_addr", metavar="ADDRESS", help="To address (default: announce.to).")
@click.option(
    "--from", "from_addr", metavar="ADDRESS", help="From address (default: announce.from)."
)
@click.option(
    "--reply-to",
    "reply_to",
    metavar="ADDRESS",
    help="Reply-To address (default: announce.reply_to; none when unset).",
)
@click.option(
    "--mbox",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append the e-mail to this mbox file instead of printing it.",
)
@_output_option()
@click.option(
    "--template",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Jinja2 template to render (default: templates/announce.FORMAT.j2 in the store, "
    "else the built-in one).",
)
@click.option(
    "--include-cosmetic",
    is_flag=True,
    help="Draft a notice even when only spacing, punctuation or formatting changed.",
)
@click.option(
    "--date",
    "date_text",
    metavar="ISO",
    help="Date header, e.g. 2024-05-01T09:00:00+02:00 (default: now).",
)
@click.option("--send", is_flag=True, help="Send the e-mail over SMTP (see 'Sending' above).")
@click.option(
    "--draft",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="With --send: send this e-mail file (from '--format email -o FILE', edited) "
    "instead of drafting one.",
)
@click.option("--yes", "-y", is_flag=True, help="Send without showing the draft and asking.")
@click.option(
    "--allow-todo", is_flag=True, help="Send even if the draft still has [TODO: ...] places."
)
@click.option("--smtp-host", metavar="HOST", help="SMTP server (default: policydiff.smtp.host).")
@click.option(
    "--smtp-port",
    type=click.IntRange(1, 65535),
    help="SMTP port (default: policydiff.smtp.port, else 587, 465 for ssl, 25 for none).",
)
@click.option(
    "--smtp-security",
    type=click.Choice(SECURITY_MODES),
    help="starttls (required), ssl (TLS from the start) or none (default: "
    "policydiff.smtp.security, else STARTTLS when the server offers it).",
)
@click.option(
    "--smtp-timeout",
    type=click.FloatRange(0.1, 600),
    help=f"Seconds to wait for the connection and for each reply (default: {DEFAULT_TIMEOUT:g}).",
)
def announce_cmd(
    args: tuple[str, ...],
    fmt: str,
    to_addr: str | None,
    from_addr: str | None,
    reply_to: str | None,
    mbox: Path | None,
    output: Path | None,
    template: Path | None,
    include_cosmetic: bool,
    date_text: str | None,
    send: bool,
    draft: Path | None,
    yes: bool,
    allow_todo: bool,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_security: str | None,
    smtp_timeout: float | None,
) -> None:
    """Draft a notice of what changed in a policy, to edit and send.

    Takes the same [POLICY] [OLD] [NEW] arguments as 'compare'; by default the latest
    version that is not a technical re-extraction, compared with the version before it.
    The draft says what changed section by section, quotes the changed sentences, gives
    the effective date the text states, and leaves [TODO: ...] places for the reason and
    for what readers can do. Nothing is drafted when only cosmetic edits changed.

    \b
    Settings (policydiff config set KEY VALUE):
      announce.to         list address the e-mail goes to (or --to)
      announce.from       sender address (or --from)
      announce.reply_to   Reply-To address (or --reply-to)
      announce.list_name  list name for the footer
      announce.footer     text at the end of every notice
      announce.url        where readers find the full policy
      announce.diff_url   published diff; {policy}, {old}, {new} are filled in
      announce.site_url   where 'policydiff site' is published: without
                          diff_url, the diff links to the site's diff page

    \b
    Sending (--send): the same e-mail goes over SMTP. On a terminal the draft is shown
    and you are asked to confirm; elsewhere --yes is required. A draft that still has
    [TODO: ...] places is refused unless --allow-todo. To review and edit first, write
    the draft with '--format email -o FILE', edit it, and send it with '--send --draft
    FILE': it goes exactly as written (Bcc recipients get it, the Bcc header is removed).
    The server comes from the options, else from git config in the store clone (never
    from a committed file):
      policydiff.smtp.host      SMTP server
      policydiff.smtp.port      port (default 587; 465 for ssl, 25 for none)
      policydiff.smtp.security  starttls, ssl or none (default: STARTTLS when offered)
      policydiff.smtp.user      login, or the POLICYDIFF_SMTP_USER variable
      policydiff.smtp.password  password, or the POLICYDIFF_SMTP_PASSWORD variable
    No password is ever sent unencrypted, except to localhost with --smtp-security none.
    """  # noqa: D301 - "\b" is click's no-rewrap marker, the backspace character itself
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport
    from policydiff.publish.announce import (
        Links,
        build_announcement,
        check_url,
        fill_url,
        has_news,
        render_announcement,
    )

    if mbox is not None and (fmt != "email" or output is not None):
        raise UsageError("--mbox writes an e-mail: it does not go with --format or --output")
    if template is not None and fmt == "json":
        raise UsageError("--template does not apply to --format json")
    if send and (fmt != "email" or mbox is not None or output is not None):
        raise UsageError(
            "--send sends the e-mail: it does not go with --format, --mbox or --output"
        )
    sending = SendOptions(yes, allow_todo, smtp_host, smtp_port, smtp_security, smtp_timeout)
    if not send and (sending.given() or draft is not None):
        raise UsageError("--draft, --yes, --allow-todo and the --smtp-* options go with --send")
    if draft is not None:
        drafting = (args, to_addr, from_addr, reply_to, template, date_text)
        if any(drafting) or include_cosmetic:
            raise UsageError(
                "--draft sends the file as it is: it takes no POLICY, OLD, NEW, --to, --from, "
                "--reply-to, --template, --include-cosmetic or --date"
            )
        mail, data = _read_draft(draft)
        _send(mail, data, _try_store(), sending)
        return
    when = _parse_when(date_text)
    pair = _resolve(args)
    diff = compare_texts(pair.old_text, pair.new_text)
    if diff.identical:
        message(f"{pair.old.label} and {pair.new.label} are identical: nothing to announce.")
        return
    if not has_news(diff) and not include_cosmetic:
        message(
            f"Only editorial changes between {pair.old.label} and {pair.new.label} (spacing, "
            "punctuation, formatting or order): nothing to announce. Use --include-cosmetic "
            "to draft a notice anyway."
        )
        return
    store = _try_store()
    settings = _settings(store)
    policy = pair.new.policy or pair.old.policy
    read_url = check_url(settings.get("announce.url"), "announce.url")
    if read_url is None and store is not None:
        read_url = _source_url(store, pair)
    diff_url = check_url(
        fill_url(settings.get("announce.diff_url"), policy=policy, old=pair.old, new=pair.new),
        "announce.diff_url",
    )
    site_url = check_url(settings.get("announce.site_url"), "announce.site_url")
    if diff_url is None and site_url is not None and store is not None:
        diff_url = _site_diff_url(store, site_url, pair)
    links = Links(
        read_url=read_url,
        diff_url=diff_url,
        list_name=settings.get("announce.list_name"),
        compare_command=_compare_command(pair),
        footer=settings.get("announce.footer"),
    )
    announcement = build_announcement(
        CompareReport(pair.old, pair.new, diff),
        policy=policy,
        links=links,
        title=settings.get(f"policy.{policy}.title") if policy else None,
    )
    context = announcement.as_context()
    if fmt == "json":
        if output is None:
            emit_json(context)
        else:
            import json

            text = json.dumps(context, ensure_ascii=False, indent=2) + "\n"
            _write_bytes(text.encode("utf-8"), output, "announcement")
        return
    source, name = _template_source(fmt, template)
    body = render_announcement(context, fmt, source=source, name=name)
    if fmt == "email":
        mail = _build_message(
            announcement,
            body,
            to_addr=to_addr,
            from_addr=from_addr,
            reply_to=reply_to,
            settings=settings,
            when=when,
        )
        if send:
            _send(mail, mail.as_bytes(), store, sending)
            return
        if mbox is not None:
            _append_mbox(mbox, mail)
            message(f"Appended the announcement to {mbox}")
        else:
            _write_bytes(mail.as_bytes(), output, "announcement")
    else:
        _write_bytes(body.encode("utf-8"), output, "announcement")
    todos = body.count("[TODO:")
    if todos:
        message(f"Fill in the {todos} [TODO: ...] place(s) before sending.")


# --------------------------------------------------------------------------- changelog


def _history(
    policy: str | None, *, include_technical: bool, substantive_only: bool
) -> tuple[str, list[HistoryEntry], GitStore]:
    """Return the policy id and its history entries, newest first."""
    from policydiff.publish.changelog import version_history

    store = open_store()
    chosen = store.require_policy(policy)
    entries = version_history(
        store.versions(chosen),
        store.text,
        include_technical=include_technical,
        substantive_only=substantive_only,
    )
    return chosen, entries, store


@click.command("changelog")
@click.argument("policy", required=False, shell_complete=complete_policy)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("markdown", "json")),
    default="markdown",
    show_default=True,
    help="Output format.",
)
@_output_option()
@click.option("--substantive-only", is_flag=True, help="Leave out editorial-only versions.")
@click.option(
    "--include-technical",
    is_flag=True,
    help="List technical re-extractions too (labelled; left out by default).",
)
def changelog_cmd(
    policy: str | None,
    fmt: str,
    output: Path | None,
    substantive_only: bool,
    include_technical: bool,
) -> None:
    """Write POLICY's changelog: each version's changed sections, newest first.

    The same store always gives the same bytes, so the file can be committed and diffed.
    """
    import json

    from policydiff.publish.changelog import changelog_json, render_changelog

    chosen, entries, _ = _history(
        policy, include_technical=include_technical, substantive_only=substantive_only
    )
    if fmt == "json":
        document = changelog_json(chosen, entries)
        if output is None:
            emit_json(document)
            return
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    else:
        text = render_changelog(chosen, entries)
    _write_bytes(text.encode("utf-8"), output, "changelog")


# --------------------------------------------------------------------------- feed


@click.command("feed")
@click.argument("policy", required=False, shell_complete=complete_policy)
@_output_option()
@click.option(
    "--feed-url",
    metavar="URL",
    help='Where the feed will be published: its rel="self" link (readers and validators '
    "use it to find the feed again).",
)
@click.option(
    "--site-url",
    metavar="URL",
    help="Where 'policydiff site' output is published (default: announce.site_url): each "
    "entry then links to its version's redline page there.",
)
@click.option(
    "--include-technical",
    is_flag=True,
    help="List technical re-extractions too, labelled (left out by default: not policy changes).",
)
def feed_cmd(
    policy: str | None,
    output: Path | None,
    feed_url: str | None,
    site_url: str | None,
    include_technical: bool,
) -> None:
    """Write an Atom feed of POLICY's substantive versions, newest first.

    Entries link to announce.url when it is set, else to each version's source URL; with
    a site URL (--site-url or announce.site_url), to the version's redline on the site
    built by 'policydiff site', the policy's address then a related link.
    """
    from policydiff.publish.announce import check_url
    from policydiff.publish.feed import FeedLinks, build_feed

    # Checked before any work: a bad option fails at once.
    self_url = check_url(feed_url, "--feed-url")
    site = check_url(site_url, "--site-url")
    chosen, entries, store = _history(
        policy, include_technical=include_technical, substantive_only=True
    )
    settings = _settings(store)
    if site is None:
        site = check_url(settings.get("announce.site_url"), "announce.site_url")
    links = FeedLinks(self_url=self_url)
    if site is not None:
        links = _site_links(site, chosen, entries, len(store.versions(chosen)), self_url)
    data = build_feed(
        chosen,
        entries,
        link=check_url(settings.get("announce.url"), "announce.url"),
        author=settings.get("announce.list_name"),
        links=links,
        include_technical=include_technical,
    )
    _write_bytes(data, output, "feed")


def _site_links(
    site: str, policy: str, entries: list[HistoryEntry], count: int, self_url: str | None
) -> FeedLinks:
    """Return the feed's links into a published site: each version's redline page."""
    from policydiff.publish.changelog import EntryKind
    from policydiff.publish.feed import FeedLinks
    from policydiff.publish.site import (
        diff_page_path,
        has_diff_page,
        policy_home_path,
        version_page_path,
    )

    pages: dict[int, str] = {}
    for entry in entries:
        number = entry.version.number
        before = entry.compared_with.number if entry.compared_with is not None else number - 1
        if entry.kind is EntryKind.FIRST or number == 1:
            path = version_page_path(policy, number)
        elif has_diff_page(before, number, count):
            path = diff_page_path(policy, before, number)
        else:
            # The version compared with is not paired on the site: the one just before is.
            path = diff_page_path(policy, number - 1, number)
        pages[number] = _on_site(site, path)
    return FeedLinks(self_url=self_url, home=_on_site(site, policy_home_path(policy)), pages=pages)
