"""Commands that tell people about policy changes: announce, changelog and feed."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policydiff.cli.common import F, emit_json, message, open_store, store_path
from policydiff.errors import StoreError, UsageError

if TYPE_CHECKING:
    from email.message import EmailMessage

    from policydiff.announce import Announcement
    from policydiff.changelog import HistoryEntry
    from policydiff.cli.resolve import Pair
    from policydiff.store import GitStore

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
    from policydiff.errors import UnknownVersionError
    from policydiff.report import side_from_version

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
    from policydiff.refs import validate_policy_id

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
    from policydiff.announce import safe_url

    side = pair.new
    if side.policy is None or side.version is None:
        return None
    for version in reversed(store.versions(side.policy)[: side.version]):
        url = safe_url(version.source_url)
        if url is not None:
            return url
    return None


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
    from policydiff.announce import template_name

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


def _address_setting(given: str | None, settings: dict[str, str], key: str, flag: str) -> str:
    """Return an address from its option, else the store's config, else fail saying how."""
    value = given if given is not None else settings.get(key)
    if value is None:
        raise UsageError(
            f"no {flag.removeprefix('--').capitalize()} address: pass {flag} ADDRESS or set one "
            f"with 'policydiff config set {key} ADDRESS'"
        )
    return value


def _build_message(
    announcement: Announcement,
    body: str,
    *,
    to_addr: str | None,
    from_addr: str | None,
    settings: dict[str, str],
    when: datetime,
) -> EmailMessage:
    """Return the e-mail: validated addresses, safe subject, body as rendered."""
    from policydiff.announce import build_email, parse_address, parse_addresses

    to = parse_addresses(_address_setting(to_addr, settings, "announce.to", "--to"), "To")
    sender = parse_address(_address_setting(from_addr, settings, "announce.from", "--from"), "From")
    return build_email(body, subject=announcement.subject, sender=sender, to=to, when=when)


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


@click.command("announce")
@click.argument("args", nargs=-1, metavar="[POLICY] [OLD] [NEW]")
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
def announce_cmd(
    args: tuple[str, ...],
    fmt: str,
    to_addr: str | None,
    from_addr: str | None,
    mbox: Path | None,
    output: Path | None,
    template: Path | None,
    include_cosmetic: bool,
    date_text: str | None,
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
      announce.list_name  list name for the footer
      announce.url        where readers find the full policy
      announce.diff_url   published diff; {policy}, {old}, {new} are filled in
    """  # noqa: D301 - "\b" is click's no-rewrap marker, the backspace character itself
    from policydiff.announce import (
        Links,
        build_announcement,
        check_url,
        fill_url,
        render_announcement,
    )
    from policydiff.compare import compare_texts
    from policydiff.report import CompareReport

    if mbox is not None and (fmt != "email" or output is not None):
        raise UsageError("--mbox writes an e-mail: it does not go with --format or --output")
    if template is not None and fmt == "json":
        raise UsageError("--template does not apply to --format json")
    when = _parse_when(date_text)
    pair = _resolve(args)
    diff = compare_texts(pair.old_text, pair.new_text)
    if diff.identical:
        message(f"{pair.old.label} and {pair.new.label} are identical: nothing to announce.")
        return
    if not diff.summary.substantive and not include_cosmetic:
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
    links = Links(
        read_url=read_url,
        diff_url=diff_url,
        list_name=settings.get("announce.list_name"),
        compare_command=_compare_command(pair),
    )
    announcement = build_announcement(
        CompareReport(pair.old, pair.new, diff), policy=policy, links=links
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
            settings=settings,
            when=when,
        )
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
    from policydiff.changelog import version_history

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
@click.argument("policy", required=False)
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

    from policydiff.changelog import changelog_json, render_changelog

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
@click.argument("policy", required=False)
@_output_option()
def feed_cmd(policy: str | None, output: Path | None) -> None:
    """Write an Atom feed of POLICY's substantive versions, newest first.

    Entries link to announce.url when it is set, else to each version's source URL.
    """
    from policydiff.announce import check_url
    from policydiff.feed import build_feed

    chosen, entries, store = _history(policy, include_technical=False, substantive_only=True)
    settings = _settings(store)
    data = build_feed(
        chosen,
        entries,
        link=check_url(settings.get("announce.url"), "announce.url"),
        author=settings.get("announce.list_name"),
    )
    _write_bytes(data, output, "feed")
