"""``import-git``: versions of one file from another repository's history, with provenance."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import CORPUS, run_cli
from policydiff.core.errors import UsageError
from policydiff.sources.gitimport import (
    TECHNICAL_SUBJECT,
    check_file_path,
    check_repository,
    file_history,
    repository_name,
)
from policydiff.store.gitstore import GitStore

POLICY = "bluesky/privacy-policy"
FILE = "Bluesky/Privacy Policy.md"


def git(repo: Path, *args: str, when: str | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "OTA-Bot",
        "GIT_AUTHOR_EMAIL": "bot@example.org",
        "GIT_COMMITTER_NAME": "OTA-Bot",
        "GIT_COMMITTER_EMAIL": "bot@example.org",
    }
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def commit_file(repo: Path, path: str, content: str | None, message: str, when: str) -> str:
    target = repo / path
    if content is None:
        git(repo, "rm", "-q", "--", path)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        git(repo, "add", "--", path)
    git(repo, "commit", "-q", "-m", message, when=when)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def ota(tmp_path: Path) -> Path:
    """An Open Terms Archive style versions repository."""
    repo = tmp_path / "pga-versions"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_file(
        repo,
        FILE,
        "# Privacy\n\nVersion one.",
        "First record of Bluesky Privacy Policy",
        "2025-04-26T10:00:00+02:00",
    )
    commit_file(
        repo,
        "Other/Terms.md",
        "Other terms",
        "First record of Other Terms of Service",
        "2025-05-01T00:00:00Z",
    )
    commit_file(
        repo,
        FILE,
        "# Privacy\n\nVersion two.",
        "Record new changes of Bluesky Privacy Policy",
        "2025-06-25T08:30:00Z",
    )
    commit_file(
        repo,
        FILE,
        "# Privacy\n\nVersion  two.",
        "Apply technical or declaration upgrade on Bluesky Privacy Policy",
        "2025-10-23T00:00:00Z",
    )
    commit_file(
        repo,
        FILE,
        "# Privacy\n\nVersion three.",
        "Record new changes of Bluesky Privacy Policy",
        "2026-01-09T12:00:00Z",
    )
    git(
        repo,
        "remote",
        "add",
        "origin",
        "https://user:s3cret@github.com/OpenTermsArchive/pga-versions.git",
    )
    return repo


def run_import(store_dir: Path, repo: Path, *extra: str) -> tuple[int, str, str]:
    result = run_cli(
        [
            "--store",
            str(store_dir),
            "import-git",
            str(repo),
            "--path",
            FILE,
            "--policy",
            POLICY,
            *extra,
        ]
    )
    return result.exit_code, result.stdout, result.stderr


def test_imports_each_version_with_dates_provenance_and_technical_marks(
    store_dir: Path, ota: Path
) -> None:
    code, out, err = run_import(store_dir, ota, "--exit-code")
    assert code == 1
    lines = out.splitlines()
    assert [line.split(" ", 2)[1:] for line in lines] == [
        ["2025-04-26T08:00:00Z", "recorded as version 1"],
        ["2025-06-25T08:30:00Z", "recorded as version 2"],
        ["2025-10-23T00:00:00Z", "recorded as version 3 [technical]"],
        ["2026-01-09T12:00:00Z", "recorded as version 4"],
    ]
    assert err == "4 commit(s): 4 recorded, 0 failed\n"
    store = GitStore(store_dir)
    versions = store.versions(POLICY)
    assert [v.technical for v in versions] == [False, False, True, False]
    assert versions[0].captured_at == datetime(2025, 4, 26, 8, tzinfo=UTC)
    assert store.text(versions[3]) == "# Privacy\n\nVersion three."
    assert store.source(versions[3]) == ("source.md", b"# Privacy\n\nVersion three.")
    trailers = dict(versions[2].trailers)
    assert trailers["Source-Repository"] == "https://github.com/OpenTermsArchive/pga-versions.git"
    assert trailers["Source-Commit"] == git(ota, "rev-parse", "HEAD~1").strip()
    assert trailers["Source-Path"] == FILE
    assert (
        trailers["Source-Subject"]
        == "Apply technical or declaration upgrade on Bluesky Privacy Policy"
    )
    assert trailers["Technical"] == "true"
    assert "s3cret" not in git(store_dir, "log", "--format=%B")
    assert store.verify(POLICY).ok


def test_rerun_skips_and_new_commits_are_added(store_dir: Path, ota: Path) -> None:
    assert run_import(store_dir, ota)[0] == 0
    code, out, _ = run_import(store_dir, ota, "--exit-code")
    assert code == 0
    assert [line.split(" ")[2] for line in out.splitlines()] == ["skipped"] * 4
    commit_file(
        ota,
        FILE,
        "# Privacy\n\nVersion four.",
        "Record new changes of Bluesky Privacy Policy",
        "2026-02-01T00:00:00Z",
    )
    code, out, _ = run_import(store_dir, ota, "--format", "json")
    data = json.loads(out)
    assert data["schema"] == "policydiff.import-git/1"
    assert [c["status"] for c in data["commits"]] == ["skipped"] * 4 + ["recorded"]
    assert data["commits"][-1]["version"]["version"] == 5
    assert len(GitStore(store_dir).versions(POLICY)) == 5


def test_deleted_file_and_identical_versions(store_dir: Path, ota: Path) -> None:
    commit_file(ota, FILE, None, "Delete Bluesky Privacy Policy", "2026-03-01T00:00:00Z")
    commit_file(
        ota,
        FILE,
        "# Privacy\n\nVersion three.",
        "Record new changes of Bluesky Privacy Policy",
        "2026-04-01T00:00:00Z",
    )
    code, out, _ = run_import(store_dir, ota)
    assert code == 0
    assert out.splitlines()[-2].endswith(f"skipped: {FILE} is deleted at this commit")
    # Back to the text of version 4: nothing new to record.
    assert out.splitlines()[-1].split(" ")[2] == "unchanged"


def test_html_files_are_extracted_and_kept(store_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "snapshots"
    repo.mkdir()
    git(repo, "init", "-q")
    commit_file(
        repo,
        "Acme/Privacy.html",
        "<html><body><nav>Menu</nav><main><h1>Privacy</h1><p>Text.</p></main></body></html>",
        "Record",
        "2024-01-01T00:00:00Z",
    )
    result = run_cli(
        [
            "--store",
            str(store_dir),
            "import-git",
            str(repo),
            "--path",
            "Acme/Privacy.html",
            "--policy",
            "acme/privacy",
            "--source-name",
            "acme-snapshots",
        ]
    )
    assert result.exit_code == 0
    store = GitStore(store_dir)
    [version] = store.versions("acme/privacy")
    assert store.text(version) == "# Privacy\n\nText.\n"
    assert store.source(version)[0] == "source.html"  # type: ignore[index]
    assert dict(version.trailers)["Source-Repository"] == "acme-snapshots"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "relative"),
        ("../x.md", "relative"),
        ("a\nb", "one line"),
        ("", "non-empty"),
        (".", "relative"),
    ],
)
def test_bad_file_paths(path: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_file_path(path)


def test_option_lookalikes_and_pathspec_magic_are_plain_paths(store_dir: Path, ota: Path) -> None:
    for path in ("--output=/tmp/pwned", ":(glob)**/*.md", "*.md", "-p"):
        result = run_cli(
            [
                "--store",
                str(store_dir),
                "import-git",
                str(ota),
                f"--path={path}",
                "--policy",
                POLICY,
            ]
        )
        assert result.exit_code == 2, path
        assert result.stderr.startswith("Error: no commit reachable from HEAD"), result.stderr
    assert not Path("/tmp/pwned").exists()


def test_bad_repositories(tmp_path: Path, store_dir: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        check_repository(tmp_path / "missing")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError, match="not a git repository"):
        check_repository(plain)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(UsageError, match="no commits"):
        check_repository(empty)
    result = run_cli(
        ["--store", str(store_dir), "import-git", str(plain), "--path", "x", "--policy", POLICY]
    )
    assert (result.exit_code, result.stderr) == (2, f"Error: {plain} is not a git repository\n")


def test_repository_name_strips_credentials(ota: Path, tmp_path: Path) -> None:
    assert repository_name(ota) == "https://github.com/OpenTermsArchive/pga-versions.git"
    git(ota, "remote", "set-url", "origin", "git@github.com:OpenTermsArchive/pga-versions.git")
    assert repository_name(ota) == "github.com:OpenTermsArchive/pga-versions.git"
    git(ota, "remote", "remove", "origin")
    assert repository_name(ota) == str(ota)


def test_technical_subjects() -> None:
    for subject in (
        "Apply technical or declaration upgrade on X",
        "Refilter Reddit Privacy Policy",
    ):
        assert TECHNICAL_SUBJECT.match(subject)
    for subject in ("Record new changes of X", "First record of X", "Refiltered by hand"):
        assert not TECHNICAL_SUBJECT.match(subject)


# --------------------------------------------------------------------------- corpus


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(), reason="needs ../shared/corpus")
def test_corpus_history_round_trips(tmp_path: Path, store_dir: Path) -> None:
    """Rebuild OTA commits of two documents from the corpus manifest and import them."""
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle, delimiter="\t")
            if r["service"] in {"bluesky", "reddit"}
        ]
    repo = tmp_path / "versions"
    repo.mkdir()
    git(repo, "init", "-q")
    for row in sorted(rows, key=lambda r: r["date"]):
        content = (CORPUS / row["path"]).read_text(encoding="utf-8")
        commit_file(
            repo, row["source_path"], content, row["commit_message"], f"{row['date']}T12:00:00Z"
        )
    for service, policy in (("bluesky", POLICY), ("reddit", "reddit/privacy-policy")):
        mine = [r for r in rows if r["service"] == service]
        result = run_cli(
            [
                "--store",
                str(store_dir),
                "import-git",
                str(repo),
                "--path",
                mine[0]["source_path"],
                "--policy",
                policy,
            ]
        )
        assert result.exit_code == 0, result.stderr
        store = GitStore(store_dir)
        versions = store.versions(policy)
        assert len(versions) == len(mine)
        for version, row in zip(versions, sorted(mine, key=lambda r: r["date"]), strict=True):
            assert version.captured_at.date().isoformat() == row["date"]
            assert store.text(version) == (CORPUS / row["path"]).read_text(encoding="utf-8")
            assert version.technical == (
                "technical" in row["commit_message"] or row["commit_message"].startswith("Refilter")
            )
    assert GitStore(store_dir).verify().ok
    assert len(file_history(repo, FILE)) == len([r for r in rows if r["service"] == "bluesky"])
