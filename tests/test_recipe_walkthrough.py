"""Issue 16's "done means", run for real: docs/recipes.md followed by a new user.

The user writes three policies into policydiff.toml by hand (an HTML page, a PDF, and a
document of an Open Terms Archive declaration, imported with ``config import-declarations``)
plus the store-wide announcement settings, commits it, runs ``track`` and pushes to a bare
remote (the recipe's "The store"). A page then changes, and the GitHub Actions workflow's
``run:`` steps (examples/github-actions/track.yml) run with bash in a fresh clone, as the
scheduled runner would: the second ``track`` records exactly one version, the store is
pushed, the site is rebuilt, and the announcement arrives on a real SMTP server (aiosmtpd)
on 127.0.0.1. Every command is the installed ``policydiff`` program in a subprocess.

"No state outside the store's committed files and ``git config``": the steps run with an
empty HOME (and XDG directories inside it), no system or global git config, and a clone
made just before; afterwards HOME is still empty, the clone's work tree has no change, and
the only configuration the runner added is the clone's ``git config policydiff.smtp.*``.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest

pytest.importorskip("aiosmtpd", reason="aiosmtpd (the dev extra) runs the test SMTP server")
pytest.importorskip("fpdf", reason="fpdf2 (the dev extra) makes the PDF")

import yaml
from aiosmtpd.controller import Controller

from httpserver import LocalServer, Reply
from pdf_factory import make_pdf
from policydiff import __version__
from test_announce_send import Keeper, free_port
from test_recipes import CONDITION, GITHUB, bash, page

PDF_TYPE = "application/pdf"
SITE_URL = "https://policies.example.org/archive"


def terms_pdf(notice_days: int) -> bytes:
    """Return the terms as a PDF; the notice period is what changes between runs."""
    return make_pdf(
        [
            ("h1", "Acme terms of service"),
            ("h2", "Using the service"),
            ("p", ["You may use the service for lawful purposes only."]),
            ("h2", "Ending the service"),
            ("p", [f"We may end the service after {notice_days} days of notice to you."]),
        ],
        header_text="Acme Ltd - Terms of service",
    )


def vendor_page() -> bytes:
    return (
        b"<!DOCTYPE html><html><head><title>Vendor</title></head><body><nav>Menu</nav>"
        b"<div id='policy'><h1>Vendor privacy</h1><h2>Data</h2><p>We process data you give us."
        b"</p></div><div class='promo'><p>Buy the premium plan.</p></div></body></html>"
    )


@pytest.fixture
def smtp() -> Iterator[tuple[int, Keeper]]:
    keeper = Keeper()
    port = free_port()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        controller = Controller(keeper, hostname="127.0.0.1", port=port)
        controller.start()
    yield port, keeper
    controller.stop()


def settings_file(base: str) -> str:
    """Return the policydiff.toml the user writes: two policies and the announcement."""
    return f"""\
# The policies this archive tracks, and who hears about changes.
[announce]
to = "policy-watch@lists.example.org"
from = "Policy bot <bot@example.org>"
reply_to = "Privacy team <privacy@example.org>"
list_name = "Acme policy watch"
footer = "You get this because you follow Acme's policies."
site_url = "{SITE_URL}/"

[policy."acme/privacy-policy"]
url = "{base}/privacy"
title = "Acme privacy policy"
organisation = "Acme Ltd"
type = "privacy policy"
select = "main"

