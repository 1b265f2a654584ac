"""What a command imports: a plain compare, --help and --version load no unused stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from helpers import run_cli
from policydiff.cli import COMMANDS, VERSION_MESSAGE, cli
from policydiff.cli.short_help import SHORT_HELP

# Each of these costs 10-60 ms of start-up and has no use for the commands below.
HEAVY = (
    "yaml", "bs4", "lxml", "markdownify", "soupsieve", "jinja2", "httpx", "git", "gitdb",
    "feedgen", "pdfminer", "rapidfuzz", "rich", "playwright", "smtplib",
)  # fmt: skip
# Modules of the standard library and of policydiff itself a compare of two plain files
# has no use for: the store and git plumbing, the site and HTML stack, PDF and HTML
# extraction, the terminal renderer, and tempfile (which pulls shutil, random, bz2, lzma).
NEVER_ON_PLAIN_COMPARE_MODULES = (
    "policydiff.store.gitstore", "policydiff.store.layout", "policydiff.store.fastimport",
    "policydiff.core.gitenv", "policydiff.publish.site", "policydiff.engine.history",
    "policydiff.publish.render.html", "policydiff.publish.render.terminal", "policydiff.sources.ingest.html",
    "policydiff.publish.announce", "policydiff.sources.fetch", "policydiff.sources.ingest.snapshot", "policydiff.sources.ingest.pdf",
    "policydiff.sources.ingest.discover", "policydiff.publish.mailsend", "tempfile", "shutil", "difflib", "subprocess",
    # Version refs and front matter dates: two files without front matter need neither.
    "policydiff.core.refs", "policydiff.sources.ingest.dates",
)  # fmt: skip
# Every module a command lives in, read from the command table so that none is left out.
COMMAND_MODULES = frozenset(target.partition(":")[0] for target in COMMANDS.values())
# All that --help may load of policydiff: the table, the group, the one-line helps, errors.
HELP_MODULES = frozenset(
    {
        "policydiff",
        "policydiff.cli",
        "policydiff.cli.group",
        "policydiff.cli.short_help",
        "policydiff.core",
        "policydiff.core.errors",
    }
)


def loaded(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, codes: tuple[int, ...] = (0, 1)
) -> set[str]:
    """Run ``policydiff ARGS`` in a fresh interpreter; return sys.modules as it exits.

    Read at exit rather than from ``-X importtime``, which does not list the modules
    loaded through ``importlib.import_module`` (each command, each renderer).
    """
    out = cwd / "modules.txt"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        "from policydiff.cli import main\n"
        f"main({args!r})\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert run.returncode in codes, run.stderr[-2000:]
    return set(out.read_text(encoding="utf-8").split("\n"))


def tops(modules: set[str]) -> set[str]:
    """Top-level packages of some module names."""
    return {name.partition(".")[0] for name in modules}


def test_plain_markdown_compare_imports_no_unused_stack(tmp_path: Path) -> None:
    """Two markdown files without front matter: no YAML, HTML, fuzzy, git, web or mail code."""
    (tmp_path / "a.md").write_text("# Policy\n\n## Data\n\nWe collect data.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Policy\n\n## Data\n\nWe sell data.\n", encoding="utf-8")
    modules = loaded(["compare", "a.md", "b.md", "--format", "json"], tmp_path)
    # The run did get as far as the engine and the renderer.
    assert {"policydiff.engine.compare", "policydiff.publish.render.json_report"} <= modules
    assert tops(modules) & set(HEAVY) == set()
    assert modules & set(NEVER_ON_PLAIN_COMPARE_MODULES) == set()
    assert modules & COMMAND_MODULES == {"policydiff.cli.compare_cmd"}


def test_front_matter_still_parsed_when_present(tmp_path: Path) -> None:
    """The lazy imports: a file with front matter still loads PyYAML, and its dates are read."""
    text = (
        "---\npolicy: example/privacy\ncaptured: 2024-05-01T10:00:00Z\neffective: 2024-04-01\n"
        "---\n# Policy\n\nWe collect data.\n"
    )
    (tmp_path / "a.md").write_text(text, encoding="utf-8")
    (tmp_path / "b.md").write_text(text.replace("collect", "sell"), encoding="utf-8")
    modules = loaded(["compare", "a.md", "b.md", "--format", "json"], tmp_path)
    assert {"yaml", "policydiff.sources.ingest.dates"} <= modules
    result = run_cli(
        ["compare", str(tmp_path / "a.md"), str(tmp_path / "b.md"), "--format", "json"]
    )
    report = json.loads(result.stdout)
    assert report["old"]["captured_at"].startswith("2024-05-01T10:00:00")
    assert report["old"]["effective_date"] == "2024-04-01"


@pytest.mark.parametrize("module", ["policydiff.store.layout", "policydiff.store.fastimport"])
def test_store_parts_load_without_the_store_class(module: str) -> None:
    """The store's layout and writer import no GitStore at run time: gitstore imports them, not back."""
    code = f"import sys, {module}; print('policydiff.store.gitstore' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "False"


