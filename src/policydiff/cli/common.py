"""Shared CLI plumbing: opening the store, consoles, JSON output and common options."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from policydiff.errors import UsageError

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


def progress_callback(label: str) -> Callable[[int, int], None]:
    """Return a (done, total) callback that opens a progress bar on its first call."""
    advance: Callable[[], None] | None = None

    def on_progress(_done: int, total: int) -> None:
        nonlocal advance
        if advance is None:
            advance = progress(total, label)
        advance()

    return on_progress


def write_stdout(text: str) -> None:
    """Write a report to stdout as UTF-8, whatever the locale says."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
    else:
        sys.stdout.flush()
        buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename.

    Readers see the old file or the whole new one, never a partial report.
    """
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else "."
        )
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates the file private (0600); a report gets the usual umask mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # noqa: PTH101 - beside os.replace on the same path
        os.replace(temporary, path)  # noqa: PTH105 - os.replace is the atomic rename we want
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)  # noqa: PTH108
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
