"""``capture`` (live pages, sightings, --exit-code) and ``reextract`` (technical versions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import run_cli
from httpserver import LocalServer, Reply
from policydiff.core.model import Snapshot
from policydiff.sources.ingest.html import html_to_markdown
from policydiff.store.gitstore import GitStore

POLICY = "acme/privacy"
FAST = ["--backoff", "0", "--retries", "1", "--timeout", "5"]


def policy_page(text: str, *, menu: str = "Home", promo: str = "") -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>Acme</title><script>x()</script></head><body>"
        f"<header><nav><a href='/'>{menu}</a></nav></header>"
        f"<main><h1>Privacy Policy</h1><p>{text}</p>{promo}<h2>Contact</h2>"
        "<p>Write to <a href='/contact'>us</a>.</p></main>"
        "<footer>Acme Inc.</footer></body></html>"
    ).encode()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def capture(store_dir: Path, url: str, *extra: str) -> tuple[int, str, str]:
    result = run_cli(["--store", str(store_dir), "capture", url, "--policy", POLICY, *FAST, *extra])
    return result.exit_code, result.stdout, result.stderr


def test_capture_records_then_stays_quiet_when_unchanged(
    store_dir: Path, store: GitStore, server: LocalServer
) -> None:
    server.route("/privacy", Reply(body=policy_page("Effective 1 May 2024. We collect little.")))
    url = server.url("/privacy")
    code, out, err = capture(store_dir, url, "--exit-code")
    assert code == 1
    assert out.startswith(f"{POLICY}: recorded version 1 (captured ")
    assert out.endswith(f" from {url})\n")
    assert err == ""
    [version] = store.versions(POLICY)
    assert store.text(version) == (
        "# Privacy Policy\n\nEffective 1 May 2024. We collect little.\n\n## Contact\n\n"
        f"Write to [us]({server.url('/contact')}).\n"
    )
    assert version.source_url == url
    assert version.effective_date is not None
    assert version.effective_date.isoformat() == "2024-05-01"
    assert store.source(version) == (
        "source.html",
        policy_page("Effective 1 May 2024. We collect little."),
    )
    assert not version.technical

    # The same policy with other navigation is a sighting: nothing recorded, nothing said.
    server.route(
        "/privacy",
        Reply(body=policy_page("Effective 1 May 2024. We collect little.", menu="Start")),
    )
    assert capture(store_dir, url, "--exit-code") == (0, "", "")
    assert len(GitStore(store_dir).versions(POLICY)) == 1
    code, out, _ = capture(store_dir, url, "--verbose")
    assert (code, out) == (0, f"{POLICY}: unchanged (same text as version 1)\n")

    server.route("/privacy", Reply(body=policy_page("Effective 1 June 2024. We collect more.")))
    code, out, _ = capture(store_dir, url, "--exit-code")
    assert code == 1
    assert out.startswith(f"{POLICY}: recorded version 2")
    assert GitStore(store_dir).verify(POLICY).ok


def test_capture_json_and_redirect_provenance(
    store_dir: Path, store: GitStore, server: LocalServer
) -> None:
    server.route("/old", Reply(301, headers={"Location": "/new"}))
    server.route("/new", Reply(body=policy_page("Text.")))
    url = server.url("/old")
    code, out, _ = capture(store_dir, url, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "policydiff.capture/1"
    assert (data["status"], data["url"], data["final_url"]) == ("recorded", url, server.url("/new"))
    assert data["version"]["version"] == 1
    [version] = store.versions(POLICY)
    assert ("Fetched-URL", server.url("/new")) in version.trailers
    code, out, _ = capture(store_dir, url, "--format", "json")
    assert json.loads(out)["status"] == "unchanged"
    assert json.loads(out)["version"] is None


def test_capture_network_failure_is_one_error_line(store_dir: Path, server: LocalServer) -> None:
    server.route("/down", Reply(503))
    code, out, err = capture(store_dir, server.url("/down"))
    assert (code, out) == (2, "")
    assert err.startswith("Error: cannot fetch ")
    assert "HTTP 503" in err
    assert err.count("\n") == 1


def test_capture_refuses_bad_input(store_dir: Path, server: LocalServer) -> None:
    assert capture(store_dir, "ftp://example.org/x")[0] == 2
    result = run_cli(["--store", str(store_dir), "capture", server.url("/"), "--policy", "Bad Id"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: invalid policy id")
    server.route("/logo", Reply(body=b"\x89PNG\r\n\x1a\n", content_type="image/png"))
    code, _, err = capture(store_dir, server.url("/logo"))
    assert code == 2
    assert "image/png" in err


def test_select_is_remembered_for_the_policy(
    store_dir: Path, store: GitStore, server: LocalServer
) -> None:
    promo = "<div class='promo'>Get 20% off today!</div>"
    server.route("/p", Reply(body=policy_page("Words.", promo=promo)))
    url = server.url("/p")
    code, _, err = capture(store_dir, url, "--remove", ".promo")
    assert code == 0
    assert (
        err
        == f"Remembered --remove '.promo' for {POLICY} (forget: config unset policy.{POLICY}.remove)\n"
    )
    assert "20%" not in store.text(store.versions(POLICY)[0])
    # Next run without the option: the remembered rule applies, and nothing is said.
    assert capture(store_dir, url) == (0, "", "")
    got = run_cli(["--store", str(store_dir), "config", "get", f"policy.{POLICY}.remove"])
    assert got.stdout == ".promo\n"
    code, _, err = capture(store_dir, url, "--select", "main >")
    assert code == 2
    assert err.startswith("Error: invalid CSS --select selector")


def test_header_charset_is_kept_for_reextraction(
    store_dir: Path, store: GitStore, server: LocalServer
) -> None:
    body = "<main><h1>Caf\u00e9</h1><p>Donn\u00e9es \u20ac</p></main>".encode("cp1252")
    server.route("/p", Reply(body=body, content_type="text/html; charset=iso-8859-1"))
    assert capture(store_dir, server.url("/p"))[0] == 0
    [version] = store.versions(POLICY)
    assert store.text(version) == "# Caf\u00e9\n\nDonn\u00e9es \u20ac\n"
    assert ("Source-Charset", "cp1252") in version.trailers
    result = run_cli(["--store", str(store_dir), "reextract", POLICY])
    assert result.exit_code == 0
    assert result.stdout.endswith(": unchanged\n")


# --------------------------------------------------------------------------- reextract


def record_pages(store: GitStore, *pages: tuple[str, bytes]) -> None:
    """Record HTML pages as captured at the given times, extracted with the automatic rules."""
    snapshots = [
        Snapshot(
            policy=POLICY,
            text=html_to_markdown(raw.decode(), "https://acme.test/privacy"),
            raw=raw,
            raw_suffix="html",
            captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
            source_url="https://acme.test/privacy",
        )
        for when, raw in pages
    ]
    store.record(snapshots)


def test_reextract_records_technical_versions_after_each_capture(
    store_dir: Path, store: GitStore
) -> None:
    promo = "<div class='promo'>Summer sale!</div>"
    record_pages(
        store,
        ("2024-01-01T10:00:00", policy_page("First text.", promo=promo)),
        ("2024-02-01T10:00:00", policy_page("Second text.", promo=promo)),
    )
    before = store.versions(POLICY)
    assert [("Summer sale!" in store.text(v)) for v in before] == [True, True]

    result = run_cli(
        ["--store", str(store_dir), "reextract", POLICY, "--remove", ".promo", "--exit-code"]
    )
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0] == "version 1 (captured 2024-01-01T10:00:00Z): recorded as version 2"
    assert lines[1] == "version 2 (captured 2024-02-01T10:00:00Z): recorded as version 4"
    assert result.stderr.endswith("2 technical version(s) recorded, 0 failed\n")

    store = GitStore(store_dir)
    after = store.versions(POLICY)
    assert [v.technical for v in after] == [False, True, False, True]
    # Each re-extraction sits at the capture time of the version it re-reads.
    assert after[1].captured_at == after[0].captured_at
    assert after[3].captured_at == after[2].captured_at
    assert after[1].source_sha256 == after[0].source_sha256
    assert "Summer sale!" not in store.text(after[1])
    assert "Summer sale!" not in store.text(after[3])
    assert dict(after[1].trailers)["Extraction"] == "extractor 1; remove=.promo"
    assert "Reextracted-At" in dict(after[1].trailers)
    assert store.verify(POLICY).ok

    # Nothing changed since: a second run records nothing.
    again = run_cli(
        ["--store", str(store_dir), "reextract", POLICY, "--exit-code", "--format", "json"]
    )
    assert again.exit_code == 0
    data = json.loads(again.stdout)
    assert data["schema"] == "policydiff.reextract/1"
    assert [v["status"] for v in data["versions"]] == ["unchanged", "unchanged"]
    assert len(GitStore(store_dir).versions(POLICY)) == 4


def test_reextract_leaves_non_html_sources_alone(store_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "2020-01-01.md"
    file.write_text("# Terms\n\nText.\n", encoding="utf-8")
    assert run_cli(["--store", str(store_dir), "add", str(file), "--policy", POLICY]).exit_code == 0
    result = run_cli(["--store", str(store_dir), "reextract", POLICY])
    assert result.exit_code == 0
    assert result.stdout.endswith("skipped (source is not HTML)\n")


def test_reextract_unknown_policy(store_dir: Path) -> None:
    result = run_cli(["--store", str(store_dir), "reextract", "nobody/none"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no policy 'nobody/none'")


def test_reextract_skips_versions_superseded_in_the_same_second(
    store_dir: Path, store: GitStore
) -> None:
    record_pages(
        store,
        ("2024-01-01T10:00:00", policy_page("One.")),
        ("2024-01-01T10:00:00", policy_page("Two.")),
    )
    result = run_cli(["--store", str(store_dir), "reextract", POLICY, "--select", "main p"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].endswith(
        "skipped (a later version has the same capture time)"
    )
    assert result.stdout.splitlines()[1].endswith("recorded as version 3")
    assert GitStore(store_dir).text(GitStore(store_dir).versions(POLICY)[-1]).startswith("Two.")
