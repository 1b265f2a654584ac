"""Untrusted git repositories run nothing and fool nothing (issue 12 items 1, 6 and 8).

A repository policydiff did not set up (another project's history for ``import-git``, a
store cloned or unpacked from elsewhere) is hostile input: its ``.git/config`` and hooks
folder can name programs git would run, its refs can substitute objects. Every program a
repository plants here is a script that only touches a marker file; a control run of
plain git proves each trap fires, then policydiff's commands must leave every marker
absent. Replace refs and grafts must change no answer and make ``verify`` fail. An
oversized blob in a foreign repository is refused without being read into memory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import run_cli

POLICY = "acme/privacy"
TEXT_1 = "# Privacy\n\nWe keep your data safe.\n"
TEXT_2 = "# Privacy\n\nWe keep your data very safe.\n"
FORGED = "# Privacy\n\nWe sell your data.\n"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Someone",
    "GIT_AUTHOR_EMAIL": "someone@example.org",
    "GIT_COMMITTER_NAME": "Someone",
    "GIT_COMMITTER_EMAIL": "someone@example.org",
}
SIGNATURE = "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEEforged\n -----END PGP SIGNATURE-----\n"


def git(
    repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    """Run plain git (as a user would by hand) in ``repo`` and return its stdout."""
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        check=True,
        capture_output=True,
        env={**os.environ, **IDENTITY, **(env or {})},
    ).stdout.decode()


class Traps:
    """Scripts that only touch a marker file named after them (and then behave harmlessly)."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "traps"
        self.markers = root / "markers"
        self.bin.mkdir()
        self.markers.mkdir()

    def script(self, name: str, then: str = "exit 1") -> str:
        """Return the path of a new trap script ``name``, which runs ``then`` after marking."""
        path = self.bin / name
        path.write_text(f'#!/bin/sh\ntouch "{self.markers}/{name}"\n{then}\n')
        path.chmod(0o755)
        return str(path)

    def hooks_dir(self, folder: Path) -> None:
        """Fill ``folder`` with every hook a store or import could trigger."""
        folder.mkdir(parents=True, exist_ok=True)
        for hook in (
            "reference-transaction", "post-checkout", "post-index-change", "pre-commit",
            "commit-msg", "post-commit", "pre-auto-gc", "post-rewrite", "pre-push",
            "fsmonitor-watchman", "post-merge",
        ):  # fmt: skip
            shutil.copy(self.script(f"hook-{folder.name}-{hook}", then="exit 0"), folder / hook)

    def fired(self) -> list[str]:
        """Return the names of the traps that ran, sorted."""
        return sorted(p.name for p in self.markers.iterdir())

    def clear(self) -> None:
        for marker in self.markers.iterdir():
            marker.unlink()


@pytest.fixture
def traps(tmp_path: Path) -> Traps:
    return Traps(tmp_path)


# --------------------------------------------------------------------------- import-git


def signed_commit(repo: Path, message: str, when: int) -> str:
    """Commit the index as a raw commit with a gpgsig header (enough for log.showSignature)."""
    tree = git(repo, "write-tree").strip()
    parent = git(repo, "rev-parse", "--verify", "-q", "HEAD").strip()
    raw = (
        f"tree {tree}\nparent {parent}\n"
        f"author Someone <someone@example.org> {when} +0000\n"
        f"committer Someone <someone@example.org> {when} +0000\n"
        f"{SIGNATURE}\n{message}\n"
    )
    commit = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", stdin=raw.encode()).strip()
    git(repo, "update-ref", "HEAD", commit)
    return commit


