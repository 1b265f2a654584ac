"""Commands that create, fill and read the store: init, import, add, policies, log, show, verify."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from policydiff.cli.common import (
    F,
    console,
    emit_json,
    format_option,
    message,
    open_store,
    progress,
    progress_callback,
    quiet_option,
    report_line,
    status,
    store_path,
)
from policydiff.cli.completion import complete_policy, complete_policy_ref
from policydiff.core.errors import (
    ExitCode,
    InputError,
    PolicydiffError,
    UsageError,
    escape_unsafe,
    shown,
)

if TYPE_CHECKING:
    from policydiff.core.model import RecordResult, Snapshot, Version
    from policydiff.store.fastimport import Importer
    from policydiff.store.gitstore import GitStore
    from policydiff.store.inforce import InForce

DEFAULT_MAX_SIZE = 20 * 1024 * 1024
# The largest --max-size accepted (1 TiB): far above any policy, and far below what makes
# the size arithmetic and reads overflow (99999999999999999999 was an OverflowError).
MAX_SIZE_LIMIT = 1 << 40


def iso_time(moment: datetime | None) -> str | None:
    """Return an ISO timestamp (UTC, Z) or None."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_day(value: date | None) -> str | None:
    """Return an ISO date or None."""
    return None if value is None else value.isoformat()


def version_json(version: Version) -> dict[str, Any]:
    """Return the documented JSON form of a version (shared by log and show)."""
    return {
        "policy": version.policy,
        "version": version.number,
        "commit": version.commit,
        "captured_at": iso_time(version.captured_at),
        "effective_date": iso_day(version.effective_date),
        "source_url": version.source_url,
        "archive_url": version.archive_url,
        "sha256": version.text_sha256,
        "source_sha256": version.source_sha256,
        "technical": version.technical,
        "illustrative": version.illustrative,
        "suspect": version.suspect,
        "source_repository": version.source_repository,
        "source_commit": version.source_commit,
        "source_path": version.source_path,
        "source_subject": version.source_subject,
    }


# --------------------------------------------------------------------------- init


@click.command("init")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def init_cmd(path: Path | None) -> None:
    """Create a new store at PATH (default: the --store path)."""
    from policydiff.store.gitstore import init_store
    from policydiff.store.layout import MARKER_FILE

    target = path or store_path()
    existed = (target / MARKER_FILE).is_file()
    init_store(target)
    message(f"{'Store already exists' if existed else 'Created policydiff store'} in {target}")


# --------------------------------------------------------------------------- import / add


def size_option() -> Callable[[F], F]:
    """Return the --max-size option shared by import and add."""
    return click.option(
        "--max-size",
        type=click.IntRange(min=1, max=MAX_SIZE_LIMIT),
        default=DEFAULT_MAX_SIZE,
        show_default=True,
        help="Refuse snapshot files larger than this many bytes.",
    )


def _report(results: list[tuple[str, RecordResult | None, str | None]], fmt: str) -> int:
    """Print one line per input (or JSON) and return the exit code."""
    failed = any(error for _, _, error in results)
    if fmt == "json":
        items = []
        for origin, result, error in results:
            item: dict[str, Any] = {"file": origin, "status": "error" if error else None}
            if error:
                item["error"] = error
            elif result is not None:
                item["status"] = result.status
                item["policy"] = result.snapshot.policy
                item["captured_at"] = iso_time(result.snapshot.captured_at)
                item["version"] = version_json(result.version) if result.version else None
            items.append(item)
        emit_json({"schema": "policydiff.import/1", "results": items})
    else:
        for raw_origin, result, error in results:
            # File names come from the folder imported: a newline or an escape sequence in
            # one must neither forge a report line nor drive the terminal.
            origin = escape_unsafe(raw_origin)
            if error:
                report_line(f"{origin}: error: {escape_unsafe(error)}", problem=True)
            elif result is not None and result.version is not None:
                report_line(
                    f"{origin}: recorded as {result.snapshot.policy} version "
                    f"{result.version.number} (captured {iso_time(result.snapshot.captured_at)})"
                )
            elif result is not None:
                report_line(
                    f"{origin}: unchanged ({result.snapshot.policy}: same text as recorded)"
                )
    return ExitCode.ERROR if failed else ExitCode.OK


