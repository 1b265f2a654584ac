"""Import every version of one file from another git repository's history.

Made for Open Terms Archive "versions" repositories (one commit per recorded change,
dated at the fetch), but works on any repository. Each commit that changed the file
becomes a snapshot dated at the commit's author date, with the repository, commit and
path as provenance trailers (``Source-Repository``, ``Source-Commit``, ``Source-Path``,
``Source-Subject``). OTA's extraction upgrades ("Apply technical or declaration upgrade
on ...", "Refilter ...") are marked technical.

The other repository is untrusted: it is only read, with plumbing commands (``rev-parse``,
``rev-list``, ``cat-file``, ``config --get``) in the environment of ``gitenv`` for foreign
repositories, so nothing its config names (hooks, fsmonitor, gpg, filters, drivers) runs,
and neither the user's global config nor replace refs or grafts change what is read. The
revision walked is always ``HEAD`` (user text is never a revision), paths come after
``--`` with pathspec magic off (``GIT_LITERAL_PATHSPECS``), blob sizes are checked before
any blob is read, and blobs are read by object id.
Commits already imported (their ``Source-Commit`` is on a version) are skipped, so a
re-run only adds what is new.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from policydiff.core.errors import InputError, PolicydiffError, UsageError
from policydiff.core.gitenv import git_environment
from policydiff.core.model import RecordResult, Snapshot, one_line
from policydiff.sources.ingest import DEFAULT_MAX_BYTES, decode_bytes, detect_effective_date
from policydiff.sources.ingest.decode import check_size
from policydiff.sources.ingest.html import NO_RULES, ExtractRules, extract
from policydiff.sources.ingest.pdf import pdf_to_markdown
from policydiff.store.gitstore import GitStore

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
    """The file as one commit left it (``data`` None: deleted, or unread when ``size`` is set)."""

    commit: str
    authored_at: datetime
    subject: str
    data: bytes | None
    # The blob's size when it was over the size limit and so never read.
    size: int | None = None

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


def _git(
    repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> bytes:
    """Run git plumbing in ``repo`` as an untrusted repository; errors become ``InputError``.

    ``env`` is ``git_environment(repo, foreign=True)`` when the caller runs several commands.
    """
    if env is None:
        env = git_environment(repo, foreign=True)
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=repo,
            input=stdin,
            capture_output=True,
            check=False,
            env={**os.environ, **env},
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
    env = git_environment(resolved, foreign=True)
    try:
        _git(resolved, "rev-parse", "--git-dir", env=env)
    except InputError:
        raise UsageError(f"{path} is not a git repository") from None
    try:
        _git(resolved, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", env=env)
    except InputError:
        raise UsageError(f"{path} has no commits") from None
    return resolved


def check_file_path(path: str) -> str:
    """Return ``path`` as a clean relative path inside a repository, or raise ``UsageError``."""
    # splitlines also breaks at U+2028, U+2029, NEL and the other Unicode line breaks.
    if not path or any(ord(c) < 32 or ord(c) == 127 for c in path) or path.splitlines() != [path]:
        raise UsageError("--path must be a non-empty file path on one line")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or str(pure) in {"", "."}:
        raise UsageError(f"--path must be relative to the repository root, got {path!r}")
    return str(pure)


def repository_name(repo: Path) -> str:
    """Return how provenance names ``repo``: its origin URL without credentials, or its path.

    The URL is the repository's own (untrusted) data: one that is not one printable line
    of at most 2000 characters, or that does not parse, is dropped for the path.
    """
    try:
        url = _git(repo, "config", "--get", "remote.origin.url").decode("utf-8").strip()
    except (InputError, UnicodeDecodeError):
        return str(repo)
    if not url.isprintable() or len(url) > 2000:
        return str(repo)
    try:
        parts = urlsplit(url)
        if parts.scheme and parts.hostname:
            # Never copy a token from a URL such as https://user:token@host/repo into the archive.
            host = parts.hostname + (f":{parts.port}" if parts.port else "")
            url = urlunsplit((parts.scheme, host, parts.path, "", ""))
        elif "@" in url.split(":", 1)[0]:
            url = url.split("@", 1)[1]
    except ValueError:  # an unparsable port or IPv6 host
        return str(repo)
    return url or str(repo)


def file_history(repo: Path, path: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[FileVersion]:
    """Return each commit from HEAD that changed ``path``, oldest first, with the file's data.

    A blob larger than ``max_bytes`` is not read: its version has no data and its ``size``.
    """
    env = git_environment(repo, foreign=True)
    # rev-list, not log: plumbing reads no log.* config (showSignature, follow, ...).
    listing = _git(
        repo,
        "rev-list",
        "--reverse",
        "--encoding=UTF-8",
        "--format=%x00%aI%x00%s%x1e",
        "HEAD",
        "--",
        path,
        env=env,
    ).decode("utf-8", "replace")
    entries: list[tuple[str, datetime, str]] = []
    for chunk in listing.split("\x1e"):
        record = chunk.strip("\n")
        if not record:
            continue
        head, stamp, subject = record.split("\x00", 2)
        commit = head.strip().removeprefix("commit ")
        if _SHA.fullmatch(commit) is None:
            raise InputError(f"unexpected git rev-list output {commit[:20]!r}")
        try:
            when = datetime.fromisoformat(stamp).astimezone(UTC)
        except (ValueError, OverflowError):
            raise InputError(
                f"commit {commit[:10]} has an unreadable date {stamp[:40]!r}"
            ) from None
        entries.append((commit, when, subject))
    blobs = _blobs(repo, [(commit, path) for commit, _, _ in entries], max_bytes, env)
    return [
        FileVersion(commit, when, subject, *blobs.get(commit, (None, None)))
        for commit, when, subject in entries
    ]


def _blobs(
    repo: Path, wanted: list[tuple[str, str]], max_bytes: int, env: dict[str, str]
) -> dict[str, tuple[bytes | None, int | None]]:
    """Return {commit: (file bytes, None)} for each (commit, path) via cat-file.

    Sizes are checked first (``--batch-check``), so a blob over ``max_bytes`` is never read:
    it maps to (None, its size). Absent paths (and non-blobs) are left out.
    """
    if not wanted:
        return {}
    request = "".join(f"{commit}:{path}\n" for commit, path in wanted).encode("utf-8")
    checked = _git(repo, "cat-file", "--batch-check", stdin=request, env=env)
    found: dict[str, tuple[bytes | None, int | None]] = {}
    readable: dict[str, list[str]] = {}  # blob id -> commits holding it
    for (commit, _), line in zip(
        wanted, checked.decode("utf-8", "replace").splitlines(), strict=False
    ):
        fields = line.split(" ")
        if len(fields) != 3 or fields[1] != "blob" or _SHA.fullmatch(fields[0]) is None:
            continue  # missing, ambiguous, or not a file
        size = int(fields[2])
        if size > max_bytes:
            found[commit] = (None, size)
        else:
            readable.setdefault(fields[0], []).append(commit)
    if not readable:
        return found
    out = _git(
        repo, "cat-file", "--batch", stdin="".join(f"{oid}\n" for oid in readable).encode(), env=env
    )
    position = 0
    for oid, commits in readable.items():
        end = out.index(b"\n", position)
        header = out[position:end].decode("ascii", "replace").split(" ")
        position = end + 1
        if len(header) != 3 or header[0] != oid or header[1] != "blob":
            raise InputError(f"unexpected git cat-file output for blob {oid[:10]}")
        size = int(header[2])
        data = out[position : position + size]
        position += size + 1
        for commit in commits:
            found[commit] = (data, None)
    return found


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
    if version.data is None:
        # file_history left the blob unread: it is over the size limit.
        check_size(version.size or 0, max_bytes)
        raise InputError(f"{path} was not read at this commit (over the size limit)")
    data = version.data
    lower = path.lower()
    suffix = "html" if lower.endswith(_HTML) else "md" if lower.endswith(_MARKDOWN) else "txt"
    if lower.endswith(".pdf"):
        suffix, text = "pdf", pdf_to_markdown(data)
    else:
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
            if version.data is None and version.size is None:
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
