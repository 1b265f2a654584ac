"""Packaging basics (licence, metadata, py.typed, POSIX-only) and CLI habits of the ecosystem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers import REPO

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
        "from policydiff.compare import compare_texts\n"
        "from policydiff.diff_model import DocumentDiff\n\n"
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
    assert 'Revealed type is "policydiff.diff_model.DocumentDiff"' in run.stdout
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