def _finish_report(results: list[RecordResult], errors: list[tuple[str, str]], fmt: str) -> None:
    """Report each input, then exit 2 with one error line if any input failed."""
    rows: list[tuple[str, RecordResult | None, str | None]] = [
        (r.snapshot.origin or r.snapshot.policy, r, None) for r in results
    ]
    rows += [(origin, None, error) for origin, error in errors]
    rows.sort(key=lambda row: row[0])
    code = _report(rows, fmt)
    new = sum(1 for r in results if r.version is not None)
    counts = f"{new} version(s) recorded, {len(results) - new} unchanged"
    if code:
        raise InputError(
            f"{len(errors)} of {len(rows)} snapshot(s) could not be recorded (listed above); "
            f"{counts}"
        )
    status(f"{counts}, 0 error(s)")


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--policy",
    help="Policy id for every snapshot (default: from each file).",
    shell_complete=complete_policy,
)
@click.option("--encoding", help="Decode the files with this encoding instead of UTF-8.")
@click.option(
    "--technical",
    is_flag=True,
    help="Mark the snapshots as technical re-extractions (not policy changes).",
)
@size_option()
@format_option("text", "json", default="text")
@quiet_option()
def import_cmd(
    paths: tuple[Path, ...],
    policy: str | None,
    encoding: str | None,
    technical: bool,
    max_size: int,
    fmt: str,
) -> None:
    """Import snapshot files and directories (recursively), oldest capture first.

    Each file is read once and its text streamed to git at once; the versions are then
    written in capture order as one atomic write. Memory holds one text (and, per
    policy, the last plausible one, compressed), whatever the number of files.
    """
    from policydiff.core.refs import validate_policy_id
    from policydiff.sources.ingest import discover_snapshots, read_snapshot
    from policydiff.sources.ingest.discover import check_inside

    if policy is not None:
        validate_policy_id(policy)
    store = open_store()
    refused: list[tuple[Path, str]] = []
    real_roots: dict[Path, Path] = {}
    found = discover_snapshots(list(paths), refused, real_roots)
    for file, root in found:
        if root is None:
            _note_link(file)

    def read(file: Path, root: Path | None) -> Snapshot:
        if root is not None:
            # Again at each read: the file, or the folder, may have been swapped for a link
            # since the walk.
            check_inside(file, real_roots[root])
        return read_snapshot(
            file,
            policy=policy,
            encoding=encoding,
            root=root,
            max_bytes=max_size,
            extract_html=_html_to_markdown,
        )

    errors: list[tuple[str, str]] = [(str(file), reason) for file, reason in refused]
    with store.importer() as importer:
        vetting = _Vetting(store, technical)
        advance = progress(len(found), "Reading snapshots")
        for file, root in found:
            try:
                snapshot = read(file, root)
            except InputError as err:
                errors.append((str(file), str(err).removeprefix(f"{file}: ")))
            else:
                vetting.add(importer, snapshot, file, root)
            advance()
        errors += vetting.finish(importer, read)
        # Ids that would nest with another policy are refused file by file, so that the
        # other files are still recorded.
        clashes = store.policy_clashes(importer.policies())
        errors += vetting.drop_policies(importer, clashes)
        results = importer.finish()
    _finish_report(results, errors, fmt)


def _html_to_markdown(html: str, page_url: str | None) -> str:
    """Extract an HTML file's policy text, importing the HTML stack only when one is met."""
    # Its import (BeautifulSoup, soupsieve, markdownify) costs more than a small import.
    from policydiff.sources.ingest.html import html_to_markdown

    return html_to_markdown(html, page_url)


class _Vetting:
    """Judges each imported snapshot against the last plausible one, in capture order.

    Files stream in the order they were found, which for a policy is its capture order
    when the file names sort by date (the usual case): each is judged as it comes. A
    policy whose files come in another order is judged again at the end, its files read
    a second time in capture order. Warnings wait until then, so they are said once.
    """

    def __init__(self, store: GitStore, technical: bool) -> None:
        """Start with nothing seen."""
        self._store = store
        self._technical = technical
        # Per policy: (capture time, file) of each snapshot added, with its handle, file,
        # root and trailers as read, for a second pass.
        self._files: dict[str, list[tuple[tuple[datetime, str], int, Path, Path | None]]] = {}
        self._trailers: dict[int, tuple[tuple[str, str], ...]] = {}
        self._unordered: set[str] = set()
        self._last_good = _LastGood()
        self._warnings: dict[str, list[tuple[tuple[datetime, str], str]]] = {}
        self._stored: set[str] | None = None

    def add(self, importer: Importer, snapshot: Snapshot, file: Path, root: Path | None) -> None:
        """Judge ``snapshot`` if its policy still comes in capture order, then send it."""
        if self._technical and not snapshot.technical:
            snapshot = replace(snapshot, technical=True)
        policy = snapshot.policy
        key = (snapshot.captured_at, str(file))
        seen = self._files.setdefault(policy, [])
        if seen and key < seen[-1][0] and policy not in self._unordered:
            self._unordered.add(policy)
            self._warnings.pop(policy, None)
            self._last_good.forget(policy)
        trailers = snapshot.extra_trailers
        if policy not in self._unordered:
            snapshot = self._judged(policy, key, snapshot)
        handle = importer.add(snapshot)
        seen.append((key, handle, file, root))
        self._trailers[handle] = trailers

    def _judged(self, policy: str, key: tuple[datetime, str], snapshot: Snapshot) -> Snapshot:
        """Return ``snapshot``, with a Suspect trailer if it does not look like the policy."""
        from policydiff.engine.plausibility import last_good_text

        if not self._last_good.has(policy):
            if self._stored is None:
                # Once: the store does not change under the write lock, and listing its
                # policies is a git process (last_good_text's own check, per policy).
                self._stored = set(self._store.policies())
            previous = None
            if policy in self._stored:
                previous = last_good_text(self._store, policy, snapshot.captured_at)
            self._last_good.set(policy, previous)
        judged, warning = _suspected(self._last_good.get(policy), snapshot)
        if warning is None:
            self._last_good.set(policy, snapshot.text)
        else:
            self._warnings.setdefault(policy, []).append((key, warning))
        return judged

    def finish(
        self, importer: Importer, read: Callable[[Path, Path | None], Snapshot]
    ) -> list[tuple[str, str]]:
        """Judge again, in capture order, the policies whose files came in another order.

        Returns per-file errors: a file that cannot be read again, or reads differently
        (changed during the import), is left out.
        """
        errors: list[tuple[str, str]] = []
        for policy in sorted(self._unordered):
            self._last_good.forget(policy)
            for key, handle, file, root in sorted(self._files[policy]):
                try:
                    snapshot = read(file, root)
                except InputError as err:
                    importer.drop(handle)
                    errors.append((str(file), str(err).removeprefix(f"{file}: ")))
                    continue
                if snapshot.text_sha256 != importer.text_sha256(handle):
                    importer.drop(handle)
                    errors.append((str(file), "the file changed while it was being imported"))
                    continue
                snapshot = replace(snapshot, extra_trailers=self._trailers[handle])
                importer.retrail(handle, self._judged(policy, key, snapshot).extra_trailers)
        said = sorted(w for warnings in self._warnings.values() for w in warnings)
        for _, warning in said:
            message(warning)
        return errors

    def drop_policies(self, importer: Importer, refused: dict[str, str]) -> list[tuple[str, str]]:
        """Leave out every file of the ``refused`` policies; return their per-file errors."""
        errors: list[tuple[str, str]] = []
        for policy, reason in refused.items():
            for _, handle, file, _ in self._files.get(policy, []):
                importer.drop(handle)
                errors.append((str(file), reason))
        return errors


