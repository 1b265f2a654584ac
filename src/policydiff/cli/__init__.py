"""The command-line interface: a click group whose commands load lazily."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from pathlib import Path

import click

from policydiff import __version__
from policydiff.errors import ExitCode, PolicydiffError, escape_unsafe, shown

# name -> "module:function". Commands are imported only when run, so that start-up
# (``--version``, ``--help``) does not pay for git, rich or the diff engine.
COMMANDS: dict[str, str] = {
    "init": "policydiff.cli.store_cmds:init_cmd",
    "import": "policydiff.cli.store_cmds:import_cmd",
    "add": "policydiff.cli.store_cmds:add_cmd",
    "policies": "policydiff.cli.store_cmds:policies_cmd",
    "log": "policydiff.cli.store_cmds:log_cmd",
    "show": "policydiff.cli.store_cmds:show_cmd",
    "blame": "policydiff.cli.history_cmds:blame_cmd",
    "history": "policydiff.cli.history_cmds:history_cmd",
    "search": "policydiff.cli.search_cmd:search_cmd",
    "site": "policydiff.cli.history_cmds:site_cmd",
    "compare": "policydiff.cli.compare_cmd:compare_cmd",
    "verify": "policydiff.cli.store_cmds:verify_cmd",
    "sync": "policydiff.cli.store_cmds:sync_cmd",
    "capture": "policydiff.cli.capture_cmds:capture_cmd",
    "wayback": "policydiff.cli.capture_cmds:wayback_cmd",
    "import-git": "policydiff.cli.capture_cmds:import_git_cmd",
    "reextract": "policydiff.cli.capture_cmds:reextract_cmd",
    "track": "policydiff.cli.track_cmd:track_cmd",
    "config": "policydiff.cli.config_cmd:config_cmd",
    "announce": "policydiff.cli.announce_cmds:announce_cmd",
    "changelog": "policydiff.cli.announce_cmds:changelog_cmd",
    "feed": "policydiff.cli.announce_cmds:feed_cmd",
}

DEFAULT_STORE = "policy-archive"


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
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands for --help from their stored one-line help, importing none."""
        from policydiff.cli.short_help import SHORT_HELP

        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (name, click.Command(name, help=SHORT_HELP[name]).get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class Settings:
    """Global options shared by every command (the click context object)."""

    def __init__(self, store_path: Path, color: bool | None) -> None:
        self.store_path = store_path
        self.color = color


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "store_path",
    type=click.Path(path_type=Path),
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
def cli(ctx: click.Context, store_path: Path, color: bool | None) -> None:
    """Archive every version of a policy in git and show readable section-level diffs."""
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    ctx.obj = Settings(store_path, color)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: one ``Error: ...`` line and exit 2 for every expected failure."""
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of raising.
        code = cli.main(args=argv, prog_name="policydiff", standalone_mode=False)
    except PolicydiffError as err:
        _fail(str(err), err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except click.ClickException as err:
        _fail(err.format_message(), ExitCode.ERROR)
    except click.exceptions.Abort:
        _fail("aborted", ExitCode.ERROR)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(ExitCode.OK)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.ERROR)
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


def _fail(message: str, code: int) -> None:
    """Print one error line on stderr and exit with ``code``."""
    # Whitespace (newlines included) joins into one line; other controls, such as an
    # escape sequence in a file name quoted by the message, are shown as escapes.
    line = escape_unsafe(" ".join(message.split()))
    click.echo(f"Error: {line}", err=True)
    sys.exit(code)
