"""PDF policies end to end: import/add/capture/compare/reextract of generated PDFs, bad PDFs.

The PDFs are made by fpdf2 (tests/pdf_factory.py) in the shape of real terms documents:
a title and section headings in bigger or bold type, a word hyphenated at a line end, a
running header and a ``Page N of M`` footer on every page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fpdf import FPDF

from helpers import run_cli
from httpserver import LocalServer, Reply
from pdf_factory import (
    Block,
    inflating_pdf,
    long_policy,
    make_blank_pdf,
    make_pdf,
    paragraph_lines,
    raw_pdf,
    words,
)
from policydiff.core.errors import InputError
from policydiff.sources.ingest import pdf as pdf_module
from policydiff.sources.ingest.pdf import pdf_to_markdown
from policydiff.store.gitstore import GitStore
from test_bad_input import store_state

POLICY = "acme/privacy"
FAST = ["--backoff", "0", "--retries", "1", "--timeout", "5"]

# A short policy with a heading of each level and a word hyphenated across two lines,
# followed by enough sections to run over three pages (so the running header repeats).
HEAD: list[Block] = [
    ("h1", "Acme Privacy Policy"),
    ("h2", "1. Data we collect"),
    (
        "p",
        [
            "We collect your name and the address you give when you open an ac-",
            "count with us, and the identifiers of the devices you use.",
        ],
    ),
    ("h3", "Cookies"),
    ("p", ["We use cookies to keep you signed in."]),
]
HEAD_MD = (
    "# Acme Privacy Policy\n\n## 1. Data we collect\n\nWe collect your name and the address "
    "you give when you open an account with us, and the identifiers of the devices you use."
    "\n\n### Cookies\n\nWe use cookies to keep you signed in.\n\n"
)


def policy_blocks(*, changed: bool = False) -> tuple[list[Block], str]:
    """Return a three-page policy and its expected markdown (``changed``: a later version)."""
    blocks = list(HEAD)
    expected = [HEAD_MD.rstrip("\n")]
    for number in range(2, 8):
        title = f"{number}. Section {number}"
        body = words(70, number)
        if changed and number == 3:
            body[:4] = ["We", "now", "sell", "data"]
        body[-1] += "."
        blocks += [("h2", title), ("p", paragraph_lines(body)), ("p", paragraph_lines(body))]
        expected += [f"## {title}", " ".join(body), " ".join(body)]
    if changed:
        blocks += [("h2", "8. Arbitration"), ("p", ["Disputes go to arbitration."])]
        expected += ["## 8. Arbitration", "Disputes go to arbitration."]
    return blocks, "\n\n".join(expected) + "\n"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def latest(store_dir: Path) -> tuple[str, tuple[str, bytes] | None]:
    """Return the latest version's text and raw source."""
    store = GitStore(store_dir)
    version = store.versions(POLICY)[-1]
    return store.text(version), store.source(version)


# --------------------------------------------------------------------------- extraction


def test_import_pdf_gives_markdown_headings_without_footers_or_hyphens(
    store_dir: Path, tmp_path: Path
) -> None:
    blocks, expected = policy_blocks()
    raw = make_pdf(blocks)
    folder = tmp_path / "in" / "acme" / "privacy"
    folder.mkdir(parents=True)
    (folder / "2024-03-01.pdf").write_bytes(raw)
    result = run_cli(["--store", str(store_dir), "import", str(tmp_path / "in")])
    assert result.exit_code == 0, result.stderr
    text, source = latest(store_dir)
    assert text == expected
    assert "Page " not in text
    assert "Acme Ltd" not in text  # The running header.
    assert source == ("source.pdf", raw)
    verified = run_cli(["--store", str(store_dir), "verify"])
    assert verified.exit_code == 0, verified.stderr


@pytest.mark.parametrize("per_word", [None, "in order", "reversed", "split"])
def test_words_placed_one_by_one_read_as_lines(per_word: str | None) -> None:
    # Typesetters that place each word (justified, out of file order, split by kerning).
    blocks, expected = long_policy(sections=6)
    assert pdf_to_markdown(make_pdf(blocks, per_word=per_word)) == expected


