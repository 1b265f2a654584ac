"""The ``config`` command: read and change a store's settings, and where each comes from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from policydiff.cli.common import emit_json, format_option, message, open_store
from policydiff.core.errors import UsageError

if TYPE_CHECKING:
    from policydiff.core.config import Config
    from policydiff.store.gitstore import GitStore


def store_config(store: GitStore) -> Config:
    """Return the settings of ``store`` (kept in its git directory, local to the clone)."""
    from policydiff.core.config import Config

    return Config(Path(store.repo.git_dir))


def git_name(key: str) -> str:
    """Return the ``git config`` name of a setting (``_`` is not allowed in git's names)."""
    prefix, _, last = key.rpartition(".")
    return f"policydiff.{prefix}.{last.replace('_', '-')}"


def _git_layer(store: GitStore) -> dict[str, str]:
    """Return the clone's ``git config policydiff.*`` settings that policydiff knows, checked."""
    from policydiff.core.config import key_spec

    found: dict[str, str] = {}
    for name, value in store.git_settings().items():
        prefix, _, last = name.removeprefix("policydiff.").rpartition(".")
        key = f"{prefix}.{last.replace('-', '_')}"
        try:
            spec = key_spec(key)
        except UsageError:
            continue  # another feature's (SMTP credentials...): not a setting shown here
        try:
            found[key] = spec.validate(value)
        except UsageError as err:
            raise UsageError(f"git config {name}: {err}") from None
    return found


def effective_settings(store: GitStore) -> dict[str, tuple[str, str]]:
    """Return {key: (value, source)}: git config, then the local file, then policydiff.toml."""
    from policydiff.core.settings import (
        SOURCE_FILE,
        SOURCE_GIT,
        SOURCE_LOCAL,
        layered,
        parse_settings,
    )

    committed = store.settings_bytes()
    return layered(
        [
            (SOURCE_GIT, _git_layer(store)),
            (SOURCE_LOCAL, dict(store_config(store).items())),
            (SOURCE_FILE, parse_settings(committed) if committed is not None else {}),
        ]
    )


def settings_values(store: GitStore) -> dict[str, str]:
    """Return the effective value of every setting of ``store``."""
    return {key: value for key, (value, _) in effective_settings(store).items()}


def _committed_settings(store: GitStore) -> str:
    """Return the committed settings file's text ("" when there is none)."""
    committed = store.settings_bytes()
    return committed.decode("utf-8") if committed is not None else ""


_HELP = """Read and change the store's settings; with no command, show each and its source.

Settings come from, highest precedence first: a command-line flag; `git config
policydiff.*` in this clone (personal or secret values, never committed; `config set
--local`); the clone's legacy .git/policydiff/config.json (`config migrate` moves it);
the committed settings file policydiff.toml at the store root (`config set`, or edit
it and run `config commit`); the defaults. A change to policydiff.toml is a commit of
its own (subject `settings: ...`) that travels with the store; `sync` takes one from a
remote only with --accept-config.

\b
Keys:
  announce.to         e-mail addresses announcements go to (comma-separated)
  announce.from       sender address of announcements (Name <address> allowed)
  announce.reply_to   Reply-To address of announcements
  announce.list_name  mailing list name for the announcement footer
  announce.footer     text at the end of every announcement
  announce.url        where readers find the full policy (http(s) URL)
  announce.diff_url   published diff URL; {policy}, {old}, {new} are filled in
  announce.site_url   where the store's published site lives (http(s) URL)
  fetch.allow_private  true: pages may redirect to loopback and private addresses
  policy.<id>.url     where the policy is published (http(s) URLs, space-separated)
  policy.<id>.select  CSS selector of the policy's content on its HTML pages
  policy.<id>.remove  CSS selector of parts of that content to drop
  policy.<id>.render  http, or browser: run the page's scripts in headless Chromium
  policy.<id>.combine  several pages as one document: [{url, select, remove, render}]
  policy.<id>.title  the policy's title, as announcements and the site show it
  policy.<id>.organisation  who publishes the policy
  policy.<id>.type  kind of document (privacy policy, terms of service...)
  policy.<id>.language  language tag of the policy's text (en, pt-BR...)
"""


@click.group("config", help=_HELP, invoke_without_command=True)
@click.pass_context
def config_cmd(ctx: click.Context) -> None:
    """Read and change the store's settings."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(show_cmd)


@config_cmd.command("show")
@click.argument("key", required=False)
@format_option("text", "json", default="text")
def show_cmd(key: str | None = None, fmt: str = "text") -> None:
    """Show each setting's effective value and where it comes from (or KEY's)."""
    found = effective_settings(open_store())
    if key is not None:
        from policydiff.core.config import key_spec

        key_spec(key)
        found = {key: found[key]} if key in found else {}
        if not found and fmt == "text":
            raise UsageError(f"{key} is not set")
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.config-show/1",
                "settings": [
                    {"key": k, "value": value, "source": source}
                    for k, (value, source) in found.items()
                ],
            }
        )
        return
    for k, (value, source) in found.items():
        click.echo(f"{k} = {value}  # from {source}")


@config_cmd.command("get")
@click.argument("key")
@click.option("--default", "default", help="Print this when KEY is not set (instead of failing).")
def get_cmd(key: str, default: str | None) -> None:
    """Print the effective value of KEY."""
    from policydiff.core.config import key_spec

    key_spec(key)
    value = settings_values(open_store()).get(key)
    if value is None:
        if default is None:
            raise UsageError(f"{key} is not set")
        value = default
    click.echo(value)


_local_option = click.option(
    "--local",
    is_flag=True,
    help="Change this clone's git config (policydiff.*) instead of the committed file.",
)


@config_cmd.command("set")
@click.argument("key")
@click.argument("value")
@_local_option
def set_cmd(key: str, value: str, local: bool) -> None:
    """Set KEY to VALUE (checked) in policydiff.toml, as a commit of its own."""
    from policydiff.core.config import key_spec
    from policydiff.core.settings import SETTINGS_FILE, edit_settings

    stored = key_spec(key).validate(value)
    store = open_store()
    if local:
        store.set_git_setting(git_name(key), stored)
        return
    text = edit_settings(_committed_settings(store), key, stored)
    store.record_settings(text.encode("utf-8"), f"settings: set {key}", from_work_tree=False)
    # The legacy local file would shadow the committed value: the new value wins.
    if store_config(store).unset(key):
        message(f"{key}: removed from .git/policydiff/config.json (now in {SETTINGS_FILE})")


@config_cmd.command("unset")
@click.argument("key")
@_local_option
def unset_cmd(key: str, local: bool) -> None:
    """Remove KEY from policydiff.toml (a commit) and the local file, or from git config."""
    from policydiff.core.config import key_spec
    from policydiff.core.settings import edit_settings

    key_spec(key)
    store = open_store()
    if local:
        if not store.set_git_setting(git_name(key), None):
            message(f"{key} was not set in git config")
        return
    before = _committed_settings(store)
    text = edit_settings(before, key, None) if before else before
    changed = text != before and store.record_settings(
        text.encode("utf-8"), f"settings: unset {key}", from_work_tree=False
    )
    if not store_config(store).unset(key) and not changed:
        message(f"{key} was not set")


@config_cmd.command("list")
@format_option("text", "json", default="text")
def list_cmd(fmt: str) -> None:
    """List every setting's effective value."""
    items = sorted(settings_values(open_store()).items())
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.config/1",
                "settings": [{"key": key, "value": value} for key, value in items],
            }
        )
        return
    for key, value in items:
        click.echo(f"{key} = {value}")


