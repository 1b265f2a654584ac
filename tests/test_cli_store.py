"""The store commands end to end: init, import, add, policies, log, show, verify."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, SEED, run_cli, seed_body

POLICY = "koozali/privacy-policy"


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    """A store with the shipped archive imported."""
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    result = run_cli(["--store", str(store), "import", str(REPO / "archive")])
    assert result.exit_code == 0, result.stderr
    return store


def test_seed_round_trip(loaded: Path) -> None:
    shown = run_cli(["--store", str(loaded), "show", POLICY])
    assert shown.exit_code == 0
    assert shown.stdout_bytes == seed_body().encode("utf-8")
    # The raw source is kept byte for byte, Wayback header included.
    raw = (loaded / "policies" / POLICY / "source.txt").read_bytes()
    assert raw == SEED.read_bytes()


def test_seed_metadata(loaded: Path) -> None:
    log = json.loads(run_cli(["--store", str(loaded), "log", POLICY, "--format", "json"]).stdout)
    assert log["schema"] == "policydiff.log/1"
    (version,) = log["versions"]
    assert version["captured_at"] == "2017-04-22T08:22:16Z"
    assert version["effective_date"] == "2016-02-08"
    assert version["source_url"] == "https://wiki.contribs.org/SME_Server:Privacy_policy"
    assert version["archive_url"].startswith("https://web.archive.org/web/20170422082216id_/")
    assert version["version"] == 1


def test_import_again_is_unchanged(loaded: Path) -> None:
    again = run_cli(["--store", str(loaded), "import", str(REPO / "archive")])
    assert again.exit_code == 0
    assert "unchanged" in again.stdout
    assert "0 version(s) recorded" in again.stderr


def test_log_policies_verify_human_output(loaded: Path) -> None:
    log = run_cli(["--store", str(loaded), "log"])
    assert "2017-04-22T08:22:16Z" in log.stdout
    assert "2016-02-08" in log.stdout
    policies = run_cli(["--store", str(loaded), "policies"])
    assert POLICY in policies.stdout
    verify = run_cli(["--store", str(loaded), "verify"])
    assert verify.exit_code == 0
    assert "1 version(s) checked: OK" in verify.stdout


def test_show_at_date_reports_rule_and_provenance(loaded: Path) -> None:
    shown = run_cli(["--store", str(loaded), "show", POLICY, "--at", "2017-03-01"])
    assert shown.exit_code == 0
    assert shown.stdout == seed_body()
    assert "in force on 2017-03-01" in shown.stderr
    assert "Provenance:" in shown.stderr
    early = run_cli(["--store", str(loaded), "show", POLICY, "--at", "2015-01-01"])
    assert early.exit_code == 2
    assert early.stderr.startswith("Error: no version")


def test_add_with_explicit_metadata(tmp_path: Path, loaded: Path) -> None:
    edited = tmp_path / "edited.md"
    edited.write_text(seed_body().replace("extremely important", "very important"))
    result = run_cli(
        [
            "--store", str(loaded), "add", str(edited), "--policy", POLICY,
            "--captured", "2018-05-25", "--effective", "2018-05-25",
            "--source", "https://wiki.contribs.org/SME_Server:Privacy_policy",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "version 2" in result.stdout
    prev = run_cli(["--store", str(loaded), "show", f"{POLICY}@previous"])
    assert prev.stdout == seed_body()
    latest = run_cli(["--store", str(loaded), "show", f"{POLICY}@2"])
    assert "very important" in latest.stdout


def test_add_without_capture_time_names_the_flag(tmp_path: Path, loaded: Path) -> None:
    plain = tmp_path / "plain.md"
    plain.write_text("# Policy\n\nText.\n")
    result = run_cli(["--store", str(loaded), "add", str(plain), "--policy", POLICY])
    assert result.exit_code == 2
    assert "--captured" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["show", "koozali/privacy-policy@--output=/tmp/x"],
        ["show", "koozali/privacy-policy@-n"],
        ["show", "koozali/privacy-policy@HEAD~1..HEAD"],
        ["show", "koozali/privacy-policy@$(id)"],
        ["show", "koozali/privacy-policy@@{-1}"],
        ["show", "koozali/privacy-policy@2016-02-30"],
        ["show", "koozali/privacy-policy@2999-01-01"],
        ["show", "../x"],
        ["show", "-n"],
        ["log", "--output=/tmp/x"],
        ["log", "Koozali/Privacy"],
        ["show", "koozali/privacy-policy@7"],
        ["log", "nobody/here"],
    ],
)
def test_bad_refs_and_ids_fail_cleanly(loaded: Path, args: list[str]) -> None:
    head = (loaded / ".git" / "refs" / "heads" / "main").read_text()
    result = run_cli(["--store", str(loaded), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert (loaded / ".git" / "refs" / "heads" / "main").read_text() == head
    assert not Path("/tmp/x").exists() or Path("/tmp/x").stat().st_size >= 0


def test_commands_need_a_store(tmp_path: Path) -> None:
    result = run_cli(["--store", str(tmp_path / "nope"), "log"])
    assert result.exit_code == 2
    assert "no store at" in result.stderr
    env = run_cli(["log"], env={"POLICYDIFF_STORE": str(tmp_path)})
    assert env.exit_code == 2
    assert "not a policydiff store" in env.stderr


def test_verify_exit_2_on_tampering(loaded: Path) -> None:
    (loaded / "policies" / POLICY / "text.md").write_text("tampered\n")
    result = run_cli(["--store", str(loaded), "verify"])
    assert result.exit_code == 2
    assert "PROBLEM:" in result.stdout
    report = json.loads(run_cli(["--store", str(loaded), "verify", "--format", "json"]).stdout)
    assert report["ok"] is False


def test_import_reports_per_file_and_continues(tmp_path: Path, loaded: Path) -> None:
    folder = tmp_path / "in" / "acme" / "terms"
    folder.mkdir(parents=True)
    (folder / "2020-01-01.md").write_text("# Terms\n\nOne.\n")
    (folder / "2021-01-01.md").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    result = run_cli(["--store", str(loaded), "import", str(tmp_path / "in")])
    assert result.exit_code == 2
    assert "recorded as acme/terms version 1" in result.stdout
    assert "2021-01-01.md: error: " in result.stdout


def test_version_is_fast_path() -> None:
    # --version must not import git, rich or the diff engine (start-up time).
    code = (
        "import sys; from policydiff.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('git', 'rich', 'diff_match_patch', 'rapidfuzz') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]")


def test_illustrative_edit_is_labelled(loaded: Path) -> None:
    example = REPO / "examples" / "koozali-privacy-policy.illustrative-edit.md"
    assert run_cli(["--store", str(loaded), "import", str(example)]).exit_code == 0
    table = run_cli(["--store", str(loaded), "log", "--no-stats"])
    assert "[illustrative edit]" in table.stdout.splitlines()[-1]
    log = json.loads(run_cli(["--store", str(loaded), "log", "--format", "json"]).stdout)
    assert [v["illustrative"] for v in log["versions"]] == [False, True]