def test_version_imports_not_even_click(tmp_path: Path) -> None:
    """--version is answered before the click group is built: nothing of policydiff but the table."""
    modules = loaded(["--version"], tmp_path)
    assert "click" not in modules
    assert {name for name in modules if name.startswith("policydiff")} == {
        "policydiff",
        "policydiff.cli",
    }


@pytest.mark.parametrize(("args", "code"), [(["--help"], 0), (["-h"], 0), ([], 2)])
def test_help_imports_no_command_module(tmp_path: Path, args: list[str], code: int) -> None:
    """--help lists the commands without importing their modules (nor git, rich, the engine).

    With no arguments at all, the help goes to stderr with exit code 2 (as click does).
    """
    modules = loaded(args, tmp_path, codes=(code,))
    assert "click" in modules  # the help did come from the click group
    assert {name for name in modules if name.startswith("policydiff")} <= HELP_MODULES
    assert tops(modules) & {*HEAVY, "markdown_it", "diff_match_patch"} == set()


def test_command_name_completion_imports_no_command_module(tmp_path: Path) -> None:
    """Tab after ``policydiff``: every command offered, with its help, none of them imported."""
    env = {"_POLICYDIFF_COMPLETE": "zsh_complete", "COMP_WORDS": "policydiff ", "COMP_CWORD": "1"}
    modules = loaded([], tmp_path, env)
    assert {name for name in modules if name.startswith("policydiff")} <= HELP_MODULES
    assert tops(modules) & set(HEAVY) == set()


def test_command_name_completion_shows_each_commands_own_help() -> None:
    """The stored one-line helps reach the completion menu as click would cut the real ones."""
    env = {"_POLICYDIFF_COMPLETE": "zsh_complete", "COMP_WORDS": "policydiff ", "COMP_CWORD": "1"}
    result = run_cli([], env=env)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    # zsh_complete prints each item as three lines: type, value, help.
    offered = {lines[i + 1]: lines[i + 2] for i in range(0, len(lines), 3) if lines[i] == "plain"}
    ctx = click.Context(cli, info_name="policydiff")
    expected = {}
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        expected[name] = command.get_short_help_str() or "_"
    assert offered == expected


@pytest.mark.parametrize("width", [50, 80, 200])
def test_help_lists_every_command_with_its_own_short_help(width: int) -> None:
    """--help's command list equals the one built from the imported commands themselves.

    The list comes from a stored table (``short_help.py``) so that --help imports no
    command; this renders the same list from each command's own definition and compares
    the whole help text, so a command added, renamed or re-documented cannot drift.
    """
    ctx = click.Context(cli, info_name="policydiff", terminal_width=width)
    formatter = ctx.make_formatter()
    rows = []
    for name in sorted(COMMANDS):
        command = cli.get_command(ctx, name)
        assert command is not None
        assert not command.hidden
        # The whole first sentence: the list wraps it rather than cutting it with "...".
        rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
    with formatter.section("Commands"):
        formatter.write_dl(rows)
    shown = cli.get_help(ctx)
    assert shown.endswith("\n" + formatter.getvalue().rstrip("\n"))
    listed = shown.rpartition("\nCommands:\n")[2]
    assert [line.split()[0] for line in listed.splitlines() if line[2:3] != " "] == sorted(COMMANDS)


