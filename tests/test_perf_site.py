"""`site` speed: control escapes checked before translating, redlines' diffs remembered."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import posixpath
import shutil
import zlib
from pathlib import Path

import pytest

from policydiff.engine.compare import compare_texts
from policydiff.engine.history import DiffCache, Timeline, _DiffUnpickler
from policydiff.engine.report import _CONTROL_ESCAPES, escape_controls, side_from_version
from policydiff.publish.site import _remember_pages, _render_fingerprint, build_site, href
from policydiff.store.gitstore import GitStore, init_store
from test_blame import POLICY, snapshot

SAMPLES = [
    "",
    "plain text, nothing to escape",
    "caf\u00e9 \u2014 \u201cquoted\u201d \U0001f512",
    "tab\tand newline\n stay",
    "escape \x1b[31m red",
    "carriage\rreturn",
    "bidi \u202eoverride\u202c and \u2066isolate\u2069",
    "C1 \x85 and \x9b and DEL \x7f",
]


@pytest.mark.parametrize("text", SAMPLES + [chr(code) for code in _CONTROL_ESCAPES])
def test_escape_controls_same_as_translating(text: str) -> None:
    """The pre-check changes nothing: every control is still escaped, other text kept."""
    assert escape_controls(text) == text.translate(_CONTROL_ESCAPES)
    assert escape_controls(f"a{text}b") == f"a{text}b".translate(_CONTROL_ESCAPES)


# --------------------------------------------------------------------------- remembered diffs

OLD = "# Policy\n\n## Sharing\n\nWe share data with partners.\n"
NEW = "# Policy\n\n## Sharing\n\nWe never share data with partners.\n"
ELSE = "# Policy\n\n## Sharing\n\nWe sell data to brokers.\n"


def two_versions(tmp_path: Path) -> GitStore:
    """A store holding OLD then NEW of one policy."""
    store = GitStore(init_store(tmp_path / "store"))
    store.record([snapshot(OLD, "2020-01-01"), snapshot(NEW, "2020-02-01")])
    return store


def redline(outdir: Path) -> str:
    """The redline page of versions 1 -> 2."""
    return (outdir / "policies" / POLICY / "diffs" / "1-2.html").read_text(encoding="utf-8")


def test_site_rerun_reads_the_remembered_diff(tmp_path: Path) -> None:
    """The second run takes the pair's diff from .git/policydiff/diffs, not the engine.

    Proved by planting, under the pair's key and sealed with the store's key, the diff of
    two other texts: the page shows it. (On code without the cache nothing is stored.)
    """
    store = two_versions(tmp_path)
    build_site(store, tmp_path / "site", [POLICY])
    cache = DiffCache(store)
    assert any(cache.folder.iterdir())
    shutil.rmtree(cache.folder)  # the rendered redline too: only the planted diff is left
    old, new = store.versions(POLICY)
    cache.put(old.text_sha256, new.text_sha256, compare_texts(OLD, ELSE))
    build_site(GitStore(store.path), tmp_path / "again", [POLICY])
    assert "brokers" in redline(tmp_path / "again")
    assert "brokers" not in redline(tmp_path / "site")


def test_site_rerun_reads_the_remembered_redline(tmp_path: Path) -> None:
    """The rendered redline is remembered by both texts, what the sides show and the code."""
    store = two_versions(tmp_path)
    build_site(store, tmp_path / "site", [POLICY])
    old, new = store.versions(POLICY)
    sides = side_from_version(old), side_from_version(new)
    described = hashlib.sha256(repr((_render_fingerprint(), sides)).encode()).hexdigest()
    name = f"redline {old.text_sha256}..{new.text_sha256} {described}"
    cache = DiffCache(store)
    assert cache.read(name) is not None
    cache.write(f"pages 0 {POLICY}", b"")  # the whole policy's pages: built again
    cache.write(name, json.dumps(["planted title", "<p>planted body</p>"]).encode())
    build_site(GitStore(store.path), tmp_path / "again", [POLICY])
    assert "planted body" in redline(tmp_path / "again")
    # Sealed with another key: ignored, the redline is rendered again.
    cache.write(f"pages 0 {POLICY}", b"")
    cache.key = b"k" * 32
    cache.write(name, json.dumps(["other title", "<p>other body</p>"]).encode())
    build_site(GitStore(store.path), tmp_path / "third", [POLICY])
    assert redline(tmp_path / "third") == redline(tmp_path / "site")


@pytest.mark.parametrize("damage", ["foreign key", "garbage", "not a diff"])
def test_site_ignores_a_diff_it_did_not_seal(tmp_path: Path, damage: str) -> None:
    """An entry sealed with another store's key, damaged, or not a diff is recomputed."""
    store = two_versions(tmp_path)
    build_site(store, tmp_path / "site", [POLICY])
    cache = DiffCache(store)
    old, new = store.versions(POLICY)
    entries = list(cache.folder.iterdir())
    assert len(entries) >= 2  # the diffs (the first version from nothing too) and the redline
    if damage == "foreign key":
        shutil.rmtree(cache.folder)
        cache.key = b"k" * 32
        cache.put(old.text_sha256, new.text_sha256, compare_texts(OLD, ELSE))
    elif damage == "garbage":
        for entry in entries:
            entry.write_bytes(b"0" * 64 + b"\n" + b"\x00garbage")
    else:
        # Sealed with the right key, but a pickle of something else (here: a plain dict).
        payload = zlib.compress(pickle.dumps({"not": "a diff"}))
        name = f"{old.text_sha256}..{new.text_sha256}"
        for path in cache.folder.iterdir():
            path.write_bytes(cache._seal(name, payload).encode() + b"\n" + payload)
    build_site(GitStore(store.path), tmp_path / "again", [POLICY])
    assert redline(tmp_path / "again") == redline(tmp_path / "site")