@config_cmd.command("commit")
@click.option("-m", "--message", "subject", help="What changed (after 'settings: ').")
def commit_cmd(subject: str | None) -> None:
    """Record the edited policydiff.toml of the working tree as a settings commit."""
    from policydiff.core.settings import MAX_SETTINGS_BYTES, SETTINGS_FILE

    store = open_store()
    path = store.path / SETTINGS_FILE
    try:
        if path.is_symlink() or not path.is_file():
            raise UsageError(f"{path} is not a plain file")
        with path.open("rb") as handle:
            content = handle.read(MAX_SETTINGS_BYTES + 1)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    text = f"settings: {subject or 'edit ' + SETTINGS_FILE}"
    if not store.record_settings(content, text, from_work_tree=True):
        message(f"{SETTINGS_FILE} is unchanged: nothing to commit")


@config_cmd.command("migrate")
def migrate_cmd() -> None:
    """Move the settings of .git/policydiff/config.json into policydiff.toml (one commit)."""
    from policydiff.core.settings import SETTINGS_FILE, edit_settings

    store = open_store()
    config = store_config(store)
    legacy = config.items()
    if not legacy:
        message("nothing to migrate: .git/policydiff/config.json holds no settings")
        return
    text = _committed_settings(store)
    for key, value in legacy:
        text = edit_settings(text, key, value)
    subject = f"settings: migrate {len(legacy)} setting(s) from .git/policydiff/config.json"
    store.record_settings(text.encode("utf-8"), subject, from_work_tree=False)
    for key, _ in legacy:
        config.unset(key)
    message(f"moved {len(legacy)} setting(s) into {SETTINGS_FILE}")


def _register_import_declarations() -> None:
    """Add ``config import-declarations`` (kept in its own module)."""
    from policydiff.cli.declarations_cmd import import_declarations_cmd

    config_cmd.add_command(import_declarations_cmd)


_register_import_declarations()
