"""docs/recipes.md and the shipped CI files: the nightly workflow run for real, commands checked.

The GitHub Actions workflow's ``run:`` steps are taken from examples/github-actions/track.yml
and run in order with bash, as the runner would, in a clone of a store whose remote is a bare
repository, against a real HTTP server (the policy pages) and a real SMTP server (aiosmtpd) on
127.0.0.1. Every ``policydiff ...`` command line of the recipes is checked against the CLI's
own ``--help``, so a renamed command or option breaks this test, not the user's cron job.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("aiosmtpd", reason="aiosmtpd (the dev extra) runs the test SMTP server")

from aiosmtpd.controller import Controller

from helpers import REPO
from httpserver import LocalServer, Reply
from test_announce_send import Keeper, free_port

POLICYDIFF = Path(sys.executable).parent / "policydiff"
GITHUB = REPO / "examples" / "github-actions" / "track.yml"
GITLAB = REPO / "examples" / "gitlab-ci" / "track.yml"
RECIPES = REPO / "docs" / "recipes.md"
CONDITION = re.compile(r"^steps\.track\.outputs\.status (==|!=) '(\d)'$")


def page(title: str, text: str) -> bytes:
    """Return a small policy page."""
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><nav>Menu</nav>"
        f"<main><h1>{title}</h1><h2>What we do</h2><p>{text}</p>"
        "<h2>Contact</h2><p>Write to us at the address on our website.</p></main>"
        "</body></html>"
    ).encode()


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``bash -euo pipefail`` (as CI runners do), the venv's bin first."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        check=False,
        cwd=cwd,
        env={**os.environ, "PATH": f"{POLICYDIFF.parent}{os.pathsep}{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def smtp() -> Iterator[tuple[int, Keeper]]:
    """A real SMTP server on a free port of 127.0.0.1 that keeps what it receives."""
    keeper = Keeper()
    port = free_port()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        controller = Controller(keeper, hostname="127.0.0.1", port=port)
        controller.start()
    yield port, keeper
    controller.stop()


def subject(data: bytes) -> str:
    """Return the decoded Subject of a received message."""
    return str(make_header(decode_header(message_from_bytes(data)["Subject"])))


def test_github_workflow_runs_tracks_pushes_publishes_and_announces(
    tmp_path: Path, smtp: tuple[int, Keeper]
) -> None:
    smtp_port, keeper = smtp
    with LocalServer() as server:
        server.route("/privacy", Reply(body=page("Privacy", "We keep your e-mail address.")))
        server.route("/terms", Reply(body=page("Terms", "You may use the service.")))
        # Added to the settings after the maintainer's track: the nightly run records its
        # first version, which has nothing to be compared with and is not announced.
        server.route("/cookies", Reply(body=page("Cookies", "We set one cookie.")))
        remote = tmp_path / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)

        # A maintainer's one-time setup (docs/recipes.md, "The store"), then the clone a
        # scheduled runner checks out.
        setup = f"""
            policydiff --store store init
            cd store
            policydiff --store . config set policy.acme/privacy-policy.url {server.url("/privacy")}
            policydiff --store . config set policy.acme/terms.url {server.url("/terms")}
            policydiff --store . config set policy.acme/terms.title "Acme terms of service"
            policydiff --store . config set announce.to list@example.org
            policydiff --store . config set announce.from "Policy bot <bot@example.org>"
            policydiff --store . track
            policydiff --store . config set policy.acme/cookies.url {server.url("/cookies")}
            policydiff --store . sync {remote}
            cd ..
            git clone -q -b main {remote} clone
        """
        done = bash(setup, tmp_path, {})
        assert done.returncode == 0, done.stderr
        assert "acme/privacy-policy: recorded version 1" in done.stdout
        assert "acme/terms: recorded version 1" in done.stdout

        server.route("/terms", Reply(body=page("Terms", "You may use the service. We may end it.")))

        runner_temp = tmp_path / "runner"
        runner_temp.mkdir()
        output = runner_temp / "github_output"
        output.touch()
        env = {
            "POLICYDIFF_STORE": ".",
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(output),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_SECURITY": "none",
        }
        workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
        ran, skipped = [], []
        for step in workflow["jobs"]["track"]["steps"]:
            if "run" not in step or step["name"] == "Install policydiff":
                continue  # actions (checkout, Pages) and pip: the test provides those
            if "if" in step:
                match = CONDITION.match(step["if"])
                assert match, step["if"]
                outputs = dict(
                    line.split("=", 1) for line in output.read_text().splitlines() if line
                )
                status = outputs["status"]
                wanted = (status == match[2]) == (match[1] == "==")
                if not wanted:
                    skipped.append(step["name"])
                    continue
            # The step's own env maps repository variables and secrets: `env` stands for them.
            done = bash(step["run"], tmp_path / "clone", env)
            assert done.returncode == 0, (step["name"], done.stdout, done.stderr)
            ran.append(step["name"])

    assert ran == ["Track", "Push the store", "Build the site", "Announce"]
    assert skipped == ["Fail when a policy could not be tracked"]
    assert "status=1" in output.read_text()
    track_out = (runner_temp / "track.out").read_text()
    assert "acme/terms: recorded version 2" in track_out
    assert "acme/privacy-policy: unchanged" in track_out
    assert "acme/cookies: recorded version 1" in track_out

    # The bare remote has what the runner recorded.
    clone_head = subprocess.run(
        ["git", "-C", str(tmp_path / "clone"), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    remote_head = subprocess.run(
        ["git", "-C", str(remote), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert remote_head == clone_head
    log = subprocess.run(
        ["git", "-C", str(remote), "log", "--format=%s", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert log.count("acme/terms") >= 2, log

    assert (runner_temp / "site" / "index.html").is_file()
    assert "acme/terms" in (runner_temp / "site" / "index.html").read_text()
    # A feed per policy, published with the site; the new policy's holds its one version.
    feeds = runner_temp / "site" / "policies" / "acme"
    for policy, entries in (("terms", 2), ("privacy-policy", 1), ("cookies", 1)):
        atom = (feeds / policy / "feed.atom").read_text(encoding="utf-8")
        assert atom.count("<entry>") == entries, policy

    # One mail: the changed terms; the first version of acme/cookies is not announced.

    assert len(keeper.messages) == 1
    message = keeper.messages[0]
    assert message.recipients == ["list@example.org"]
    assert "Acme terms of service" in subject(message.data)


def workflow_scripts() -> list[tuple[str, str]]:
    """Return (where, script) for every shell script of the shipped CI files."""
    scripts: list[tuple[str, str]] = []
    github: Any = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    for job_name, job in github["jobs"].items():
        scripts.extend(
            (f"{GITHUB.name}:{job_name}:{step.get('name')}", step["run"])
            for step in job["steps"]
            if "run" in step
        )
    gitlab: Any = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    for job_name, job in gitlab.items():
        if isinstance(job, dict):
            for key in ("before_script", "script", "after_script"):
                scripts.extend((f"gitlab-ci:{job_name}", line) for line in job.get(key, []))
    return scripts


def recipe_blocks() -> list[tuple[str, str]]:
    """Return (where, text) for every fenced code block of docs/recipes.md and the YAML shown."""
    text = RECIPES.read_text(encoding="utf-8")
    return [
        (f"recipes.md block {n}", block)
        for n, block in enumerate(
            re.findall(r"^```[a-z]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
        )
    ]


COMMAND = re.compile(
    r"(?:^|[\s;&|(])policydiff(?P<store>\s+--store\s+\S+)?\s+(?P<cmd>[a-z][a-z-]*)"
)
SUBCOMMANDS = {"config": {"set", "get", "list", "show", "unset", "commit", "migrate"}}


def command_lines() -> list[tuple[str, list[str], list[str]]]:
    """Return (where, command path, options) for each ``policydiff`` command line."""
    found = []
    for where, script in [*workflow_scripts(), *recipe_blocks()]:
        # A line continued with a backslash is one command.
        for line in script.replace("\\\n", " ").splitlines():
            if "pip install" in line:
                continue
            for match in COMMAND.finditer(line):
                rest = line[match.end() :]
                rest = re.split(r"\s(?:\||;|&&|\|\||#)\s|\)\s*$|\s*#", rest)[0]
                path = [match["cmd"]]
                words = rest.split()
                if path[0] in SUBCOMMANDS and words and words[0] in SUBCOMMANDS[path[0]]:
                    path.append(words[0])
                options = re.findall(r"(?:^|\s)(--[a-z][a-z-]*)", rest)
                found.append((where, path, options))
    return found


def test_shipped_workflows_parse_and_use_only_existing_commands_and_options() -> None:
    github = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    assert "schedule" in github[True]  # YAML 1.1 reads the key `on` as True
    assert any(
        step.get("uses", "").startswith("actions/upload-pages-artifact")
        for step in github["jobs"]["track"]["steps"]
    )
    gitlab = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    assert "pages" in gitlab

    # Every script is valid bash (the GitLab job's lines run as one script).
    gitlab_script = "\n".join(line for where, line in workflow_scripts() if "gitlab" in where)
    shell_blocks = [block for where, block in recipe_blocks() if not block.startswith("MAILTO")]
    github_steps = [script for where, script in workflow_scripts() if "gitlab" not in where]
    for script in [gitlab_script, *shell_blocks, *github_steps]:
        checked = subprocess.run(
            ["bash", "-n", "-c", script], check=False, capture_output=True, text=True
        )
        assert checked.returncode == 0, (script, checked.stderr)

    lines = command_lines()
    commands = {tuple(path) for _, path, _ in lines}
    # Each recipe's heart is there: tracking, publishing, announcing, sharing.
    assert {("track",), ("site",), ("announce",), ("init",), ("config", "set")} <= commands
    helps: dict[tuple[str, ...], str] = {}
    for where, path, options in lines:
        key = tuple(path)
        if key not in helps:
            done = subprocess.run(
                [str(POLICYDIFF), *path, "--help"],
                check=False,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, (where, path, done.stderr)
            helps[key] = done.stdout
        for option in options:
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", helps[key]), (
                where,
                path,
                option,
            )
