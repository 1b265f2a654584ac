"""The committed settings file policydiff.toml: parsing, precedence, settings commits."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import run_cli
from policydiff.core.model import Snapshot
from policydiff.core.settings import (
    MAX_SETTINGS_BYTES,
    SettingsError,
    edit_settings,
    parse_settings,
    render_settings,
)
from policydiff.store.gitstore import GitStore, init_store
from test_bad_input import store_state

POLICY = "acme/privacy-policy"

GOOD = """\
# The store's settings.
[announce]
to = "list@example.org"
from = "Policy bot <bot@example.org>"
reply_to = "team@example.org"
footer = "You get this because you subscribed.\\nUnsubscribe: reply."
diff_url = "https://example.org/diff/{policy}/{old}..{new}"
site_url = "https://example.org/policies/"

[fetch]
allow_private = false

[policy."acme/privacy-policy"]
title = "Acme privacy policy"
organisation = "Acme"
url = ["https://acme.example/privacy", "https://acme.example/cookies"]
select = "main"
remove = ".ad, nav"
type = "privacy policy"
language = "en-GB"
"""


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    ).stdout


def snap(text: str, when: str, policy: str = POLICY) -> Snapshot:
    return Snapshot(
        policy=policy,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
    )


def hand_commit(store: Path, content: bytes) -> None:
    """Commit a settings file the way a user with plain git would."""
    (store / "policydiff.toml").write_bytes(content)
    git(store, "add", "policydiff.toml")
    git(store, "-c", "user.name=u", "-c", "user.email=u@example.org", "commit", "-qm", "settings")


def test_a_good_file_parses_to_the_config_keys() -> None:
    flat = parse_settings(GOOD.encode())
    assert flat["announce.to"] == "list@example.org"
    assert flat["announce.footer"].endswith("Unsubscribe: reply.")
    assert flat["fetch.allow_private"] == "false"
    assert (
        flat[f"policy.{POLICY}.url"] == "https://acme.example/privacy https://acme.example/cookies"
    )
    assert flat[f"policy.{POLICY}.language"] == "en-GB"
    # What policydiff writes, it reads back the same.
    assert parse_settings(render_settings(flat).encode()) == flat


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[announce]\nto = "a@example.org"\nfrom =\n', "policydiff.toml line 3: not valid TOML"),
        ("[announce]\nto = 3\n", "line 2: announce.to: must be a string, not int"),
        ('[fetch]\nallow_private = "yes"\n', "line 2: fetch.allow_private: must be true or false"),
        ('[announce]\ncolour = "red"\n', "line 2: announce.colour: unknown setting"),
        ('[smtp]\npassword = "x"\n', "smtp: unknown setting (known tables"),
        ('\n\n[policy."a/b"]\nurl = "file:///etc/passwd"\n', 'line 4: policy."a/b".url: not an'),
        ('[policy."a/b"]\nurl = "javascript:alert(1)"\n', "not an http(s) URL"),
        ('[policy."a/b"]\nurl = []\n', "non-empty list of URLs"),
        ('[policy."a/b"]\nselect = "div >"\n', "invalid CSS selector"),
        ('[policy."a/b"]\nscript = "rm -rf /"\n', 'policy."a/b".script: unknown setting'),
        ('[policy."Bad Id"]\ntitle = "x"\n', "invalid policy id"),
        ('[policy."a/b"]\nlanguage = "english please"\n', "not a language tag"),
        ('announce = "x"\n', "announce: must be a table"),
        ('[announce]\nto = "a@example.org\\nBcc: x@example.org"\n', "one line"),
        (b"\xff\xfe".decode("latin-1"), "not valid TOML"),
        ("#" * (MAX_SETTINGS_BYTES + 1), f"over the limit of {MAX_SETTINGS_BYTES}"),
    ],
)
def test_bad_files_are_refused_naming_line_and_key(content: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(content.encode())
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bad_committed_file_is_one_error_line_and_changes_nothing(store_dir: Path) -> None:
    hand_commit(store_dir, b'[announce]\nto = "a@example.org"\nfrom = 42\n')
    verified = run_cli(["--store", str(store_dir), "verify"])
    assert verified.exit_code != 0
    assert "policydiff.toml line 3: announce.from: must be a string" in verified.stdout
    before = store_state(store_dir)
    capture = ["capture", "http://127.0.0.1:9/", "--policy", "a/b", "--retries", "0"]
    for args in (["config"], ["config", "get", "announce.to"], capture):
        result = run_cli(["--store", str(store_dir), *args])
        assert result.exit_code == 2, args
        assert result.stderr == (
            "Error: policydiff.toml line 3: announce.from: must be a string, not int\n"
        )
    assert store_state(store_dir) == before


def test_edit_keeps_comments_and_layout() -> None:
    edited = edit_settings(GOOD, "announce.to", "other@example.org")
    assert edited == GOOD.replace('to = "list@example.org"', 'to = "other@example.org"')
    added = edit_settings(GOOD, "policy.b/c.title", 'A "quoted" title')
    assert added.startswith(GOOD)
    assert parse_settings(added.encode())["policy.b/c.title"] == 'A "quoted" title'
    removed = edit_settings(GOOD, f"policy.{POLICY}.remove", None)
    assert "# The store's settings." in removed
    assert f"policy.{POLICY}.remove" not in parse_settings(removed.encode())


def test_config_set_is_a_settings_commit_that_history_ignores(store_dir: Path) -> None:
    store = GitStore(store_dir)
    store.record([snap("v1\n", "2020-01-01"), snap("v2\n", "2021-01-01")])
    base = ["--store", str(store_dir)]
    result = run_cli([*base, "config", "set", f"policy.{POLICY}.title", "Acme privacy"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert git(store_dir, "log", "-1", "--format=%s%n%an", "main") == (
        f"settings: set policy.{POLICY}.title\npolicydiff\n"
    )
    assert (store_dir / "policydiff.toml").read_text() == (
        f'\n[policy."{POLICY}"]\ntitle = "Acme privacy"\n'
    )
    assert git(store_dir, "status", "--porcelain") == ""
    # The history still has two versions; log and show see no third.
    log = run_cli([*base, "log", POLICY, "--format", "json"])
    assert log.exit_code == 0, log.stderr
    assert len(json.loads(log.stdout)["versions"]) == 2
    shown = run_cli([*base, "show", POLICY])
    assert (shown.exit_code, shown.stdout) == (0, "v2\n")
    verified = run_cli([*base, "verify"])
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    # Versions recorded after a settings commit go on from there.
    assert GitStore(store_dir).record([snap("v3\n", "2022-01-01")])[0].version is not None
    assert run_cli([*base, "verify"]).exit_code == 0
    # A backfill older than the settings commit replays it.
    GitStore(store_dir).record([snap("v0\n", "2019-01-01")])
    assert run_cli([*base, "verify"]).exit_code == 0
    assert "policydiff.toml" in git(store_dir, "ls-files")


def test_precedence_flag_over_git_config_over_file(store_dir: Path) -> None:
    store = GitStore(store_dir)
    store.record([snap("# Terms\n\nOne.\n", "2020-01-01"), snap("# Terms\n\nTwo.\n", "2021-01-01")])
    base = ["--store", str(store_dir)]
    assert run_cli([*base, "config", "set", "announce.to", "file@example.org"]).exit_code == 0
    assert run_cli([*base, "config", "set", "announce.from", "bot@example.org"]).exit_code == 0
    shown = run_cli([*base, "config"])
    assert shown.stdout == (
        "announce.from = bot@example.org  # from policydiff.toml\n"
        "announce.to = file@example.org  # from policydiff.toml\n"
    )

    def to_header(*flags: str) -> str:
        drafted = run_cli([*base, "announce", "--format", "email", *flags])
        assert drafted.exit_code == 0, drafted.stderr
        return next(line for line in drafted.stdout.splitlines() if line.startswith("To: "))

    assert to_header() == "To: file@example.org"
    local = run_cli([*base, "config", "set", "--local", "announce.to", "me@example.org"])
    assert local.exit_code == 0, local.stderr
    assert git(store_dir, "config", "policydiff.announce.to") == "me@example.org\n"
    assert to_header() == "To: me@example.org"
    assert to_header("--to", "flag@example.org") == "To: flag@example.org"
    data = json.loads(run_cli([*base, "config", "show", "announce.to", "--format", "json"]).stdout)
    assert data == {
        "schema": "policydiff.config-show/1",
        "settings": [{"key": "announce.to", "value": "me@example.org", "source": "git config"}],
    }
    # Names with an underscore map to git's dashes.
    assert run_cli([*base, "config", "set", "--local", "announce.list_name", "L"]).exit_code == 0
    assert git(store_dir, "config", "policydiff.announce.list-name") == "L\n"
    assert "announce.list_name = L  # from git config" in run_cli([*base, "config"]).stdout
    # A bad value in git config is one error line naming it.
    git(store_dir, "config", "policydiff.announce.from", "nobody")
    bad = run_cli([*base, "config", "get", "announce.to"])
    assert (bad.exit_code, bad.stderr) == (
        2,
        "Error: git config policydiff.announce.from: not an e-mail address: 'nobody'\n",
    )
    assert run_cli([*base, "config", "unset", "--local", "announce.from"]).exit_code == 0
    assert run_cli([*base, "config", "unset", "--local", "announce.to"]).exit_code == 0
    assert to_header() == "To: file@example.org"


def test_config_commit_records_a_hand_edited_file(store_dir: Path) -> None:
    base = ["--store", str(store_dir)]
    (store_dir / "policydiff.toml").write_text(GOOD, encoding="utf-8")
    git(store_dir, "add", "-N", "policydiff.toml")  # as after a first edit and `git add -N`
    result = run_cli([*base, "config", "commit", "-m", "track acme"])
    assert result.exit_code == 0, result.stderr
    assert git(store_dir, "log", "-1", "--format=%s", "main") == "settings: track acme\n"
    assert git(store_dir, "status", "--porcelain") == ""
    assert git(store_dir, "show", "main:policydiff.toml") == GOOD
    # Edited again but not committed: writing commands say how to go on.
    (store_dir / "policydiff.toml").write_text(GOOD.replace("Acme", "ACME"), encoding="utf-8")
    refused = run_cli([*base, "config", "set", "announce.to", "x@example.org"])
    assert refused.exit_code == 2
    page = store_dir.parent / "terms-2020-01-01.md"
    page.write_text("# Terms\n\nOne.\n", encoding="utf-8")
    recorded = run_cli([*base, "import", "--policy", "a/b", str(page)])
    assert recorded.exit_code == 2
    assert "policydiff config commit" in recorded.stderr
    # An invalid edit is refused and nothing moves.
    (store_dir / "policydiff.toml").write_text("[announce]\nto = 1\n", encoding="utf-8")
    tip = git(store_dir, "rev-parse", "main")
    bad = run_cli([*base, "config", "commit"])
    assert (bad.exit_code, bad.stderr) == (
        2,
        "Error: policydiff.toml line 2: announce.to: must be a string, not int\n",
    )
    assert git(store_dir, "rev-parse", "main") == tip


def test_config_migrate_moves_the_local_file_in_one_commit(store_dir: Path) -> None:
    from policydiff.core.config import Config

    store = GitStore(store_dir)
    legacy = Config(Path(store.repo.git_dir))
    legacy.set("announce.to", "a@example.org")
    legacy.set(f"policy.{POLICY}.select", "#content")
    base = ["--store", str(store_dir)]
    assert "# from local file" in run_cli([*base, "config"]).stdout
    tip = git(store_dir, "rev-parse", "main")
    moved = run_cli([*base, "config", "migrate"])
    assert (moved.exit_code, moved.stderr) == (0, "moved 2 setting(s) into policydiff.toml\n")
    assert git(store_dir, "rev-list", "--count", f"{tip.strip()}..main") == "1\n"
    assert legacy.items() == []
    assert run_cli([*base, "config"]).stdout == (
        "announce.to = a@example.org  # from policydiff.toml\n"
        f"policy.{POLICY}.select = #content  # from policydiff.toml\n"
    )
    assert run_cli([*base, "verify"]).exit_code == 0


def local_state(path: Path) -> dict[str, object]:
    """The store's state less the remote-tracking refs (git fetch updates those)."""
    state = store_state(path)
    state["refs"] = [r for r in str(state["refs"]).splitlines() if "refs/remotes/" not in r]
    return state