class _LastGood:
    """Per policy, the last plausible text: the current policy's as is, others compressed.

    Policies mostly come one after the other (a folder each), so only one text is held
    whole; compressing the others keeps memory small however many policies there are.
    """

    def __init__(self) -> None:
        """Hold nothing."""
        self._current: tuple[str, str | None] | None = None
        self._packed: dict[str, bytes | None] = {}

    def has(self, policy: str) -> bool:
        """Whether a text (or None: no plausible version yet) is held for ``policy``."""
        return (self._current is not None and self._current[0] == policy) or (
            policy in self._packed
        )

    def get(self, policy: str) -> str | None:
        """Return the policy's last plausible text (``has`` must be true)."""
        import zlib

        if self._current is not None and self._current[0] == policy:
            return self._current[1]
        packed = self._packed[policy]
        return None if packed is None else zlib.decompress(packed).decode("utf-8")

    def set(self, policy: str, text: str | None) -> None:
        """Hold ``text`` as the policy's last plausible text, packing the previous policy's."""
        import zlib

        if self._current is not None and self._current[0] != policy:
            held = self._current[1]
            self._packed[self._current[0]] = (
                None if held is None else zlib.compress(held.encode("utf-8"), 1)
            )
        self._packed.pop(policy, None)
        self._current = (policy, text)

    def forget(self, policy: str) -> None:
        """Drop what is held for ``policy``."""
        if self._current is not None and self._current[0] == policy:
            self._current = None
        self._packed.pop(policy, None)


@click.command("add")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--policy",
    required=True,
    help="Policy id, e.g. koozali/privacy-policy.",
    shell_complete=complete_policy,
)
@click.option("--captured", help="Capture time (ISO date or timestamp; default: from the file).")
@click.option("--effective", help="Effective date YYYY-MM-DD (default: detected in the text).")
@click.option("--source", help="URL the snapshot was taken from.")
@click.option("--encoding", help="Decode the file with this encoding instead of UTF-8.")
@click.option(
    "--technical",
    is_flag=True,
    help="Mark the snapshot as technical re-extraction (not a policy change).",
)
@size_option()
@format_option("text", "json", default="text")
@quiet_option()
def add_cmd(
    file: Path,
    policy: str,
    captured: str | None,
    effective: str | None,
    source: str | None,
    encoding: str | None,
    technical: bool,
    max_size: int,
    fmt: str,
) -> None:
    """Record one snapshot FILE with explicit metadata."""
    from policydiff.core.refs import validate_policy_id
    from policydiff.sources.ingest import parse_date, parse_timestamp, read_snapshot
    from policydiff.sources.ingest.html import html_to_markdown

    validate_policy_id(policy)
    captured_at = parse_timestamp(captured, what="--captured") if captured else None
    effective_on = parse_date(effective, what="--effective") if effective else None
    if source is not None:
        _check_url(source, "--source")
    store = open_store()
    _note_link(file)
    snapshot = read_snapshot(
        file,
        policy=policy,
        captured=captured_at,
        effective=effective_on,
        source=source,
        encoding=encoding,
        max_bytes=max_size,
        extract_html=html_to_markdown,
    )
    from policydiff.engine.plausibility import last_good_text

    if technical and not snapshot.technical:
        snapshot = replace(snapshot, technical=True)
    previous = last_good_text(store, snapshot.policy, snapshot.captured_at)
    snapshot, warning = _suspected(previous, snapshot)
    if warning is not None:
        message(warning)
    _finish_report(store.record([snapshot]), [], fmt)


