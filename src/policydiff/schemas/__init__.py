"""The JSON Schemas (draft 2020-12) of every ``--format json`` document, shipped as files.

``policydiff.NAME/N`` documents are described by ``NAME.schema.json`` in this package;
``policydiff schema NAME`` prints one. The files are the contract docs/json-schemas.md
explains field by field (a test keeps the two in step).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SUFFIX = ".schema.json"
_PREFIX = "policydiff."


def schema_names() -> list[str]:
    """Return the name of every shipped schema (``compare``, ``log``, ...), sorted."""
    folder = resources.files(__name__)
    return sorted(
        entry.name.removesuffix(SUFFIX) for entry in folder.iterdir() if entry.name.endswith(SUFFIX)
    )


def schema_name(tag: str) -> str:
    """Return the schema file name of a ``schema`` tag: ``policydiff.log/1`` -> ``log``."""
    return tag.removeprefix(_PREFIX).partition("/")[0]


def schema_text(name: str) -> str:
    """Return one schema file's text (``KeyError`` when there is no such schema)."""
    if name not in schema_names():
        raise KeyError(name)
    return resources.files(__name__).joinpath(name + SUFFIX).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """Return one schema, parsed."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema
