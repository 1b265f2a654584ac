"""Bad input end to end: each refusal is exit 2, one ``Error:`` line, and the store left as it was.

One table row per bad input (file, policy id, ref, date, option, store path). Each row runs the
real CLI on a copy of a small store and compares the store's refs, HEAD and working tree
before and after. The inputs that must be accepted (UTF-16 with a BOM, CRLF and CR line
endings, a big file under a raised ``--max-size``) are checked after the table.
"""

from __future__ import annotations

import codecs
import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.reliability.harness import git
from helpers import run_cli

POLICY = "acme/privacy"
MIB = 1024 * 1024
BODY = "# Privacy policy\n\n## 1. Data\n\nWe keep your data safe.\n"
# A PNG signature and the start of its IHDR chunk.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding two versions of POLICY (built once, copied for every test)."""
    root = tmp_path_factory.mktemp("bad-input-template")
    store = root / "store"
    assert run_cli(["--store", str(store), "init"]).exit_code == 0
    for day, text in [("2020-01-01", BODY), ("2021-01-01", BODY.replace("safe", "very safe"))]:
        source = root / f"{day}.md"
        source.write_text(text)
        added = run_cli(["--store", str(store), "add", str(source), "--policy", POLICY])
        assert added.exit_code == 0, added.stderr
    return store


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template store."""
    return Path(shutil.copytree(template, tmp_path / "store", symlinks=True))


def files_under(path: Path) -> dict[str, str]:
    """Return {relative path: sha256} of the files under ``path``, skipping ``.git``."""
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    found = {}
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if relative.parts[0] != ".git" and file.is_file():
            found[str(relative)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


def store_state(path: Path) -> dict[str, object]:
    """What must not change on a refused command: refs, HEAD, the working tree's files."""
    state: dict[str, object] = {"exists": path.exists(), "files": {}}
    if path.exists():
        state["files"] = files_under(path)
    if (path / ".git").is_dir():
        state["refs"] = git(path, "for-each-ref", "--format=%(objectname) %(refname)")
        state["head"] = git(path, "rev-parse", "--symbolic-full-name", "HEAD", "HEAD")
        # Leftovers such as fast-import marks files; the lock file and the index (whose
        # stat cache git may refresh on any read) are expected to be touched.
        state["git_dir"] = sorted(
            p.name for p in (path / ".git").iterdir() if p.name not in {"index", "policydiff.lock"}
        )
    return state


# --------------------------------------------------------------------------- inputs


Maker = Callable[[Path], Path]


def file_of(data: bytes, name: str = "2020-06-01.md") -> Maker:
    """Return a maker writing ``data`` to ``name`` in the test's input folder."""

    def make(tmp: Path) -> Path:
        path = tmp / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return make


