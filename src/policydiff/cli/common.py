"""Shared CLI plumbing: opening the store, consoles, JSON output and common options."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from policydiff.core.errors import UsageError, shown

if TYPE_CHECKING:
    from rich.console import Console

    from policydiff.store.gitstore import GitStore

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
    from policydiff.store.gitstore import GitStore

    return GitStore(store_path())


def use_color(stream: Any) -> bool:  # noqa: ANN401 - any text stream
    """Decide colour for ``stream``: --color/--no-color, NO_COLOR, FORCE_COLOR, is-a-terminal."""
    forced = settings().color
    if forced is not None:
        return bool(forced)
    if os.environ.get("NO_COLOR"):
        return False
    # force-color.org: FORCE_COLOR set to anything non-empty; CLICOLOR_FORCE: set and not 0.
    if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE", "0") not in {"", "0"}:
        return True
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
    """Print a warning, note or other message on stderr (even with --quiet)."""
    click.echo(text, err=True)


# --------------------------------------------------------------------------- --quiet

_QUIET = "policydiff.quiet"


def _remember_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """Keep --quiet in the context's shared meta, where the output helpers look."""
    if value:
        ctx.meta[_QUIET] = True


def quiet_option() -> Callable[[F], F]:
    """Return the -q/--quiet option of commands that print progress or per-file lines."""
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_remember_quiet,
        help="Print only warnings and errors: no progress bar, per-file lines or summary.",
    )


def is_quiet() -> bool:
    """Whether the running command was given --quiet."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_QUIET))


def status(text: str) -> None:
    """Print a progress or summary message on stderr, unless --quiet."""
    if not is_quiet():
        click.echo(text, err=True)


def report_line(text: str, *, problem: bool = False) -> None:
    """Print one per-file (or per-version) report line on stdout; with --quiet, problems only."""
    if problem or not is_quiet():
        click.echo(text)


# --------------------------------------------------------------------------- --no-pager

_NO_PAGER = "policydiff.no_pager"


def _remember_no_pager(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """Keep --no-pager in the context's shared meta."""
    if value:
        ctx.meta[_NO_PAGER] = True


def no_pager_option() -> Callable[[F], F]:
    """Return the --no-pager option of commands that page long output on a terminal."""
    return click.option(
        "--no-pager",
        is_flag=True,
        expose_value=False,
        callback=_remember_no_pager,
        help="Print straight to the terminal, never through $PAGER.",
    )


def show_text(text: str, *, color: bool, lines: int) -> None:
    """Print terminal text: through $PAGER when it is taller than ``lines``, unless --no-pager."""
    ctx = click.get_current_context(silent=True)
    paging = not (ctx is not None and ctx.meta.get(_NO_PAGER))
    if paging and text.count("\n") >= lines:
        click.echo_via_pager(text, color=color)
    else:
        click.echo(text, color=color, nl=False)


# --------------------------------------------------------------------------- --format

# Another name accepted for a format: "table" (log, policies) and "term" (compare, blame,
# history) were both used for the terminal output; "term" is the one shown.
FORMAT_ALIASES = {"table": "term"}


