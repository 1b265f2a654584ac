"""CLI end to end: compare of the largest corpus pair, --version, and what start-up imports."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import corpus
import engine
import measure
from table import Row, skipped

SECTION = "cli"
# Issue 17: --version and --help each under 60 ms.
START_TARGET = 0.060
# Modules --version has no use for; any of them in its import list is a start-up cost.
HEAVY = (
    "git", "gitdb", "rich", "diff_match_patch", "rapidfuzz", "markdown_it", "yaml", "jinja2",
    "policydiff.store.gitstore", "policydiff.engine.compare", "policydiff.sources.ingest", "policydiff.publish.render",
)  # fmt: skip


def compare_row(pair: corpus.Pair, reps: int) -> Row:
    """``policydiff compare OLD.md NEW.md --format json`` against git's word diff."""
    name = f"policydiff compare OLD.md NEW.md --format json ({pair.label})"
    if not measure.has_command("compare"):
        return skipped(SECTION, name, "no 'compare' command yet")
    command = [
        *measure.policydiff_command(),
        "compare",
        str(pair.old.path),
        str(pair.new.path),
        "--format",
        "json",
    ]
    runs = measure.interleaved(
        {
            "ours": lambda: measure.run_command(command),
            "git": lambda: engine.git_word_diff(pair.old.path, pair.new.path),
        },
        reps,
    )
    codes = {r.returncode for r in runs["ours"]}
    failed = codes - {0, 1}  # 1: differences found, as diff(1)
    error = runs["ours"][0].stderr.decode(errors="replace").strip().splitlines()
    return Row(
        SECTION,
        name,
        measure.median_seconds(runs["ours"]),
        reference="git diff --no-index --word-diff=porcelain",
        ref_value=measure.median_seconds(runs["git"]),
        peak_rss_mb=measure.peak_rss_mb(runs["ours"]),
        note=(f"FAILED exit {sorted(failed)}: {error[-1:]}; " if failed else "")
        + f"{len(runs['ours'])} rep(s)",
    )


SEARCH_TARGET = 1.0
SEARCH_PHRASE = "biometric"


def search_row(reps: int) -> Row:
    """``policydiff search`` over every version of the corpus store, against git's pickaxe."""
    name = f"policydiff search {SEARCH_PHRASE!r} --format json (corpus store, every version)"
    root = corpus.corpus_dir()
    if not measure.has_command("search"):
        return skipped(SECTION, name, "no 'search' command yet")
    with tempfile.TemporaryDirectory(prefix="pd-bench-search-") as tmp:
        source = Path(tmp) / "corpus"
        shutil.copytree(root, source, ignore=shutil.ignore_patterns("*.tsv", "README*"))
        store = Path(tmp) / "store"
        cli = measure.policydiff_command()
        measure.run_command([*cli, "--store", str(store), "init"])
        measure.run_command([*cli, "--store", str(store), "import", str(source)])
        # Warm the history cache as a store in use has it; search then reads texts only.
        measure.run_command([*cli, "--store", str(store), "policies"])
        command = [*cli, "--store", str(store), "search", SEARCH_PHRASE, "--format", "json"]
        # git's own machinery for the same question: which commits add or drop the word.
        pickaxe = ["git", "-C", str(store), "log", "-i", f"-G{SEARCH_PHRASE}", "--format=%H",
                   "--", "policies"]  # fmt: skip
        runs = measure.interleaved(
            {
                "ours": lambda: measure.run_command(command),
                "git": lambda: measure.run_command(pickaxe),
            },
            reps,
        )
    seconds = measure.median_seconds(runs["ours"])
    failed = {r.returncode for r in runs["ours"]} - {0}
    return Row(
        SECTION,
        name,
        seconds,
        reference="git log -i -G PHRASE -- policies",
        ref_value=measure.median_seconds(runs["git"]),
        target="< 1 s",
        met=seconds < SEARCH_TARGET and not failed,
        peak_rss_mb=measure.peak_rss_mb(runs["ours"]),
        note=(f"FAILED exit {sorted(failed)}; " if failed else "") + f"{len(runs['ours'])} rep(s)",
    )


def start_up_row(option: str, reps: int) -> Row:
    """``policydiff --version`` or ``--help`` against ``python -c pass``, as an installed copy starts."""
    # As installed: Python may keep its bytecode cache (a bench run with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise time compiling policydiff too).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs = measure.interleaved(
        {
            "ours": lambda: measure.run_command([*measure.policydiff_command(), option], env=env),
            "python": lambda: measure.run_command([sys.executable, "-c", "pass"], env=env),
            # The floor of any click command: --help cannot start faster than this.
            "click": lambda: measure.run_command([sys.executable, "-c", "import click"], env=env),
        },
        reps,
    )
    seconds = measure.median_seconds(runs["ours"])
    click_start = measure.median_seconds(runs["click"])
    return Row(
        SECTION,
        f"policydiff {option}",
        seconds,
        reference="python -c pass",
        ref_value=measure.median_seconds(runs["python"]),
        target=f"< {START_TARGET * 1000:.0f} ms",
        met=seconds < START_TARGET,
        peak_rss_mb=measure.peak_rss_mb(runs["ours"]),
        note=f"python -c 'import click' {click_start * 1000:.0f} ms;"
        f" imports: {startup_imports(option)}; {reps} rep(s)",
    )


def startup_imports(option: str = "--version", limit: int = 5) -> str:
    """Summarise ``python -X importtime`` of --version (or --help): slowest imports, heavy modules."""
    run = measure.run_command(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            f"from policydiff.cli import main; main([{option!r}])",
        ]
    )
    lines = run.stderr.decode(errors="replace").splitlines()
    entries: list[tuple[int, int, str]] = []  # (nesting level, cumulative us, module)
    for line in lines[1:]:
        _self_us, cumulative_us, field = line.split("|")
        name = field[1:]  # one separator space, then two spaces per nesting level
        module = name.lstrip()
        entries.append(((len(name) - len(module)) // 2, int(cumulative_us), module))
    # Python's own start-up ends with "site"; what follows is ours.
    after_site = [e for e in entries[[e[2] for e in entries].index("site") + 1 :] if e[0] <= 1]
    slowest = sorted(after_site, key=lambda e: e[1], reverse=True)[:limit]
    heavy = sorted({module for _, _, module in entries if module in HEAVY})
    listed = ", ".join(f"{module} {us / 1000:.0f} ms" for _, us, module in slowest)
    return f"{listed}; heavy: {', '.join(heavy) or 'none'}"


def rows(pair: corpus.Pair, reps: int) -> list[Row]:
    """Section 2."""
    return [
        compare_row(pair, reps),
        search_row(reps),
        start_up_row("--version", max(reps, 5)),
        start_up_row("--help", max(reps, 5)),
    ]