def _suspected(previous: str | None, snapshot: Snapshot) -> tuple[Snapshot, str | None]:
    """Mark ``snapshot`` suspect if it does not look like the policy ``previous`` was.

    Returns the snapshot (with a ``Suspect`` trailer if so) and the warning to give. A
    suspect snapshot is still recorded: an archive keeps what was captured.
    """
    from policydiff.engine.plausibility import SUSPECT_TRAILER, suspect_reasons

    reasons = suspect_reasons(previous, snapshot.text)
    if not reasons:
        return snapshot, None
    why = "; ".join(reasons)
    warning = (
        f"warning: {shown(snapshot.origin or snapshot.policy)}: recorded as suspect ({why}); "
        "it will not be announced as a policy change"
    )
    return replace(snapshot, extra_trailers=(*snapshot.extra_trailers, (SUSPECT_TRAILER, why))), (
        warning
    )


def _note_link(file: Path) -> None:
    """Say on stderr when a file named on the command line is a symbolic link, and to what."""
    if file.is_symlink():
        message(f"Note: {shown(file)} is a symbolic link; reading {shown(os.path.realpath(file))}")


def _check_url(url: str, what: str) -> None:
    """Refuse anything but a one-line http(s) URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in url):
        raise UsageError(f"{what} must be an http(s) URL, got {url[:80]!r}")


# --------------------------------------------------------------------------- reading


def _warn_out_of_range(versions: list[Version]) -> None:
    """Say on stderr which versions carry a capture time outside the accepted range.

    Only a store written by an older policydiff, or by hand, holds one: it is read as it
    is, and ``verify`` reports it as a problem.
    """
    from policydiff.core.model import capture_range_problem

    for version in versions:
        problem = capture_range_problem(version.captured_at)
        if problem is not None:
            message(
                f"Warning: {version.policy} version {version.number} (commit {version.short}) "
                f"has a capture time out of range ({problem}); 'policydiff verify' reports it"
            )


@click.command("policies")
@format_option("term", "json")
def policies_cmd(fmt: str) -> None:
    """List the policies in the store with version counts and date ranges."""
    store = open_store()
    rows = store.summaries()
    for row in rows:
        _warn_out_of_range(store.versions(row.policy))
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.policies/1",
                "policies": [
                    {
                        "policy": r.policy,
                        "versions": r.versions,
                        "first_captured": iso_time(r.first_captured),
                        "last_captured": iso_time(r.last_captured),
                        "latest_effective_date": iso_day(r.latest_effective),
                    }
                    for r in rows
                ],
            }
        )
        return
    if not rows:
        message("The store holds no policies yet (use 'policydiff import').")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("policy", "versions", "first captured", "last captured", "effective"):
        table.add_column(column, justify="right" if column == "versions" else "left")
    for r in rows:
        table.add_row(
            Text(r.policy),
            str(r.versions),
            r.first_captured.date().isoformat(),
            r.last_captured.date().isoformat(),
            iso_day(r.latest_effective) or "-",
        )
    console().print(table)


@click.command("log")
@click.argument("policy", required=False, shell_complete=complete_policy)
@click.option("--no-stats", is_flag=True, help="Leave out what each version changed (no diffing).")
@click.option(
    "--rebuild-cache", is_flag=True, help="Recompute the change stats instead of using the cache."
)
@format_option("term", "json")
@quiet_option()
def log_cmd(policy: str | None, no_stats: bool, rebuild_cache: bool, fmt: str) -> None:
    """List the versions of POLICY, oldest first, with what each changed.

    Change stats (sections added/removed/changed, words inserted/deleted, cosmetic-only
    versions) compare each version with the one before it; they are cached in the store's
    git directory, so only new versions are diffed.
    """
    from policydiff.engine.history import Timeline, version_stats

    if no_stats and rebuild_cache:
        raise UsageError("--rebuild-cache needs the stats: drop --no-stats")
    store = open_store()
    policy = store.require_policy(policy)
    history = store.versions(policy)
    _warn_out_of_range(history)
    on_progress = progress_callback("Computing change stats")

    stats = (
        None
        if no_stats
        else version_stats(Timeline(store, policy), rebuild=rebuild_cache, progress=on_progress)
    )
    if fmt == "json":
        versions = [version_json(v) for v in history]
        for item, change in zip(versions, stats or (), strict=False):
            item["stats"] = None if change is None else change.to_json()
        emit_json({"schema": "policydiff.log/1", "policy": policy, "versions": versions})
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, title=policy, title_justify="left")
    columns = ["#", "captured", "effective", "commit"]
    columns += [] if stats is None else ["sections", "words"]
    for column in [*columns, "source"]:
        table.add_column(column, justify="right" if column == "#" else "left", no_wrap=True)
    for index, v in enumerate(history):
        row = [
            str(v.number),
            iso_time(v.captured_at) or "",
            iso_day(v.effective_date) or "-",
            v.short,
        ]
        change = None if stats is None else stats[index]
        if change is not None:
            # Sections: +added -removed ~changed; words: +inserted -deleted.
            row.append(
                f"+{change.sections_added} \u2212{change.sections_removed} "
                f"~{change.sections_changed}"
            )
            words = f"+{change.words_inserted} \u2212{change.words_deleted}"
            if change.words_moved:
                # As compare's summary: moved words are not counted, only edits inside them.
                words += f" ({change.words_moved} moved)"
            renamed_only = not change.substantive and change.sections_renamed
            note = " cosmetic only" if change.cosmetic_only else ""
            row.append(words + (" renamed only" if renamed_only else note))
        elif stats is not None:
            row += ["first", ""]
        tags = (
            (" [technical]" if v.technical else "")
            + (" [illustrative edit]" if v.illustrative else "")
            + (" [suspect capture]" if v.suspect else "")
        )
        row.append((v.origin or "-") + tags)
        # Text cells: a "[...]" in a URL or tag must never be read as rich markup.
        table.add_row(*(Text(cell) for cell in row))
    console().print(table)


@click.command("show")
@click.argument(
    "target", metavar="[POLICY[@REF]]", required=False, shell_complete=complete_policy_ref
)
@click.option("--at", "at", metavar="DATE", help="Show the version in force on DATE (YYYY-MM-DD).")
@format_option("text", "json", default="text")
def show_cmd(target: str | None, at: str | None, fmt: str) -> None:
    """Print a version's text exactly as recorded (REF: N, latest, previous, date, hash)."""
    from policydiff.core.refs import VersionRef, parse_iso_date, split_policy_ref
    from policydiff.store.inforce import RULE

    policy: str | None = None
    ref: VersionRef | None = None
    if target is not None:
        policy, ref = split_policy_ref(target)
    if at is not None and ref is not None:
        raise UsageError("give either POLICY@REF or --at DATE, not both")
    on = parse_iso_date(at, what="--at date") if at is not None else None
    store = open_store()
    policy = store.require_policy(policy)
    answer = store.in_force_at(policy, on) if on is not None else None
    version = answer.version if answer is not None else store.resolve(policy, ref)
    text = store.text(version)
    _warn_out_of_range([version])
    if fmt == "json":
        extra = {} if answer is None else {"in_force": in_force_json(answer)}
        emit_json({"schema": "policydiff.show/1", **version_json(version), **extra, "text": text})
        return
    if answer is not None:
        until = answer.in_force_until.isoformat() if answer.in_force_until else "now"
        message(
            f"{policy} in force on {answer.on.isoformat()}: version {version.number}, "
            f"in force from {answer.in_force_from.isoformat()} until {until}, first captured "
            f"{iso_day(answer.first_seen.date())}"
        )
        message(f"Rule: {RULE}.")
        for caveat in answer.caveats:
            message(f"Warning: {caveat}.")
        message(_provenance(version))
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


