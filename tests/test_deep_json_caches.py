"""Local JSON files (settings, caches, the site manifest) nested too deeply are never a traceback."""

from __future__ import annotations

from pathlib import Path

from helpers import run_cli

DEEP = "[" * 200_000 + "]" * 200_000


def test_deep_json_in_local_files_is_no_traceback(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    snapshot = tmp_path / "p.md"
    snapshot.write_text("---\ncaptured: 2024-05-01T00:00:00Z\n---\n# P\n\nText.\n")
    assert (
        run_cli(["--store", str(store), "add", str(snapshot), "--policy", "acme/p"]).exit_code == 0
    )
    assert run_cli(["--store", str(store), "log", "acme/p"]).exit_code == 0
    # The log stats cache: a deep file is a cache miss, recomputed.
    for cache in (store / ".git" / "policydiff" / "stats").glob("*.json"):
        cache.write_text(DEEP)
    assert run_cli(["--store", str(store), "log", "acme/p"]).exit_code == 0
    # The clone's own settings file: one Error line.
    (store / ".git" / "policydiff" / "config.json").write_text(DEEP)
    shown = run_cli(["--store", str(store), "config"])
    assert shown.exit_code == 2
    assert shown.stderr.startswith("Error: ")
    assert "Traceback" not in shown.stderr
    (store / ".git" / "policydiff" / "config.json").unlink()
    # The site's manifest: a folder with an unreadable manifest is not ours to write into.
    site = tmp_path / "site"
    assert run_cli(["--store", str(store), "site", str(site)]).exit_code == 0
    (site / ".policydiff-site.json").write_text(DEEP)
    again = run_cli(["--store", str(store), "site", str(site)])
    assert "Traceback" not in again.stderr
    assert again.exit_code in {0, 2}