def test_help_through_main_is_the_groups_help() -> None:
    """``policydiff --help`` as run prints the click group's help text, byte for byte."""
    result = run_cli(["--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    ctx = click.Context(cli, info_name="policydiff", terminal_width=80)
    assert result.stdout == cli.get_help(ctx) + "\n"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_stored_short_help_matches_the_command(name: str) -> None:
    """The one-line help --help shows is the command's own, at any terminal width."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert set(SHORT_HELP) == set(COMMANDS)
    for limit in (30, 45, 80, 200):
        stored = click.Command(name, help=SHORT_HELP[name]).get_short_help_str(limit)
        assert stored == command.get_short_help_str(limit)


@pytest.mark.parametrize("args", [["--version"], ["--store", "elsewhere", "--version"]])
def test_version_fast_path_prints_what_click_prints(args: list[str]) -> None:
    """main's --version (no click) and the group's version option print the same line."""
    result = run_cli(args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == VERSION_MESSAGE + "\n"
    from click.testing import CliRunner

    by_click = CliRunner().invoke(cli, ["--version"])
    assert by_click.exit_code == 0
    assert by_click.output == result.stdout


def test_version_to_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """``policydiff --version | true``: no traceback when the reader has gone (as click's path)."""
    code = "from policydiff.cli import main; main(['--version'])"
    read, write = os.pipe()
    os.close(read)
    run = subprocess.run(
        [sys.executable, "-c", code],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    os.close(write)
    assert run.returncode == 0
    assert run.stderr == ""


def test_mail_option_constants_are_the_senders() -> None:
    """announce's option choices and default timeout, named in the CLI, equal mailsend's."""
    from policydiff.cli import announce_cmds
    from policydiff.publish import mailsend

    assert announce_cmds.SECURITY_MODES == mailsend.SECURITY_MODES
    assert announce_cmds.DEFAULT_TIMEOUT == mailsend.DEFAULT_TIMEOUT


@pytest.mark.parametrize(
    "args",
    [
        ["changelog", "acme/privacy"],
        ["feed", "acme/privacy"],
        ["announce", "acme/privacy", "--format", "text"],
        ["changelog", "--help"],
    ],
)
def test_no_mail_stack_unless_sending(tmp_path: Path, args: list[str]) -> None:
    """changelog, feed and a drafted announce load no smtplib, ssl or the mail sender."""
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    for day, what in (("2024-01-01", "collect"), ("2024-02-01", "sell")):
        file = tmp_path / f"{day}.md"
        file.write_text(f"# Policy\n\n## Data\n\nWe {what} data.\n", encoding="utf-8")
        added = run_cli(
            ["--store", str(store), "add", str(file), "--policy", "acme/privacy", "--captured", day]
        )
        assert added.exit_code == 0, added.stderr
    modules = loaded(["--store", str(store), *args], tmp_path)
    assert "policydiff.cli.announce_cmds" in modules  # the command did run
    assert modules & {"smtplib", "ssl", "policydiff.publish.mailsend"} == set()


def test_python_api_compare_loads_no_store(tmp_path: Path) -> None:
    """``policydiff.compare_files`` / ``compare_texts``: no GitPython, snapshot reading or PDF code."""
    (tmp_path / "a.md").write_text("# Policy\n\nWe collect data.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Policy\n\nWe sell data.\n", encoding="utf-8")
    code = (
        "import sys, policydiff\n"
        "diff = policydiff.compare_files('a.md', 'b.md')\n"
        "assert diff.summary.substantive, diff\n"
        "assert policydiff.compare_texts('a', 'b').summary.substantive\n"
        "print('\\n'.join(sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    modules = set(run.stdout.splitlines())
    assert "policydiff.api" in modules
    assert tops(modules) & {*HEAVY, "click"} == set()
    assert modules & set(NEVER_ON_PLAIN_COMPARE_MODULES) == set()


def test_version_in_completion_mode_is_left_to_click() -> None:
    """With the completion variable set, click answers (here: the bash script), not the fast path."""
    result = run_cli(["--version"], env={"_POLICYDIFF_COMPLETE": "bash_source"})
    assert result.exit_code == 0, result.stderr
    assert "_policydiff_completion()" in result.stdout
    assert VERSION_MESSAGE not in result.stdout