def test_unpickler_refuses_anything_but_the_diff_model() -> None:
    """Even a sealed entry can only build diff-model classes: no callable is reachable."""
    payload = pickle.dumps(os.system)
    with pytest.raises(pickle.UnpicklingError):
        _DiffUnpickler(io.BytesIO(payload)).load()


HREF_PATHS = [
    "index.html", "search/abc.html", "policies/a/b/index.html", "policies/a/b/diffs/1-2.html",
    "policies/a/b/versions/3.html", "policies/a/bc/index.html", "policies/a/b", "policies/a",
    "policies/a/b/sections/001-x.html", "assets/site.css", "./index.html", "a/../b.html",
    "a//b.html", "policies/a/b/", "/abs/page.html",
]  # fmt: skip


@pytest.mark.parametrize("source", HREF_PATHS)
def test_href_same_as_relpath(source: str) -> None:
    """The folder comparison gives exactly what posixpath.relpath gives, for any pair."""
    for target in HREF_PATHS:
        if source.startswith("/") != target.startswith("/"):
            continue  # relpath refuses to mix absolute and relative paths
        assert href(source, target) == posixpath.relpath(
            target, posixpath.dirname(source) or "."
        ), (source, target)


def planted_pages(store: GitStore, body: str, *, key: bytes | None = None) -> None:
    """Replace the remembered pages of POLICY by one redline page saying ``body``."""
    timeline = Timeline(store, POLICY, remember_diffs=True)
    assert timeline.remembered is not None
    if key is not None:
        timeline.remembered.key = key
    pages = [(f"policies/{POLICY}/diffs/1-2.html", f"<p>{body}</p>")]
    _remember_pages(timeline, False, None, pages)


def test_site_rerun_reads_a_policys_remembered_pages(tmp_path: Path) -> None:
    """Nothing new for a policy: its pages come back from the cache; a new version rebuilds."""
    store = two_versions(tmp_path)
    build_site(store, tmp_path / "site", [POLICY])
    planted_pages(store, "planted page")
    build_site(GitStore(store.path), tmp_path / "again", [POLICY])
    assert redline(tmp_path / "again") == "<p>planted page</p>"
    # Sealed with another store's key: ignored, the pages are built again.
    planted_pages(store, "foreign page", key=b"k" * 32)
    build_site(GitStore(store.path), tmp_path / "third", [POLICY])
    assert redline(tmp_path / "third") == redline(tmp_path / "site")
    # A new version changes the key: the planted pages are not used.
    planted_pages(store, "planted page")
    store.record([snapshot(ELSE, "2020-03-01")])
    build_site(GitStore(store.path), tmp_path / "fourth", [POLICY])
    assert "planted page" not in redline(tmp_path / "fourth")
    assert "never" in redline(tmp_path / "fourth")
    assert (tmp_path / "fourth" / "policies" / POLICY / "diffs" / "2-3.html").exists()
