"""Import every version of one file from another git repository's history.

Made for Open Terms Archive "versions" repositories (one commit per recorded change,
dated at the fetch), but works on any repository. Each commit that changed the file
becomes a snapshot dated at the commit's author date, with the repository, commit and
path as provenance trailers (``Source-Repository``, ``Source-Commit``, ``Source-Path``,
``Source-Subject``). OTA's extraction upgrades ("Apply technical or declaration upgrade
on ...", "Refilter ...") are marked technical.

The other repository is only read, with the ``git`` command and argument lists: the
revision walked is always ``HEAD`` (user text is never a revision), paths come after
``--`` with pathspec magic off (``--literal-pathspecs``), and blobs are read by object id.
Commits already imported (their ``Source-Commit`` is on a version) are skipped, so a
re-run only adds what is new.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from policydiff.errors import InputError, PolicydiffError, UsageError
from policydiff.ingest import DEFAULT_MAX_BYTES, decode_bytes, detect_effective_date
from policydiff.ingest.html import NO_RULES, ExtractRules, extract
from policydiff.model import RecordResult, Snapshot, one_line
from policydiff.store import GitStore

TRAILER_REPOSITORY = "Source-Repository"
TRAILER_COMMIT = "Source-Commit"
TRAILER_PATH = "Source-Path"
TRAILER_SUBJECT = "Source-Subject"
DEFAULT_BATCH = 100

# Open Terms Archive commit subjects that record a change of its extraction, not of the text.
TECHNICAL_SUBJECT = re.compile(
    r"^(?:Apply technical or declaration upgrade on|Refilter|Apply technical upgrade on)\b"
)
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_HTML = (".html", ".htm")
_MARKDOWN = (".md", ".markdown")


@dataclass(frozen=True, slots=True)
class FileVersion:
    """The file as one commit left it."""

    commit: str
    authored_at: datetime
    subject: str
    data: bytes | None

    @property
    def technical(self) -> bool:
        """Whether the commit records an extraction upgrade rather than a change of text."""
        return TECHNICAL_SUBJECT.match(self.subject) is not None


@dataclass(frozen=True, slots=True)
class ImportResult:
    """One commit's outcome: recorded, unchanged, skipped (imported before) or failed."""

    version: FileVersion
    status: str
    record: RecordResult | None = None
    error: str | None = None


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run git in ``repo`` (never a shell, pathspecs literal); errors become ``InputError``."""
    env = {**os.environ, "GIT_LITERAL_PATHSPECS": "1", "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = subprocess.run(
            # The repository may be untrusted: no fsmonitor hook may run a program of its choosing.
            ["git", "-c", "core.fsmonitor=false", "-C", str(repo), *args],
            input=stdin,
            capture_output=True,
            check=False,
            env=env,
        )
    except OSError as err:
        raise InputError(f"cannot run git: {err.strerror}") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"git {args[0]} failed in {repo}: {lines[-1] if lines else 'error'}")
    return done.stdout


def check_repository(path: Path) -> Path:
    """Return the absolute path of a git repository (work tree or bare), or raise."""
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory")
    resolved = path.resolve()
    try:
        _git(resolved, "rev-parse", "--git-dir")
    except InputError:
        raise UsageError(f"{path} is not a git repository") from None
    try:
        _git(resolved, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except InputError:
        raise UsageError(f"{path} has no commits") from None
    return resolved


def check_file_path(path: str) -> str:
    """Return ``path`` as a clean relative path inside a repository, or raise ``UsageError``."""
    if not path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise UsageError("--path must be a non-empty file path on one line")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or str(pure) in {"", "."}:
        raise UsageError(f"--path must be relative to the repository root, got {path!r}")
    return str(pure)


def repository_name(repo: Path) -> str:
    """Return how provenance names ``repo``: its origin URL without credentials, or its path."""
    try:
        url = _git(repo, "config", "--get", "remote.origin.url").decode().strip()
    except InputError:
        return str(repo)
    parts = urlsplit(url)
    if parts.scheme and parts.hostname:
        # Never copy a token from a URL such as https://user:token@host/repo into the archive.
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        url = urlunsplit((parts.scheme, host, parts.path, "", ""))
    elif "@" in url.split(":", 1)[0]:
        url = url.split("@", 1)[1]
    return url or str(repo)


def file_history(repo: Path, path: str) -> list[FileVersion]:
    """Return each commit from HEAD that changed ``path``, oldest first, with the file's data."""
    log = _git(
        repo,
        "log",
        "--reverse",
        "--no-renames",
        "--format=%H%x00%aI%x00%s%x1e",
        "HEAD",
        "--",
        path,
    ).decode("utf-8", "replace")
    entries: list[tuple[str, datetime, str]] = []
    for chunk in log.split("\x1e"):
        record = chunk.strip("\n")
        if not record:
            continue
        commit, stamp, subject = record.split("\x00", 2)
        if _SHA.fullmatch(commit) is None:
            raise InputError(f"unexpected git log output {commit[:20]!r}")
        entries.append((commit, datetime.fromisoformat(stamp).astimezone(UTC), subject))
    blobs = dict(_blobs(repo, [(commit, path) for commit, _, _ in entries]))
    return [
        FileVersion(commit, when, subject, blobs.get(commit)) for commit, when, subject in entries
    ]