def big_text(size: int) -> bytes:
    """Return ``size`` bytes of plain policy-like text."""
    line = b"We collect the data you give us and keep it only as long as we need it.\n"
    head = b"---\ncaptured: 2020-06-01\neffective: 2020-06-01\n---\n# Big policy\n\n"
    return (head + line * (size // len(line) + 1))[:size]


def fifty_mb(tmp: Path) -> Path:
    """A 50 MiB file, sparse: the size alone must refuse it, before any byte is read."""
    path = file_of(b"")(tmp)
    os.truncate(path, 50 * MIB)
    return path


def missing(tmp: Path) -> Path:
    return tmp / "in" / "2020-06-01.md"


def folder_without_snapshots(tmp: Path) -> Path:
    """A folder holding only files an import skips (README, hidden, metadata, images)."""
    folder = tmp / "in" / "acme" / "privacy"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("# About these snapshots\n")
    (folder / ".hidden.md").write_text("# Hidden\n")
    (folder / "2020-06-01.meta.json").write_text("{}\n")
    (folder / "logo.png").write_bytes(PNG)
    return tmp / "in"


def badly_named_folder(tmp: Path) -> Path:
    """A folder whose subfolder name is not a usable policy id."""
    return file_of(BODY.encode(), "Bad Name/2020-06-01.md")(tmp).parent.parent


VALID = file_of(BODY.replace("safe", "secure").encode())


# --------------------------------------------------------------------------- stores


StoreMaker = Callable[[Path, Path], Path]


def store_is_file(store: Path, tmp: Path) -> Path:
    path = tmp / "store-file"
    path.write_text("not a store\n")
    return path


def store_missing(store: Path, tmp: Path) -> Path:
    return tmp / "no-store-here"


def store_not_git(store: Path, tmp: Path) -> Path:
    path = tmp / "plain-folder"
    path.mkdir()
    (path / "notes.txt").write_text("just files\n")
    return path


def store_git_not_store(store: Path, tmp: Path) -> Path:
    path = tmp / "plain-repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "notes.txt").write_text("a normal project\n")
    git(path, "add", "notes.txt")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return path


def store_subfolder(store: Path, tmp: Path) -> Path:
    return store / "policies"


def marker(text: str) -> StoreMaker:
    def make(store: Path, tmp: Path) -> Path:
        (store / "policydiff-store.json").write_text(text)
        return store

    return make


def index_locked(store: Path, tmp: Path) -> Path:
    (store / ".git" / "index.lock").write_text("")
    return store


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Bad:
    """One bad input: the command, where its input and store come from, what it must say.

    In ``args``, ``{input}`` is the input ``make`` wrote and ``{tmp}`` the test's folder.
    ``per_file``: ``import`` reports an unreadable file as ``<file>: error: ...`` on stdout
    and carries on with the others, then fails with one ``Error:`` line counting them; the
    message is looked for on stdout.
    """

    args: tuple[str, ...]
    message: str
    make: Maker = VALID
    store: StoreMaker | None = None
    per_file: bool = False


def add(*extra: str, policy: str = POLICY) -> tuple[str, ...]:
    return ("add", "{input}", "--policy", policy, "--captured", "2020-06-01", *extra)


def imp(*extra: str, policy: str = POLICY) -> tuple[str, ...]:
    return ("import", "--policy", policy, "{input}", *extra)


# One row per bad file: its id, how to write it, and what the refusal says.
BAD_FILES = [
    ("binary-nul", file_of(b"# Policy\n\nsome\x00text\n"), "binary file, not a text snapshot (NUL"),
    ("png", file_of(PNG), "binary file, not a text snapshot (PNG image)"),
    ("invalid-utf8", file_of(b"# Policy\n\ncaf\xe9 au lait\n"), "not valid utf-8"),
    ("truncated-utf8", file_of("# Policy\n\n€".encode()[:-1]), "not valid utf-8"),
    ("empty", file_of(b""), "empty snapshot"),
    ("whitespace-only", file_of(b" \n\t\r\n  \r\n\n"), "empty snapshot"),
    ("front-matter-only", file_of(b"---\ncaptured: 2020-06-01\n---\n\n"), "empty snapshot"),
    ("50-mb", fifty_mb, "over the 20 MiB size limit; raise the limit with --max-size"),
]

BAD_POLICY_IDS = [
    ("dotdot", "../x"),
    ("dotdot-inside", "acme/../privacy"),
    ("dotdot-segment", "acme/.."),
    ("leading-slash", "/acme/privacy"),
    ("trailing-slash", "acme/privacy/"),
    ("double-slash", "acme//privacy"),
    ("leading-dash", "-acme"),
    ("option-like", "--output=x"),
    ("space", "acme privacy"),
    ("tab", "acme\tprivacy"),
    ("newline", "acme\nprivacy"),
    ("nul-like-control", "acme\x01privacy"),
    ("escape", "acme\x1b[31m"),
    ("delete-char", "acme\x7f"),
    ("upper-case", "Acme/Privacy"),
    ("non-ascii", "acmé/privacy"),
    ("dot-lock", "acme/x.lock"),
    ("trailing-dot", "acme/privacy."),
    ("hidden-segment", "acme/.git"),
    ("very-long", "x" * 121),
    ("very-long-segments", "/".join(["abc"] * 200)),
]

CASES = [
    # Files and folders.
    pytest.param(Bad(add(), "no such file or directory", make=missing), id="add-missing-file"),
    pytest.param(Bad(("import", "{input}"), "no such file or directory", make=missing), id="import-missing-file"),
    pytest.param(Bad(("import", "{input}"), "no snapshot files in directory", make=folder_without_snapshots), id="import-folder-without-snapshots"),
    pytest.param(Bad(add(), "is a directory, not a snapshot file", make=folder_without_snapshots), id="add-a-folder"),
    pytest.param(Bad(("import", "{input}"), "not a usable policy id", make=badly_named_folder, per_file=True), id="import-badly-named-folder"),
    *(pytest.param(Bad(add(), message, make=make), id=f"add-{name}") for name, make, message in BAD_FILES),
    *(pytest.param(Bad(imp(), message, make=make, per_file=True), id=f"import-{name}") for name, make, message in BAD_FILES),
    pytest.param(Bad(add("--max-size", "100"), "over the 100 bytes size limit", make=file_of(b"x" * 101)), id="add-over-lowered-max-size"),
    pytest.param(Bad(imp("--max-size", "0"), "--max-size"), id="import-max-size-zero"),
    pytest.param(Bad(imp("--max-size", "-5"), "--max-size"), id="import-max-size-negative"),
    pytest.param(Bad(imp("--encoding", "no-such-codec"), "unknown text encoding"), id="import-unknown-encoding"),
    pytest.param(Bad(imp("--encoding", "base64"), "unknown text encoding"), id="import-bytes-codec-as-encoding"),
    # Policy ids: as --policy (add, import), in front matter, and as a command argument.
    *(pytest.param(Bad(add(policy=bad), "policy id"), id=f"add-policy-{name}") for name, bad in BAD_POLICY_IDS),
    *(pytest.param(Bad(imp(policy=bad), "policy id"), id=f"import-policy-{name}") for name, bad in BAD_POLICY_IDS[:6]),
    pytest.param(Bad(("import", "{input}"), "front matter 'policy'", make=file_of(b"---\npolicy: ../x\n---\n# T\n\nText.\n"), per_file=True), id="import-front-matter-policy-dotdot"),
    pytest.param(Bad(("log", "../x"), "invalid policy id"), id="log-policy-dotdot"),
    pytest.param(Bad(("verify", "acme/privacy/"), "invalid policy id"), id="verify-policy-trailing-slash"),
    pytest.param(Bad(("show", "acme privacy"), "invalid policy id"), id="show-policy-space"),
    pytest.param(Bad(("log", "-acme"), "No such option"), id="log-policy-leading-dash"),
    # Version refs: nothing may reach git as an option, a range or a reflog selector.
    pytest.param(Bad(("show", f"{POLICY}@--output={{tmp}}/x"), "invalid version ref"), id="ref-output-option"),
    pytest.param(Bad(("show", f"{POLICY}@-n"), "invalid version ref"), id="ref-dash-n"),
    pytest.param(Bad(("show", f"{POLICY}@HEAD~1..HEAD"), "invalid version ref"), id="ref-range"),
    pytest.param(Bad(("show", f"{POLICY}@$(id)"), "invalid version ref"), id="ref-command-substitution"),
    pytest.param(Bad(("show", f"{POLICY}@@{{-1}}"), "invalid version ref"), id="ref-reflog-selector"),
    pytest.param(Bad(("show", f"{POLICY}@main"), "invalid version ref"), id="ref-branch-name"),
    pytest.param(Bad(("show", f"{POLICY}@0"), "invalid version ref"), id="ref-zero"),
    pytest.param(Bad(("show", f"{POLICY}@3"), "there is no version 3"), id="ref-number-too-big"),
    pytest.param(Bad(("show", f"{POLICY}@2999-01-01"), "in the future"), id="ref-future-date"),
    pytest.param(Bad(("show", f"{POLICY}@2017-02-30"), "no such day"), id="ref-impossible-date"),
    pytest.param(Bad(("show", f"{POLICY}@1999-01-01"), "no version of acme/privacy known to be in force"), id="ref-date-before-first"),
    pytest.param(Bad(("show", POLICY, "--at", "2999-01-01"), "in the future"), id="at-future-date"),
    pytest.param(Bad(("show", POLICY, "--at", "2017-02-30"), "no such day"), id="at-impossible-date"),
    pytest.param(Bad(("show", POLICY, "--at", "HEAD"), "expected YYYY-MM-DD"), id="at-not-a-date"),
    pytest.param(Bad(("show", f"{POLICY}@1", "--at", "2020-06-01"), "not both"), id="ref-and-at"),
    # Capture and effective dates.
    pytest.param(Bad(("add", "{input}", "--policy", POLICY, "--captured", "2999-01-01"), "in the future"), id="captured-future"),
    pytest.param(Bad(("add", "{input}", "--policy", POLICY, "--captured", "2017-02-30"), "invalid --captured"), id="captured-impossible"),
    pytest.param(Bad(("add", "{input}", "--policy", POLICY, "--captured", "2017-04-22T25:00:00Z"), "invalid --captured"), id="captured-hour-25"),
    pytest.param(Bad(("add", "{input}", "--policy", POLICY, "--captured", "$(id)"), "invalid --captured"), id="captured-command-substitution"),
    pytest.param(Bad(add("--effective", "2017-13-01"), "no such day"), id="effective-month-13"),
    pytest.param(Bad(add("--source", "file:///etc/passwd"), "http(s) URL"), id="source-not-http"),
    pytest.param(Bad(imp(), "in the future", make=file_of(BODY.encode(), "2999-01-01.md"), per_file=True), id="import-file-name-date-in-future"),
    pytest.param(Bad(imp(), "front matter 'captured'", make=file_of(b"---\ncaptured: 2017-02-30\n---\n# T\n\nText.\n"), per_file=True), id="import-front-matter-impossible-date"),
    # The store path.
    pytest.param(Bad(imp(), "is a file, not a policydiff store", store=store_is_file), id="store-is-a-file"),
    pytest.param(Bad(("init",), "it is a file", store=store_is_file), id="init-store-is-a-file"),
    pytest.param(Bad(imp(), "no store at", store=store_missing), id="store-missing"),
    pytest.param(Bad(imp(), "not a git repository", store=store_not_git), id="store-not-git"),
    pytest.param(Bad(("init",), "the directory is not empty", store=store_not_git), id="init-in-non-empty-folder"),
    pytest.param(Bad(imp(), "git repository but not a policydiff store", store=store_git_not_store), id="store-git-not-store"),
    pytest.param(Bad(("verify",), "git repository but not a policydiff store", store=store_git_not_store), id="verify-git-not-store"),
    pytest.param(Bad(imp(), "is not a policydiff store", store=store_subfolder), id="store-subfolder"),
    pytest.param(Bad(imp(), "newer than this policydiff supports", store=marker('{"format": 2}\n')), id="store-newer-format"),
    pytest.param(Bad(("log",), "newer than this policydiff supports", store=marker('{"format": 99}\n')), id="log-newer-format"),
    pytest.param(Bad(imp(), "has no format version", store=marker('{"format": "1"}\n')), id="store-format-not-a-number"),
    pytest.param(Bad(imp(), "is unreadable", store=marker("{not json\n")), id="store-marker-garbage"),
    pytest.param(Bad(imp(), "store busy", store=index_locked), id="store-index-locked"),
    pytest.param(Bad(add(), "index.lock", store=index_locked), id="add-store-index-locked"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_cleanly(case: Bad, store: Path, tmp_path: Path) -> None:
    target = case.store(store, tmp_path) if case.store else store
    given = case.make(tmp_path)
    args = [a.replace("{input}", str(given)).replace("{tmp}", str(tmp_path)) for a in case.args]
    before = store_state(target)
    around = sorted(p.name for p in tmp_path.iterdir())

    result = run_cli(["--store", str(target), *args])

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    if case.per_file:
        assert result.stdout.startswith(f"{given}"), result.stdout
        assert ": error: " in result.stdout
        assert case.message in result.stdout
        assert "could not be recorded" in lines[0]
    else:
        assert case.message in lines[0]
        assert not result.stdout
    assert store_state(target) == before
    # Nothing written next to the store either (e.g. by a ref read as --output=...).
    assert sorted(p.name for p in tmp_path.iterdir()) == around


def blocked_opening_a_fifo(pid: int) -> bool:
    """Whether a process sits in open() of a named pipe, waiting for a writer (Linux)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner"
    except OSError:
        return False


def test_named_pipe_is_refused_not_waited_on(store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in" / "acme" / "privacy"
    folder.mkdir(parents=True)
    (folder / "2020-06-01.md").write_text(BODY.replace("safe", "secure"))
    fifo = folder / "2020-07-01.md"
    os.mkfifo(fifo)
    before = store_state(store)
    # Real processes, watched: in-process, a hang would hang the whole test run.
    runs = {
        "add": ["add", str(fifo), "--policy", POLICY],
        "import": ["import", str(tmp_path / "in")],
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "policydiff", "--store", str(store), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in runs.items()
    }
    hung, outputs = [], {}
    try:
        deadline = time.monotonic() + 20
        for name, proc in procs.items():
            while proc.poll() is None:
                if blocked_opening_a_fifo(proc.pid) or time.monotonic() > deadline:
                    hung.append(name)
                    break
                time.sleep(0.02)
    finally:
        for name, proc in procs.items():
            proc.kill()
            outputs[name] = proc.communicate()
    assert not hung, f"blocked opening a named pipe: {hung}"
    assert procs["add"].returncode == 2
    _, err = outputs["add"]
    assert err.startswith("Error: "), err
    assert err.count("\n") == 1
    assert "2020-07-01.md" in err
    # An import may report the pipe (exit 2) or pass over it like other non-snapshots (0),
    # but it records the regular file either way.
    assert procs["import"].returncode in {0, 2}
    assert store_state(store) != before


# --------------------------------------------------------------------------- accepted inputs


def shown(store: Path, ref: str = POLICY) -> bytes:
    result = run_cli(["--store", str(store), "show", ref])
    assert result.exit_code == 0, result.stderr
    return result.stdout_bytes


def stored_blob(store: Path, name: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(store), "cat-file", "blob", f"main:policies/{POLICY}/{name}"],
        check=True,
        capture_output=True,
    ).stdout


TEXT = "# Privacy policy\n\n## 1. Données\n\nWe keep your data “safe” — always.\n"


@pytest.mark.parametrize(
    ("raw", "command"),
    [
        pytest.param(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "add", id="utf16le-add"),
        pytest.param(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "import", id="utf16le-import"),
        pytest.param(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "import", id="utf16be-import"),
        pytest.param(
            codecs.BOM_UTF16_LE + TEXT.replace("\n", "\r\n").encode("utf-16-le"),
            "import",
            id="utf16le-crlf-import",
        ),
        pytest.param(codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), "import", id="utf32le-import"),
        pytest.param(codecs.BOM_UTF8 + TEXT.encode(), "import", id="utf8-bom-import"),
        pytest.param(TEXT.replace("\n", "\r\n").encode(), "import", id="crlf-import"),
        pytest.param(TEXT.replace("\n", "\r\n").encode(), "add", id="crlf-add"),
        pytest.param(TEXT.replace("\n", "\r").encode(), "import", id="cr-import"),
        pytest.param(
            b"# Privacy policy\r\n\r\n## 1. Donn\xc3\xa9es\r\rWe keep your data "
            b"\xe2\x80\x9csafe\xe2\x80\x9d \xe2\x80\x94 always.\n",
            "import",
            id="mixed-line-endings-import",
        ),
    ],
)
def test_other_encodings_and_line_endings_import_as_utf8_lf(
    raw: bytes, command: str, store: Path, tmp_path: Path
) -> None:
    given = file_of(raw, "2022-01-01.md")(tmp_path)
    if command == "add":
        args = ["add", str(given), "--policy", POLICY, "--captured", "2022-01-01"]
    else:
        args = ["import", "--policy", POLICY, str(given)]
    result = run_cli(["--store", str(store), *args])
    assert result.exit_code == 0, result.stderr
    assert f"recorded as {POLICY} version 3" in result.stdout
    assert shown(store) == TEXT.encode("utf-8")
    assert stored_blob(store, "text.md") == TEXT.encode("utf-8")
    # The source is archived byte for byte, whatever its encoding and line endings.
    assert stored_blob(store, "source.md") == raw
    assert run_cli(["--store", str(store), "verify"]).exit_code == 0


@pytest.mark.slow
def test_max_size_raises_and_lowers_the_limit(store: Path, tmp_path: Path) -> None:
    big = file_of(big_text(50 * MIB))(tmp_path)
    refused = run_cli(["--store", str(store), "add", str(big), "--policy", "acme/big"])
    assert refused.exit_code == 2
    assert "over the 20 MiB size limit" in refused.stderr
    # Raised above the file's size, the same file is recorded whole. (Front matter gives the
    # dates, so the 50 MB text is not scanned for an effective date: that keeps this fast.)
    limit = str(64 * MIB)
    accepted = run_cli(
        ["--store", str(store), "add", str(big), "--policy", "acme/big", "--max-size", limit]
    )
    assert accepted.exit_code == 0, accepted.stderr
    text = run_cli(["--store", str(store), "show", "acme/big"]).stdout_bytes
    assert text == big.read_bytes().split(b"---\n", 2)[2]
    big.unlink()  # 50 MB less for every later pytest run to clean up
    # Lowered, it refuses a file the default takes.
    small = file_of(b"# T\n\n" + b"x" * 200, "2020-07-01.md")(tmp_path)
    args = ["--store", str(store), "import", "--policy", POLICY, str(small)]
    over = run_cli([*args, "--max-size", "150"])
    assert over.exit_code == 2
    assert "over the 150 bytes size limit" in over.stdout
    assert run_cli(args).exit_code == 0


# --------------------------------------------------------------------------- read-only stores

PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: what lets root ignore permission bits.
DAC_CAPABILITIES = (1, 2, 3)


def _without_permission_override() -> Callable[[], None] | None:
    """Return a preexec function that makes a root child obey permission bits (None if not root).

    Tests usually run as root in containers, where chmod alone stops nothing. Dropping the
    capabilities that override permission checks from the child's bounding set makes root
    an ordinary owner for the exec'd process; it needs CAP_SETPCAP, so this may be refused.
    """
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for cap in DAC_CAPABILITIES:
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")

    return drop


def run_unprivileged(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``policydiff ARGS`` as a process that permission bits apply to."""
    return subprocess.run(
        [sys.executable, "-m", "policydiff", "--store", str(store), *args],
        capture_output=True,
        text=True,
        preexec_fn=_without_permission_override(),
        check=False,
        timeout=60,
    )


@pytest.fixture
def permission_bits_apply() -> None:
    """Skip when running as root and the override capabilities cannot be dropped."""
    try:
        subprocess.run(
            [sys.executable, "-c", ""], preexec_fn=_without_permission_override(), check=True
        )
    except subprocess.SubprocessError as err:
        pytest.skip(f"running as root, and dropping CAP_DAC_OVERRIDE was refused: {err}")


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Return a function making a path (recursively) read-only; undone after the test."""
    touched: list[Path] = []

    def make(path: Path) -> None:
        touched.append(path)
        for item in [path, *path.rglob("*")]:
            item.chmod(item.stat().st_mode & ~0o222)

    yield make
    for path in touched:
        for item in [path, *path.rglob("*")]:
            item.chmod(item.stat().st_mode | 0o200)


@pytest.mark.parametrize("part", ["whole store", ".git/objects"])
@pytest.mark.usefixtures("permission_bits_apply")
def test_read_only_store_refuses_writes_and_still_reads(
    part: str, store: Path, tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    given = VALID(tmp_path)
    read_only(store if part == "whole store" else store / ".git" / "objects")
    before = store_state(store)

    result = run_unprivileged(store, "import", "--policy", POLICY, str(given))

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert "read-only" in result.stderr
    assert store_state(store) == before
    # Reading a read-only archive (an auditor's copy, a mounted backup) still works.
    verify = run_unprivileged(store, "verify", "--format", "json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["checked_versions"] == 2
    assert run_unprivileged(store, "show", f"{POLICY}@1").stdout == BODY
    # Caches (history index, stats, blame) cannot be written there: reads go without them.
    for read in (["log", POLICY], ["blame", POLICY]):
        done = run_unprivileged(store, *read)
        assert done.returncode == 0, done.stderr
