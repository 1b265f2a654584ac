"""The public Python API: compare texts and files as the CLI does, read snapshots, use a store.

Everything here is re-exported by ``policydiff`` itself; docs/api.md says what is public
and what the semantic-versioning promise covers. This module adds no behaviour of its
own: each entry point calls the code the CLI runs, so the two cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Self

from policydiff.core.model import RecordResult, Snapshot, Version
from policydiff.engine.compare import compare_texts as _diff_texts
from policydiff.sources.ingest.decode import DEFAULT_MAX_BYTES
from policydiff.sources.ingest.policytext import policy_text_from_bytes, read_policy_text

# The store (GitPython) and snapshot reading are imported by what uses them: comparing
# two texts or files loads neither.
if TYPE_CHECKING:
    from types import TracebackType

    from policydiff.core.diff_model import DocumentDiff
    from policydiff.store.inforce import InForce

StrPath = str | os.PathLike[str]


def compare_texts(old_text: str, new_text: str, *, html: bool = False) -> DocumentDiff:
    """Diff two policy texts given as the contents of files, exactly as ``policydiff compare``.

    Front matter and a Wayback header at the top are metadata, not compared (as for a
    file); line endings are normalised and a byte order mark dropped. With ``html``, the
    texts are HTML pages and their extracted policy text is compared, as for ``.html``
    files. Raises ``policydiff.PolicydiffError`` for text ``compare`` refuses (empty,
    binary).
    """
    suffix = ".html" if html else ""
    # Already decoded: a page's <meta charset> no longer describes these characters.
    old = policy_text_from_bytes(old_text.encode("utf-8"), suffix=suffix, encoding="utf-8")
    new = policy_text_from_bytes(new_text.encode("utf-8"), suffix=suffix, encoding="utf-8")
    return _diff_texts(old.text, new.text)


def compare_files(
    old: StrPath, new: StrPath, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> DocumentDiff:
    """Diff two policy files exactly as ``policydiff compare OLD NEW`` does.

    Markdown and text files lose their front matter and Wayback header; ``.html`` pages
    and ``.pdf`` files are compared by their extracted text. Files over ``max_bytes`` are
    refused with ``policydiff.PolicydiffError``, as unreadable ones are.
    """
    old_text = read_policy_text(Path(old), max_bytes=max_bytes)
    new_text = read_policy_text(Path(new), max_bytes=max_bytes)
    return _diff_texts(old_text.text, new_text.text)


def read_snapshot(
    path: StrPath,
    *,
    policy: str | None = None,
    captured: datetime | None = None,
    effective: date | None = None,
    source: str | None = None,
    encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Snapshot:
    """Read a snapshot file as ``policydiff add`` does, ready for ``Store.record``.

    Metadata not given comes from the file: front matter, a Wayback header, the date in
    the file name, a date stated in the text. HTML pages are stored with their extracted
    text (and the page itself as the source).
    """
    from policydiff.sources.ingest.html import html_to_markdown
    from policydiff.sources.ingest.snapshot import read_snapshot as _read_snapshot

    return _read_snapshot(
        Path(path),
        policy=policy,
        captured=captured,
        effective=effective,
        source=source,
        encoding=encoding,
        max_bytes=max_bytes,
        extract_html=html_to_markdown,
    )


class Store:
    """A policydiff store on disk: its policies, versions and texts, and recording new ones.

    Use it as a context manager (or call ``close``) to release the git processes it keeps.
    """

    def __init__(self, path: StrPath) -> None:
        from policydiff.store.gitstore import GitStore

        self._store = GitStore(Path(path))

    @classmethod
    def init(cls, path: StrPath) -> Store:
        """Create an empty store at ``path`` (as ``policydiff init``) and open it."""
        from policydiff.store.gitstore import init_store

        return cls(init_store(Path(path)))

    @property
    def path(self) -> Path:
        """Where the store is."""
        return self._store.path

    def policies(self) -> list[str]:
        """Return the ids of all policies in the store, sorted."""
        return self._store.policies()

    def versions(self, policy: str) -> list[Version]:
        """Return every version of ``policy``, oldest first (``number`` counts from 1)."""
        return self._store.versions(self._store.require_policy(policy))

    def version(self, policy: str, ref: str = "latest") -> Version:
        """Return the version ``ref`` names, in the CLI's ref syntax.

        ``ref``: a number, ``latest``, ``previous``, a date ``YYYY-MM-DD`` (the version in
        force then) or a commit hash prefix.
        """
        from policydiff.core.refs import parse_ref

        return self._store.resolve(self._store.require_policy(policy), parse_ref(ref))

    def text(self, version: Version) -> str:
        """Return the recorded text of ``version`` exactly."""
        return self._store.text(version)

    def in_force_on(self, policy: str, on: date) -> InForce:
        """Return which version was in force on ``on``, with its dates and caveats.

        ``.version`` is the answer; ``.caveats`` says, in sentences, why it may be
        uncertain (the rule is in ``docs/reliability.md``).
        """
        return self._store.in_force_at(self._store.require_policy(policy), on)

    def record(
        self, snapshots: Snapshot | Iterable[Snapshot], *, lock_timeout: float | None = None
    ) -> list[RecordResult]:
        """Record snapshots as new versions, in capture order; an unchanged text is skipped.

        One atomic write under the store's lock (waiting up to ``lock_timeout`` seconds).
        Each result's ``status`` is ``recorded`` (with ``version``) or ``unchanged``
        (with ``same_as``).
        """
        batch = [snapshots] if isinstance(snapshots, Snapshot) else list(snapshots)
        return self._store.record(batch, lock_timeout=lock_timeout)

    def compare(self, policy: str, old: str = "previous", new: str = "latest") -> DocumentDiff:
        """Diff two stored versions of ``policy`` (refs as for ``version``)."""
        return _diff_texts(
            self.text(self.version(policy, old)), self.text(self.version(policy, new))
        )

    def close(self) -> None:
        """Release the git processes and the cache connection this store holds."""
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"