@pytest.fixture
def hostile_repo(tmp_path: Path, traps: Traps) -> Path:
    """A versions repository whose config, hooks and attributes try to run programs."""
    repo = tmp_path / "versions"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "privacy.md").write_text(TEXT_1)
    git(repo, "add", "privacy.md")
    stamp = "1577880000 +0000"
    git(repo, "commit", "-q", "-m", "First record",
        env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})  # fmt: skip
    (repo / "privacy.md").write_text(TEXT_2)
    git(repo, "add", "privacy.md")
    signed_commit(repo, "Record new changes", 1609416000)
    (repo / ".git" / "info" / "attributes").write_text("* filter=evil diff=evil merge=evil\n")
    traps.hooks_dir(repo / ".git" / "hooks")
    included = repo / ".git" / "included.config"
    included.write_text(f'[gpg "ssh"]\n\tprogram = {traps.script("gpg-ssh-included")}\n')
    settings = {
        "log.showSignature": "true",
        "gpg.program": traps.script("gpg-program"),
        "gpg.x509.program": traps.script("gpg-x509"),
        "core.fsmonitor": traps.script("fsmonitor"),
        "core.pager": traps.script("core-pager"),
        "pager.log": traps.script("pager-log"),
        "diff.external": traps.script("diff-external"),
        "diff.evil.textconv": traps.script("textconv"),
        "diff.evil.command": traps.script("diff-command"),
        "merge.evil.driver": traps.script("merge-driver"),
        "filter.evil.clean": traps.script("filter-clean", then="cat"),
        "filter.evil.smudge": traps.script("filter-smudge", then="cat"),
        "filter.evil.required": "true",
        "core.alternateRefsCommand": traps.script("alternate-refs"),
        "core.sshCommand": traps.script("ssh-command"),
        "credential.helper": traps.script("credential"),
        "include.path": str(included),
        "log.follow": "true",
    }
    for key, value in settings.items():
        git(repo, "config", key, value)
    return repo


def test_trap_control_plain_git_runs_the_repository_programs(
    hostile_repo: Path, traps: Traps
) -> None:
    """Proves the traps work: the same reads done the usual way run the repository's programs."""
    git(hostile_repo, "log", "--format=%s", "--", "privacy.md")
    git(hostile_repo, "status", "--porcelain")
    assert {"gpg-program", "fsmonitor"} <= set(traps.fired())


def test_import_git_runs_nothing_the_repository_configures(
    hostile_repo: Path, traps: Traps, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    assert run_cli(["--store", store, "init"]).exit_code == 0
    done = run_cli(
        ["--store", store, "import-git", str(hostile_repo), "--path", "privacy.md",
         "--policy", POLICY]
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert "2 recorded" in done.stderr
    shown = run_cli(["--store", store, "show", f"{POLICY}@latest"])
    assert shown.stdout == TEXT_2
    assert traps.fired() == []


def test_import_git_ignores_the_users_global_programs_too(
    hostile_repo: Path, traps: Traps, tmp_path: Path
) -> None:
    """The foreign repository's attributes cannot select a driver from the user's config."""
    for key in ("log.showSignature", "gpg.program", "diff.evil.textconv", "filter.evil.clean",
                "filter.evil.smudge", "filter.evil.required", "include.path"):  # fmt: skip
        git(hostile_repo, "config", "--unset", key)
    global_config = tmp_path / "user.gitconfig"
    global_config.write_text(
        textwrap.dedent(f"""\
            [log]
            \tshowSignature = true
            [gpg]
            \tprogram = {traps.script("global-gpg")}
            [filter "evil"]
            \tsmudge = {traps.script("global-smudge", then="cat")}
            \tclean = {traps.script("global-clean", then="cat")}
            [diff "evil"]
            \ttextconv = {traps.script("global-textconv")}
            """)
    )
    env = {"GIT_CONFIG_GLOBAL": str(global_config)}
    git(hostile_repo, "log", "--format=%s", env=env)
    assert "global-gpg" in traps.fired()  # control: the user's config does apply to plain git
    traps.clear()
    store = str(tmp_path / "store")
    assert run_cli(["--store", store, "init"], env=env).exit_code == 0
    done = run_cli(
        ["--store", store, "import-git", str(hostile_repo), "--path", "privacy.md",
         "--policy", POLICY], env=env,
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert traps.fired() == []


def origin_repo(tmp_path: Path, url: str) -> Path:
    """A small versions repository whose remote.origin.url is ``url``."""
    repo = tmp_path / "origin-versions"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "privacy.md").write_text(TEXT_1)
    git(repo, "add", "privacy.md")
    git(repo, "commit", "-q", "-m", "First record")
    git(repo, "config", "remote.origin.url", url)
    return repo


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:token@example.org/versions.git", "https://example.org/versions.git"),
        ("git@example.org:acme/versions.git", "example.org:acme/versions.git"),
        ("https://example.org:99999/versions.git", None),  # port out of range
        ("https://example.org:http/versions.git", None),  # port not a number
        ("https://[::1/versions.git", None),  # unclosed IPv6 host
        ("https://example.org/a\u2028Policy: evil/other", None),  # Unicode line separator
        ("https://example.org/a\u0085b", None),  # NEL
        ("https://example.org/\x1b[31mred", None),  # terminal escape
        ("https://example.org/" + "a" * 3000, None),  # longer than a trailer may be
    ],
    ids=[
        "credentials",
        "scp-like",
        "bad-port",
        "named-port",
        "ipv6",
        "u2028",
        "nel",
        "esc",
        "long",
    ],
)
def test_hostile_origin_url_is_cleaned_or_dropped(
    tmp_path: Path, url: str, expected: str | None
) -> None:
    """remote.origin.url is the foreign repository's data: it never breaks the store."""
    repo = origin_repo(tmp_path, url)
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    done = run_cli(
        ["--store", str(store), "import-git", str(repo), "--path", "privacy.md", "--policy", POLICY]
    )
    assert done.exit_code == 0, done.stderr
    message = git(store, "log", "-1", "--format=%B", "main")
    trailers = [line for line in message.splitlines() if line.startswith("Source-Repository: ")]
    assert trailers == [f"Source-Repository: {expected or repo.resolve()}"]
    for command in (["log", POLICY], ["verify"]):
        checked = run_cli(["--store", str(store), *command])
        assert checked.exit_code == 0, (command, checked.stdout, checked.stderr)


