"""`site` speed: control escapes checked before translating, redlines' diffs remembered."""

from __future__ import annotations

import io
import os
import pickle
import zlib
from pathlib import Path

import pytest

from policydiff.compare import compare_texts
from policydiff.history import DiffCache, _DiffUnpickler
from policydiff.report import _CONTROL_ESCAPES, escape_controls
from policydiff.site import build_site
from policydiff.store import GitStore, init_store
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
    old, new = store.versions(POLICY)
    cache.put(old.text_sha256, new.text_sha256, compare_texts(OLD, ELSE))
    build_site(GitStore(store.path), tmp_path / "again", [POLICY])
    assert "brokers" in redline(tmp_path / "again")
    assert "brokers" not in redline(tmp_path / "site")


@pytest.mark.parametrize("damage", ["foreign key", "garbage", "not a diff"])
def test_site_ignores_a_diff_it_did_not_seal(tmp_path: Path, damage: str) -> None:
    """An entry sealed with another store's key, damaged, or not a diff is recomputed."""
    store = two_versions(tmp_path)
    build_site(store, tmp_path / "site", [POLICY])
    cache = DiffCache(store)
    old, new = store.versions(POLICY)
    [entry] = [p for p in cache.folder.iterdir() if p.name.endswith(".bin")][:1] or [None]
    assert entry is not None
    if damage == "foreign key":
        cache.key = b"k" * 32
        cache.put(old.text_sha256, new.text_sha256, compare_texts(OLD, ELSE))
    elif damage == "garbage":
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
