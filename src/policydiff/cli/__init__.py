"""The command-line interface: a click group whose commands load lazily."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from pathlib import Path

import click

from policydiff import __version__
from policydiff.core.errors import ExitCode, PolicydiffError, escape_unsafe, shown

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
    "git-diff-driver": "policydiff.cli.git_driver_cmd:git_diff_driver_cmd",
    "schema": "policydiff.cli.schema_cmd:schema_cmd",
}

DEFAULT_STORE = "policy-archive"

# Shown at the end of each command's --help (search keeps the examples in its docstring).
# Real command lines: a test parses each one against the command's options.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "init": ("policydiff init", "policydiff --store ~/policies init"),
    "import": (
        "policydiff import archive/",
        "policydiff import saved/ --policy acme/privacy --format json",
    ),
    "add": (
        "policydiff add privacy.md --policy acme/privacy --captured 2024-05-01",
        "policydiff add page.html --policy acme/privacy --source https://acme.example/privacy",
    ),
    "policies": ("policydiff policies", "policydiff policies --format json"),
    "log": ("policydiff log acme/privacy", "policydiff log acme/privacy --format json"),
    "show": (
        "policydiff show acme/privacy",
        "policydiff show acme/privacy@3",
        "policydiff show acme/privacy --at 2023-01-01",
    ),
    "blame": (
        "policydiff blame acme/privacy",
        "policydiff blame acme/privacy@2 --by sentence",
        "policydiff blame acme/privacy --format html -o blame.html",
    ),
    "history": (
        'policydiff history acme/privacy --section "Cookies"',
        'policydiff history acme/privacy --section "Your rights" --format markdown',
    ),
    "site": ("policydiff site public/", 'policydiff site public/ --search "biometric"'),
    "verify": ("policydiff verify", "policydiff verify acme/privacy --format json"),
    "sync": ("policydiff sync", "policydiff sync origin --no-push"),
    "capture": (
        "policydiff capture https://acme.example/privacy --policy acme/privacy",
        "policydiff capture https://acme.example/terms --policy acme/terms --select main",
    ),
    "wayback": (
        "policydiff wayback https://acme.example/privacy --policy acme/privacy",
        "policydiff wayback acme.example/privacy --policy acme/privacy --from 2018-01-01",
    ),
    "import-git": (
        "policydiff import-git ../site-repo --path legal/privacy.md --policy acme/privacy",
    ),
    "reextract": ("policydiff reextract acme/privacy --select article",),
    "track": ("policydiff track", "policydiff track acme/privacy --exit-code"),
    "config": (
        "policydiff config",
        "policydiff config set policy.acme/privacy.url https://acme.example/privacy",
        "policydiff config get announce.to",
    ),
    "announce": (
        "policydiff announce acme/privacy",
        "policydiff announce acme/privacy 3 4 --format markdown -o notice.md",
        "policydiff announce acme/privacy --send --to list@acme.example",
    ),
    "changelog": (
        "policydiff changelog acme/privacy",
        "policydiff changelog acme/privacy --substantive-only -o CHANGES.md",
    ),
    "feed": (
        "policydiff feed acme/privacy -o privacy.atom",
        "policydiff feed acme/privacy --feed-url https://acme.example/privacy.atom",
        "policydiff feed acme/privacy --site-url https://acme.example/audit/ --include-technical",
    ),
    "git-diff-driver": (
        "policydiff git-diff-driver privacy.md old.md 1a2b3c4 100644 privacy.md 5d6e7f8 100644",
        "policydiff git-diff-driver --textconv privacy.html",
    ),
    "schema": (
        "policydiff schema",
        "policydiff schema compare",
        "policydiff schema policydiff.log/1",
    ),
    "compare": (
        "policydiff compare acme/privacy",
        "policydiff compare acme/privacy 2023-01-01 latest --format html -o diff.html",
        "policydiff compare old.md new.md --exit-code",
        "curl -s https://acme.example/privacy.md | policydiff compare acme/privacy -",
        "policydiff compare old.md <(curl -s https://acme.example/privacy.md)",
    ),
}


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