def test_path_with_a_unicode_line_break_is_refused(tmp_path: Path) -> None:
    """A --path that would not be one trailer line is refused before anything is read."""
    name = "privacy\u2028Policy: other.md"
    repo = tmp_path / "versions"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / name).write_text(TEXT_1)
    git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", "First record")
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    before = git(store, "for-each-ref")
    done = run_cli(
        ["--store", str(store), "import-git", str(repo), "--path", name, "--policy", POLICY]
    )
    assert done.exit_code == 2
    assert done.stderr.count("Error:") == 1
    assert "--path" in done.stderr
    assert git(store, "for-each-ref") == before


# --------------------------------------------------------------------------- --max-size

BIG = 64 * 1024 * 1024
# Runs a command and prints the peak resident size of it and its children, in KiB.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(done.stdout + done.stderr)\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def test_import_git_refuses_an_oversized_blob_without_reading_it(tmp_path: Path) -> None:
    """A 64 MiB blob over --max-size 1 MB is refused per commit, and never held in memory."""
    repo = tmp_path / "versions"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    line = b"We collect the data you give us and keep it only as long as we need it.\n"
    big = (b"# Privacy\n\n" + line * (BIG // len(line) + 1))[:BIG]
    # Straight into the object store: the 64 MiB never lands in a work tree on disk.
    blob = git(repo, "hash-object", "-w", "--stdin", stdin=big).strip()
    del big
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},privacy.md")
    git(repo, "commit", "-q", "-m", "Huge record",
        env={"GIT_AUTHOR_DATE": "1577880000 +0000"})  # fmt: skip
    (repo / "privacy.md").write_text(TEXT_1)
    git(repo, "add", "privacy.md")
    git(repo, "commit", "-q", "-m", "Small record",
        env={"GIT_AUTHOR_DATE": "1609416000 +0000"})  # fmt: skip
    store = tmp_path / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    command = [
        sys.executable, "-m", "policydiff", "--store", str(store), "import-git", str(repo),
        "--path", "privacy.md", "--policy", POLICY, "--max-size", "1000000",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *command], capture_output=True, text=True, check=True
    )
    code, peak_kib = (int(field) for field in done.stdout.split())
    output = done.stderr
    assert code == 2, output
    assert f"failed: snapshot is {BIG} bytes, over the 1000000 bytes size limit" in output
    assert "recorded as version 1" in output
    assert output.count("Error:") == 1
    # Python, click and GitPython take about 36 MiB here; reading the blob took 167-225 MiB.
    print(f"import-git peak RSS {peak_kib // 1024} MiB with a {BIG // 2**20} MiB blob refused")
    assert peak_kib * 1024 < BIG, f"peak RSS {peak_kib} KiB"
    assert run_cli(["--store", str(store), "show", f"{POLICY}@latest"]).stdout == TEXT_1


# --------------------------------------------------------------------------- the store


def make_store(root: Path) -> Path:
    """A store holding one version of POLICY, made by policydiff."""
    store = root / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    source = root / "2020-01-01.md"
    source.write_text(TEXT_1)
    assert run_cli(["--store", str(store), "add", str(source), "--policy", POLICY]).exit_code == 0
    return store


