"""The ``compare`` command: resolve two texts, diff them, render a report, set the exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policydiff.cli.common import (
    FormatChoice,
    format_help,
    no_pager_option,
    show_text,
    store_path,
    use_color,
    write_atomic,
    write_stdout,
)
from policydiff.cli.completion import complete_compare_args
from policydiff.core.errors import ExitCode, UsageError
from policydiff.publish.render import RENDERERS

if TYPE_CHECKING:
    from policydiff.engine.report import CompareReport, View


# The markdown format's default size: GitHub comments and PR bodies stop at 65,536
# characters, and the rest leaves room for a few lines of the poster's own.
MARKDOWN_MAX_CHARS = 60_000


@click.command("compare")
@click.argument(
    "args", nargs=-1, metavar="[POLICY] [OLD] [NEW]", shell_complete=complete_compare_args
)
@click.option(
    "--format",
    "fmt",
    type=FormatChoice(list(RENDERERS)),
    default="term",
    show_default=True,
    help=format_help(list(RENDERERS)),
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to this file (atomically) instead of stdout.",
)
@click.option(
    "--section",
    metavar="TEXT",
    help='Only sections whose path ("A > B") contains TEXT, ignoring case.',
)
@click.option("--ignore-cosmetic", is_flag=True, help="Hide sections with only cosmetic edits.")
@click.option(
    "--show-cosmetic",
    is_flag=True,
    help="Show cosmetic edits (quotes, dashes, markup) muted, as [~old\u2192new~] without colour.",
)
@click.option("--context", is_flag=True, help="Also show unchanged sections and paragraphs.")
@click.option(
    "--max-chars",
    type=click.IntRange(min=0),
    metavar="N",
    help="Markdown: at most N characters, whole sections kept, then a line saying how many"
    f" were left out (default {MARKDOWN_MAX_CHARS:,}: GitHub comments stop at 65,536; 0: no"
    " limit).",
)
@click.option(
    "--report-url",
    metavar="URL",
    help="Markdown: the http(s) address of the full report, linked when sections are left out.",
)
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 1 if there are substantive differences, 0 if none (2 on errors).",
)
@no_pager_option()
def compare_cmd(
    args: tuple[str, ...],
    fmt: str,
    output: Path | None,
    section: str | None,
    ignore_cosmetic: bool,
    show_cosmetic: bool,
    context: bool,
    max_chars: int | None,
    report_url: str | None,
    exit_code: bool,
) -> None:
    """Show what changed between two versions of a policy, or between two files.

    \b
      compare                  previous -> latest of the only policy
      compare POLICY           previous -> latest of POLICY
      compare REF              REF -> latest of the only policy
      compare FILE             latest of the only policy -> FILE
      compare OLD NEW          OLD -> NEW, each a REF of the only policy or a FILE
      compare POLICY REF       REF -> latest of POLICY
      compare POLICY FILE      latest of POLICY -> FILE
      compare POLICY OLD NEW   OLD -> NEW of POLICY

    REF is a version number, 'latest', 'previous', a date YYYY-MM-DD (the version in force
    then), a commit hash prefix, or POLICY@REF for any policy. An argument that names an
    existing file is always read as a file (use POLICY@REF to reach a version whose ref is
    also a file name); two files are compared without any store. With two arguments, the
    first is POLICY only when the store holds a policy of that name.

    Files are decoded as 'import' decodes them, without front matter or a Wayback
    header; HTML pages are compared by their extracted policy text. The JSON report
    lists every section; the other formats show only changed sections (and changed
    paragraphs within them) unless --context is given. Cosmetic edits inside a section
    (quotes, dashes, list markers, spacing, markup) are not counted as word changes and
    read as the new text unless --show-cosmetic is given.
    """  # noqa: D301 - "\b" is click's no-rewrap marker, the backspace character itself
    from policydiff.cli.resolve import resolve_pair
    from policydiff.engine.compare import compare_texts
    from policydiff.engine.report import CompareReport, View, is_substantive
    from policydiff.publish.render import get_renderer

    if section is not None and not section.strip():
        raise UsageError("--section needs some text to look for")
    if fmt == "unified" and (section is not None or ignore_cosmetic):
        raise UsageError("--section and --ignore-cosmetic do not apply to --format unified")
    if fmt == "unified" and show_cosmetic:
        raise UsageError("--show-cosmetic does not apply to --format unified")
    if fmt != "markdown" and (max_chars is not None or report_url is not None):
        raise UsageError("--max-chars and --report-url apply only to --format markdown")
    if report_url is not None:
        _check_report_url(report_url)
    pair = resolve_pair(args, store_path())
    report = CompareReport(pair.old, pair.new, compare_texts(pair.old_text, pair.new_text))
    view = View(
        section=section,
        ignore_cosmetic=ignore_cosmetic,
        context=context,
        show_cosmetic=show_cosmetic,
        max_chars=(MARKDOWN_MAX_CHARS if max_chars is None else max_chars)
        if fmt == "markdown"
        else 0,
        report_url=report_url,
    )
    if output is not None:
        # A file gets the plain form of every format (terminal: 100 columns, no colour).
        write_atomic(output, get_renderer(fmt)(report, view))
        click.echo(f"Wrote the {fmt} report to {output}", err=True)
    elif fmt == "term":
        _show_terminal(report, view)
    else:
        write_stdout(get_renderer(fmt)(report, view))
    if exit_code and is_substantive(report, view):
        click.get_current_context().exit(ExitCode.CHANGES_FOUND)


def _show_terminal(report: CompareReport, view: View) -> None:
    """Print the terminal report; through a pager when it is longer than the terminal."""
    import shutil

    from policydiff.publish.render.terminal import render

    color = use_color(sys.stdout)
    if not sys.stdout.isatty():
        # Pipes and files get a fixed width, so that the output does not depend on where it
        # ran, unless COLUMNS asks for another (as for ls or git).
        write_stdout(render(report, view, width=_columns(), color=color))
        return
    size = shutil.get_terminal_size()
    show_text(render(report, view, width=size.columns, color=color), color=color, lines=size.lines)


def _columns() -> int:
    """Return the width for piped terminal output: COLUMNS when it is a sane number, else 100."""
    import os

    from policydiff.publish.render.terminal import DEFAULT_WIDTH

    value = os.environ.get("COLUMNS", "")
    if value.isascii() and value.isdigit() and 20 <= int(value) <= 1000:
        return int(value)
    return DEFAULT_WIDTH


def _check_report_url(url: str) -> None:
    """Refuse a ``--report-url`` that is not a plain http(s) address (it becomes a link)."""
    from urllib.parse import urlsplit

    # No spaces, angle brackets or controls: the URL goes between <> as a markdown link target.
    if any(char.isspace() or char in "<>\\" or ord(char) < 32 or ord(char) == 127 for char in url):
        raise UsageError("--report-url must be an http(s) URL without spaces or angle brackets")
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise UsageError("--report-url must be an http:// or https:// URL")
