"""Commands that bring in versions from elsewhere: capture, wayback, import-git, reextract."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from policydiff.cli.common import (
    emit_json,
    format_option,
    message,
    open_store,
    progress,
    quiet_option,
    report_line,
    status,
)
from policydiff.cli.completion import complete_policy
from policydiff.cli.config_cmd import settings_values, store_config
from policydiff.cli.store_cmds import (
    DEFAULT_MAX_SIZE,
    MAX_SIZE_LIMIT,
    iso_time,
    size_option,
    version_json,
)
from policydiff.core.errors import ExitCode, InputError, PolicydiffError, UsageError

if TYPE_CHECKING:
    from policydiff.core.model import RecordResult, Snapshot, Version
    from policydiff.sources.fetch import FetchSettings
    from policydiff.sources.gitimport import ImportResult
    from policydiff.sources.ingest.html import ExtractRules
    from policydiff.sources.wayback import CaptureResult
    from policydiff.store.gitstore import GitStore

F = TypeVar("F", bound=Callable[..., Any])


class _PartlyFailedError(PolicydiffError):
    """Some inputs failed; the listing above says which."""


def _changed_exit(exit_code: bool, recorded: int) -> None:
    """Exit 1 with --exit-code when something was recorded."""
    if exit_code and recorded:
        click.get_current_context().exit(ExitCode.CHANGES_FOUND)


# --------------------------------------------------------------------------- shared options


def _rules_options(func: F) -> F:
    """Add --select and --remove (remembered per policy in the store config)."""
    func = click.option(
        "--remove",
        metavar="CSS",
        help="Drop what this CSS selector matches (remembered for the policy).",
    )(func)
    return click.option(
        "--select",
        metavar="CSS",
        help="The policy is what this CSS selector matches (remembered for the policy).",
    )(func)


def _fetch_options(func: F) -> F:
    """Add the network options: timeout, retries, backoff, longest wait, size limit."""
    options = (
        click.option(
            "--max-size",
            type=click.IntRange(min=1, max=MAX_SIZE_LIMIT),
            default=DEFAULT_MAX_SIZE,
            show_default=True,
            help="Refuse pages larger than this many bytes.",
        ),
        click.option(
            "--max-wait",
            type=click.FloatRange(min=0),
            default=120.0,
            show_default=True,
            help="Longest wait before a retry, in seconds (a longer Retry-After fails).",
        ),
        click.option(
            "--backoff",
            type=click.FloatRange(min=0),
            default=2.0,
            show_default=True,
            help="Seconds before the first retry; doubled for each further retry.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=0, max=10),
            default=3,
            show_default=True,
            help="Retries after a timeout, a dropped connection, HTTP 429 or 5xx.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=30.0,
            show_default=True,
            help="Seconds to wait for the server at each step.",
        ),
        click.option(
            "--deadline",
            type=click.FloatRange(min=0, min_open=True),
            default=300.0,
            show_default=True,
            help="Longest time for one page in seconds, retries and redirects included.",
        ),
        click.option(
            "--allow-private/--no-allow-private",
            default=None,
            help="Let a page redirect to loopback, private or link-local addresses "
            "(default: the fetch.allow_private setting, else no).",
        ),
    )
    names = ("timeout", "retries", "backoff", "max_wait", "max_size", "deadline", "allow_private")

    @functools.wraps(func)
    def packed(*args: object, **kwargs: object) -> object:
        # The commands take the network options as one value: every fetching command
        # builds its settings from them the same way (see _fetch_settings).
        kwargs["network"] = {name: kwargs.pop(name) for name in names}
        return func(*args, **kwargs)

    wrapped: Any = packed
    for option in options:
        wrapped = option(wrapped)
    return cast("F", wrapped)


def _fetch_settings(
    store: GitStore, network: dict[str, Any], *, rate: float | None = None
) -> FetchSettings:
    """Build the fetcher settings from the network options and the store's settings."""
    from policydiff.sources.fetch import FetchSettings

    allow_private = network["allow_private"]
    if allow_private is None:
        allow_private = settings_values(store).get("fetch.allow_private") == "true"
    return FetchSettings(
        timeout=network["timeout"],
        max_bytes=network["max_size"],
        retries=network["retries"],
        backoff=network["backoff"],
        max_wait=network["max_wait"],
        rate=rate,
        deadline=network["deadline"],
        allow_private=allow_private,
    )


