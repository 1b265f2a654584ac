"""Shared fixtures: real stores in temporary directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from json_schema_check import VALIDATED, install
from policydiff.store.gitstore import GitStore, init_store

# Every JSON document a test makes policydiff print is checked against its schema.
install()


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Return the path of a new, empty store."""
    return init_store(tmp_path / "store")


@pytest.fixture
def store(store_dir: Path) -> GitStore:
    """Return a new, empty store opened for use."""
    return GitStore(store_dir)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--update-golden``: rewrite expected output files instead of comparing with them."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite the golden files under tests/golden/ from the current output.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether the run was asked to rewrite golden files."""
    return bool(request.config.getoption("--update-golden"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many JSON outputs were checked against their schemas."""
    if VALIDATED:
        names = ", ".join(f"{name} {count}" for name, count in sorted(VALIDATED.items()))
        terminalreporter.write_line(
            f"JSON outputs validated against their schemas: {sum(VALIDATED.values())} ({names})"
        )
