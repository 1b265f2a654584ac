"""``track`` marks a re-extraction of an unchanged page technical, not a policy change.

How the extractor upgrade is simulated (in process, through ``run_cli``): the first run
records version 1 with the real extractor and its real ``Extractor`` trailer. Then two
things are monkeypatched for the next run, as a newer extractor release would change
them: ``track_cmd.extractor_versions`` (what the trailer and the conditional-request key
record) and ``policydiff.sources.ingest.html.page_text`` (wrapped: the real extraction, with its
markdown text then changed the way a converter upgrade could change it). The server sends
the very same bytes both times; everything else (store, HTTP, git) is real.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli
from httpserver import LocalServer, Reply
from policydiff.cli import track_cmd
from policydiff.sources.ingest import html as ingest_html
from policydiff.store.gitstore import GitStore

FAST = ["--backoff", "0", "--retries", "1", "--timeout", "5"]


def page(text: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>Acme</title></head><body><nav>Menu</nav>"
        f"<main><h1>Policy</h1><p>{text}</p><h2>Contact</h2><p>Write to us.</p>"
        "<h2>Your rights</h2><p>You may ask for a copy of your data.</p></main>"
        "</body></html>"
    ).encode()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def settle(store_dir: Path, url: str, extra: str = "") -> None:
    (store_dir / "policydiff.toml").write_text(
        f'[policy."a/p"]\nurl = "{url}"\ntitle = "Acme privacy policy"\n{extra}', encoding="utf-8"
    )
    result = run_cli(["--store", str(store_dir), "config", "commit"])
    assert result.exit_code == 0, result.stderr


def track(store_dir: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--store", str(store_dir), "track", *FAST, *args])
    return result.exit_code, result.stdout, result.stderr


def upgrade_extractor(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make the next runs use a "newer extractor": another version string, other text."""
    real_versions = track_cmd.extractor_versions()
    newer = real_versions.replace("markdownify ", "markdownify 99.0+was-")
    real_page_text = ingest_html.page_text

    def newer_page_text(*args: Any, **kwargs: Any) -> ingest_html.PageText:
        found = real_page_text(*args, **kwargs)
        # A converter release that writes setext headings for level 1 (a real markdownify
        # option): the same document, other markdown.
        text = found.text.replace("# Policy\n", "Policy\n======\n", 1)
        return replace(found, text=text)

    monkeypatch.setattr(track_cmd, "extractor_versions", lambda: newer)
    monkeypatch.setattr(ingest_html, "page_text", newer_page_text)
    return newer