def in_force_json(answer: InForce) -> dict[str, Any]:
    """Return the documented JSON form of an in-force answer (``show --at``)."""
    from policydiff.store.inforce import RULE

    return {
        "on": answer.on.isoformat(),
        "in_force_from": answer.in_force_from.isoformat(),
        "in_force_until": iso_day(answer.in_force_until),
        "first_seen": iso_time(answer.first_seen),
        "last_seen": iso_time(answer.last_seen) if answer.last_seen is not None else None,
        "flagged": answer.flagged,
        "captured_after_date": answer.captured_after,
        "unseen_candidates": [v.number for v in answer.unseen_candidates],
        "caveats": list(answer.caveats),
        "rule": RULE,
    }


def _provenance(version: Version) -> str:
    """Return a one-line provenance summary of a version."""
    parts = [f"captured {iso_time(version.captured_at)}", f"commit {version.short}"]
    if version.source_url:
        parts.append(f"source {version.source_url}")
    if version.archive_url:
        parts.append(f"archive {version.archive_url}")
    if version.source_repository:
        parts.append(f"imported from {version.origin}")
    parts.append(f"sha256 {version.text_sha256[:16]}")
    return "Provenance: " + ", ".join(parts)


@click.command("verify")
@click.argument("policy", required=False, shell_complete=complete_policy)
@format_option("text", "json", default="text")
def verify_cmd(policy: str | None, fmt: str) -> None:
    """Recompute every hash and check the archive's history; exit 2 if anything was altered."""
    from policydiff.core.refs import validate_policy_id

    if policy is not None:
        validate_policy_id(policy)
    from policydiff.engine.history import check_caches

    store = open_store()
    report = store.verify(policy)
    # Caches are derived data: any entry that does not match its seal is reported and dropped.
    report = replace(report, problems=report.problems + tuple(check_caches(store, policy)))
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.verify/1",
                "ok": report.ok,
                "checked_versions": report.checked_versions,
                "problems": list(report.problems),
                "previous_tips": [{"ref": r, "commit": c} for r, c in report.previous_tips],
                "notes": list(report.notes),
            }
        )
    else:
        for note in report.notes:
            message(note)
        for ref, commit in report.previous_tips:
            message(f"  kept: {ref} -> {commit[:10]}")
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}")
        verdict = "OK" if report.ok else f"FAILED ({len(report.problems)} problem(s))"
        click.echo(f"verify: {report.checked_versions} version(s) checked: {verdict}")
    if not report.ok:
        raise _VerificationFailedError


