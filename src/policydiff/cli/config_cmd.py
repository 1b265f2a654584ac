"""The ``config`` command: read and change a store clone's local settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from policydiff.cli.common import emit_json, format_option, message, open_store
from policydiff.errors import UsageError

if TYPE_CHECKING:
    from policydiff.config import Config
    from policydiff.store import GitStore


def store_config(store: GitStore) -> Config:
    """Return the settings of ``store`` (kept in its git directory, local to the clone)."""
    from policydiff.config import Config

    return Config(Path(store.repo.git_dir))


_HELP = """Read and change this store clone's settings.

Settings live in .git/policydiff/config.json inside the store: local to this clone,
never committed, pushed or cloned.

\b
Keys:
  announce.to         e-mail addresses announcements go to (comma-separated)
  announce.from       sender address of announcements (Name <address> allowed)
  announce.list_name  mailing list name for the announcement footer
  announce.url        where readers find the full policy (http(s) URL)
  announce.diff_url   published diff URL; {policy}, {old}, {new} are filled in
  fetch.allow_private  true: pages may redirect to loopback and private addresses
  policy.<id>.select  CSS selector of the policy's content on its HTML pages
  policy.<id>.remove  CSS selector of parts of that content to drop
"""


@click.group("config", help=_HELP)
def config_cmd() -> None:
    """Read and change this store clone's settings."""


@config_cmd.command("get")
@click.argument("key")
@click.option("--default", "default", help="Print this when KEY is not set (instead of failing).")
def get_cmd(key: str, default: str | None) -> None:
    """Print the value of KEY."""
    value = store_config(open_store()).get(key)
    if value is None:
        if default is None:
            raise UsageError(f"{key} is not set")
        value = default
    click.echo(value)


@config_cmd.command("set")
@click.argument("key")
@click.argument("value")
def set_cmd(key: str, value: str) -> None:
    """Set KEY to VALUE (checked: e-mail addresses, CSS selectors)."""
    store_config(open_store()).set(key, value)


@config_cmd.command("unset")
@click.argument("key")
def unset_cmd(key: str) -> None:
    """Remove KEY."""
    if not store_config(open_store()).unset(key):
        message(f"{key} was not set")


@config_cmd.command("list")
@format_option("text", "json", default="text")
def list_cmd(fmt: str) -> None:
    """List every setting."""
    items = store_config(open_store()).items()
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
