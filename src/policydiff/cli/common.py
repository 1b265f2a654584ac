"""Shared CLI plumbing: opening the store, consoles, JSON output and common options."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

    from policydiff.store import GitStore

F = TypeVar("F", bound=Callable[..., Any])


def settings(ctx: click.Context | None = None) -> Any:  # noqa: ANN401 - the click context object
    """Return the global ``Settings`` of the running command."""
    ctx = ctx or click.get_current_context()
    return ctx.find_root().obj


def store_path() -> Path:
    """Return the path of the selected store."""
    path: Path = settings().store_path
    return path


def open_store() -> GitStore:
    """Open the selected store, or fail with a clear error."""
    from policydiff.store import GitStore

    return GitStore(store_path())


def use_color(stream: Any) -> bool:  # noqa: ANN401 - any text stream
    """Decide colour for ``stream``: --color/--no-color, then NO_COLOR, then is-a-terminal."""
    forced = settings().color
    if forced is not None:
        return bool(forced)
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console(*, err: bool = False) -> Console:
    """Return a rich console on stdout (data) or stderr (messages) honouring colour settings."""
    from rich.console import Console

    stream = sys.stderr if err else sys.stdout
    color = use_color(stream)
    tty = bool(getattr(stream, "isatty", lambda: False)())
    return Console(
        file=stream,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        # Piped output is read by tools and people with wide windows: don't squeeze tables.
        width=None if tty else 200,
        soft_wrap=not tty,
    )


def message(text: str) -> None:
    """Print a progress or status message on stderr."""
    click.echo(text, err=True)


def emit_json(document: dict[str, Any]) -> None:
    """Print a JSON document on stdout (sorted keys off: schema order is documented)."""
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


def format_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    """Return a ``--format`` option with the given choices."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format.",
    )


def stderr_is_terminal() -> bool:
    """Whether progress bars make sense (stderr is a terminal)."""
    return sys.stderr.isatty()


def progress(total: int, label: str) -> Callable[[], None]:
    """Return a function advancing a progress bar on a terminal (a no-op elsewhere)."""
    if not stderr_is_terminal() or total < 20:
        return lambda: None
    from rich.progress import Progress

    bar = Progress(console=console(err=True), transient=True)
    bar.start()
    task = bar.add_task(label, total=total)
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        bar.advance(task)
        if done >= total:
            bar.stop()

    return advance