@pytest.fixture
def pair(tmp_path: Path) -> tuple[GitStore, GitStore, Path]:
    """Two clones of one store sharing a bare remote."""
    bare = tmp_path / "shared.git"
    first = GitStore(init_store(tmp_path / "alice"))
    first.record([snap("v1\n", "2020-01-01")])
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    first.sync(str(bare))
    subprocess.run(
        ["git", "clone", "-q", "-b", "main", str(bare), str(tmp_path / "bob")], check=True
    )
    return first, GitStore(tmp_path / "bob"), bare


def test_sync_takes_a_settings_commit_only_with_accept_config(
    pair: tuple[GitStore, GitStore, Path],
) -> None:
    alice, bob, bare = pair
    set_ = run_cli(["--store", str(alice.path), "config", "set", "announce.to", "l@example.org"])
    assert set_.exit_code == 0, set_.stderr
    assert run_cli(["--store", str(alice.path), "sync", str(bare)]).exit_code == 0
    before = local_state(bob.path)
    refused = run_cli(["--store", str(bob.path), "sync", "origin"])
    assert refused.exit_code == 2
    assert "changes the store's configuration (policydiff.toml)" in refused.stderr
    assert local_state(bob.path) == before
    taken = run_cli(["--store", str(bob.path), "sync", "--accept-config", "origin"])
    assert taken.exit_code == 0, taken.stderr
    assert run_cli(["--store", str(bob.path), "config", "get", "announce.to"]).stdout == (
        "l@example.org\n"
    )


def test_sync_refuses_a_settings_file_policydiff_cannot_read(
    pair: tuple[GitStore, GitStore, Path],
) -> None:
    alice, bob, bare = pair
    hand_commit(alice.path, b'[policy."a/b"]\nurl = "file:///etc/shadow"\n')
    git(alice.path, "push", "-q", str(bare), "main")
    before = local_state(bob.path)
    refused = run_cli(["--store", str(bob.path), "sync", "--accept-config", "origin"])
    assert refused.exit_code == 2
    assert "policydiff.toml line 2" in refused.stderr
    assert local_state(bob.path) == before
