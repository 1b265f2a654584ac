"""Provenance is visible in every view: log, show, blame, the site and announcements."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_cli
from test_import_git import FILE, POLICY, ota, run_import  # noqa: F401 - ota is a fixture


def test_import_git_provenance_in_log_show_blame_site_and_announce(
    tmp_path: Path,
    ota: Path,  # noqa: F811 - the fixture
) -> None:
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    code, _, err = run_import(store, ota)
    assert code == 0, err
    origin_prefix = "https://github.com/OpenTermsArchive/pga-versions.git@"

    log = run_cli(["--store", str(store), "log", POLICY, "--no-stats"])
    assert log.exit_code == 0, log.stderr
    assert origin_prefix in log.stdout
    assert f":{FILE}" in log.stdout

    shown = run_cli(["--store", str(store), "show", f"{POLICY}@1", "--format", "json"])
    document = json.loads(shown.stdout)
    assert document["source_repository"] == "https://github.com/OpenTermsArchive/pga-versions.git"
    assert document["source_path"] == FILE
    assert len(document["source_commit"]) == 40
    assert document["source_subject"] == "First record of Bluesky Privacy Policy"

    text = run_cli(["--store", str(store), "show", POLICY, "--at", "2025-05-01"])
    assert "imported from https://github.com/OpenTermsArchive/pga-versions.git@" in text.stderr

    blame = run_cli(["--store", str(store), "--no-color", "blame", POLICY])
    assert blame.exit_code == 0, blame.stderr
    assert "v1: archived 2025-04-26 (https://github.com/OpenTermsArchive" in " ".join(
        blame.stdout.split()
    )

    site = tmp_path / "site"
    built = run_cli(["--store", str(store), "site", str(site)])
    assert built.exit_code == 0, built.stderr
    page = next(site.rglob("v1.html"), None) or next(
        p
        for p in site.rglob("*.html")
        if "version 1" in p.read_text() and "Source repository" in p.read_text()
    )
    html = page.read_text()
    assert "Source repository" in html
    assert "In force" in html
    assert "pga-versions.git" in html

    announce = run_cli(["--store", str(store), "announce", POLICY, "--format", "text"])
    assert announce.exit_code == 0, announce.stderr
    assert "Versions compared (archived copies):" in announce.stdout
    assert "from https://github.com/OpenTermsArchive/pga-versions.git@" in " ".join(
        announce.stdout.split()
    )


def test_blame_legend_names_effective_and_archive_dates(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    assert run_cli(["--store", store, "init"]).exit_code == 0
    snapshot = tmp_path / "p.md"
    snapshot.write_text(
        "---\ncaptured: 2017-04-22T08:22:16Z\neffective: 2016-02-08\n"
        "archive: https://web.archive.org/web/20170422082216/https://wiki.example.org/p\n"
        "---\n# P\n\nText.\n"
    )
    added = run_cli(["--store", store, "add", str(snapshot), "--policy", "acme/privacy"])
    assert added.exit_code == 0, added.stderr
    blame = run_cli(["--store", store, "--no-color", "blame", "acme/privacy"])
    assert (
        "v1: valid from 2016-02-08, archived 2017-04-22 "
        "(https://web.archive.org/web/20170422082216/https://wiki.example.org/p)"
        in " ".join(blame.stdout.split())
    )
    site = tmp_path / "site"
    assert run_cli(["--store", store, "site", str(site)]).exit_code == 0
    pages = [p.read_text() for p in site.rglob("*.html")]
    version_page = next(p for p in pages if "Text SHA-256" in p)
    assert "from 2016-02-08 (the latest version)" in version_page
    assert 'Archived copy: <a href="https://web.archive.org/web/20170422082216/' in version_page
