"""Packaging basics (licence, metadata, py.typed, POSIX-only) and CLI habits of the ecosystem."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from helpers import REPO
from policydiff.cli import COMMANDS

SRC = REPO / "src"


def _python_env(**extra: str) -> dict[str, str]:
    """Return an environment for ``python -m policydiff`` from this checkout's sources."""
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR"}}
    env["PYTHONPATH"] = os.pathsep.join([*extra.pop("prepend", "").split(os.pathsep), str(SRC)])
    env.update(extra)
    return env


# --- packaging -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build the sdist and the wheel once with the real backend (offline): (sdist, wheel)."""
    pytest.importorskip("hatchling", reason="hatchling is in the dev extras")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return next(out.glob("*.tar.gz")), next(out.glob("*.whl"))


def test_wheel_ships_the_json_schemas(built: tuple[Path, Path]) -> None:
    """``policydiff schema`` reads them from the installed package, not from the tree."""
    from policydiff.schemas import schema_names

    _, wheel = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {f"policydiff/schemas/{name}.schema.json" for name in schema_names()} <= names


def test_wheel_ships_license_and_py_typed(built: tuple[Path, Path]) -> None:
    _, wheel = built
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert "policydiff/py.typed" in names
    license_name = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    with zipfile.ZipFile(wheel) as archive:
        assert b"MIT License" in archive.read(license_name)
    text = metadata.decode()
    assert "License-Expression: MIT" in text
    assert "Project-URL: Repository, https://github.com/policydiff/policydiff" in text
    for classifier in (
        "Operating System :: POSIX",
        "Typing :: Typed",
        "Development Status :: 4 - Beta",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.13",
    ):
        assert f"Classifier: {classifier}\n" in text
    # PEP 639: a licence expression replaces the deprecated "License ::" classifiers.
    assert "Classifier: License ::" not in text


def test_sdist_ships_license(built: tuple[Path, Path]) -> None:
    sdist, _ = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "src/policydiff/py.typed", "pyproject.toml"} <= names