def test_add_pdf_then_compare_shows_section_changes(store_dir: Path, tmp_path: Path) -> None:
    for day, changed in (("2024-01-01", False), ("2024-06-01", True)):
        path = tmp_path / f"{day}.pdf"
        path.write_bytes(make_pdf(policy_blocks(changed=changed)[0]))
        added = run_cli(["--store", str(store_dir), "add", str(path), "--policy", POLICY])
        assert added.exit_code == 0, added.stderr
    result = run_cli(["--store", str(store_dir), "compare", POLICY, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    statuses = {
        (section["new_path"] or section["old_path"])[-1]: section["status"]
        for section in report["sections"]
        if section["status"] not in {"unchanged", "cosmetic"}
    }
    assert statuses == {"3. Section 3": "modified", "8. Arbitration": "added"}


def test_compare_two_pdf_files_without_a_store(tmp_path: Path) -> None:
    old, new = tmp_path / "old.pdf", tmp_path / "new.pdf"
    old.write_bytes(make_pdf(policy_blocks()[0]))
    new.write_bytes(make_pdf(policy_blocks(changed=True)[0]))
    result = run_cli(["compare", str(old), str(new), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    sections = json.loads(result.stdout)["sections"]
    quiet = {"unchanged", "cosmetic"}  # Cosmetic: the end of the text moved on by one section.
    changed = {s["new_path"][-1]: s["status"] for s in sections if s["status"] not in quiet}
    assert changed == {"3. Section 3": "modified", "8. Arbitration": "added"}


# --------------------------------------------------------------------------- capture


@pytest.mark.parametrize(
    ("content_type", "path"),
    [
        ("application/pdf", "/terms"),
        ("application/octet-stream", "/download?id=7"),  # Sniffed by its %PDF- signature.
    ],
)
def test_capture_pdf_from_a_server(
    store_dir: Path, server: LocalServer, content_type: str, path: str
) -> None:
    blocks, expected = policy_blocks()
    raw = make_pdf(blocks)
    server.route(path.split("?", maxsplit=1)[0], Reply(body=raw, content_type=content_type))
    url = server.url(path)
    args = ["--store", str(store_dir), "capture", url, "--policy", POLICY, *FAST]
    result = run_cli(args)
    assert result.exit_code == 0, result.stderr
    assert "recorded version 1" in result.stdout
    text, source = latest(store_dir)
    assert text == expected
    assert source == ("source.pdf", raw)
    again = run_cli([*args, "--verbose"])
    assert again.exit_code == 0, again.stderr
    assert "unchanged" in again.stdout
    # reextract reads the stored PDF again: same extractor, same text, nothing recorded.
    redo = run_cli(["--store", str(store_dir), "reextract", POLICY])
    assert redo.exit_code == 0, redo.stderr
    assert redo.stdout.strip().endswith("unchanged")


def test_capture_pdf_refuses_html_selectors(store_dir: Path, server: LocalServer) -> None:
    server.route("/terms", Reply(body=make_pdf(HEAD), content_type="application/pdf"))
    before = store_state(store_dir)
    args = ["capture", server.url("/terms"), "--policy", POLICY, "--select", "main", *FAST]
    result = run_cli(["--store", str(store_dir), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert "apply to HTML pages only" in result.stderr
    assert store_state(store_dir) == before


# --------------------------------------------------------------------------- bad input

Make = Callable[[], bytes]


def truncated() -> bytes:
    raw = make_pdf(policy_blocks()[0])
    return raw[: len(raw) // 2]


BAD_PDFS: list[tuple[str, Make, str]] = [
    ("truncated", truncated, "truncated"),
    ("encrypted", lambda: make_pdf(HEAD, user_password="secret"), "encrypted with a password"),
    ("no text layer", lambda: make_blank_pdf(2), "does not do OCR"),
    ("too many pages", lambda: make_blank_pdf(501, text="Terms"), "over the limit of 500"),
    ("not a PDF", lambda: b"# Privacy\n\nWe keep your data.\n", "not a PDF file"),
    ("HTML named .pdf", lambda: b"<!DOCTYPE html><p>Terms</p>", "not a PDF file"),
    ("only a footer", lambda: make_pdf([], header_text=""), "no text besides"),
    (
        "no pages",
        lambda: (
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        ),
        "the PDF has no pages",
    ),
    (
        "damaged drawing only",
        lambda: raw_pdf(b"q /a /b /c /d /e /f cm Q"),
        "no readable text (Cannot concatenate matrix",
    ),
    ("no catalog", lambda: b"%PDF-1.4\ngarbage\n%%EOF\n", "not a readable PDF (PDFSyntaxError"),
]


@pytest.mark.parametrize(
    ("make", "reason"), [row[1:] for row in BAD_PDFS], ids=[r[0] for r in BAD_PDFS]
)
@pytest.mark.parametrize("command", ["add", "import"])
def test_bad_pdf_is_one_error_line_and_changes_nothing(
    store_dir: Path, tmp_path: Path, command: str, make: Make, reason: str
) -> None:
    # A first version, so that "unchanged" covers a store with history.
    seed = tmp_path / "2020-01-01.md"
    seed.write_text("# Privacy\n\nWe keep your data.\n")
    assert run_cli(["--store", str(store_dir), "add", str(seed), "--policy", POLICY]).exit_code == 0
    path = tmp_path / "in" / "acme" / "privacy" / "2024-03-01.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(make())
    before = store_state(store_dir)
    if command == "add":
        args = ["add", str(path), "--policy", POLICY]
    else:
        args = ["import", str(tmp_path / "in")]
    result = run_cli(["--store", str(store_dir), *args])
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert errors
    assert len(errors) == 1, result.stderr
    # import lists each refused file on stdout, then sums up in its one Error line.
    assert reason in (result.stderr if command == "add" else result.stdout)
    assert "Traceback" not in result.stderr
    if command == "add":
        assert lines == errors
    assert store_state(store_dir) == before


@pytest.mark.parametrize(
    ("make", "reason"), [row[1:] for row in BAD_PDFS], ids=[r[0] for r in BAD_PDFS]
)
def test_bad_pdf_captured_is_one_error_line(
    store_dir: Path, server: LocalServer, make: Make, reason: str
) -> None:
    server.route("/terms", Reply(body=make(), content_type="application/pdf"))
    before = store_state(store_dir)
    args = ["capture", server.url("/terms"), "--policy", POLICY, *FAST]
    result = run_cli(["--store", str(store_dir), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert reason in result.stderr
    assert store_state(store_dir) == before


def test_pdf_with_an_owner_password_only_is_read() -> None:
    # "No copying" is advisory; the text is open to every viewer (no user password).
    blocks, expected = policy_blocks()
    assert pdf_to_markdown(make_pdf(blocks, no_copying=True)) == expected
    assert pdf_to_markdown(make_pdf(blocks, user_password="")) == expected


def test_library_warnings_stay_off_stderr(store_dir: Path, tmp_path: Path) -> None:
    # pdfminer logs what it skips; with no handler, logging's last resort prints it on
    # stderr. A real process: pytest's own log handlers would hide that in-process.
    path = tmp_path / "2024-03-01.pdf"
    path.write_bytes(raw_pdf(b"/a /b /c /d /e /f cm BT /F1 12 Tf 72 700 Td (We keep data.) Tj ET"))
    args = ["--store", str(store_dir), "add", str(path), "--policy", POLICY]
    done = subprocess.run(
        [sys.executable, "-m", "policydiff", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["1 version(s) recorded, 0 unchanged, 0 error(s)"]
    assert latest(store_dir)[0] == "We keep data.\n"
    path.write_bytes(raw_pdf(b"q /a /b /c /d /e /f cm Q"))
    done = subprocess.run(
        [sys.executable, "-m", "policydiff", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        (
            f"Error: {path}: the PDF has no readable text (Cannot concatenate matrix to current "
            "transformation matrix because not all values in (/'a', /'b', /'c', /'d', /'e', /'f') "
            "can be parsed as floats)"
        )
    ]


def test_pdf_over_max_size_is_refused_before_parsing(store_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "2024-03-01.pdf"
    path.write_bytes(make_pdf(HEAD))
    before = store_state(store_dir)
    result = run_cli(
        ["--store", str(store_dir), "add", str(path), "--policy", POLICY, "--max-size", "1000"]
    )
    assert result.exit_code == 2
    assert result.stderr.count("Error: ") == 1
    assert "size limit" in result.stderr
    assert store_state(store_dir) == before


def test_extraction_over_its_time_budget_is_refused() -> None:
    raw = make_pdf(policy_blocks()[0])
    with pytest.raises(InputError, match="took over 0 seconds"):
        pdf_to_markdown(raw, budget=0.0)
    with pytest.raises(InputError, match="over the limit of 2"):
        pdf_to_markdown(raw, max_pages=2)


def test_inflating_stream_is_refused_not_exhausting_memory() -> None:
    # 1 MiB on disk, 256 MiB inflated: the memory cap turns it into one refusal.
    with pytest.raises(InputError, match="needed over 64 MiB of memory"):
        pdf_to_markdown(inflating_pdf(256 << 20), memory=64 << 20)


def test_time_budget_stops_a_slow_page_inside_it() -> None:
    # One tall page of scattered words takes over 2 s; the alarm stops it within the page.
    pdf = FPDF(unit="pt", format=(595, 14 * 900 + 100))
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    pdf.set_font("Helvetica", "", 11)
    for row in range(900):
        for column in reversed(range(12)):
            pdf.text(40 + column * 45, 50 + row * 14, f"word{column}")
    raw = bytes(pdf.output())
    # CPU time, not wall time: on a loaded machine the page's 2 s of work takes longer.
    started = time.process_time()
    with pytest.raises(InputError, match=r"took over 0\.2 seconds; refused"):
        pdf_to_markdown(raw, budget=0.2)
    assert time.process_time() - started < 1.0


class _Owner:
    """Something to hold a weak reference to."""


def test_time_budget_alarm_swallowed_in_a_callback_fires_again() -> None:
    # Python swallows (and prints) an exception raised inside a weakref callback; an alarm
    # that lands there must fire again, and must print nothing.
    def slow_callback(_ref: object) -> None:
        spin_until = time.monotonic() + 0.3
        while time.monotonic() < spin_until:
            pass

    def work() -> None:
        with pdf_module._limits(0.05, 1 << 40):
            owner = _Owner()
            refs.append(weakref.ref(owner, slow_callback))
            del owner  # The callback runs now, and the alarm goes off inside it.
            give_up = time.monotonic() + 2.0
            while time.monotonic() < give_up:  # Interrupted well before, or not at all.
                pass

    refs: list[weakref.ref[_Owner]] = []
    started = time.monotonic()
    with pytest.raises(pdf_module._OutOfTime):
        work()
    assert refs[0]() is None
    assert time.monotonic() - started < 1.5


def test_version_does_not_import_the_pdf_library() -> None:
    # Start-up time: pdfminer.six is imported only when a PDF is read.
    code = (
        "import sys\nfrom policydiff.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pdfminer', 'fpdf'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("[]")


def test_a_pdf_version_syncs_and_verifies(store_dir: Path, tmp_path: Path) -> None:
    # sync's checks of what a remote offers know source.pdf (SOURCE_SUFFIXES).
    path = tmp_path / "2024-03-01.pdf"
    raw = make_pdf(policy_blocks()[0])
    path.write_bytes(raw)
    assert run_cli(["--store", str(store_dir), "add", str(path), "--policy", POLICY]).exit_code == 0
    bare = tmp_path / "shared.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    pushed = run_cli(["--store", str(store_dir), "sync", str(bare)])
    assert pushed.exit_code == 0, pushed.stderr
    # The other maintainer's clone is from before the PDF: sync pulls it in, checked.
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(bare), str(other)], check=True)
    subprocess.run(["git", "-C", str(other), "reset", "-q", "--hard", "HEAD~1"], check=True)
    pulled = run_cli(["--store", str(other), "sync", "origin"])
    assert pulled.exit_code == 0, pulled.stderr
    assert "1 version(s) pulled" in pulled.stderr
    assert latest(other) == latest(store_dir)
    assert latest(other)[1] == ("source.pdf", raw)
    assert GitStore(other).verify().ok


def test_import_git_reads_pdf_versions(store_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "snapshots"
    (repo / "Acme").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    raw = make_pdf(policy_blocks()[0])
    (repo / "Acme" / "Privacy.pdf").write_bytes(raw)
    env = {"GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}
    for args in (["add", "--", "Acme/Privacy.pdf"], ["commit", "-q", "-m", "Record"]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=Bot", "-c", "user.email=b@e.test", *args],
            check=True,
            env={**os.environ, **env},
        )
    args = ["import-git", str(repo), "--path", "Acme/Privacy.pdf", "--policy", POLICY]
    result = run_cli(["--store", str(store_dir), *args])
    assert result.exit_code == 0, result.stderr
    assert latest(store_dir) == (policy_blocks()[1], ("source.pdf", raw))
