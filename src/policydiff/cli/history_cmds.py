"""The auditor's history commands: blame, history (of one section) and site."""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from policydiff.cli.common import (
    emit_json,
    format_option,
    no_pager_option,
    open_store,
    progress_callback,
    quiet_option,
    show_text,
    status,
    store_path,
    use_color,
    write_atomic,
    write_stdout,
)
from policydiff.cli.completion import complete_policy, complete_policy_ref
from policydiff.core.errors import UsageError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from policydiff.engine.history import Blame

F = TypeVar("F", bound=Callable[..., Any])

# Without a terminal to measure, terminal output is laid out this wide (as compare does).
PLAIN_WIDTH = 100


def _technical_option() -> Callable[[F], F]:
    """Return the --include-technical option shared by the history commands."""
    return click.option(
        "--include-technical",
        is_flag=True,
        help="Also follow technical re-extractions (skipped by default: they are not edits).",
    )


def _layout(renderable: RenderableType, *, width: int, color: bool) -> str:
    """Return a renderable laid out ``width`` columns wide, without trailing spaces."""
    from rich.console import Console

    out = io.StringIO()
    Console(
        file=out,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        emoji=False,
    ).print(renderable)
    # Rich pads rows to the full width; trailing spaces are noise in files and diffs.
    return "\n".join(line.rstrip() for line in out.getvalue().split("\n"))


def _show(renderable: RenderableType) -> None:
    """Print a renderable: terminal width and a pager on a terminal, plain width otherwise."""
    color = use_color(sys.stdout)
    tty = sys.stdout.isatty()
    size = shutil.get_terminal_size()
    text = _layout(renderable, width=size.columns if tty else PLAIN_WIDTH, color=color)
    if tty:
        show_text(text, color=color, lines=size.lines)
    else:
        write_stdout(text)