def _extract_rules(
    store: GitStore, policy: str, select: str | None, remove: str | None
) -> tuple[ExtractRules, Callable[[], None]]:
    """Return the rules in force for ``policy`` and a callback that remembers --select/--remove.

    The options override the stored rules at once, but are saved only when the caller
    calls the callback, after the rules produced a version: a selector that matched
    nothing, or a capture that failed, must not change what later runs extract.
    """
    from policydiff.core.config import policy_key
    from policydiff.sources.ingest.html import ExtractRules, check_selector

    config = store_config(store)
    effective = settings_values(store)
    given = {"select": select, "remove": remove}
    for name, value in given.items():
        if value is not None:
            check_selector(value, what=f"--{name} selector")
    current = {
        name: value.strip() if value is not None else effective.get(policy_key(policy, name))
        for name, value in given.items()
    }

    def remember() -> None:
        for name, value in given.items():
            if value is None:
                continue
            key = policy_key(policy, name)
            if config.get(key) != value.strip():
                config.set(key, value)
                # Said once, when it changes: a cron job passing the same option stays quiet.
                status(f"Remembered --{name} {value!r} for {policy} (forget: config unset {key})")

    return ExtractRules(select=current["select"], remove=current["remove"]), remember


def _record_json(result: RecordResult) -> dict[str, Any]:
    """Return the JSON form of one recording outcome."""
    return {
        "status": result.status,
        "captured_at": iso_time(result.snapshot.captured_at),
        "version": version_json(result.version) if result.version else None,
    }


# --------------------------------------------------------------------------- capture

_suspect_option = click.option(
    "--accept-suspect",
    is_flag=True,
    help=(
        "Record a capture that does not look like the policy (an error, consent or login "
        "page; a text that shrank or grew wildly), marked suspect; refused by default."
    ),
)


def _vet_capture(store: GitStore, snapshot: Snapshot, *, accept_suspect: bool) -> Snapshot:
    """Refuse a fetched snapshot that does not look like the policy, or mark it if accepted."""
    from policydiff.engine.plausibility import SUSPECT_TRAILER, last_good_text, suspect_reasons

    previous = last_good_text(store, snapshot.policy, snapshot.captured_at)
    reasons = suspect_reasons(previous, snapshot.text)
    if not reasons:
        return snapshot
    why = "; ".join(reasons)
    if not accept_suspect:
        raise InputError(
            f"{snapshot.origin or snapshot.policy}: the capture does not look like the policy "
            f"({why}); not recorded (--accept-suspect records it, marked suspect)"
        )
    message(f"warning: recording a suspect capture ({why})")
    return replace(snapshot, extra_trailers=(*snapshot.extra_trailers, (SUSPECT_TRAILER, why)))


@click.command("capture")
@click.argument("url")
@click.option(
    "--policy",
    required=True,
    help="Policy id, e.g. koozali/privacy-policy.",
    shell_complete=complete_policy,
)
@_rules_options
@_fetch_options
@_suspect_option
@click.option("--exit-code", is_flag=True, help="Exit 1 if a new version was recorded.")
@click.option("-v", "--verbose", is_flag=True, help="Also say when the text is unchanged.")
@format_option("text", "json", default="text")
@quiet_option()
def capture_cmd(
    url: str,
    policy: str,
    select: str | None,
    remove: str | None,
    network: dict[str, Any],
    accept_suspect: bool,
    exit_code: bool,
    verbose: bool,
    fmt: str,
) -> None:
    """Fetch URL now and record it as a new version of the policy if its text changed.

    Quiet when nothing changed (for cron): one line when a version is recorded.
    """
    from policydiff.core.model import Snapshot
    from policydiff.core.refs import validate_policy_id
    from policydiff.sources.fetch import Fetcher, check_url
    from policydiff.sources.ingest import detect_effective_date
    from policydiff.sources.ingest.html import page_text
    from policydiff.sources.wayback import source_trailers

    validate_policy_id(policy)
    check_url(url)
    store = open_store()
    rules, remember_rules = _extract_rules(store, policy, select, remove)
    settings = _fetch_settings(store, network)
    with Fetcher(settings) as fetcher:
        page = fetcher.get(url)
    found = page_text(
        page.content,
        url=page.final_url,
        media_type=page.media_type,
        charset=page.charset,
        rules=rules,
        max_bytes=network["max_size"],
    )
    trailers = source_trailers(found)
    if page.final_url != url:
        trailers += (("Fetched-URL", page.final_url),)
    snapshot = Snapshot(
        policy=policy,
        text=found.text,
        raw=page.content,
        raw_suffix=found.suffix,
        captured_at=page.fetched_at.replace(microsecond=0),
        effective_date=detect_effective_date(found.text),
        source_url=url,
        origin=url,
        extra_trailers=trailers,
    )
    snapshot = _vet_capture(store, snapshot, accept_suspect=accept_suspect)
    [result] = store.record([snapshot])
    remember_rules()
    if fmt == "json":
        emit_json(
            {"schema": "policydiff.capture/1", "policy": policy, "url": url}
            | {"final_url": page.final_url}
            | _record_json(result)
        )
    elif result.version is not None:
        report_line(
            f"{policy}: recorded version {result.version.number} "
            f"(captured {iso_time(snapshot.captured_at)} from {url})"
        )
    elif verbose:
        latest = store.versions(policy)[-1]
        report_line(f"{policy}: unchanged (same text as version {latest.number})")
    _changed_exit(exit_code, 1 if result.version is not None else 0)


