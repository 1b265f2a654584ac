"""Validate every JSON document the tests make policydiff print against its shipped schema.

Installed by conftest.py for the whole run: the output of every in-process CLI run
(click's ``CliRunner``, which ``helpers.run_cli`` uses too) and of every
``subprocess.run`` of policydiff is checked when it is a JSON object with a
``"schema": "policydiff.NAME/N"`` field. A document whose schema has no file, or that
does not validate, fails the test that produced it. Existing tests need no change.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from typing import Any

from click.testing import CliRunner
from jsonschema import Draft202012Validator

from policydiff.schemas import load_schema, schema_name

# What was validated in this run, per schema name (reported at the end of the session).
VALIDATED: Counter[str] = Counter()
_VALIDATORS: dict[str, Draft202012Validator] = {}


class SchemaViolationError(AssertionError):
    """A JSON output did not match its schema."""


def _validator(name: str) -> Draft202012Validator:
    """Return the (cached) validator for one schema name."""
    found = _VALIDATORS.get(name)
    if found is None:
        schema = load_schema(name)
        found = Draft202012Validator(schema)
        _VALIDATORS[name] = found
    return found


def check_document(document: object) -> str | None:
    """Validate one parsed document; return its schema name, or None if it names none."""
    if not isinstance(document, dict):
        return None
    tag = document.get("schema")
    if not isinstance(tag, str) or not tag.startswith("policydiff."):
        return None
    name = schema_name(tag)
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        shown = "\n".join(
            f"  at /{'/'.join(map(str, error.path))}: {error.message[:300]}"
            for error in errors[:10]
        )
        raise SchemaViolationError(f"{tag} output does not match {name}.schema.json:\n{shown}")
    VALIDATED[name] += 1
    return name


def check_output(output: str | bytes | None) -> str | None:
    """Validate ``output`` if it is one policydiff JSON document; return its schema name."""
    if output is None:
        return None
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    if not text.lstrip().startswith("{"):
        return None  # not JSON: the cheap common case
    try:
        document: Any = json.loads(text)
    except ValueError:
        return None  # a JSON-looking text that is not one document (or a cut-off one)
    return check_document(document)


def _runs_policydiff(args: object) -> bool:
    """Whether a subprocess argument list runs policydiff (the script, -m or main())."""
    if not isinstance(args, list | tuple):
        return False
    words = [str(arg) for arg in args]
    return any(
        word == "policydiff" or word.endswith("/policydiff") or "policydiff.cli import" in word
        for word in words
    )


def install() -> None:
    """Patch ``CliRunner.isolation`` and ``subprocess.run`` to check what they capture."""
    isolation = CliRunner.isolation

    @contextlib.contextmanager
    def checked_isolation(self: CliRunner, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with isolation(self, *args, **kwargs) as streams:
            yield streams
        check_output(streams[0].getvalue())

    CliRunner.isolation = checked_isolation  # type: ignore[method-assign]

    run = subprocess.run

    def checked_run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        done = run(*args, **kwargs)
        if _runs_policydiff(args[0] if args else kwargs.get("args")):
            check_output(done.stdout)
        return done

    subprocess.run = checked_run  # type: ignore[assignment]