def test_a_newer_extractor_on_the_same_bytes_records_a_technical_version(
    store_dir: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = page("We keep your e-mail address for one year.")
    server.route("/p", Reply(body=body, headers={"ETag": '"v1"'}))
    settle(store_dir, server.url("/p"))
    assert track(store_dir) == (0, "a/p: recorded version 1\n", "")
    store = GitStore(store_dir)
    first = store.versions("a/p")[0]
    assert "# Policy\n" in store.text(first)

    newer = upgrade_extractor(monkeypatch)
    code, out, err = track(store_dir, "--exit-code")
    assert (code, out, err) == (
        1,
        "a/p: re-extracted as version 2 (technical, extractor changed)\n",
        "",
    )
    # A new extractor invalidates the remembered validators: the page was fetched in full.
    assert "if-none-match" not in server.requests[-1].headers
    store = GitStore(store_dir)
    v1, v2 = store.versions("a/p")
    assert (v1.technical, v2.technical) == (False, True)
    assert v2.source_sha256 == v1.source_sha256  # the very same bytes
    assert v2.text_sha256 != v1.text_sha256
    assert v2.trailer("Extractor") == newer
    assert v2.trailer("Technical") == "true"
    assert "Policy\n======\n" in store.text(v2)
    subject = store.repo.commit(v2.commit).message.splitlines()[0]
    assert subject.startswith("a/p: record technical re-extraction ")
    assert run_cli(["--store", str(store_dir), "verify"]).exit_code == 0

    # Nothing to announce: the only policy edit is still version 1, the first.
    announced = run_cli(["--store", str(store_dir), "announce", "a/p", "--format", "text"])
    assert announced.exit_code == 2
    assert "no earlier version to compare its latest edit with" in announced.stderr
    # The changelog and the feed show one version, not a change.
    log = run_cli(["--store", str(store_dir), "changelog", "a/p", "--format", "json"])
    assert [e["version"] for e in json.loads(log.stdout)["versions"]] == [1]
    feed = run_cli(["--store", str(store_dir), "feed", "a/p"])
    assert feed.exit_code == 0
    assert feed.stdout.count("<entry>") == 1

    # The same bytes again with the same (newer) extractor: unchanged, nothing recorded;
    # the validators of the technical version are sent again (this server ignores them).
    assert track(store_dir, "--exit-code") == (0, "a/p: unchanged\n", "")
    assert server.requests[-1].headers["if-none-match"] == '"v1"'

    # Then the policy really changes: a normal version, announced against version 2, so the
    # announcement holds the policy's change and not the extractor's.
    server.route("/p", Reply(body=page("We keep your e-mail address for two years.")))
    assert track(store_dir) == (0, "a/p: recorded version 3\n", "")
    assert not GitStore(store_dir).versions("a/p")[-1].technical
    announced = run_cli(["--store", str(store_dir), "announce", "a/p", "--format", "json"])
    assert announced.exit_code == 0, announced.stderr
    context = json.loads(announced.stdout)
    assert (context["old"]["version"], context["new"]["version"]) == (2, 3)
    # One change, the policy's words; the heading's new markdown is not one.
    [change] = context["changes"]
    assert change["kind"] == "changed"
    assert "two years" in change["quotes"][0]["new"]
    log = run_cli(["--store", str(store_dir), "changelog", "a/p", "--format", "json"])
    assert [e["version"] for e in json.loads(log.stdout)["versions"]] == [3, 1]


def test_json_and_the_recipe_line_pattern(
    store_dir: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/p", Reply(body=page("Text.")))
    settle(store_dir, server.url("/p"))
    assert track(store_dir)[0] == 0
    upgrade_extractor(monkeypatch)
    result = run_cli(["--store", str(store_dir), "track", *FAST, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "schema": "policydiff.track/1",
        "policies": [
            {
                "policy": "a/p",
                "url": server.url("/p"),
                "status": "technical",
                "version": 2,
                "not_modified": False,
                "error": None,
                "technical_reason": "extractor changed",
            }
        ],
        "recorded": 0,
        "technical": 1,
        "failed": 0,
    }


def test_other_selectors_on_the_same_bytes_are_technical_too(
    store_dir: Path, server: LocalServer
) -> None:
    # As Open Terms Archive's "declaration upgrade": the page did not change, the rules did.
    server.route("/p", Reply(body=page("Text.")))
    settle(store_dir, server.url("/p"))
    assert track(store_dir) == (0, "a/p: recorded version 1\n", "")
    settle(store_dir, server.url("/p"), extra='remove = "h2, h2 + p"\n')
    assert track(store_dir) == (
        0,
        "a/p: re-extracted as version 2 (technical, same page, extracted differently)\n",
        "",
    )
    assert GitStore(store_dir).versions("a/p")[-1].technical


def test_new_bytes_with_a_new_extractor_are_a_policy_version(
    store_dir: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The raw page changed: whatever else changed, this is not a technical re-extraction.
    server.route("/p", Reply(body=page("Old words.")))
    settle(store_dir, server.url("/p"))
    assert track(store_dir)[0] == 0
    upgrade_extractor(monkeypatch)
    server.route("/p", Reply(body=page("New words.")))
    assert track(store_dir) == (0, "a/p: recorded version 2\n", "")
    assert not GitStore(store_dir).versions("a/p")[-1].technical


def test_many_captures_in_one_second_append_without_rewriting_main(
    store_dir: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A track run records one policy after another, often several in the same second
    # (capture times are kept to the second): each must be appended to main, never
    # inserted by replaying the commits of that second (a rewrite, and a kept ref each).
    for name in "abcdef":
        server.route(f"/{name}", Reply(body=page(f"Policy {name}.")))
    (store_dir / "policydiff.toml").write_text(
        "".join(f'[policy."s/{n}"]\nurl = "{server.url("/" + n)}"\n' for n in "abcdef"),
        encoding="utf-8",
    )
    assert run_cli(["--store", str(store_dir), "config", "commit"]).exit_code == 0
    store = GitStore(store_dir)
    tips = [store.tip()]
    real_record = GitStore.record

    def record(self: GitStore, *args: Any, **kwargs: Any) -> Any:
        done = real_record(self, *args, **kwargs)
        tips.append(self.tip())
        return done

    monkeypatch.setattr(GitStore, "record", record)
    code, out, err = track(store_dir)
    assert (code, err) == (0, ""), out
    assert len(tips) == 7
    for older, newer in itertools.pairwise(tips):
        # Each tip is the parent of the next: one commit appended per policy.
        assert store.repo.commit(newer).parents[0].hexsha == older
    kept = store.repo.git.for_each_ref("refs/policydiff/previous")
    assert kept == ""
