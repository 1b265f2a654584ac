"""``policydiff feed``: an Atom feed (RFC 4287) of substantive versions, checked by parsing it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from helpers import run_cli, seed_body
from policydiff.core.model import Snapshot
from policydiff.publish.feed import ATOM_NAMESPACE, entry_id, feed_id
from policydiff.store.gitstore import GitStore

POLICY = "koozali/privacy-policy"
A = f"{{{ATOM_NAMESPACE}}}"


def snapshot(text: str, when: str, **kw: object) -> Snapshot:
    return Snapshot(
        policy=POLICY,
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def archive(store: GitStore, monkeypatch: pytest.MonkeyPatch) -> GitStore:
    """v1 seed, v2 editorial only, v3 technical, v4 a new section."""
    monkeypatch.setenv("POLICYDIFF_STORE", str(store.path))
    monkeypatch.chdir(store.path.parent)
    v1 = seed_body()
    v2 = v1.replace("\u2019", "'")
    v4 = v2.replace("_General_", "_Cookies <&>_\n\nWe use cookies & similar things.\n\n_General_")
    store.record(
        [
            snapshot(v1, "2017-04-22", source_url="https://wiki.contribs.org/Privacy"),
            snapshot(v2, "2018-03-01"),
            snapshot(v2 + "\n", "2019-01-01", technical=True),
            snapshot(v4, "2024-05-01T10:30:00", effective_date=date(2024, 5, 1)),
        ]
    )
    return store


def _set_config(store: GitStore, key: str, value: str) -> None:
    """Set a setting as `policydiff config set` does (keys it does not know yet go in raw)."""
    from policydiff.cli.config_cmd import store_config
    from policydiff.core.errors import UsageError

    config = store_config(store)
    try:
        config.set(key, value)
    except UsageError:
        # TODO(config): drop once config.KEYS has announce.list_name/url.
        with config._locked() as values:
            values[key] = value


def parse_atom(data: bytes) -> ET.Element:
    """Parse a feed and check the elements RFC 4287 requires."""
    root = ET.fromstring(data)
    assert root.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert root.find(f"{A}{name}") is not None, name
    has_author = root.find(f"{A}author/{A}name") is not None
    for entry in root.findall(f"{A}entry"):
        for name in ("id", "title", "updated"):
            element = entry.find(f"{A}{name}")
            assert element is not None, name
            assert (element.text or "").strip(), name
        assert has_author or entry.find(f"{A}author/{A}name") is not None
        links = entry.findall(f"{A}link")
        assert entry.find(f"{A}content") is not None or any(
            link.get("rel", "alternate") == "alternate" for link in links
        )
        datetime.fromisoformat(entry.findtext(f"{A}updated", ""))
    return root


def test_feed_lists_substantive_versions(archive: GitStore) -> None:
    result = run_cli(["feed"])
    assert result.exit_code == 0, result.stderr
    root = parse_atom(result.stdout_bytes)
    entries = root.findall(f"{A}entry")
    assert [e.findtext(f"{A}title") for e in entries] == [
        "Version 4: 1 section added",
        "Version 1: first recorded version",
    ]
    versions = archive.versions(POLICY)
    assert [e.findtext(f"{A}id") for e in entries] == [
        entry_id(POLICY, versions[3].commit),
        entry_id(POLICY, versions[0].commit),
    ]
    assert root.findtext(f"{A}id") == feed_id(POLICY)
    assert root.findtext(f"{A}updated") == "2024-05-01T10:30:00+00:00"
    summary = entries[0].findtext(f"{A}summary") or ""
    assert "New section: What we collect > Cookies <&>" in summary
    assert "Effective date: 1 May 2024." in summary
    # No announce.url: each entry links to the latest source URL recorded.
    assert entries[0].find(f"{A}link").get("href") == "https://wiki.contribs.org/Privacy"  # type: ignore[union-attr]


def test_feed_is_stable_and_written_to_a_file(archive: GitStore, tmp_path: Path) -> None:
    out = tmp_path / "feed.xml"
    assert run_cli(["feed", POLICY, "-o", str(out)]).exit_code == 0
    assert out.read_bytes() == run_cli(["feed", POLICY]).stdout_bytes
    parse_atom(out.read_bytes())


def test_feed_links_to_announce_url(archive: GitStore) -> None:
    _set_config(archive, "announce.url", "https://example.org/privacy")
    _set_config(archive, "announce.list_name", "Koozali announcements")
    root = parse_atom(run_cli(["feed"]).stdout_bytes)
    hrefs = {link.get("href") for link in root.iter(f"{A}link")}
    assert hrefs == {"https://example.org/privacy"}
    assert root.findtext(f"{A}author/{A}name") == "Koozali announcements"


def test_bad_announce_url_is_an_error(archive: GitStore) -> None:
    from policydiff.cli.config_cmd import store_config

    # Written raw: `config set` may refuse it, but a hand-edited file can still hold it.
    with store_config(archive)._locked() as values:
        values["announce.url"] = "javascript:alert(1)"
    result = run_cli(["feed"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: announce.url must be an http")