def plant_traps(store: Path, traps: Traps, hooks: str) -> None:
    """Make ``store`` look unpacked from a hostile tarball: hooks and program keys."""
    if hooks == "hooks-dir":
        traps.hooks_dir(store / ".git" / "hooks")
    else:
        folder = store.parent / "shared-hooks"
        traps.hooks_dir(folder)
        git(store, "config", "core.hooksPath", str(folder))
    remote = store.parent / "remote.git"
    git(store.parent, "clone", "-q", "--bare", str(store), str(remote))
    git(store, "remote", "add", "origin", str(remote))
    (store / ".git" / "info" / "attributes").write_text("* filter=evil diff=evil\n")
    settings = {
        "core.fsmonitor": traps.script("fsmonitor"),
        "filter.evil.clean": traps.script("filter-clean", then="cat"),
        "filter.evil.smudge": traps.script("filter-smudge", then="cat"),
        "filter.evil.required": "true",
        "diff.evil.textconv": traps.script("textconv"),
        "diff.external": traps.script("diff-external"),
        "log.showSignature": "true",
        "gpg.program": traps.script("gpg-program"),
        "core.pager": traps.script("core-pager"),
        "credential.helper": traps.script("credential"),
        "core.sshCommand": traps.script("ssh-command"),
        "remote.origin.uploadpack": traps.script("upload-pack", then='exec git-upload-pack "$@"'),
        "remote.origin.receivepack": traps.script(
            "receive-pack", then='exec git-receive-pack "$@"'
        ),
    }
    for key, value in settings.items():
        git(store, "config", key, value)


@pytest.mark.parametrize("hooks", ["hooks-dir", "hooks-path"])
def test_trap_control_plain_git_runs_the_store_programs(
    tmp_path: Path, traps: Traps, hooks: str
) -> None:
    """Proves the traps work: plain git in the planted store runs hooks, fsmonitor, filters."""
    store = make_store(tmp_path)
    plant_traps(store, traps, hooks)
    git(store, "status", "--porcelain")
    git(store, "update-ref", "refs/heads/control", "main")
    git(store, "fetch", "-q", "origin")
    (store / "policies" / POLICY / "text.md").unlink()
    git(store, "checkout", "--", ".")
    fired = set(traps.fired())
    assert {"fsmonitor", "filter-smudge", "upload-pack"} <= fired
    assert (
        f"hook-{'hooks' if hooks == 'hooks-dir' else 'shared-hooks'}-reference-transaction" in fired
    )


@pytest.mark.parametrize("hooks", ["hooks-dir", "hooks-path"])
def test_store_commands_run_nothing_the_store_configures(
    tmp_path: Path, traps: Traps, hooks: str
) -> None:
    store = make_store(tmp_path)
    plant_traps(store, traps, hooks)
    second = tmp_path / "2021-01-01.md"
    second.write_text(TEXT_2)
    folder = tmp_path / "in" / POLICY
    folder.mkdir(parents=True)
    (folder / "2022-01-01.md").write_text(TEXT_2 + "\nNew section.\n")
    commands = {
        "add": ["add", str(second), "--policy", POLICY],
        "import": ["import", str(tmp_path / "in")],
        "log": ["log", POLICY],
        "show": ["show", f"{POLICY}@1"],
        "compare": ["compare", POLICY],
        "verify": ["verify"],
        "verify POLICY": ["verify", POLICY],
        "sync": ["sync", "origin"],
    }
    fired = {}
    for name, args in commands.items():
        done = run_cli(["--store", str(store), *args])
        assert done.exit_code == 0, (name, done.stdout, done.stderr)
        fired[name] = traps.fired()
        traps.clear()
    assert fired == {name: [] for name in commands}
    # sync did reach the remote: it holds all three versions.
    assert git(tmp_path / "remote.git", "rev-parse", "main") == git(store, "rev-parse", "main")


def test_store_view_runs_no_filter_not_even_the_users_own(tmp_path: Path, traps: Traps) -> None:
    """The store's attributes cannot make the user's filter driver run on its files."""
    store = make_store(tmp_path)
    (store / ".git" / "info" / "attributes").write_text("* filter=evil\n")
    global_config = tmp_path / "user.gitconfig"
    global_config.write_text(
        f'[filter "evil"]\n\tsmudge = {traps.script("user-smudge", then="cat")}\n'
        f"\tclean = {traps.script('user-clean', then='cat')}\n\trequired = true\n"
    )
    env: dict[str, str | None] = {"GIT_CONFIG_GLOBAL": str(global_config)}
    second = tmp_path / "2021-01-01.md"
    second.write_text(TEXT_2)
    for args in (["add", str(second), "--policy", POLICY], ["verify"], ["log", POLICY]):
        done = run_cli(["--store", str(store), *args], env=env)
        assert done.exit_code == 0, (args, done.stdout, done.stderr)
    assert (store / "policies" / POLICY / "text.md").read_text() == TEXT_2
    assert traps.fired() == []


needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


@needs_ssh_keygen
@pytest.mark.parametrize("user_program", [False, True], ids=["default", "users-own"])
def test_signing_uses_the_users_program_never_the_stores(
    tmp_path: Path, traps: Traps, user_program: bool
) -> None:
    """A store's config may turn signing on and pick the key, not the program that signs."""
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"policydiff@localhost {(tmp_path / 'key.pub').read_text()}")
    store = make_store(tmp_path)
    for name, value in [
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
        ("commit.gpgsign", "true"),
        ("gpg.ssh.program", traps.script("store-signer", then='exec ssh-keygen "$@"')),
    ]:
        git(store, "config", name, value)
    env: dict[str, str | None] = {}
    if user_program:
        global_config = tmp_path / "user.gitconfig"
        signer = traps.script("user-signer", then='exec ssh-keygen "$@"')
        global_config.write_text(f'[gpg "ssh"]\n\tprogram = {signer}\n')
        env["GIT_CONFIG_GLOBAL"] = str(global_config)
    second = tmp_path / "2021-01-01.md"
    second.write_text(TEXT_2)
    added = run_cli(["--store", str(store), "add", str(second), "--policy", POLICY], env=env)
    assert added.exit_code == 0, added.stderr
    git(store, "-c", "gpg.ssh.program=ssh-keygen", "verify-commit", "main")  # really signed
    verified = run_cli(["--store", str(store), "verify", POLICY], env=env)
    assert "signature missing" in verified.stdout  # the first version predates signing
    assert verified.stdout.count("PROBLEM:") == 1
    assert traps.fired() == (["user-signer"] if user_program else [])


# --------------------------------------------------------------------------- replace, grafts


@pytest.fixture
def two_versions(tmp_path: Path) -> Path:
    store = make_store(tmp_path)
    second = tmp_path / "2021-01-01.md"
    second.write_text(TEXT_2)
    assert run_cli(["--store", str(store), "add", str(second), "--policy", POLICY]).exit_code == 0
    return store


def replace_blob(store: Path) -> str:
    """Substitute forged text for version 1's text blob; return the ref name."""
    real = git(store, "rev-parse", f"main~1:policies/{POLICY}/text.md").strip()
    forged = git(store, "hash-object", "-w", "--stdin", stdin=FORGED.encode()).strip()
    git(store, "replace", real, forged)
    return f"refs/replace/{real}"


def replace_commit(store: Path) -> str:
    """Substitute a commit with forged text (same message and parent) for version 2's."""
    real = git(store, "rev-parse", "main").strip()
    (store / "policies" / POLICY / "text.md").write_text(FORGED)
    git(store, "add", "--", f"policies/{POLICY}/text.md")
    tree = git(store, "write-tree").strip()
    git(store, "checkout", "-q", "--", ".")
    git(store, "reset", "-q")
    message = git(store, "log", "-1", "--format=%B", "main")
    forged = git(store, "commit-tree", tree, "-p", "main~1", stdin=message.encode()).strip()
    git(store, "replace", real, forged)
    return f"refs/replace/{real}"


def graft(store: Path) -> str:
    """Cut version 2 off its parents with a grafts file."""
    path = store / ".git" / "info" / "grafts"
    path.write_text(git(store, "rev-parse", "main"))
    return "info/grafts"


@pytest.mark.parametrize("substitute", [replace_blob, replace_commit, graft])
def test_replace_refs_and_grafts_fool_no_read_and_fail_verify(
    two_versions: Path, substitute
) -> None:
    store = two_versions
    named = substitute(store)
    shown = {
        ref: run_cli(["--store", str(store), "show", f"{POLICY}@{ref}"]).stdout
        for ref in ("1", "latest")
    }
    assert shown == {"1": TEXT_1, "latest": TEXT_2}
    listed = run_cli(["--store", str(store), "log", POLICY, "--format", "json"])
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.count('"commit"') == 2
    for args in (["verify"], ["verify", POLICY]):
        verified = run_cli(["--store", str(store), *args])
        assert verified.exit_code == 2, (args, verified.stdout)
        problems = [line for line in verified.stdout.splitlines() if line.startswith("PROBLEM:")]
        assert any(named in line for line in problems), (args, problems)