# --------------------------------------------------------------------------- wayback


def _wayback_line(result: CaptureResult) -> str:
    """Return the text-listing line of one capture."""
    line = f"{result.capture.timestamp} {result.status}"
    if result.version is not None:
        line += f" as version {result.version.number}"
    if result.error:
        line += f": {result.error}"
    return line


@click.command("wayback")
@click.argument("url")
@click.option(
    "--policy",
    required=True,
    help="Policy id, e.g. koozali/privacy-policy.",
    shell_complete=complete_policy,
)
@click.option("--from", "since", metavar="DATE", help="Only captures on or after DATE.")
@click.option("--to", "until", metavar="DATE", help="Only captures on or before DATE.")
@click.option(
    "--endpoint",
    envvar="POLICYDIFF_WAYBACK_URL",
    default="https://web.archive.org",
    show_default=True,
    help="Wayback Machine base URL (also $POLICYDIFF_WAYBACK_URL).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=24.0,
    show_default=True,
    help="At most this many requests a minute.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Record after this many fetched captures.",
)
@_rules_options
@_fetch_options
@_suspect_option
@click.option("--exit-code", is_flag=True, help="Exit 1 if a new version was recorded.")
@format_option("text", "json", default="text")
@quiet_option()
def wayback_cmd(
    url: str,
    policy: str,
    since: str | None,
    until: str | None,
    endpoint: str,
    rate: float,
    batch_size: int,
    select: str | None,
    remove: str | None,
    network: dict[str, Any],
    accept_suspect: bool,
    exit_code: bool,
    fmt: str,
) -> None:
    """Backfill the policy from the Wayback Machine's captures of URL, oldest first.

    Re-running resumes: captures already recorded, or already seen by this clone with the
    same extraction rules, are skipped. Captures are recorded in small batches, so an
    interruption keeps what was fetched.
    """
    from policydiff.core.refs import parse_iso_date, validate_policy_id
    from policydiff.sources.fetch import Fetcher, check_url
    from policydiff.sources.wayback import backfill, list_captures

    validate_policy_id(policy)
    check_url(url)
    check_url(endpoint, what="--endpoint")
    start = parse_iso_date(since, what="--from date") if since else None
    end = parse_iso_date(until, what="--to date", allow_future=True) if until else None
    if start and end and start > end:
        raise UsageError("--from is after --to")
    store = open_store()
    rules, remember_rules = _extract_rules(store, policy, select, remove)
    settings = _fetch_settings(store, network, rate=rate)
    with Fetcher(settings) as fetcher:
        captures = list_captures(fetcher, endpoint, url, since=start, until=end)
        advance = progress(len(captures), "Fetching captures")
        results = backfill(
            store,
            fetcher,
            captures,
            policy=policy,
            endpoint=endpoint,
            rules=rules,
            git_dir=Path(store.repo.git_dir),
            batch_size=batch_size,
            report=lambda _: advance(),
            accept_suspect=accept_suspect,
        )
        requests = fetcher.requests
    counts = {s: sum(1 for r in results if r.status == s) for s in _WAYBACK_STATUSES}
    if counts["recorded"] or counts["unchanged"]:
        remember_rules()
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.wayback/1",
                "policy": policy,
                "url": url,
                "counts": counts,
                "requests": requests,
                "captures": [
                    {
                        "timestamp": r.capture.timestamp,
                        "archive_url": r.archive_url,
                        "mimetype": r.capture.mimetype,
                        "status": r.status,
                        "version": version_json(r.version) if r.version else None,
                        "error": r.error,
                    }
                    for r in results
                ],
            }
        )
    else:
        for result in results:
            report_line(_wayback_line(result), problem=result.status in {"failed", "pending"})
    status(
        f"{len(results)} capture(s): {counts['recorded']} recorded, {counts['unchanged']} "
        f"unchanged, {counts['skipped']} skipped (done before), {counts['failed']} failed, "
        f"{counts['pending']} pending; {requests} request(s)"
    )
    if counts["pending"]:
        raise _PartlyFailedError(
            f"stopped at a failing capture with {counts['pending']} capture(s) still to do; "
            "re-run to resume"
        )
    if counts["failed"]:
        raise _PartlyFailedError(f"{counts['failed']} capture(s) failed; re-run to retry them")
    _changed_exit(exit_code, counts["recorded"])