def _blobs(repo: Path, wanted: list[tuple[str, str]]) -> Iterator[tuple[str, bytes | None]]:
    """Yield (commit, file bytes or None when absent) for each (commit, path), via cat-file."""
    if not wanted:
        return
    request = "".join(f"{commit}:{path}\n" for commit, path in wanted).encode("utf-8")
    out = _git(repo, "cat-file", "--batch", stdin=request)
    position = 0
    for commit, _ in wanted:
        end = out.index(b"\n", position)
        header = out[position:end].decode("utf-8", "replace")
        position = end + 1
        if header.endswith((" missing", " ambiguous")):
            yield commit, None
            continue
        _oid, kind, size_text = header.rsplit(" ", 2)
        size = int(size_text)
        data = out[position : position + size]
        position += size + 1
        yield commit, data if kind == "blob" else None


def _snapshot(
    version: FileVersion,
    *,
    policy: str,
    path: str,
    repository: str,
    rules: ExtractRules,
    max_bytes: int,
) -> Snapshot:
    """Turn one version of the file into a snapshot with its provenance."""
    data = version.data or b""
    lower = path.lower()
    suffix = "html" if lower.endswith(_HTML) else "md" if lower.endswith(_MARKDOWN) else "txt"
    text = decode_bytes(data, encoding=None, is_html=suffix == "html", max_bytes=max_bytes)
    if suffix == "html":
        text = extract(text, None, rules).text
    return Snapshot(
        policy=policy,
        text=text,
        raw=data,
        raw_suffix=suffix,
        captured_at=version.authored_at,
        effective_date=detect_effective_date(text),
        origin=version.commit,
        technical=version.technical,
        extra_trailers=(
            (TRAILER_REPOSITORY, repository),
            (TRAILER_COMMIT, version.commit),
            (TRAILER_PATH, path),
            # Provenance text from a foreign repository: line breaks and control characters
            # become spaces rather than fail the commit (the store refuses them in trailers).
            (TRAILER_SUBJECT, one_line(version.subject)[:200].strip() or "(no subject)"),
        ),
    )


def imported_commits(store: GitStore, policy: str) -> set[str]:
    """Return the source commits that versions of ``policy`` were imported from."""
    if policy not in store.policies():
        return set()
    return {
        value
        for version in store.versions(policy)
        for key, value in version.trailers
        if key == TRAILER_COMMIT
    }


def import_history(
    store: GitStore,
    history: list[FileVersion],
    *,
    policy: str,
    path: str,
    repository: str,
    rules: ExtractRules = NO_RULES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    batch_size: int = DEFAULT_BATCH,
    report: Callable[[ImportResult], None] | None = None,
) -> list[ImportResult]:
    """Record the file's versions oldest first, in batches; skip commits imported before."""
    done = imported_commits(store, policy)
    results: list[ImportResult] = []
    pending: list[tuple[FileVersion, Snapshot]] = []

    def emit(result: ImportResult) -> None:
        results.append(result)
        if report is not None:
            report(result)

    def flush() -> None:
        if not pending:
            return
        by_commit = {version.commit: version for version, _ in pending}
        snapshots = [snap for _, snap in pending]
        pending.clear()
        for outcome in store.record(snapshots):
            emit(ImportResult(by_commit[outcome.snapshot.origin or ""], outcome.status, outcome))

    try:
        for version in history:
            if version.commit in done:
                emit(ImportResult(version, "skipped"))
                continue
            if version.data is None:
                emit(ImportResult(version, "skipped", error=f"{path} is deleted at this commit"))
                continue
            try:
                snapshot = _snapshot(
                    version,
                    policy=policy,
                    path=path,
                    repository=repository,
                    rules=rules,
                    max_bytes=max_bytes,
                )
            except PolicydiffError as err:
                emit(ImportResult(version, "failed", error=str(err)))
                continue
            done.add(version.commit)
            pending.append((version, snapshot))
            if len(pending) >= batch_size:
                flush()
    finally:
        flush()
    return results