class FormatChoice(click.Choice[str]):
    """A ``--format`` choice that also takes the old names in FORMAT_ALIASES."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:  # noqa: ANN401 - click's signature
        """Return the format chosen, an alias turned into its canonical name."""
        if isinstance(value, str) and FORMAT_ALIASES.get(value) in self.choices:
            return FORMAT_ALIASES[value]
        return super().convert(value, param, ctx)


def format_help(choices: tuple[str, ...] | list[str], text: str = "Output format.") -> str:
    """Return a --format help text naming the aliases it accepts."""
    aliases = [
        f"'{old}' also means '{new}'." for old, new in FORMAT_ALIASES.items() if new in choices
    ]
    return " ".join([text, *aliases])


def emit_json(document: dict[str, Any]) -> None:
    """Print a JSON document on stdout (sorted keys off: schema order is documented)."""
    import json  # only for --format json: the other formats need none of it

    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


def format_option(*choices: str, default: str = "term") -> Callable[[F], F]:
    """Return a ``--format`` option with the given choices."""
    return click.option(
        "--format",
        "fmt",
        type=FormatChoice(choices),
        default=default,
        show_default=True,
        help=format_help(choices),
    )


def stderr_is_terminal() -> bool:
    """Whether progress bars make sense (stderr is a terminal)."""
    return sys.stderr.isatty()


def progress(total: int, label: str) -> Callable[[], None]:
    """Return a function advancing a progress bar on a terminal (a no-op elsewhere)."""
    if not stderr_is_terminal() or total < 20 or is_quiet():
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
    """Write a report (UTF-8) to the ``-o`` target ``path``, whatever kind of file it is.

    A new path or a regular file is replaced through a temporary file and a rename, so
    readers see the old file or the whole new one, never a partial report. A symbolic link
    is written through: the file it points to is replaced the same way, in its own folder,
    and the link stays a link. A character device (``/dev/null``, a terminal) or a named
    pipe is written into directly, never replaced by a regular file; a pipe nobody reads
    is refused rather than waited on. ``/dev/stdout`` and ``/dev/fd/N`` are written on
    this process's own descriptor. Directories and other kinds of file are refused.
    """
    data = text.encode("utf-8")
    try:
        held = _own_descriptor(path)
        if held is not None:
            # -o /dev/stdout (or /dev/fd/N): write on the descriptor itself, as a shell
            # redirection would, so that its offset and what was written before are kept.
            sys.stdout.flush()
            sys.stderr.flush()
            _write_all(os.dup(held), data)
            return
        kind = _output_kind(path)
        if kind == "special":
            _write_into(path, data)
        else:
            _replace_atomically(Path(os.path.realpath(path)) if kind == "link" else path, data)
    except OSError as err:
        raise UsageError(f"cannot write {shown(path)}: {_reason(err)}") from None


def _output_kind(path: Path) -> str:
    """Say how to write ``path``: "new", "regular", "link" (to a file) or "special".

    Raises ``UsageError`` for what is never written: directories, block devices, sockets.
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "new"
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISLNK(mode):
        try:
            target = path.stat()
        except FileNotFoundError:
            return "link"  # a dangling link: create the file it names, as a shell would
        if stat.S_ISREG(target.st_mode):
            return "link"
        mode = target.st_mode
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "special"
    if stat.S_ISDIR(mode):
        raise UsageError(f"cannot write {shown(path)}: it is a directory")
    raise UsageError(f"cannot write {shown(path)}: not a regular file, device or named pipe")


_FD_LINK = re.compile(r"/proc/([0-9]+)/fd/([0-9]+)")


def _own_descriptor(path: Path) -> int | None:
    """Return N if ``path`` leads to this process's ``/proc/PID/fd/N`` (``/dev/stdout``).

    Opening such a link opens the file anew at offset 0; replacing it would throw away
    what the shell wrote to it before (``{ echo head; policydiff ... -o /dev/stdout; } >
    out.txt``). Writing on descriptor N itself keeps both, as on systems where
    ``/dev/fd/N`` duplicates the descriptor.
    """
    current = Path(os.path.abspath(path))  # noqa: PTH100 - no resolving: links walked below
    for _ in range(40):  # the kernel's own limit on links in a path
        # The folder resolved, the last part kept: /dev/fd/1 becomes /proc/PID/fd/1.
        # os.path.realpath, not Path.resolve: a link loop must end the walk, not raise.
        current = Path(os.path.realpath(current.parent)) / current.name
        match = _FD_LINK.fullmatch(str(current))
        if match is not None:
            return int(match[2]) if int(match[1]) == os.getpid() else None
        try:
            target = current.readlink()
        except OSError:
            return None
        current = current.parent / target
    return None


def _write_into(path: Path, data: bytes) -> None:
    """Write ``data`` into a character device or a named pipe."""
    try:
        # Non-blocking open: a named pipe with no reader fails at once (ENXIO) instead of
        # waiting for one forever. No O_TRUNC: devices and pipes have nothing to truncate.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise UsageError(
                f"cannot write {shown(path)}: a named pipe that no program is reading"
            ) from None
        raise
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        # Swapped for something else since it was looked at.
        os.close(fd)
        raise UsageError(f"cannot write {shown(path)}: not a device or named pipe")
    # Back to blocking writes: a terminal or a slow reader must not fail with EAGAIN.
    os.set_blocking(fd, True)
    _write_all(fd, data)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, then close it."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    # Imported here: tempfile pulls in shutil, random and the compression modules, which
    # a compare printing to stdout never needs.
    import tempfile

    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else "."
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates the file private (0600); a report gets the usual umask mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # noqa: PTH101 - beside os.replace on the same path
        os.replace(temporary, path)  # noqa: PTH105 - os.replace is the atomic rename we want
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)  # noqa: PTH108
        raise


def _reason(err: OSError) -> str:
    """Return the system's words for ``err`` (e.g. "No space left on device")."""
    return err.strerror or str(err)