_WAYBACK_STATUSES = ("recorded", "unchanged", "skipped", "failed", "pending")


# --------------------------------------------------------------------------- import-git


def _import_line(result: ImportResult) -> str:
    """Return the text-listing line of one imported commit."""
    version = result.version
    line = f"{version.commit[:10]} {iso_time(version.authored_at)} {result.status}"
    if result.record is not None and result.record.version is not None:
        line += f" as version {result.record.version.number}"
    if version.technical:
        line += " [technical]"
    if result.error:
        line += f": {result.error}"
    return line


@click.command("import-git")
@click.argument("repo", type=click.Path(path_type=Path))
@click.option("--path", "file_path", required=True, help="The file, relative to the repository.")
@click.option(
    "--policy",
    required=True,
    help="Policy id, e.g. koozali/privacy-policy.",
    shell_complete=complete_policy,
)
@click.option(
    "--source-name",
    help="How provenance names the repository (default: its origin URL, else its path).",
)
@_rules_options
@size_option()
@click.option("--exit-code", is_flag=True, help="Exit 1 if a new version was recorded.")
@format_option("text", "json", default="text")
@quiet_option()
def import_git_cmd(
    repo: Path,
    file_path: str,
    policy: str,
    source_name: str | None,
    select: str | None,
    remove: str | None,
    max_size: int,
    exit_code: bool,
    fmt: str,
) -> None:
    """Import every version of one file from another git repository's history.

    Each commit that changed the file becomes a version dated at the commit, with the
    repository and commit as provenance; Open Terms Archive's technical upgrades and
    refilters are marked technical. Commits imported before are skipped.
    """
    from policydiff.core.model import trailer_value_problem
    from policydiff.core.refs import validate_policy_id
    from policydiff.sources.gitimport import (
        check_file_path,
        check_repository,
        file_history,
        import_history,
        repository_name,
    )

    validate_policy_id(policy)
    if source_name is not None and (problem := trailer_value_problem(source_name)):
        raise UsageError(f"--source-name {problem}")
    path = check_file_path(file_path)
    root = check_repository(repo)
    store = open_store()
    rules, remember_rules = _extract_rules(store, policy, select, remove)
    history = file_history(root, path, max_bytes=max_size)
    if not history:
        raise UsageError(f"no commit reachable from HEAD in {repo} touches {path}")
    advance = progress(len(history), "Importing commits")
    results = import_history(
        store,
        history,
        policy=policy,
        path=path,
        repository=source_name or repository_name(root),
        rules=rules,
        max_bytes=max_size,
        report=lambda _: advance(),
    )
    results.sort(key=lambda r: (r.version.authored_at, r.version.commit))
    if any(r.status in {"recorded", "unchanged"} for r in results):
        remember_rules()
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.import-git/1",
                "policy": policy,
                "repository": source_name or repository_name(root),
                "path": path,
                "commits": [
                    {
                        "commit": r.version.commit,
                        "authored_at": iso_time(r.version.authored_at),
                        "subject": r.version.subject,
                        "technical": r.version.technical,
                        "status": r.status,
                        "version": version_json(r.record.version)
                        if r.record is not None and r.record.version is not None
                        else None,
                        "error": r.error,
                    }
                    for r in results
                ],
            }
        )
    else:
        for result in results:
            report_line(_import_line(result), problem=result.status == "failed")
    recorded = sum(1 for r in results if r.status == "recorded")
    failed = sum(1 for r in results if r.status == "failed")
    status(f"{len(results)} commit(s): {recorded} recorded, {failed} failed")
    if failed:
        raise _PartlyFailedError(f"{failed} commit(s) could not be imported (see above)")
    _changed_exit(exit_code, recorded)


# --------------------------------------------------------------------------- reextract


def _reextract_line(version: Version, status: str, detail: str | None) -> str:
    """Return the text-listing line of one re-extracted version."""
    line = f"version {version.number} (captured {iso_time(version.captured_at)}): {status}"
    return f"{line} {detail}" if detail else line


