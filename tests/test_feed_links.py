"""``feed``: rel="self" (--feed-url), entry links into the published site, --include-technical."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import run_cli
from policydiff.publish.site import ALL_PAIRS_MAX, has_diff_page
from policydiff.store.gitstore import GitStore
from test_feed import POLICY, A, _set_config, archive, parse_atom, snapshot

__all__ = ["archive"]  # the fixture, used by name below

SITE = "https://audit.example.org/policies-site"


def links(element: object, rel: str) -> list[str]:
    """Return the hrefs of an element's links with this rel (Atom's default: alternate)."""
    found = element.findall(f"{A}link")  # type: ignore[attr-defined]
    return [link.get("href") for link in found if link.get("rel", "alternate") == rel]


def test_feed_url_is_the_self_link_escaped(archive: GitStore) -> None:
    url = "https://example.org/feeds/privacy.atom?a=1&b=<2>"
    result = run_cli(["feed", "--feed-url", "https://example.org/feeds/privacy.atom?a=1&b=2"])
    assert result.exit_code == 0, result.stderr
    root = parse_atom(result.stdout_bytes)
    assert links(root, "self") == ["https://example.org/feeds/privacy.atom?a=1&b=2"]
    assert b"?a=1&amp;b=2" in result.stdout_bytes
    [self_link] = [link for link in root.findall(f"{A}link") if link.get("rel") == "self"]
    assert self_link.get("type") == "application/atom+xml"
    # Not a plain http(s) URL (here: angle brackets): one error line, nothing written.
    refused = run_cli(["feed", "--feed-url", url])
    assert (refused.exit_code, refused.stdout) == (2, "")
    assert refused.stderr.startswith("Error: --feed-url must be an http:// or https:// URL")
    assert run_cli(["feed", "--feed-url", "javascript:alert(1)"]).exit_code == 2


def test_without_a_site_nothing_changes(archive: GitStore) -> None:
    root = parse_atom(run_cli(["feed"]).stdout_bytes)
    assert links(root, "self") == []
    for entry in root.findall(f"{A}entry"):
        assert links(entry, "related") == []
        assert links(entry, "alternate") == ["https://wiki.contribs.org/Privacy"]


@pytest.mark.parametrize("where", ["option", "setting"])
def test_entries_link_to_pages_the_site_has(archive: GitStore, tmp_path: Path, where: str) -> None:
    """Every link into the site names a page `policydiff site` really writes."""
    if where == "option":
        result = run_cli(["feed", "--site-url", SITE + "/"])
    else:
        _set_config(archive, "announce.site_url", SITE)
        result = run_cli(["feed"])
    assert result.exit_code == 0, result.stderr
    root = parse_atom(result.stdout_bytes)
    built = run_cli(["site", str(tmp_path / "site")])
    assert built.exit_code == 0, built.stderr
    pages = [href for entry in root.findall(f"{A}entry") for href in links(entry, "alternate")]
    assert pages == [
        f"{SITE}/policies/{POLICY}/diffs/3-4.html",
        f"{SITE}/policies/{POLICY}/versions/1.html",
    ]
    home = links(root, "alternate")
    assert home == [f"{SITE}/policies/{POLICY}/index.html"]
    for href in [*pages, *home]:
        assert (tmp_path / "site" / href.removeprefix(SITE + "/")).is_file(), href
    # The policy's own address is still there, as a related link.
    for entry in root.findall(f"{A}entry"):
        assert links(entry, "related") == ["https://wiki.contribs.org/Privacy"]


def test_include_technical_lists_re_extractions_labelled(archive: GitStore) -> None:
    plain = parse_atom(run_cli(["feed"]).stdout_bytes)
    assert len(plain.findall(f"{A}entry")) == 2
    result = run_cli(["feed", "--include-technical", "--site-url", SITE])
    root = parse_atom(result.stdout_bytes)
    entries = root.findall(f"{A}entry")
    assert [e.findtext(f"{A}title") for e in entries] == [
        "Version 4: 1 section added",
        "Version 3: technical re-extraction (not a policy change)",
        "Version 1: first recorded version",
    ]
    assert "not the policy's" in (entries[1].findtext(f"{A}summary") or "")
    assert links(entries[1], "alternate") == [f"{SITE}/policies/{POLICY}/diffs/2-3.html"]


def test_a_suspect_predecessor_links_to_the_pair_the_site_has(
    store: GitStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """After a suspect capture, the entry's redline is the one from the last good version."""
    from helpers import seed_body

    monkeypatch.setenv("POLICYDIFF_STORE", str(store.path))
    body = seed_body()
    edited = body.replace("_General_", "_Cookies_\n\nWe use cookies.\n\n_General_")
    store.record(
        [
            snapshot(body, "2017-04-22"),
            snapshot(
                "Access denied.",
                "2018-01-01",
                extra_trailers=(("Suspect", "an error page"),),
            ),
            snapshot(edited, "2019-01-01"),
        ]
    )
    root = parse_atom(run_cli(["feed", "--site-url", SITE]).stdout_bytes)
    newest = root.findall(f"{A}entry")[0]
    assert links(newest, "alternate") == [f"{SITE}/policies/{POLICY}/diffs/1-3.html"]
    assert run_cli(["site", str(tmp_path / "site")]).exit_code == 0
    assert (tmp_path / "site" / "policies" / POLICY / "diffs" / "1-3.html").is_file()


def test_has_diff_page_follows_the_site_rule() -> None:
    small = ALL_PAIRS_MAX
    assert has_diff_page(1, small, small)
    big = ALL_PAIRS_MAX + 3
    assert has_diff_page(4, 5, big)
    assert has_diff_page(2, big, big)
    assert not has_diff_page(2, 5, big)
    assert not has_diff_page(3, 3, big)
    assert not has_diff_page(0, 1, big)
