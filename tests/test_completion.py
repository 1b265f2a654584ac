"""Shell completion: click's protocol, with policy ids and refs read from a real store."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from helpers import run_cli

POLICIES = ("acme/privacy", "acme/terms", "other/privacy")
TEXT = "# Policy\n\n## Data\n\nWe collect {what}.\n"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with three policies; acme/privacy has three versions."""
    path = tmp_path / "store"
    assert run_cli(["--store", str(path), "init"]).exit_code == 0
    added = [(p, "2020-01-01") for p in POLICIES]
    added += [(POLICIES[0], "2021-02-03"), (POLICIES[0], "2022-03-04")]
    for n, (policy, day) in enumerate(added):
        file = tmp_path / f"{day}.md"
        file.write_text(TEXT.format(what=f"item {n}"), encoding="utf-8")
        added = run_cli(["--store", str(path), "add", str(file), "--policy", policy])
        assert added.exit_code == 0, added.stderr
    return path


def complete(line: str, *, shell: str = "bash", env: dict[str, str] | None = None) -> list[str]:
    """Return the candidates the shell would get for ``line`` (cursor at its end)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    variables = {
        "_POLICYDIFF_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
        **(env or {}),
    }
    result = run_cli([], env=variables)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


def test_bash_source_is_the_documented_script() -> None:
    result = run_cli([], env={"_POLICYDIFF_COMPLETE": "bash_source"})
    assert result.exit_code == 0
    assert "_policydiff_completion()" in result.stdout
    assert "complete -o nosort -F _policydiff_completion policydiff" in result.stdout
    for shell in ("zsh", "fish"):
        assert run_cli([], env={"_POLICYDIFF_COMPLETE": f"{shell}_source"}).stdout


def test_command_names() -> None:
    assert complete("policydiff co") == ["plain,compare", "plain,config"]


@pytest.mark.parametrize("command", ["log", "history", "verify", "changelog", "feed", "reextract"])
def test_policy_arguments(store: Path, command: str) -> None:
    expected = [f"plain,{p}" for p in POLICIES]
    assert complete(f"policydiff --store {store} {command} ") == expected
    assert complete(f"policydiff --store {store} {command} acme/") == expected[:2]


def test_store_from_the_environment(store: Path) -> None:
    found = complete("policydiff log other", env={"POLICYDIFF_STORE": str(store)})
    assert found == ["plain,other/privacy"]


@pytest.mark.parametrize(
    "line",
    ["site out --policy ", "search cookies --policy ", "capture https://a.example --policy "],
)
def test_policy_options(store: Path, line: str) -> None:
    assert complete(f"policydiff --store {store} {line}") == [f"plain,{p}" for p in POLICIES]


@pytest.mark.parametrize("command", ["show", "blame"])
def test_policy_at_ref(store: Path, command: str) -> None:
    base = f"policydiff --store {store} {command} "
    assert complete(base + "acme/p") == ["plain,acme/privacy"]
    assert complete(base + "acme/privacy@") == [
        "plain,acme/privacy@latest",
        "plain,acme/privacy@previous",
        "plain,acme/privacy@1",
        "plain,acme/privacy@2",
        "plain,acme/privacy@3",
    ]
    assert complete(base + "acme/terms@l") == ["plain,acme/terms@latest"]
    assert complete(base + "nothing@") == []


def test_refs_carry_their_capture_day_for_zsh(store: Path) -> None:
    found = complete(f"policydiff --store {store} show acme/privacy@2", shell="zsh")
    # zsh's protocol: type, value and help, one per line.
    assert found == ["plain", "acme/privacy@2", "captured 2021-02-03"]


def test_compare_arguments(store: Path) -> None:
    base = f"policydiff --store {store} compare "
    assert complete(base) == [*(f"plain,{p}" for p in POLICIES), "file,"]
    refs = ["plain,latest", "plain,previous", "plain,1", "plain,2", "plain,3"]
    assert complete(base + "acme/privacy ") == [*refs, "file,"]
    assert complete(base + "acme/privacy 1 ") == [*refs, "file,"]
    assert complete(base + "acme/terms@") == [
        "plain,acme/terms@latest",
        "plain,acme/terms@previous",
        "plain,acme/terms@1",
    ]
    assert complete(f"policydiff --store {store} announce acme/privacy 2") == ["plain,2", "file,2"]


@pytest.mark.parametrize("kind", ["missing", "empty folder", "damaged"])
def test_no_store_means_no_candidates_and_no_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "store"
    if kind != "missing":
        path.mkdir()
    if kind == "damaged":
        # The marker is there but the rest is not a store (no git repository).
        (path / "policydiff-store.json").write_text('{"format": 1}', encoding="utf-8")
    assert complete(f"policydiff --store {path} log ") == []
    assert complete(f"policydiff --store {path} show acme/privacy@") == []
    assert complete(f"policydiff --store {path} compare ") == ["file,"]


def test_the_marker_name_is_the_stores() -> None:
    from policydiff.cli.completion import STORE_MARKER
    from policydiff.store.layout import MARKER_FILE

    assert STORE_MARKER == MARKER_FILE