[policy."acme/terms"]
url = "{base}/terms.pdf"
title = "Acme terms of service"
organisation = "Acme Ltd"
type = "terms of service"
"""


def test_recipe_from_scratch_three_sources_one_version_one_mail(
    tmp_path: Path, smtp: tuple[int, Keeper]
) -> None:
    smtp_port, keeper = smtp
    home = tmp_path / "home"
    home.mkdir()
    isolated = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "no-global-gitconfig"),
        "POLICYDIFF_STORE": "",
        "POLICYDIFF_SMTP_USER": "",
        "POLICYDIFF_SMTP_PASSWORD": "",
    }
    with LocalServer() as server:
        server.route("/privacy", Reply(body=page("Privacy", "We keep your e-mail address.")))
        server.route("/terms.pdf", Reply(body=terms_pdf(30), content_type=PDF_TYPE))
        server.route("/vendor/privacy", Reply(body=vendor_page()))
        declarations = tmp_path / "collection" / "declarations"
        declarations.mkdir(parents=True)
        (declarations / "Vendor.json").write_text(
            json.dumps(
                {
                    "name": "Vendor",
                    "terms": {
                        "Privacy Policy": {
                            "fetch": server.url("/vendor/privacy"),
                            "select": "#policy",
                            "remove": ".promo",
                        }
                    },
                }
            ),
            encoding="utf-8",
        )
        remote = tmp_path / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
        (tmp_path / "policydiff.toml").write_text(settings_file(server.base), encoding="utf-8")

        # docs/recipes.md, "The store": init, the settings (here the file written by hand
        # and committed, and an Open Terms Archive declaration imported), track, push.
        setup = f"""
            policydiff --store policy-archive init
            cd policy-archive
            cp ../policydiff.toml policydiff.toml
            policydiff --store . config commit
            policydiff --store . config import-declarations {declarations}
            policydiff --store . track
            git remote add origin {remote}
            git push -q -u origin main
        """
        done = bash(setup, tmp_path, isolated)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[-3:] == [
            "acme/privacy-policy: recorded version 1",
            "acme/terms: recorded version 1",
            "vendor/privacy-policy: recorded version 1",
        ]

        # The PDF changes; the HTML page and the declared document do not.
        server.route("/terms.pdf", Reply(body=terms_pdf(60), content_type=PDF_TYPE))

        # The scheduled runner: a fresh clone, then the workflow's steps.
        clone = tmp_path / "runner-clone"
        subprocess.run(
            ["git", "clone", "-q", "-b", "main", str(remote), str(clone)],
            check=True,
            env={**isolated, "PATH": "/usr/bin:/bin"},
        )
        runner_temp = tmp_path / "runner"
        runner_temp.mkdir()
        output = runner_temp / "github_output"
        output.touch()
        env = {
            **isolated,
            "POLICYDIFF_STORE": ".",
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(output),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_SECURITY": "none",
        }
        ran = []
        for step in yaml.safe_load(GITHUB.read_text(encoding="utf-8"))["jobs"]["track"]["steps"]:
            if "run" not in step or step["name"] == "Install policydiff":
                continue
            if "if" in step:
                match = CONDITION.match(step["if"])
                assert match, step["if"]
                status = output.read_text().split("status=")[-1].strip()
                if (status == match[2]) != (match[1] == "=="):
                    continue
            done = bash(step["run"], clone, env)
            assert done.returncode == 0, (step["name"], done.stdout, done.stderr)
            ran.append(step["name"])

    assert ran == ["Track", "Push the store", "Build the site", "Announce"]
    # Exactly one recorded version, from the second track.
    assert (runner_temp / "track.out").read_text() == (
        "acme/privacy-policy: unchanged\n"
        "acme/terms: recorded version 2\n"
        "vendor/privacy-policy: unchanged\n"
    )
    remote_log = subprocess.run(
        ["git", "-C", str(remote), "log", "--format=%s", "main"],
        capture_output=True,
        text=True,
        check=True,
        env=isolated,
    ).stdout.splitlines()
    recorded = [s for s in remote_log if ": record version captured " in s]
    assert len(recorded) == 4  # three first versions, then the one change
    assert recorded[0].startswith("acme/terms: record version captured ")

    # The announcement, as the local SMTP server received it.
    [received] = keeper.messages
    assert received.sender == "bot@example.org"
    assert received.recipients == ["policy-watch@lists.example.org"]
    mail = message_from_bytes(received.data, policy=email_policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail["Subject"].startswith("[ANNOUNCE] Acme terms of service")
    assert mail["Reply-To"] == "Privacy team <privacy@example.org>"
    body = mail.get_content().replace("\r\n", "\n")  # SMTP's line ends
    assert "Before: “We may end the service after 30 days of notice to you.”" in body
    assert "Now:    “We may end the service after 60 days of notice to you.”" in body
    assert f"{SITE_URL}/policies/acme/terms/diffs/1-2.html" in body
    assert body.endswith(
        "\n-- \nAcme policy watch\nYou get this because you follow Acme's policies.\n"
        f"Drafted with policydiff {__version__}\n"
    )

    # The site and the feed hold the new version; the announced diff page exists.
    site = runner_temp / "site"
    assert (site / "policies" / "acme" / "terms" / "diffs" / "1-2.html").is_file()
    timeline = (site / "policies" / "acme" / "terms" / "index.html").read_text(encoding="utf-8")
    assert "versions/2.html" in timeline
    assert (site / "policies" / "vendor" / "privacy-policy" / "index.html").is_file()
    # The site step publishes a feed per policy next to its pages.
    atom = (site / "policies" / "acme" / "terms" / "feed.atom").read_text(encoding="utf-8")
    assert atom.count("<entry>") == 2
    assert "Version 2: 1 section changed" in atom
    for other in ("acme/privacy-policy", "vendor/privacy-policy"):
        feed = (site / "policies" / other / "feed.atom").read_text(encoding="utf-8")
        assert feed.count("<entry>") == 1, other

    # Nothing outside the store's committed files and git config.
    assert list(home.iterdir()) == []
    assert not (tmp_path / "no-global-gitconfig").exists()
    status = subprocess.run(
        ["git", "-C", str(clone), "status", "--porcelain", "--ignored"],
        capture_output=True,
        text=True,
        check=True,
        env=isolated,
    ).stdout
    assert status == ""
    config = subprocess.run(
        ["git", "-C", str(clone), "config", "--local", "--get-regexp", r"^policydiff\."],
        capture_output=True,
        text=True,
        check=True,
        env=isolated,
    ).stdout.splitlines()
    assert config == [
        "policydiff.smtp.host 127.0.0.1",
        f"policydiff.smtp.port {smtp_port}",
        "policydiff.smtp.security none",
    ]
    committed = subprocess.run(
        ["git", "-C", str(clone), "show", "HEAD:policydiff.toml"],
        capture_output=True,
        text=True,
        check=True,
        env=isolated,
    ).stdout
    assert '[policy."vendor/privacy-policy"]' in committed
    assert 'url = "' + server.url("/terms.pdf") + '"' in committed
