"""The command-line interface: ``main``, the command table, and a click group loaded on demand.

This module imports no click: ``policydiff --version`` is answered from here alone, and
everything else goes through the group in ``cli.group``, whose commands load lazily.
"""

from __future__ import annotations

import os
import sys

from policydiff import __version__

# Not typing.TYPE_CHECKING: importing typing is a few ms that --version has no use for
# (mypy treats any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    from policydiff.cli.group import LazyGroup, Settings, cli

__all__ = [
    "COMMANDS",
    "DEFAULT_STORE",
    "EXAMPLES",
    "VERSION_MESSAGE",
    "LazyGroup",
    "Settings",
    "cli",
    "main",
]

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


# What click's --version option prints: the fast path in main() answers the same.
VERSION_MESSAGE = f"policydiff {__version__}"
# Set by the shell completion scripts: click then completes instead of running a command.
COMPLETE_VARIABLE = "_POLICYDIFF_COMPLETE"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: one ``Error: ...`` line and exit 2 for every expected failure."""
    args = sys.argv[1:] if argv is None else argv
    # Exactly what click would answer alone; in completion mode click answers otherwise.
    if list(args) == ["--version"] and COMPLETE_VARIABLE not in os.environ:
        _print_version()
    from policydiff.cli.group import run

    run(argv)


def _print_version() -> NoReturn:
    """Print the version and exit 0, as the click group would, without importing click."""
    try:
        sys.stdout.write(VERSION_MESSAGE + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # As main() does for any command: a reader gone away is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


# The click objects live in cli.group, loaded on first use (PEP 562).
_GROUP_NAMES = frozenset({"LazyGroup", "Settings", "cli"})


def __getattr__(name: str) -> object:
    """Return the group's click objects (``cli``, ``LazyGroup``, ``Settings``) on first use."""
    if name not in _GROUP_NAMES:
        raise AttributeError(f"module 'policydiff.cli' has no attribute {name!r}")
    from policydiff.cli import group

    value: object = getattr(group, name)
    globals()[name] = value
    return value
