"""What a command imports: a plain compare, --help and --version load no unused stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from policydiff.cli import COMMANDS, cli
from policydiff.cli.short_help import SHORT_HELP

# Each of these costs 10-60 ms of start-up and has no use for the commands below.
NEVER_ON_PLAIN_COMPARE = (
    "yaml", "bs4", "lxml", "markdownify", "soupsieve", "jinja2", "httpx", "git", "feedgen",
    "rapidfuzz", "smtplib",
)  # fmt: skip
# Modules of the standard library and of policydiff itself a compare of two plain files
# has no use for: the store and git plumbing, the site and HTML stack, PDF and HTML
# extraction, the terminal renderer, and tempfile (which pulls shutil, random, bz2, lzma).
NEVER_ON_PLAIN_COMPARE_MODULES = (
    "policydiff.store.gitstore", "policydiff.store.layout", "policydiff.store.fastimport",
    "policydiff.core.gitenv", "policydiff.publish.site", "policydiff.engine.history",
    "policydiff.publish.render.html", "policydiff.publish.render.terminal", "policydiff.sources.ingest.html",
    "policydiff.publish.announce", "policydiff.sources.fetch", "policydiff.sources.ingest.snapshot", "policydiff.sources.ingest.pdf",
    "policydiff.sources.ingest.discover", "tempfile", "shutil", "difflib", "subprocess",
)  # fmt: skip
COMMAND_MODULES = (
    "policydiff.cli.announce_cmds", "policydiff.cli.capture_cmds", "policydiff.cli.compare_cmd",
    "policydiff.cli.config_cmd", "policydiff.cli.history_cmds", "policydiff.cli.search_cmd",
    "policydiff.cli.store_cmds", "policydiff.cli.track_cmd", "policydiff.publish.mailsend",
)  # fmt: skip


def imported(args: list[str], cwd: Path) -> set[str]:
    """Run ``policydiff ARGS`` in a fresh interpreter; return every module it imported."""
    code = f"from policydiff.cli import main; main({args!r})"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode in (0, 1), run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
    assert lines, run.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}


def tops(modules: set[str]) -> set[str]:
    """Top-level packages of some module names."""
    return {name.partition(".")[0] for name in modules}


def test_plain_markdown_compare_imports_no_unused_stack(tmp_path: Path) -> None:
    """Two markdown files without front matter: no YAML, HTML, fuzzy, git, web or mail code."""
    (tmp_path / "a.md").write_text("# Policy\n\n## Data\n\nWe collect data.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Policy\n\n## Data\n\nWe sell data.\n", encoding="utf-8")
    modules = imported(["compare", "a.md", "b.md", "--format", "json"], tmp_path)
    assert "policydiff.engine.compare" in modules  # the run did get as far as the engine
    assert tops(modules) & set(NEVER_ON_PLAIN_COMPARE) == set()
    assert modules & set(NEVER_ON_PLAIN_COMPARE_MODULES) == set()


def test_front_matter_still_parsed_when_present(tmp_path: Path) -> None:
    """The lazy YAML import: a file with front matter still loads PyYAML and is read."""
    text = "---\npolicy: example/privacy\n---\n# Policy\n\nWe collect data.\n"
    (tmp_path / "a.md").write_text(text, encoding="utf-8")
    (tmp_path / "b.md").write_text(text.replace("collect", "sell"), encoding="utf-8")
    modules = imported(["compare", "a.md", "b.md", "--format", "json"], tmp_path)
    assert "yaml" in modules


@pytest.mark.parametrize("module", ["policydiff.store.layout", "policydiff.store.fastimport"])
def test_store_parts_load_without_the_store_class(module: str) -> None:
    """The store's layout and writer import no GitStore at run time: gitstore imports them, not back."""
    code = f"import sys, {module}; print('policydiff.store.gitstore' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "False"


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_start_up_imports_no_command_module(tmp_path: Path, args: list[str]) -> None:
    """--help lists commands without importing their modules (nor mail, git, the engine)."""
    modules = imported(args, tmp_path)
    assert modules & set(COMMAND_MODULES) == set()
    assert tops(modules) & {"git", "rich", "markdown_it", "rapidfuzz", "yaml"} == set()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_stored_short_help_matches_the_command(name: str) -> None:
    """The one-line help --help shows is the command's own, at any terminal width."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert set(SHORT_HELP) == set(COMMANDS)
    for limit in (30, 45, 80, 200):
        stored = click.Command(name, help=SHORT_HELP[name]).get_short_help_str(limit)
        assert stored == command.get_short_help_str(limit)