def test_mypy_strict_uses_the_package_types(tmp_path: Path) -> None:
    """A user's ``mypy --strict`` gets our types (no "missing py.typed marker" error)."""
    example = tmp_path / "example.py"
    example.write_text(
        "from policydiff.engine.compare import compare_texts\n"
        "from policydiff.core.diff_model import DocumentDiff\n\n"
        'diff: DocumentDiff = compare_texts("# A\\n\\nold\\n", "# A\\n\\nnew\\n")\n'
        "reveal_type(diff)\n",
        encoding="utf-8",
    )
    # Run from the temporary folder: the package must be found as installed, not as source.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            "example.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "py.typed" not in run.stdout
    assert 'Revealed type is "policydiff.core.diff_model.DocumentDiff"' in run.stdout
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["policies"],
        ["log", "x"],
        ["config", "list"],
    ],
)
def test_store_without_fcntl_fails_with_one_error_line(tmp_path: Path, args: list[str]) -> None:
    """Where Python has no ``fcntl`` (Windows), store commands say POSIX is needed."""
    hide = tmp_path / "hide"
    hide.mkdir()
    # Imports of a module mapped to None fail as on a system without it.
    (hide / "sitecustomize.py").write_text('import sys\nsys.modules["fcntl"] = None\n')
    run = subprocess.run(
        [sys.executable, "-m", "policydiff", "--store", str(tmp_path / "store"), *args],
        env=_python_env(prepend=str(hide)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("Error: policydiff needs a POSIX system")
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr


def test_two_files_compare_without_fcntl(tmp_path: Path) -> None:
    """Comparing two files needs no store, so it works without ``fcntl`` too."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text('import sys\nsys.modules["fcntl"] = None\n')
    (tmp_path / "a.md").write_text("# T\n\nold\n")
    (tmp_path / "b.md").write_text("# T\n\nnew\n")
    run = subprocess.run(
        [sys.executable, "-m", "policydiff", "compare", "a.md", "b.md", "--format", "json"],
        cwd=tmp_path,
        env=_python_env(prepend=str(hide)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["summary"]["modified"] == 1


def test_contributing_and_security_docs_exist() -> None:
    contributing = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for needle in ('-m "not slow"', "-m browser", "-m corpus", "bench/run.py", "lint-imports"):
        assert needle in contributing
    security = (REPO / "SECURITY.md").read_text(encoding="utf-8")
    assert "docs/reliability.md#trust-model" in security
    assert "## Trust model" in (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")


# --- compare: standard input, /dev/fd/N and process substitution --------------------------

OLD = "# Terms\n\n## Data\n\nWe keep your data.\n"
NEW = "# Terms\n\n## Data\n\nWe sell your data.\n"


def _policydiff() -> list[str]:
    """Return the command line of this venv's installed entry point (or ``python -m``)."""
    script = Path(sys.executable).parent / "policydiff"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "policydiff"]


def _summary(stdout: str) -> dict[str, object]:
    """Return the summary of a ``compare --format json`` report."""
    summary: dict[str, object] = json.loads(stdout)["summary"]
    return summary


@pytest.fixture
def pair(tmp_path: Path) -> Path:
    """A folder holding old.md and new.md, one word apart."""
    (tmp_path / "old.md").write_text(OLD, encoding="utf-8")
    (tmp_path / "new.md").write_text(NEW, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (["old.md", "-"], "stdin"),
        (["-", "new.md"], "stdin"),
    ],
)
def test_compare_reads_dash_as_stdin(pair: Path, args: list[str], label: str) -> None:
    stdin_text = NEW if args[1] == "-" else OLD
    run = subprocess.run(
        [*_policydiff(), "compare", *args, "--format", "json"],
        cwd=pair,
        input=stdin_text,
        env=_python_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["modified"] == 1
    assert label in {report["old"]["label"], report["new"]["label"]}


def test_compare_refuses_two_dashes(pair: Path) -> None:
    from helpers import run_cli

    result = run_cli(["--store", str(pair / "none"), "compare", "-", "-"])
    assert result.exit_code == 2
    assert result.stderr == "Error: '-' (standard input) can be only one of OLD and NEW\n"


def test_compare_reads_process_substitution(pair: Path) -> None:
    """``policydiff compare <(cat old.md) new.md`` in bash: the argument is /dev/fd/63."""
    command = " ".join(f"'{part}'" for part in _policydiff())
    run = subprocess.run(
        ["bash", "-c", f"{command} compare <(cat old.md) <(cat new.md) --format json"],
        cwd=pair,
        env=_python_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["modified"] == 1
    assert report["old"]["label"].startswith("/dev/fd/")


def test_compare_reads_dev_fd_n(pair: Path) -> None:
    """An inherited pipe named as /dev/fd/N is read as a file."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [*_policydiff(), "compare", "old.md", f"/dev/fd/{read_end}", "--format", "json"],
            cwd=pair,
            env=_python_env(),
            pass_fds=(read_end,),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(read_end)
        os.write(write_end, NEW.encode())
        os.close(write_end)
        out, err = proc.communicate(timeout=60)
    finally:
        for fd in (read_end, write_end):
            with contextlib.suppress(OSError):
                os.close(fd)
    assert proc.returncode == 0, err
    assert _summary(out)["modified"] == 1


# --- errors that help --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["compre", "a", "b"], "Error: unknown command 'compre'; did you mean compare?\n"),
        (["lgo"], "Error: unknown command 'lgo'; did you mean log?\n"),
        (["xyzzy"], "Error: unknown command 'xyzzy'; 'policydiff --help' lists them\n"),
        (
            ["log", "--store", "x"],
            (
                "Error: --store is a global option of policydiff, not an option of 'log': "
                "put it before the command (policydiff --store PATH log ...)\n"
            ),
        ),
        (
            ["compare", "--no-color", "a", "b"],
            (
                "Error: --no-color is a global option of policydiff, not an option of "
                "'compare': put it before the command (policydiff --no-color compare ...)\n"
            ),
        ),
        # An option nobody has keeps click's own message.
        (["log", "--colr"], "Error: No such option '--colr'.\n"),
    ],
)
def test_errors_suggest_the_fix(tmp_path: Path, args: list[str], error: str) -> None:
    from helpers import run_cli

    result = run_cli(["--store", str(tmp_path / "none"), *args])
    assert result.exit_code == 2
    assert result.stderr == error


@pytest.mark.parametrize(
    ("asked", "hint"),
    [
        ("tumblr", "; did you mean tumblr/privacy or tumblr/terms-of-service?"),
        ("tumblr/terms-of-servce", "; did you mean tumblr/terms-of-service?"),
        ("privacy", "; did you mean acme/privacy or tumblr/privacy?"),
        ("nothing-like-it", ""),
    ],
)
def test_unknown_policy_suggests_close_ids(tmp_path: Path, asked: str, hint: str) -> None:
    from helpers import run_cli

    store = str(tmp_path / "store")
    assert run_cli(["--store", store, "init"]).exit_code == 0
    snapshot = tmp_path / "2020-01-01.md"
    snapshot.write_text(OLD, encoding="utf-8")
    for policy in ("tumblr/terms-of-service", "tumblr/privacy", "acme/privacy"):
        added = run_cli(["--store", store, "add", str(snapshot), "--policy", policy])
        assert added.exit_code == 0, added.stderr
    result = run_cli(["--store", store, "log", asked])
    assert result.exit_code == 2
    assert result.stderr == f"Error: no policy {asked!r} in the store{hint}\n"


# --- Ctrl-C ----------------------------------------------------------------------------


def _big_policy(seed: int) -> str:
    """Return about 4.5 MB of policy text: 2,000 sections of 4 random-word paragraphs."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(5000)]
    parts = []
    for number in range(2000):
        parts.append(f"## Section {number}\n")
        parts.extend(" ".join(rng.choices(words, k=100)) + "\n" for _ in range(4))
    return "\n".join(parts)


def _wait_for_cpu_seconds(proc: subprocess.Popen[str], seconds: float) -> None:
    """Wait until ``proc`` has used ``seconds`` of CPU: well inside the diff, past start-up.

    CPU time, not wall time, so that a loaded machine does not interrupt the imports
    instead (the compare itself needs several CPU seconds).
    """
    stat_file = Path(f"/proc/{proc.pid}/stat")
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if not stat_file.exists():  # not Linux: fall back on wall time
            time.sleep(2.5)
            return
        fields = stat_file.read_text().rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if used >= seconds:
            return
        time.sleep(0.05)


def test_ctrl_c_exits_130_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(_big_policy(1), encoding="utf-8")
    (tmp_path / "b.md").write_text(_big_policy(2), encoding="utf-8")
    proc = subprocess.Popen(
        [*_policydiff(), "compare", "a.md", "b.md", "--format", "json"],
        cwd=tmp_path,
        env=_python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_cpu_seconds(proc, 1.0)
        assert proc.poll() is None, "compare finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip() == "Error: interrupted"
    assert out == ""


# --- colour ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "colored"),
    [
        ({}, False),
        ({"FORCE_COLOR": "1"}, True),
        ({"CLICOLOR_FORCE": "1"}, True),
        ({"CLICOLOR_FORCE": "0"}, False),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        ({"CLICOLOR_FORCE": "1", "NO_COLOR": "1"}, False),
    ],
)
def test_force_color_on_a_pipe(pair: Path, env: dict[str, str], colored: bool) -> None:
    from helpers import run_cli

    result = run_cli(
        ["compare", str(pair / "old.md"), str(pair / "new.md")],
        env={"FORCE_COLOR": None, "CLICOLOR_FORCE": None, **env},
    )
    assert result.exit_code == 0, result.stderr
    assert ("\x1b[" in result.stdout) is colored


# --- the README's Environment section ----------------------------------------------------

_ENV_READ = re.compile(
    # Reads only: os.environ["X"] = ... sets a variable for a child process.
    r"""(?:environ\.get\(|getenv\(|envvar=)\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|environ\[["']([A-Z][A-Z0-9_]+)["']\](?!\s*=[^=])"""
    r"""|["'](POLICYDIFF_[A-Z0-9_]+)["']"""
)


def test_readme_lists_every_environment_variable() -> None:
    """Each variable the code reads by name is in the README's "Environment" table."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Environment\n")
    section = readme[start : readme.index("\n## ", start + 1)]
    read = {
        next(name for name in match.groups() if name)
        for path in (SRC / "policydiff").rglob("*.py")
        for match in _ENV_READ.finditer(path.read_text(encoding="utf-8"))
    }
    # Besides the names found by the pattern, ones read through libraries we call.
    read |= {"NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "PAGER", "COLUMNS", "SSL_CERT_FILE"}
    assert {"POLICYDIFF_STORE", "POLICYDIFF_LOCK_TIMEOUT", "POLICYDIFF_WAYBACK_URL"} <= read
    missing = sorted(name for name in read if f"`{name}`" not in section)
    assert not missing, f"not in the README's Environment section: {missing}"


# --- help ------------------------------------------------------------------------------

COMMAND_NAMES = sorted(COMMANDS)


def _examples(help_text: str) -> list[str]:
    """Return the command lines of a help text's "Examples:" block."""
    lines = help_text.split("\n  Examples:\n", 1)[1].splitlines()
    examples = []
    for line in lines:
        if not line.startswith("    "):
            break
        examples.append(line.strip())
    return examples


def _parse_example(example: str) -> None:
    """Parse an example's policydiff command line as click would, without running it."""
    import click

    from policydiff.cli import cli

    line = example[example.index("policydiff ") :]
    # A process substitution is a path to the command (/dev/fd/63).
    line = re.sub(r"<\([^)]*\)", "/dev/fd/63", line)
    args = shlex.split(line)[1:]
    with cli.make_context("policydiff", args) as ctx:
        command_args = [*ctx._protected_args, *ctx.args]
        name, command, rest = cli.resolve_command(ctx, command_args)
        assert command is not None, example
        with command.make_context(name, rest, parent=ctx) as sub:
            if isinstance(command, click.Group) and (sub._protected_args or sub.args):
                _, inner, inner_rest = command.resolve_command(
                    sub, [*sub._protected_args, *sub.args]
                )
                assert inner is not None, example
                inner.make_context(inner.name, inner_rest, parent=sub).close()


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_every_command_help_has_examples_that_parse(name: str) -> None:
    from helpers import run_cli

    result = run_cli([name, "--help"])
    assert result.exit_code == 0, result.stderr
    examples = _examples(result.stdout)
    assert examples, result.stdout
    for example in examples:
        assert f"policydiff {name}" in example or "policydiff --store" in example
        _parse_example(example)


def test_top_level_command_list_is_not_cut_off() -> None:
    from helpers import run_cli

    result = run_cli(["--help"])
    assert result.exit_code == 0
    listing = result.stdout.split("\nCommands:\n", 1)[1]
    assert "..." not in listing
    for name in COMMAND_NAMES:
        assert f"\n  {name} " in f"\n{listing}"
    # Whole first sentences, wrapped onto a second line where needed.
    assert "previous, date, hash)." in listing
