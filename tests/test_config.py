"""The store's local config file and the ``config`` command."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from helpers import run_cli
from policydiff.cli.config_cmd import config_cmd
from policydiff.core.config import KEYS, Config, key_spec, policy_key, write_json_atomic
from policydiff.core.errors import StoreError, UsageError
from policydiff.store.gitstore import GitStore

POLICY = "koozali/privacy-policy"


def config_of(store: GitStore) -> Config:
    return Config(Path(store.repo.git_dir))


def test_set_get_list_unset_round_trip(store: GitStore) -> None:
    config = config_of(store)
    assert config.get("announce.to") is None
    assert (
        config.set("announce.to", " a@example.org ,b@example.org") == "a@example.org, b@example.org"
    )
    assert config.set(policy_key(POLICY, "select"), "#mw-content-text") == "#mw-content-text"
    assert config.get("announce.to") == "a@example.org, b@example.org"
    assert config.items() == [
        ("announce.to", "a@example.org, b@example.org"),
        (f"policy.{POLICY}.select", "#mw-content-text"),
    ]
    assert config.unset("announce.to") is True
    assert config.unset("announce.to") is False
    assert config.items() == [(f"policy.{POLICY}.select", "#mw-content-text")]


def test_file_lives_in_the_git_dir_and_is_not_part_of_the_archive(store: GitStore) -> None:
    config_of(store).set("policy.example.com/terms.remove", ".ad, .banner")
    path = store.path / ".git" / "policydiff" / "config.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document == {
        "format": 1,
        "settings": {"policy.example.com/terms.remove": ".ad, .banner"},
    }
    status = subprocess.run(
        ["git", "-C", str(store.path), "status", "--porcelain", "--ignored"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == ""
    # No temporary files are left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json", "config.lock"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("announce.from", "not an address", "not an e-mail address"),
        ("policy.Bad Id.select", "main", "invalid policy id"),
        ("policy.a/b.select", "main >", "invalid CSS selector"),
        ("policy.a/b.colour", "red", "unknown config key"),
        ("announce.to", "not-an-address", "not an e-mail address"),
        ("announce.to", "a@example.org\nBcc: x@example.org", "one line"),
        ("announce.to", "  ", "empty"),
    ],
)
def test_values_are_validated(store: GitStore, key: str, value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        config_of(store).set(key, value)
    assert config_of(store).items() == []


def test_a_damaged_file_is_reported(store: GitStore) -> None:
    config = config_of(store)
    config.path.parent.mkdir(parents=True)
    config.path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="not a policydiff config file"):
        config.items()
    config.path.write_text('{"format": 99, "settings": {}}', encoding="utf-8")
    with pytest.raises(StoreError):
        config.get("announce.to")


def test_concurrent_writers_lose_nothing(store: GitStore) -> None:
    def write(prefix: str) -> None:
        config = config_of(store)
        for i in range(15):
            config.set(f"policy.{prefix}-{i}.select", "main")

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(config_of(store).items()) == 45


def test_write_json_atomic_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "state.json"
    write_json_atomic(target, {"b": 1, "a": [1, 2]})
    write_json_atomic(target, {"c": "é"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"c": "é"}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_key_spec_names_every_known_key() -> None:
    assert key_spec("policy.a.b/c.d.select").name == "policy.<id>.select"
    names = [spec.name for spec in KEYS]
    # The command's help lists the keys: keep the two in step.
    for name in names:
        assert f"  {name}  " in (config_cmd.help or "")


# --------------------------------------------------------------------------- command


def test_config_command(store_dir: Path) -> None:
    base = ["--store", str(store_dir), "config"]
    assert run_cli([*base, "set", "announce.to", "a@example.org"]).exit_code == 0
    result = run_cli([*base, "set", f"policy.{POLICY}.select", ".mw-parser-output"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    got = run_cli([*base, "get", "announce.to"])
    assert (got.exit_code, got.stdout) == (0, "a@example.org\n")
    listing = run_cli([*base, "list"])
    assert listing.stdout == (
        f"announce.to = a@example.org\npolicy.{POLICY}.select = .mw-parser-output\n"
    )
    data = json.loads(run_cli([*base, "list", "--format", "json"]).stdout)
    assert data == {
        "schema": "policydiff.config/1",
        "settings": [
            {"key": "announce.to", "value": "a@example.org"},
            {"key": f"policy.{POLICY}.select", "value": ".mw-parser-output"},
        ],
    }
    assert run_cli([*base, "unset", "announce.to"]).exit_code == 0
    missing = run_cli([*base, "get", "announce.to"])
    assert (missing.exit_code, missing.stdout) == (2, "")
    assert missing.stderr == "Error: announce.to is not set\n"
    assert run_cli([*base, "get", "announce.to", "--default", "x"]).stdout == "x\n"
    again = run_cli([*base, "unset", "announce.to"])
    assert (again.exit_code, again.stderr) == (0, "announce.to was not set\n")


def test_config_command_errors_are_one_line(store_dir: Path) -> None:
    result = run_cli(["--store", str(store_dir), "config", "set", "policy.x.select", "div >"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: invalid CSS selector 'div >'")
    assert result.stderr.count("\n") == 1