@click.command("reextract")
@click.argument("policy", shell_complete=complete_policy)
@_rules_options
@click.option("--exit-code", is_flag=True, help="Exit 1 if a new version was recorded.")
@format_option("text", "json", default="text")
@quiet_option()
def reextract_cmd(
    policy: str, select: str | None, remove: str | None, exit_code: bool, fmt: str
) -> None:
    """Extract the text again from each version's stored HTML or PDF source, with today's rules.

    A changed text is recorded as a technical version (trailer Technical: true) dated at
    the capture time of the version it re-reads, so it sits right after that version and
    the next real change still diffs against text extracted the same way. Versions whose
    source is plain text or markdown, and earlier re-extractions, are left alone.
    """
    from policydiff.core.model import Snapshot
    from policydiff.sources.ingest import decode_bytes, detect_effective_date
    from policydiff.sources.ingest.html import extract
    from policydiff.sources.ingest.pdf import EXTRACTOR_VERSION as PDF_EXTRACTOR_VERSION
    from policydiff.sources.ingest.pdf import pdf_to_markdown
    from policydiff.sources.wayback import TRAILER_CHARSET

    store = open_store()
    policy = store.require_policy(policy)
    rules, remember_rules = _extract_rules(store, policy, select, remove)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows: list[tuple[Version, str, str | None]] = []
    snapshots: list[Snapshot] = []
    originals: dict[str, Version] = {}
    history = store.versions(policy)
    for index, version in enumerate(history):
        if version.technical:
            continue
        if any(
            later.captured_at == version.captured_at and not later.technical
            for later in history[index + 1 :]
        ):
            # A re-extraction goes right after the versions of its second: it would land
            # after this later one and undo it. That later version supersedes this one anyway.
            rows.append((version, "skipped", "(a later version has the same capture time)"))
            continue
        if any(key == "Combined-URL" for key, _ in version.trailers):
            # Its source is several pages one after another, each with its own rules.
            rows.append((version, "skipped", "(combined from several pages)"))
            continue
        source = store.source(version)
        if source is None or source[0] not in {"source.html", "source.pdf"}:
            rows.append((version, "skipped", "(source is not HTML)"))
            continue
        charset = dict(version.trailers).get(TRAILER_CHARSET)
        kind = source[0].removeprefix("source.")
        try:
            if kind == "pdf":
                # --select/--remove name HTML elements: a PDF is read the one way there is.
                text = pdf_to_markdown(source[1])
            else:
                html = decode_bytes(
                    source[1], encoding=charset, is_html=True, max_bytes=len(source[1])
                )
                text = extract(html, version.source_url, rules).text
        except PolicydiffError as err:
            rows.append((version, "failed", str(err)))
            continue
        originals[version.commit] = version
        snapshots.append(
            Snapshot(
                policy=policy,
                text=text,
                raw=source[1],
                raw_suffix=kind,
                captured_at=version.captured_at,
                effective_date=version.effective_date or detect_effective_date(text),
                source_url=version.source_url,
                archive_url=version.archive_url,
                origin=version.commit,
                technical=True,
                extra_trailers=(
                    *(((TRAILER_CHARSET, charset),) if charset else ()),
                    ("Reextracted-At", now),
                    (
                        "Extraction",
                        f"pdf extractor {PDF_EXTRACTOR_VERSION}"
                        if kind == "pdf"
                        else rules.describe(),
                    ),
                ),
            )
        )
    for result in store.record(snapshots):
        original = originals[result.snapshot.origin or ""]
        if result.version is not None:
            rows.append((original, "recorded", f"as version {result.version.number}"))
        else:
            rows.append((original, "unchanged", None))
    rows.sort(key=lambda row: row[0].number)
    if any(status in {"recorded", "unchanged"} for _, status, _ in rows):
        remember_rules()
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.reextract/1",
                "policy": policy,
                "extraction": rules.describe(),
                "versions": [
                    {"version": version_json(v), "status": status, "detail": detail}
                    for v, status, detail in rows
                ],
            }
        )
    else:
        for row in rows:
            report_line(_reextract_line(*row), problem=row[1] == "failed")
    recorded = sum(1 for _, state, _ in rows if state == "recorded")
    failed = sum(1 for _, state, _ in rows if state == "failed")
    status(f"{recorded} technical version(s) recorded, {failed} failed")
    if failed:
        raise _PartlyFailedError(f"{failed} version(s) could not be re-extracted (see above)")
    _changed_exit(exit_code, recorded)
