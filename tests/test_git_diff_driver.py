"""``git-diff-driver``: real git runs policydiff for the files .gitattributes marks."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, run_cli

DRIVER = f"{shlex.quote(sys.executable)} -m policydiff git-diff-driver"
V1 = "# Privacy\n\n## Data\n\nWe collect your name.\n\n## Cookies\n\nWe use cookies.\n"
V2 = V1.replace("your name.", "your name and address.")
V3 = V2 + "\n## Rights\n\nYou may ask for a copy.\n"
PAGE = (
    "<!DOCTYPE html><html><head><title>Acme</title></head><body><nav>Menu</nav><main>"
    "<h1>Privacy</h1><h2>Data</h2><p>We collect your {what}.</p></main></body></html>"
)


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (its output, which must succeed), with policydiff importable."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "PYTHONPATH": str(REPO / "src"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo.parent),
        "GIT_PAGER": "cat",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def commit(repo: Path, message: str, **files: str | None) -> None:
    """Write (or, for None, delete) files and commit them."""
    for name, text in files.items():
        path = repo / name.replace("__", ".")
        if text is None:
            git(repo, "rm", "-q", "--", path.name)
        else:
            path.write_text(text, encoding="utf-8")
            git(repo, "add", "--", path.name)
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository of policy files with the driver set up as the docs say."""
    path = tmp_path / "policies"
    path.mkdir()
    git(path, "init", "-q")
    git(path, "config", "user.name", "Tester")
    git(path, "config", "user.email", "tester@example.org")
    git(path, "config", "diff.policy.command", DRIVER)
    (path / ".gitattributes").write_text("*.md diff=policy\n", encoding="utf-8")
    git(path, "add", ".gitattributes")
    commit(path, "first", privacy__md=V1, notes__txt="plain file\n")
    return path


def test_git_diff_shows_the_section_diff(repo: Path) -> None:
    (repo / "privacy.md").write_text(V2, encoding="utf-8")
    (repo / "notes.txt").write_text("plain file, edited\n", encoding="utf-8")
    out = git(repo, "diff")
    assert "diff --policydiff a/privacy.md b/privacy.md\n" in out
    assert "Compare a/privacy.md \u2192 b/privacy.md\n" in out
    assert "changed Privacy > Data" in " ".join(out.split())
    assert "We collect your name {+and address+}." in out
    assert "-We collect your name." not in out  # not git's line diff
    # A file .gitattributes does not mark keeps git's own diff.
    assert "diff --git a/notes.txt b/notes.txt" in out
    assert "+plain file, edited" in out


def test_git_log_and_show_with_ext_diff(repo: Path) -> None:
    commit(repo, "second", privacy__md=V2)
    commit(repo, "third", privacy__md=V3, terms__md=V1)
    commit(repo, "fourth", terms__md=None)
    log = git(repo, "log", "-p", "--ext-diff")
    parts = log.split("\ncommit ")
    assert [p.split("\n\n    ", 1)[1].split("\n", 1)[0] for p in parts] == [
        "fourth",
        "third",
        "second",
        "first",
    ]
    fourth, third, second, _ = parts
    assert "diff --policydiff a/terms.md b/terms.md\ndeleted file mode 100644\n" in fourth
    assert "Compare a/terms.md \u2192 /dev/null" in fourth
    assert "removed Privacy" in " ".join(fourth.split())
    assert "diff --policydiff a/terms.md b/terms.md\nnew file mode 100644\n" in third
    assert "Compare /dev/null \u2192 b/terms.md" in third
    assert "added Privacy > Rights" in " ".join(third.split())
    assert "{+and address+}" in second
    # git show takes the same switch; without it git keeps its own line diff.
    assert "diff --policydiff a/privacy.md" in git(repo, "show", "--ext-diff", "HEAD~1")
    assert "diff --policydiff" not in git(repo, "log", "-p")


def test_a_rename_gets_both_names(repo: Path) -> None:
    git(repo, "mv", "privacy.md", "privacy-policy.md")
    (repo / "privacy-policy.md").write_text(V2, encoding="utf-8")
    git(repo, "add", "privacy-policy.md")
    out = git(repo, "diff", "--cached", "-M")
    assert "diff --policydiff a/privacy.md b/privacy-policy.md\n" in out
    assert "rename from privacy.md\nrename to privacy-policy.md\n" in out
    assert "Compare a/privacy.md \u2192 b/privacy-policy.md" in out


def test_odd_file_names_are_paths(repo: Path) -> None:
    commit(repo, "odd", **{"-q --format json__md": V1})
    (repo / "-q --format json.md").write_text(V2, encoding="utf-8")
    out = git(repo, "diff")
    assert "diff --policydiff a/-q --format json.md b/-q --format json.md\n" in out
    assert "{+and address+}" in out


def test_an_emptied_file_is_all_removed(repo: Path) -> None:
    (repo / "privacy.md").write_text("", encoding="utf-8")
    out = git(repo, "diff")
    assert "Sections: 0 added, 3 removed" in out


def test_markdown_format_from_the_config(repo: Path) -> None:
    git(repo, "config", "diff.policy.command", DRIVER + " --format markdown")
    (repo / "privacy.md").write_text(V2, encoding="utf-8")
    out = git(repo, "diff")
    assert "## Compare a/privacy.md \u2192 b/privacy.md" in out
    assert "<ins>and address</ins>" in out


def test_textconv_lets_git_log_diff_the_policy_text(repo: Path) -> None:
    """HTML pages: git's line diff (in log -p, no switch needed) runs on the extracted text."""
    git(repo, "config", "diff.policyhtml.textconv", DRIVER + " --textconv")
    (repo / ".gitattributes").write_text("*.md diff=policy\n*.html diff=policyhtml\n")
    git(repo, "add", ".gitattributes")
    commit(repo, "page", privacy__html=PAGE.format(what="name"))
    commit(repo, "page edit", privacy__html=PAGE.format(what="name and address"))
    log = git(repo, "log", "-p", "-1")
    assert "-We collect your name.\n+We collect your name and address.\n" in log
    assert "<p>" not in log
    assert "Menu" not in log  # the extracted policy, not the page's navigation


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["a", "b"], "Error: expected git's 7 (or 9) external diff arguments, got 2"),
        (
            ["p", "old", "--upload-pack=x", "100644", "new", "abcdef0", "100644"],
            "Error: OLD-HEX '--upload-pack=x' is not what git passes (see --help)",
        ),
        (["--textconv", "a", "b"], "Error: --textconv takes one FILE and no other option"),
    ],
)
def test_bad_invocations_are_one_error_line(args: list[str], error: str) -> None:
    result = run_cli(["git-diff-driver", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(error)
    assert result.stderr.count("\n") == 1
