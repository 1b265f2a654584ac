"""Markdown that fits where it is pasted (``--max-chars``) and reads right on GitHub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from helpers import REPO, run_cli

CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", REPO.parent / "shared" / "corpus"))
LARGEST = CORPUS / "instagram" / "privacy-policy"
LARGEST_PAIR = [str(LARGEST / "2025-06-21.md"), str(LARGEST / "2025-06-25.md")]
needs_largest = pytest.mark.skipif(
    not (LARGEST / "2025-06-25.md").exists(), reason=f"no corpus at {CORPUS}"
)
MORE = " more changed sections not shown"


def compare_markdown(*args: str) -> str:
    """Return the markdown report of ``compare ARGS`` (which must succeed)."""
    result = run_cli(["compare", "--format", "markdown", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.corpus
@needs_largest
def test_largest_corpus_pair_fits_a_github_comment() -> None:
    out = compare_markdown(*LARGEST_PAIR)
    assert len(out) <= 60_000
    last = out.rstrip("\n").splitlines()[-1]
    assert MORE in last
    # The summary table is kept whole: one row per changed section.
    full = compare_markdown("--max-chars", "0", *LARGEST_PAIR)
    assert len(full) > 60_000
    assert MORE not in full
    rows = [line for line in full.splitlines() if line.startswith("| ")]
    assert all(row in out for row in rows)
    # Whole sections only: every section heading shown is followed by its full text.
    shown = out[: out.rindex("\n\n*")]
    assert full.startswith(shown)
    hidden = int(last.lstrip("*").split(" ", 1)[0])
    assert hidden == full.count("\n### ") - shown.count("\n### ")


@pytest.mark.corpus
@needs_largest
@pytest.mark.parametrize("limit", [200, 3_000, 20_000])
def test_max_chars_keeps_whole_sections_and_links_the_report(limit: int) -> None:
    url = "https://example.org/reports/instagram.html?x=1&y=2"
    out = compare_markdown("--max-chars", str(limit), "--report-url", url, *LARGEST_PAIR)
    assert len(out) <= limit
    last = out.rstrip("\n").splitlines()[-1]
    assert MORE in last
    # The closing line is a paragraph of its own (not a table row) with a working link.
    html = MarkdownIt("commonmark").enable("table").render(out)
    link = '<a href="https://example.org/reports/instagram.html?x=1&amp;y=2">full report</a>'
    assert html.rstrip().endswith(f"{link}</em></p>")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report-url", "javascript:alert(1)"], "http"),
        (["--report-url", "https://a.example/<script>"], "angle"),
        (["--report-url", "https://a.example/ x"], "spaces"),
        (["--report-url", "ftp://a.example/r.html"], "http"),
        (["--report-url", "https://"], "http"),
        (["--max-chars", "-1"], "max-chars"),
        (["--format", "html", "--max-chars", "10"], "only to --format markdown"),
        (["--format", "term", "--report-url", "https://a.example/"], "only to --format markdown"),
    ],
)
def test_bad_size_options_are_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text("# T\n\nOne.\n", encoding="utf-8")
    new.write_text("# T\n\nTwo.\n", encoding="utf-8")
    fmt = [] if "--format" in args else ["--format", "markdown"]
    result = run_cli(["compare", *fmt, *args, str(old), str(new)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_small_reports_are_unchanged_by_the_limit(tmp_path: Path) -> None:
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text("# T\n\n## A\n\nOne.\n\n## B\n\nTwo.\n", encoding="utf-8")
    new.write_text("# T\n\n## A\n\nUno.\n\n## B\n\nDos.\n", encoding="utf-8")
    full = compare_markdown("--max-chars", "0", str(old), str(new))
    assert compare_markdown(str(old), str(new)) == full
    assert compare_markdown("--max-chars", str(len(full)), str(old), str(new)) == full
    cut = compare_markdown("--max-chars", str(len(full) - 1), str(old), str(new))
    assert len(cut) < len(full)
    assert cut.rstrip().endswith("*1 more changed section not shown.*")
