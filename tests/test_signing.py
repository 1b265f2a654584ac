"""Signed stores: every version commit signed (SSH signatures), checked by verify."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from policydiff.core.model import Snapshot
from policydiff.store.gitstore import GitStore, init_store

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


def snap(text: str, when: str) -> Snapshot:
    return Snapshot(
        policy="acme/terms",
        text=text,
        raw=text.encode(),
        raw_suffix="md",
        captured_at=datetime.fromisoformat(when).replace(tzinfo=UTC),
    )


@pytest.fixture
def signed(tmp_path: Path) -> GitStore:
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"policydiff@localhost {(tmp_path / 'key.pub').read_text()}")
    store = GitStore(init_store(tmp_path / "store"))
    for name, value in [
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
        ("commit.gpgsign", "true"),
    ]:
        subprocess.run(["git", "-C", str(store.path), "config", name, value], check=True)
    return store


def test_versions_are_signed_and_verified(signed: GitStore) -> None:
    signed.record([snap("two\n", "2021-01-01")])
    signed.record([snap("one\n", "2020-01-01")])  # a backfill: replayed commits are re-signed
    assert [signed.text(v) for v in signed.versions("acme/terms")] == ["one\n", "two\n"]
    for version in signed.versions("acme/terms"):
        subprocess.run(["git", "-C", str(signed.path), "verify-commit", version.commit], check=True)
    report = signed.verify()
    assert report.ok, report.problems
    assert any("signature" in note for note in report.notes)


def test_unsigned_commit_in_signed_store_is_reported(signed: GitStore) -> None:
    signed.record([snap("one\n", "2020-01-01")])
    subprocess.run(["git", "-C", str(signed.path), "config", "commit.gpgsign", "false"], check=True)
    signed.record([snap("two\n", "2021-01-01")])
    subprocess.run(["git", "-C", str(signed.path), "config", "commit.gpgsign", "true"], check=True)
    report = signed.verify()
    assert any("signature missing or not valid" in p for p in report.problems)
