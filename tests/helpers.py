"""Test helpers: run the real CLI in-process with its real exit codes and streams."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from policydiff.cli import main

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "archive" / "koozali" / "privacy-policy" / "2017-04-22T082216Z.wayback.txt"
CORPUS = REPO.parent / "shared" / "corpus"


@dataclass
class Result:
    """What one CLI run produced."""

    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes


def run_cli(args: list[str], env: Mapping[str, str | None] | None = None) -> Result:
    """Run ``policydiff ARGS`` through ``main`` (so errors are handled as in real use)."""
    runner = CliRunner()
    code = 0
    with runner.isolation(env={"NO_COLOR": None, **(env or {})}) as (out, err, _):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    raw = out.getvalue()
    return Result(
        code, raw.decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace"), raw
    )


def seed_body() -> str:
    """Return the seed's policy text: the file minus its Wayback header blockquote."""
    text = SEED.read_text(encoding="utf-8")
    return text[text.index("# SME Server") :]


def index_sql(store: Path, *statements: str) -> None:
    """Run SQL on a store's history index, as a hand edit of the cache would."""
    db = sqlite3.connect(store / ".git" / "policydiff" / "index.sqlite")
    with db:
        for statement in statements:
            db.execute(statement)
    db.close()


def pseudo_heading_without_shortcut(content: str) -> object:
    """Read a pseudo-heading with markdown-it's inline parser only (no reader without it)."""
    from policydiff.engine import sections

    return sections._parsed_pseudo_heading(content) if sections._pseudo_candidate(content) else None