@click.command("blame")
@click.argument(
    "target", metavar="[POLICY[@REF]]", required=False, shell_complete=complete_policy_ref
)
@click.option(
    "--by",
    type=click.Choice(["paragraph", "sentence"]),
    default="paragraph",
    show_default=True,
    help="Annotate paragraphs (headings and list items included) or sentences.",
)
@_technical_option()
@click.option("--rebuild-cache", is_flag=True, help="Diff every version again instead of resuming.")
@format_option("term", "json", "markdown", "html", default="term")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the blame to this file (atomically) instead of stdout.",
)
@quiet_option()
@no_pager_option()
def blame_cmd(
    target: str | None,
    by: str,
    include_technical: bool,
    rebuild_cache: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """Show since which version each paragraph of a version has stood unchanged.

    REF selects the version (default: latest; a date selects the version in force then).
    Each paragraph (or sentence, with --by sentence) is annotated with the version since
    which its words have stood: the diff engine follows it through every version, so
    re-wrapping, quote style and other cosmetic edits do not make it new, and a paragraph
    moved elsewhere keeps its age. '*' marks text edited cosmetically since.

    Results are remembered in the store's git directory: blaming again, or after new
    versions were recorded, only diffs the versions not yet followed.
    """
    from policydiff.core.refs import VersionRef, split_policy_ref
    from policydiff.engine.history import Granularity, Timeline, blame

    policy: str | None = None
    ref: VersionRef | None = None
    if target is not None:
        policy, ref = split_policy_ref(target)
    store = open_store()
    policy = store.require_policy(policy)
    version = store.resolve(policy, ref)
    on_progress = progress_callback("Following the history")

    result = blame(
        Timeline(store, policy),
        version,
        by=Granularity(by),
        include_technical=include_technical,
        rebuild=rebuild_cache,
        progress=on_progress,
    )
    if fmt in {"json", "markdown", "html"} or output is not None:
        _write_blame(result, fmt, output)
        return
    from policydiff.publish.render.blame import build_blame

    _show(build_blame(result, color=use_color(sys.stdout)))


def _write_blame(result: Blame, fmt: str, output: Path | None) -> None:
    """Write a blame as JSON, markdown or HTML (or plain terminal text) to stdout or a file."""
    import json

    from policydiff.publish.render import blame as formats

    if fmt == "json":
        text = json.dumps(formats.blame_json(result), ensure_ascii=False, indent=2) + "\n"
    elif fmt == "markdown":
        text = formats.blame_markdown(result)
    elif fmt == "html":
        text = formats.blame_html(result)
    else:
        text = _layout(formats.build_blame(result, color=False), width=PLAIN_WIDTH, color=False)
    if output is None:
        write_stdout(text)
    else:
        write_atomic(output, text)
        status(f"Wrote the {fmt} blame to {output}")


@click.command("history")
@click.argument("policy", required=False, shell_complete=complete_policy)
@click.option(
    "--section",
    "section",
    metavar="TEXT",
    required=True,
    help='The section whose path ("A > B") contains TEXT, ignoring case: in the latest '
    "version, else in any version.",
)
@_technical_option()
@format_option("term", "json", "markdown", default="term")
@no_pager_option()
def history_cmd(policy: str | None, section: str, include_technical: bool, fmt: str) -> None:
    """Show every version in which one section of POLICY changed, with its word diff.

    The section is followed through renames, renumbering and moves. When TEXT matches
    several sections, those whose own title contains it win, then an exact title;
    otherwise the candidates are listed.
    """
    from policydiff.core.refs import validate_policy_id
    from policydiff.engine.history import Timeline, section_history

    if not section.strip():
        raise UsageError("--section needs some text to look for")
    if policy is not None:
        validate_policy_id(policy)
    store = open_store()
    policy = store.require_policy(policy)
    result = section_history(Timeline(store, policy), section, include_technical=include_technical)
    if fmt == "json":
        from policydiff.publish.render.blame import history_json

        emit_json(history_json(result, section))
    elif fmt == "markdown":
        from policydiff.publish.render.blame import history_markdown

        write_stdout(history_markdown(result))
    else:
        from policydiff.publish.render.blame import build_history

        _show(build_history(result, color=use_color(sys.stdout)))


@click.command("site")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="ID",
    help="Only this policy (repeatable; default: every policy in the store).",
    shell_complete=complete_policy,
)
@_technical_option()
@click.option(
    "--search",
    "searches",
    multiple=True,
    metavar="PHRASE",
    help="Add a page answering `policydiff search PHRASE` (repeatable; linked from the index).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=32),
    metavar="N",
    help="Processes building policies' pages at once (default: one per core, at most 8;"
    " 1: all in this process). The pages are the same whatever N is.",
)
@quiet_option()
def site_cmd(
    outdir: Path,
    policies: tuple[str, ...],
    include_technical: bool,
    searches: tuple[str, ...],
    jobs: int | None,
) -> None:
    """Write a static HTML site of the store to OUTDIR: timelines, texts, redlines, blame.

    The site needs no server and loads nothing from elsewhere: open OUTDIR/index.html
    from disk or publish the folder anywhere. Running it again rewrites only the pages
    whose content changed (and removes pages it wrote before that are no longer part of
    the site). Templates in the store's templates/site/ folder replace the packaged page
    templates of the same name (see docs/templates.md).
    """
    from policydiff.core.refs import validate_policy_id
    from policydiff.publish.site import build_site

    for policy in policies:
        validate_policy_id(policy)
    store = open_store()
    chosen = [store.require_policy(p) for p in policies] if policies else store.policies()
    if not chosen:
        raise UsageError("the store holds no policies yet (use 'policydiff import')")
    on_progress = progress_callback("Building the site")

    report = build_site(
        store,
        outdir,
        chosen,
        include_technical=include_technical,
        progress=on_progress,
        searches=searches,
        template_dir=store_path() / "templates" / "site",
        jobs=jobs,
    )
    status(
        f"Site: {report.pages} page(s) in {outdir} ({report.written} written, "
        f"{report.unchanged} unchanged, {report.removed} removed); "
        f"open {outdir / 'index.html'}"
    )