@click.command("sync")
@click.argument("remote", required=False, default="origin")
@click.option("--no-push", is_flag=True, help="Only take the remote's versions; send nothing.")
@click.option(
    "--accept-config",
    is_flag=True,
    help="Also take the remote's changes to the store's configuration "
    "(policydiff-store.json, README.md, templates/).",
)
@format_option("text", "json", default="text")
@quiet_option()
def sync_cmd(remote: str, no_push: bool, accept_config: bool, fmt: str) -> None:
    """Share the store through a git remote: pull others' versions, merge by date, push ours."""
    from policydiff.store.layout import SyncRefusedError

    store = open_store()
    try:
        result = store.sync(remote, push=not no_push, accept_config=accept_config)
    except SyncRefusedError as err:
        # The details first, one per line; the Error: line then sums them up.
        for problem in err.problems:
            message(f"refused: {problem}")
        raise
    if fmt == "json":
        emit_json(
            {
                "schema": "policydiff.sync/1",
                "remote": remote,
                "pulled": result.pulled,
                "pushed": result.pushed,
                "reconciled": result.reconciled,
                "skipped_duplicates": result.skipped_duplicates,
            }
        )
        return
    parts = [f"{result.pulled} version(s) pulled", f"{result.pushed} pushed"]
    if result.skipped_duplicates:
        parts.append(f"{result.skipped_duplicates} duplicate(s) dropped")
    how = " (both sides had new versions: merged by capture time)" if result.reconciled else ""
    status(f"sync with {remote}: {', '.join(parts)}{how}")


class _VerificationFailedError(PolicydiffError):
    """verify found problems; the report is already printed."""

    def __str__(self) -> str:
        return "the archive failed verification (see the report above)"
