"""Wayback backfill against a local CDX/replay server: order, dedupe, resume, failures, politeness."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from helpers import run_cli
from httpserver import LocalServer, Reply
from policydiff.core.errors import NetworkError
from policydiff.sources.fetch import Fetcher, FetchSettings
from policydiff.sources.ingest.html import NO_RULES, ExtractRules
from policydiff.sources.wayback import (
    Capture,
    SeenLog,
    backfill,
    cdx_url,
    list_captures,
    parse_cdx,
    recorded_timestamps,
    rules_key,
)
from policydiff.store.gitstore import GitStore

FIXTURES = Path(__file__).parent / "fixtures" / "wayback"
ORIGINAL = "https://wiki.contribs.org/SME_Server:Privacy_policy"
POLICY = "koozali/privacy-policy"
CDX_PATH = "/cdx/search/cdx"
PAGES = ("20160301000000", "20170422082216", "20180101120000", "20200101120000", "20210101000000")
FAST = ["--rate", "100000", "--backoff", "0", "--retries", "1", "--timeout", "5"]


def page_path(timestamp: str) -> str:
    return f"/web/{timestamp}id_/{ORIGINAL}"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        running.route(
            CDX_PATH, Reply(body=(FIXTURES / "cdx.json").read_bytes(), content_type="text/plain")
        )
        for timestamp in PAGES:
            running.route(
                page_path(timestamp), Reply(body=(FIXTURES / f"{timestamp}.html").read_bytes())
            )
        yield running


def wayback(store_dir: Path, server: LocalServer, *extra: str) -> tuple[int, str, str]:
    args = ["--store", str(store_dir), "wayback", ORIGINAL, "--policy", POLICY]
    result = run_cli([*args, "--endpoint", server.base, *FAST, *extra])
    return result.exit_code, result.stdout, result.stderr


def page_requests(server: LocalServer) -> list[str]:
    return [p.split("/")[2][:14] for p in server.paths() if p.startswith("/web/")]


def test_backfill_records_distinct_texts_oldest_first(store_dir: Path, server: LocalServer) -> None:
    code, out, err = wayback(store_dir, server, "--exit-code")
    assert code == 1
    assert out == (
        "20160301000000 recorded as version 1\n"
        "20170422082216 unchanged\n"
        "20180101120000 recorded as version 2\n"
        "20200101120000 unchanged\n"
        "20210101000000 recorded as version 3\n"
    )
    assert err == (
        "5 capture(s): 3 recorded, 2 unchanged, 0 skipped (done before), 0 failed, 0 pending; "
        "6 request(s)\n"
    )
    store = GitStore(store_dir)
    versions = store.versions(POLICY)
    assert [v.captured_at for v in versions] == [
        datetime(2016, 3, 1, tzinfo=UTC),
        datetime(2018, 1, 1, 12, tzinfo=UTC),
        datetime(2021, 1, 1, tzinfo=UTC),
    ]
    assert versions[0].archive_url == f"{server.base}/web/20160301000000id_/{ORIGINAL}"
    assert versions[0].source_url == ORIGINAL
    assert versions[0].effective_date == date(2016, 2, 8)
    assert store.source(versions[0]) == (
        "source.html",
        (FIXTURES / "20160301000000.html").read_bytes(),
    )
    assert (
        store.text(versions[0])
        == (Path(__file__).parent / "fixtures/html/sme-privacy-policy.md").read_text()
    )
    assert "never stored by us" in store.text(versions[1])
    assert "in accordance with this privacy policy" not in store.text(versions[2])
    assert store.verify(POLICY).ok
    # The CDX query asked for what the API documents.
    query = server.requests[0].query
    for part in (
        "output=json",
        "filter=statuscode%3A200",
        "collapse=digest",
        "fl=timestamp%2Coriginal%2Cdigest%2Cstatuscode%2Cmimetype",
    ):
        assert part in query
    assert server.requests[1].headers["user-agent"].startswith("policydiff/")


def test_rerun_skips_everything_and_fetches_no_page(store_dir: Path, server: LocalServer) -> None:
    assert wayback(store_dir, server)[0] == 0
    server.requests.clear()
    code, out, _ = wayback(store_dir, server, "--exit-code", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "policydiff.wayback/1"
    assert data["counts"] == {
        "recorded": 0,
        "unchanged": 0,
        "skipped": 5,
        "failed": 0,
        "pending": 0,
    }
    assert page_requests(server) == []
    assert data["requests"] == 1
    assert len(GitStore(store_dir).versions(POLICY)) == 3


def test_an_outage_stops_the_run_and_a_rerun_resumes_in_order(
    store_dir: Path, server: LocalServer
) -> None:
    server.route(page_path("20180101120000"), Reply(503))
    code, out, err = wayback(store_dir, server)
    assert code == 2
    assert out.splitlines() == [
        "20160301000000 recorded as version 1",
        "20170422082216 unchanged",
        (
            f"20180101120000 failed: cannot fetch {server.base}{page_path('20180101120000')}: "
            "HTTP 503 Service Unavailable (gave up after 2 attempt(s))"
        ),
        "20200101120000 pending",
        "20210101000000 pending",
    ]
    assert err.endswith(
        "Error: stopped at a failing capture with 2 capture(s) still to do; re-run to resume\n"
    )
    assert len(GitStore(store_dir).versions(POLICY)) == 1

    # Second run: the outage is over, but the last capture arrives cut short every time.
    server.route(
        page_path("20180101120000"), Reply(body=(FIXTURES / "20180101120000.html").read_bytes())
    )
    server.route(page_path("20210101000000"), Reply(body=b"<p>x</p>" * 500, truncate=True))
    server.requests.clear()
    code, out, _ = wayback(store_dir, server)
    assert code == 2
    # The unchanged capture of the first run is remembered by this clone: not fetched again.
    assert page_requests(server) == [
        "20180101120000",
        "20200101120000",
        "20210101000000",
        "20210101000000",
    ]
    assert "20210101000000 failed: cannot fetch" in out

    server.route(
        page_path("20210101000000"), Reply(body=(FIXTURES / "20210101000000.html").read_bytes())
    )
    server.requests.clear()
    code, out, _ = wayback(store_dir, server)
    assert code == 0
    assert page_requests(server) == ["20210101000000"]
    assert out.splitlines()[-1] == "20210101000000 recorded as version 3"
    # The change of 2018 is dated at its own capture, as in an uninterrupted run.
    assert [v.captured_at.year for v in GitStore(store_dir).versions(POLICY)] == [2016, 2018, 2021]


def test_unusable_captures_fail_and_the_run_goes_on(store_dir: Path, server: LocalServer) -> None:
    server.route(page_path("20170422082216"), Reply(404, b"gone"))
    server.route(
        page_path("20180101120000"),
        Reply(body=b"<html><body><nav><a href=/>x</a></nav></body></html>"),
    )
    code, out, err = wayback(store_dir, server)
    assert code == 2
    assert "20170422082216 failed: cannot fetch" in out
    assert "HTTP 404" in out
    assert "20180101120000 failed: no text found in the page" in out
    assert out.splitlines()[-1] == "20210101000000 recorded as version 3"
    assert err.endswith("Error: 2 capture(s) failed; re-run to retry them\n")


def test_interruption_keeps_what_was_fetched(store: GitStore, server: LocalServer) -> None:
    class Interrupting(Fetcher):
        def get(self, url: str):  # type: ignore[no-untyped-def]
            if "20200101120000" in url:
                raise KeyboardInterrupt
            return super().get(url)

    with Interrupting(FetchSettings(backoff=0)) as fetcher:
        captures = list_captures(fetcher, server.base, ORIGINAL)
        with pytest.raises(KeyboardInterrupt):
            backfill(
                store,
                fetcher,
                captures,
                policy=POLICY,
                endpoint=server.base,
                rules=NO_RULES,
                git_dir=Path(store.repo.git_dir),
                batch_size=10,
            )
    # The pending batch was recorded before the interruption went on.
    assert [v.captured_at.year for v in store.versions(POLICY)] == [2016, 2018]
    seen = SeenLog(Path(store.repo.git_dir)).seen(POLICY, rules_key(NO_RULES))
    assert seen == {"20160301000000", "20170422082216", "20180101120000"}

    with Fetcher(FetchSettings(backoff=0)) as fetcher:
        results = backfill(
            store,
            fetcher,
            captures,
            policy=POLICY,
            endpoint=server.base,
            rules=NO_RULES,
            git_dir=Path(store.repo.git_dir),
        )
    assert [r.status for r in results] == ["skipped", "skipped", "skipped", "unchanged", "recorded"]
    assert len(store.versions(POLICY)) == 3


def test_versions_from_other_sources_naming_a_capture_are_not_recorded_twice(
    store: GitStore, server: LocalServer
) -> None:
    # e.g. the seed, imported from a file whose Wayback header names the same capture.
    from policydiff.core.model import Snapshot

    store.record(
        [
            Snapshot(
                policy=POLICY,
                text="Seed text\n",
                raw=b"Seed text\n",
                raw_suffix="txt",
                captured_at=datetime(2018, 1, 1, 12, tzinfo=UTC),
                archive_url=f"https://web.archive.org/web/20180101120000id_/{ORIGINAL}",
            )
        ]
    )
    assert recorded_timestamps(store.versions(POLICY)) == {"20180101120000"}
    with Fetcher(FetchSettings(backoff=0)) as fetcher:
        results = backfill(
            store,
            fetcher,
            list_captures(fetcher, server.base, ORIGINAL),
            policy=POLICY,
            endpoint=server.base,
            rules=NO_RULES,
            git_dir=Path(store.repo.git_dir),
        )
    assert [r.status for r in results] == [
        "recorded",
        "unchanged",
        "skipped",
        "recorded",
        "recorded",
    ]


def test_changed_rules_fetch_unchanged_captures_again(store: GitStore, server: LocalServer) -> None:
    git_dir = Path(store.repo.git_dir)
    with Fetcher(FetchSettings(backoff=0)) as fetcher:
        captures = list_captures(fetcher, server.base, ORIGINAL)
        backfill(
            store,
            fetcher,
            captures,
            policy=POLICY,
            endpoint=server.base,
            rules=NO_RULES,
            git_dir=git_dir,
        )
        server.requests.clear()
        rules = ExtractRules(remove="ul")
        results = backfill(
            store,
            fetcher,
            captures,
            policy=POLICY,
            endpoint=server.base,
            rules=rules,
            git_dir=git_dir,
        )
    # Recorded captures are never fetched again; unchanged ones are, under the new rules.
    assert page_requests(server) == ["20170422082216", "20200101120000"]
    assert [r.status for r in results] == ["skipped", "recorded", "skipped", "recorded", "skipped"]
    assert rules_key(rules) == "extractor 1; remove=ul"


def test_429_and_503_are_retried_politely(store: GitStore, server: LocalServer) -> None:
    server.route(
        CDX_PATH,
        Reply(429, headers={"Retry-After": "3"}),
        Reply(body=(FIXTURES / "cdx.json").read_bytes()),
    )
    server.route(
        page_path("20160301000000"),
        Reply(503),
        Reply(body=(FIXTURES / "20160301000000.html").read_bytes()),
    )
    waits: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))
        now[0] += seconds

    settings = FetchSettings(backoff=0.5, rate=24.0)
    with Fetcher(settings, sleep=sleep, clock=lambda: now[0]) as fetcher:
        captures = list_captures(fetcher, server.base, ORIGINAL, until=date(2016, 12, 31))
        assert [c.timestamp for c in captures] == ["20160301000000"]
        backfill(
            store,
            fetcher,
            captures,
            policy=POLICY,
            endpoint=server.base,
            rules=NO_RULES,
            git_dir=Path(store.repo.git_dir),
        )
    # Retry-After 3 s, then 2.5 s more to keep 2.5 s between starts at 24 a minute;
    # then the 503: 2.5 s spacing, then 0.5 s backoff and 2 s more spacing.
    assert waits == [3.0, 2.5, 0.5, 2.0]
    assert len(store.versions(POLICY)) == 1


def test_date_range_is_sent_and_enforced(store_dir: Path, server: LocalServer) -> None:
    code, out, _ = wayback(store_dir, server, "--from", "2017-01-01", "--to", "2018-12-31")
    assert code == 0
    assert out == "20170422082216 recorded as version 1\n20180101120000 recorded as version 2\n"
    assert "from=20170101" in server.requests[0].query
    assert "to=20181231" in server.requests[0].query
    code, _, err = wayback(store_dir, server, "--from", "2019-01-01", "--to", "2018-01-01")
    assert (code, err) == (2, "Error: --from is after --to\n")


def test_endpoint_from_the_environment(store_dir: Path, server: LocalServer) -> None:
    result = run_cli(
        ["--store", str(store_dir), "wayback", ORIGINAL, "--policy", POLICY, *FAST],
        env={"POLICYDIFF_WAYBACK_URL": server.base},
    )
    assert result.exit_code == 0
    assert result.stdout.count("recorded") == 3


def test_malformed_cdx_answer_is_one_error(store_dir: Path, server: LocalServer) -> None:
    server.route(CDX_PATH, Reply(body=(FIXTURES / "cdx-malformed.json").read_bytes()))
    code, out, err = wayback(store_dir, server)
    assert (code, out) == (2, "")
    assert err.startswith("Error: the Wayback CDX answer is not valid JSON")
    assert err.count("\n") == 1


def test_no_captures(store_dir: Path, server: LocalServer) -> None:
    server.route(CDX_PATH, Reply(body=(FIXTURES / "cdx-empty.json").read_bytes()))
    code, out, err = wayback(store_dir, server, "--exit-code")
    assert (code, out) == (0, "")
    assert err.startswith("0 capture(s)")


def test_cdx_outage_is_one_error(store_dir: Path, server: LocalServer) -> None:
    server.route(CDX_PATH, Reply(503))
    code, _, err = wayback(store_dir, server)
    assert code == 2
    assert err.startswith("Error: cannot fetch ")
    assert "HTTP 503" in err


def test_parse_cdx() -> None:
    rows = [
        ["timestamp", "original", "digest", "statuscode", "mimetype"],
        ["20200101000000", "https://e.test/", "D2", "200", "text/html"],
        ["20190101000000", "https://e.test/", "D1", "200", "text/html"],
        ["20190101000000", "http://e.test/", "D1", "200", "text/html"],
    ]
    captures = parse_cdx(json.dumps(rows).encode())
    assert [(c.timestamp, c.original) for c in captures] == [
        ("20190101000000", "https://e.test/"),
        ("20200101000000", "https://e.test/"),
    ]
    assert captures[0].raw_url("https://web.archive.org/") == (
        "https://web.archive.org/web/20190101000000id_/https://e.test/"
    )
    assert parse_cdx(b"[]") == []
    for bad in (
        b"{",
        b'{"a": 1}',
        b'[["timestamp"]]',
        b'[["timestamp","original","digest","statuscode","mimetype"],["x","u","d","200","text/html"]]',
        b"\xff",
    ):
        with pytest.raises(NetworkError):
            parse_cdx(bad)


def test_cdx_url() -> None:
    url = cdx_url(
        "https://web.archive.org", "https://e.test/p?a=1", since=date(2016, 1, 2), until=None
    )
    assert url == (
        "https://web.archive.org/cdx/search/cdx?url=https%3A%2F%2Fe.test%2Fp%3Fa%3D1&output=json"
        "&filter=statuscode%3A200&collapse=digest"
        "&fl=timestamp%2Coriginal%2Cdigest%2Cstatuscode%2Cmimetype&from=20160102"
    )
    assert Capture("20160102030405", "u", "d", "200", "text/html").captured_at == datetime(
        2016, 1, 2, 3, 4, 5, tzinfo=UTC
    )
