"""The click group: global options, commands imported on first use, one place for errors."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import TYPE_CHECKING

import click

from policydiff import __version__
from policydiff.cli import COMMANDS, DEFAULT_STORE, EXAMPLES
from policydiff.core.errors import ExitCode, PolicydiffError, escape_unsafe, shown

if TYPE_CHECKING:
    from pathlib import Path

    from click.shell_completion import CompletionItem

# The width click gives a command's help in shell completion menus (its default limit).
_COMPLETION_HELP_LIMIT = 45


class LazyGroup(click.Group):
    """A click group that imports each command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every command name, sorted."""
        del ctx
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command called ``cmd_name``."""
        del ctx
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        examples = EXAMPLES.get(cmd_name)
        if examples and not command.epilog:
            # "\b": click keeps the block's lines as written instead of rewrapping them.
            command.epilog = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in examples)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with each one's first sentence, wrapped, never cut with "...".

        The sentences are stored (``short_help.py``), so that ``--help`` imports no
        command module; a test keeps them equal to the commands' own docstrings.
        """
        from policydiff.cli.short_help import SHORT_HELP

        rows = [(name, SHORT_HELP[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Complete command names (with their one-line help) and options, importing no command.

        click's own would import every command module to read its help: a fraction of a
        second of git, rich and the engine at each press of Tab.
        """
        from click.shell_completion import CompletionItem

        from policydiff.cli.short_help import SHORT_HELP

        items = [
            CompletionItem(name, help=short_help(SHORT_HELP[name], _COMPLETION_HELP_LIMIT))
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]
        # The options: what click.Command (not Group) completes.
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Find the command ``args`` starts with; for a misspelt name, suggest the close ones."""
        name = args[0]
        if name not in COMMANDS and not name.startswith("-") and not ctx.resilient_parsing:
            # The best match only: "compre" is compare, not also capture.
            import difflib  # only on a mistyped command: start-up stays light

            close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else "'policydiff --help' lists them"
            raise click.UsageError(f"unknown command {name!r}; {hint}", ctx)
        return super().resolve_command(ctx, args)


class Settings:
    """Global options shared by every command (the click context object)."""

    def __init__(self, store_path: Path, color: bool | None) -> None:
        self.store_path = store_path
        self.color = color


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "store_path",
    # A str here, made a Path in cli(): pathlib is not worth importing for --help.
    type=click.Path(),
    envvar="POLICYDIFF_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    help="The store to use (also $POLICYDIFF_STORE).",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Force colour on or off (default: on for a terminal, off with NO_COLOR).",
)
@click.version_option(__version__, prog_name="policydiff", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, store_path: str, color: bool | None) -> None:
    """Archive every version of a policy in git and show readable section-level diffs."""
    from pathlib import Path

    if color is None and os.environ.get("NO_COLOR"):
        color = False
    ctx.obj = Settings(Path(store_path), color)


def short_help(help_text: str, limit: int) -> str:
    """Return a command's one-line help cut to ``limit`` as click cuts its own."""
    return click.Command(None, help=help_text).get_short_help_str(limit)


def run(argv: list[str] | None = None) -> None:
    """Run the click group: one ``Error: ...`` line and exit 2 for every expected failure."""
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of raising.
        code = cli.main(args=argv, prog_name="policydiff", standalone_mode=False)
    except PolicydiffError as err:
        _fail(str(err), err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except click.NoSuchOption as err:
        _fail(_global_option_hint(err) or err.format_message(), ExitCode.ERROR)
    except click.ClickException as err:
        _fail(err.format_message(), ExitCode.ERROR)
    except click.exceptions.Abort as err:
        # click turns Ctrl-C inside a command into Abort; a prompt's own Abort (Ctrl-C or
        # end of input there) carries no cause and stays an ordinary error.
        if isinstance(err.__cause__, KeyboardInterrupt):
            _fail("interrupted", ExitCode.INTERRUPTED)
        _fail("aborted", ExitCode.ERROR)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(ExitCode.OK)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INTERRUPTED)
    except OSError as err:
        # A path the system cannot even look up (a name over 255 bytes, a path over 4096)
        # fails the first stat of any command that touches it, inside pathlib or click.
        # Only that is the user's input; any other OSError here is a bug and keeps its
        # traceback.
        if err.errno != errno.ENAMETOOLONG:
            raise
        _fail(
            "path too long for the system (a name over 255 bytes or a path over 4096): "
            + shown(err.filename or ""),
            ExitCode.ERROR,
        )
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _global_option_hint(err: click.NoSuchOption) -> str:
    """Return an error saying where a global option goes if one came after the command."""
    ctx = err.ctx
    if ctx is None or ctx.parent is None:
        return ""
    name = err.option_name
    for param in cli.params:
        # Eager options (--version) end the run: no point in moving them.
        if not param.is_eager and name in (*param.opts, *param.secondary_opts):
            flag = not isinstance(param, click.Option) or param.is_flag
            value = "" if flag else f" {param.type.name.upper()}"
            return (
                f"{name} is a global option of policydiff, not an option of "
                f"'{ctx.info_name}': put it before the command "
                f"(policydiff {name}{value} {ctx.info_name} ...)"
            )
    return ""


def _fail(message: str, code: int) -> None:
    """Print one error line on stderr and exit with ``code``."""
    # Whitespace (newlines included) joins into one line; other controls, such as an
    # escape sequence in a file name quoted by the message, are shown as escapes.
    line = escape_unsafe(" ".join(message.split()))
    click.echo(f"Error: {line}", err=True)
    sys.exit(code)
