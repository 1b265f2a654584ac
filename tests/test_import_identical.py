"""`import` writes exactly the expected store: commits, trees, blobs and trailers.

The expected values are built here from hand-written texts, dates and reasons, with
``hashlib`` and ``git hash-object`` for the ids: nothing comes from the code paths that
``import`` runs, so speeding those up cannot change what is recorded unnoticed.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import run_cli
from policydiff import __version__

CLAUSES = "".join(
    f"## {i}. Clause {i}\n\nWe process data of kind {i} for purpose {i}, lawfully and fairly.\n\n"
    for i in range(1, 40)
)
PRIVACY_1 = f"# Acme privacy policy\n\nLast updated: 1 May 2019\n\n{CLAUSES}"
# Over 3,000 characters before its date: found by the scan of the whole text.
PRIVACY_2 = f"# Acme privacy policy\n\n{CLAUSES}Effective date: 2 June 2019\n"
ERROR_PAGE = "# 404 Not Found\n\nThe page you asked for is gone.\n"
PRIVACY_4 = f"# Acme privacy policy\n\nValid from 3 July 2019.\nOld Mac line.\n{CLAUSES}"
TERMS_B = "# Terms\n\nBe nice.\n"
TERMS_A = "# Terms\n\nBe nice, always. Last updated: 4 August 2019.\n"
COOKIES = "# Cookie policy\n\nWe use **few** cookies.\n\nUpdated: 5 September 2019\n"
ARCHIVED = "# Archived policy\n\nSome text.\n"
PLAIN = "Plain policy \u2014 caf\u00e9, \u0130stanbul.\n\nlast  revised on 6 October 2019\n"
WAYBACK = "https://web.archive.org/web/20200401120000/https://example.com/p"


@dataclass(frozen=True)
class Expected:
    """One file of the folder and the version it must become."""

    path: str
    raw: bytes
    text: str
    policy: str
    captured: str
    trailers: tuple[tuple[str, str], ...] = ()  # Effective-Date, URLs (before the hashes)
    extra: tuple[tuple[str, str], ...] = ()  # Illustrative, Suspect (after Recorded-By)


FILES = [
    Expected(
        "acme/privacy/2020-01-01.md",
        PRIVACY_1.encode(),
        PRIVACY_1,
        "acme/privacy",
        "2020-01-01T00:00:00Z",
        (("Effective-Date", "2019-05-01"),),
    ),
    Expected(
        "acme/privacy/2020-02-01.md",
        PRIVACY_2.replace("\n", "\r\n").encode(),
        PRIVACY_2,
        "acme/privacy",
        "2020-02-01T00:00:00Z",
        (("Effective-Date", "2019-06-02"),),
    ),
    Expected(
        "acme/privacy/2020-03-01.md",
        ERROR_PAGE.encode(),
        ERROR_PAGE,
        "acme/privacy",
        "2020-03-01T00:00:00Z",
        extra=(
            (
                "Suspect",
                (
                    "the title looks like an error, consent or login page: 'Not Found'; "
                    f"the text shrank by 98% ({len(PRIVACY_2)} to {len(ERROR_PAGE)} characters); "
                    "the sections collapsed from 40 to 1; the effective date disappeared"
                ),
            ),
        ),
    ),
    Expected(
        "acme/privacy/2020-04-01.md",
        # A BOM, CRLF and a lone CR (an old Mac line end): all become LF, the BOM goes.
        b"\xef\xbb\xbf# Acme privacy policy\r\n\r\nValid from 3 July 2019.\rOld Mac line.\r\n"
        + CLAUSES.encode(),
        PRIVACY_4,
        "acme/privacy",
        "2020-04-01T00:00:00Z",
        (("Effective-Date", "2019-07-03"),),
    ),
    # Front matter; the file names sort against capture order (the policy is judged again).
    Expected(
        "acme/terms/terms-a.md",
        f"---\ncaptured: 2020-02-15T10:00:00Z\n---\n{TERMS_A}".encode(),
        TERMS_A,
        "acme/terms",
        "2020-02-15T10:00:00Z",
        (("Effective-Date", "2019-08-04"),),
    ),
    Expected(
        "acme/terms/terms-b.md",
        b"---\ncaptured: 2020-01-15T10:00:00Z\nsource: https://example.com/terms\n"
        b"effective: 2019-12-01\nillustrative: true\n---\n\n" + TERMS_B.encode(),
        TERMS_B,
        "acme/terms",
        "2020-01-15T10:00:00Z",
        (("Effective-Date", "2019-12-01"), ("Source-URL", "https://example.com/terms")),
        (("Illustrative", "true"),),
    ),
    Expected(
        "acme/cookies/2020-03-01.html",
        b'<!doctype html><html><head><meta charset="utf-8"><title>Cookies</title></head>'
        b"<body><main><h1>Cookie policy</h1><p>We use <b>few</b> cookies.</p>"
        b"<p>Updated: 5 September 2019</p></main></body></html>",
        COOKIES,
        "acme/cookies",
        "2020-03-01T00:00:00Z",
        (("Effective-Date", "2019-09-05"),),
    ),
    Expected(
        "acme/archived/page.md",
        f"> Archived by the Wayback Machine: [web.archive.org/web/20200401120000/"
        f"https://example.com/p]({WAYBACK})\n\n{ARCHIVED}".encode(),
        ARCHIVED,
        "acme/archived",
        "2020-04-01T12:00:00Z",
        (("Source-URL", "https://example.com/p"), ("Archive-URL", WAYBACK)),
    ),
    Expected(
        "acme/plain/2020-05-01.txt",
        PLAIN.encode(),
        PLAIN,
        "acme/plain",
        "2020-05-01T00:00:00Z",
        (("Effective-Date", "2019-10-06"),),
    ),
]


def git(store: Path, *args: str, stdin: bytes | None = None) -> str:
    """Run git in ``store``; return its output."""
    return subprocess.run(
        ["git", "-C", str(store), *args], input=stdin, capture_output=True, check=True
    ).stdout.decode("utf-8")


def blob_id(store: Path, data: bytes) -> str:
    """The id git gives ``data`` as a blob (without writing it)."""
    return git(store, "hash-object", "--stdin", stdin=data).strip()


def expected_message(file: Expected) -> str:
    """The commit message recording ``file``, written out from its expected values."""
    text_sha = hashlib.sha256(file.text.encode()).hexdigest()
    suffix = file.path.rsplit(".", 1)[1]
    trailers = [
        ("Policy", file.policy),
        ("Captured-At", file.captured),
        *file.trailers,
        ("Text-SHA256", text_sha),
        ("Source-SHA256", hashlib.sha256(file.raw).hexdigest()),
        ("Source-File", f"source.{suffix}"),
        ("Recorded-By", f"policydiff {__version__}"),
        *file.extra,
    ]
    body = "".join(f"{key}: {value}\n" for key, value in trailers)
    return f"{file.policy}: record version captured {file.captured[:10]}\n\n{body}"


def test_import_records_exactly_the_expected_store(tmp_path: Path) -> None:
    folder, store = tmp_path / "archive", tmp_path / "store"
    for file in FILES:
        (folder / file.path).parent.mkdir(parents=True, exist_ok=True)
        (folder / file.path).write_bytes(file.raw)
    assert run_cli(["--store", str(store), "init"]).exit_code == 0

    result = run_cli(["--store", str(store), "import", str(folder)])

    assert result.exit_code == 0, (result.stdout, result.stderr)
    commits = git(store, "rev-list", "--reverse", "--first-parent", "main").split()[1:]
    by_capture = sorted(FILES, key=lambda f: (f.captured, f.policy))
    assert len(commits) == len(by_capture)
    tree: dict[str, str] = {}
    for commit, file in zip(commits, by_capture, strict=True):
        suffix = file.path.rsplit(".", 1)[1]
        tree[f"policies/{file.policy}/text.md"] = blob_id(store, file.text.encode())
        tree[f"policies/{file.policy}/source.{suffix}"] = blob_id(store, file.raw)
        assert git(store, "cat-file", "commit", commit).split("\n\n", 1)[1] == (
            expected_message(file)
        ), file.path
        listed = git(store, "ls-tree", "-r", "--full-tree", commit, "--", "policies")
        assert {line.split("\t")[1]: line.split()[2] for line in listed.splitlines()} == tree, (
            file.path
        )
        assert git(store, "show", "-s", "--format=%an <%ae> %aI|%cn <%ce> %cI", commit) == (
            "policydiff <policydiff@localhost> {0}|policydiff <policydiff@localhost> {0}\n".format(
                file.captured.replace("Z", "+00:00")
            )
        )
