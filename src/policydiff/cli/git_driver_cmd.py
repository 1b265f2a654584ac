"""The ``git-diff-driver`` command: policydiff's section diff in ``git diff`` and ``git log -p``.

Git runs a ``diff.<driver>.command`` with seven arguments (nine for a rename or copy):
``PATH OLD-FILE OLD-HEX OLD-MODE NEW-FILE NEW-HEX NEW-MODE [NEW-PATH XFRM-MESSAGE]``,
where a side that does not exist (an added or deleted file) is ``/dev/null`` with mode
``.``; a ``diff.<driver>.textconv`` is run with one file and prints its text.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policydiff.cli.common import FormatChoice, format_help, use_color, write_stdout
from policydiff.core.errors import UsageError

if TYPE_CHECKING:
    from policydiff.engine.report import Side

DRIVER_FORMATS = ("term", "markdown", "json")
# Git's arguments: a plain run, and one for a rename or copy (new path and a message).
PLAIN_ARGS = 7
RENAME_ARGS = 9
NULL = "/dev/null"
_HEX = re.compile(r"[0-9a-f]{4,64}|\.")
_MODE = re.compile(r"[0-7]{6}|\.")


# Git's arguments are paths and hashes, never options: a file named "-x.md" is a path,
# and nothing after the first argument is read as an option.
@click.command(
    "git-diff-driver",
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
)
@click.argument(
    "args", nargs=-1, metavar="PATH OLD-FILE OLD-HEX OLD-MODE NEW-FILE NEW-HEX NEW-MODE"
)
@click.option(
    "--format",
    "fmt",
    type=FormatChoice(DRIVER_FORMATS),
    default="term",
    show_default=True,
    help=format_help(DRIVER_FORMATS),
)
@click.option("--ignore-cosmetic", is_flag=True, help="Hide sections with only cosmetic edits.")
@click.option(
    "--textconv",
    is_flag=True,
    help="Print one FILE's policy text instead (for diff.<driver>.textconv): front matter "
    "and Wayback header off, HTML and PDF extracted.",
)
def git_diff_driver_cmd(
    args: tuple[str, ...], fmt: str, ignore_cosmetic: bool, textconv: bool
) -> None:
    """Show policydiff's section diff of a file when git diffs it (a git diff driver).

    Git runs it with the arguments of an external diff; set it up once per repository
    (or in ~/.gitconfig) and 'git diff', 'git show' and 'git log -p' show section-level
    changes for the files .gitattributes marks:

    \b
      echo '*.md diff=policy' >> .gitattributes
      git config diff.policy.command 'policydiff git-diff-driver'

    Files are read as 'compare' reads them; an added or deleted file is compared with
    an empty text. With --textconv, git's own line diff runs on the policy text instead
    (git config diff.policy.textconv 'policydiff git-diff-driver --textconv'). 'git
    diff --no-ext-diff' shows the raw diff.
    """  # noqa: D301 - "\b" is click's no-rewrap marker, the backspace character itself
    if textconv:
        if len(args) != 1 or fmt != "term" or ignore_cosmetic:
            raise UsageError("--textconv takes one FILE and no other option")
        _print_text(Path(args[0]))
        return
    if len(args) not in (PLAIN_ARGS, RENAME_ARGS):
        raise UsageError(
            f"expected git's {PLAIN_ARGS} (or {RENAME_ARGS}) external diff arguments, got "
            f"{len(args)}: set it up as diff.<driver>.command (see --help)"
        )
    path, old_file, old_hex, old_mode, new_file, new_hex, new_mode = args[:PLAIN_ARGS]
    new_path = args[PLAIN_ARGS] if len(args) == RENAME_ARGS else path
    for value, pattern, what in (
        (old_hex, _HEX, "OLD-HEX"),
        (new_hex, _HEX, "NEW-HEX"),
        (old_mode, _MODE, "OLD-MODE"),
        (new_mode, _MODE, "NEW-MODE"),
    ):
        if pattern.fullmatch(value) is None:
            raise UsageError(f"{what} {value[:40]!r} is not what git passes (see --help)")
    old_side, old_text = _side(old_file, f"a/{path}")
    new_side, new_text = _side(new_file, f"b/{new_path}")
    _show_diff(
        _header(path, new_path, (old_hex, old_mode), (new_hex, new_mode)),
        (old_side, old_text, new_side, new_text),
        fmt=fmt,
        ignore_cosmetic=ignore_cosmetic,
    )


def _side(file: str, label: str) -> tuple[Side, str]:
    """Return one side and its text: ``/dev/null`` (no such file on that side) is empty."""
    from policydiff.cli.resolve import read_file
    from policydiff.engine.report import side_from_text

    if file == NULL:
        return side_from_text(NULL, ""), ""
    if _is_empty(Path(file)):
        # A version of the file that was emptied: a side with no sections, not an error.
        return side_from_text(label, ""), ""
    side, text = read_file(Path(file))
    # Git's temporary copies have random names: the report names the file as git does.
    return side_from_text(
        label, text, captured_at=side.captured_at, effective_date=side.effective_date
    ), text


def _header(path: str, new_path: str, old: tuple[str, str], new: tuple[str, str]) -> str:
    """Return git's header lines for the file: which one, added or deleted, which blobs."""
    lines = [f"diff --policydiff a/{path} b/{new_path}"]
    (old_hex, old_mode), (new_hex, new_mode) = old, new
    if old_mode == ".":
        lines.append(f"new file mode {new_mode}")
    elif new_mode == ".":
        lines.append(f"deleted file mode {old_mode}")
    elif old_mode != new_mode:
        lines += [f"old mode {old_mode}", f"new mode {new_mode}"]
    if new_path != path:
        lines += [f"rename from {path}", f"rename to {new_path}"]
    lines.append(f"index {old_hex[:7]}..{new_hex[:7]}")
    return "\n".join(lines) + "\n"


def _show_diff(
    header: str, sides: tuple[Side, str, Side, str], *, fmt: str, ignore_cosmetic: bool
) -> None:
    """Print the header, then the report of the two texts in ``fmt``."""
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport, View
    from policydiff.publish.render import get_renderer

    old_side, old_text, new_side, new_text = sides
    report = CompareReport(old_side, new_side, compare_texts(old_text, new_text))
    view = View(ignore_cosmetic=ignore_cosmetic)
    if fmt == "term":
        from policydiff.publish.render.terminal import render

        # Git's pager is a pipe: colour only when asked (policydiff --color git-diff-driver).
        body = render(report, view, color=use_color(sys.stdout))
    else:
        body = get_renderer(fmt)(report, view)
    # The JSON document stays valid JSON: no header line before it.
    write_stdout(body if fmt == "json" else header + body + ("" if body.endswith("\n") else "\n"))


def _print_text(file: Path) -> None:
    """Print a file's policy text as compare reads it (for ``diff.<driver>.textconv``)."""
    from policydiff.cli.resolve import read_file

    if _is_empty(file):
        return
    _, text = read_file(file)
    write_stdout(text if text.endswith("\n") or not text else text + "\n")


def _is_empty(file: Path) -> bool:
    """Whether ``file`` is a regular file of no bytes (``compare`` refuses those as snapshots)."""
    try:
        return file.is_file() and file.stat().st_size == 0
    except OSError:
        return False  # read_file says why it cannot be read
