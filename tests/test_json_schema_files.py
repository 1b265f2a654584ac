"""The shipped JSON Schemas: complete, strict, printed by ``policydiff schema``, in the docs.

Every JSON output of every test is validated by tests/json_schema_check.py; this file
checks the schemas themselves, produces the documents other tests do not, and keeps
docs/json-schemas.md in step with the files.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from helpers import REPO, SEED, run_cli
from json_schema_check import SchemaViolationError, check_document, check_output
from policydiff.schemas import load_schema, schema_name, schema_names, schema_text

SRC = REPO / "src" / "policydiff"
DOC = REPO / "docs" / "json-schemas.md"
TAG = re.compile(r"policydiff\.([a-z][a-z-]*)/(\d+)")
REFERENCE_START = "## Field reference (generated from the schema files)"


def emitted_tags() -> set[str]:
    """Every ``policydiff.NAME/N`` string the source code writes into a document."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(match.group(0) for match in TAG.finditer(text))
    return found


def test_every_emitted_schema_has_a_valid_file_and_every_file_is_emitted() -> None:
    tags = emitted_tags()
    assert len(tags) >= 20
    names = schema_names()
    assert sorted({TAG.fullmatch(tag).group(1) for tag in tags}) == names  # type: ignore[union-attr]
    for name in names:
        schema = load_schema(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["schema"]["const"] in tags
        assert schema["additionalProperties"] is False
        assert "schema" in schema["required"]


def test_shared_definitions_are_the_same_in_every_file() -> None:
    """A version, a section or a time means one thing whichever document holds it."""
    seen: dict[str, tuple[str, Any]] = {}
    for name in schema_names():
        for key, value in load_schema(name).get("$defs", {}).items():
            first = seen.setdefault(key, (name, value))
            assert value == first[1], f"$defs/{key} differs between {first[0]} and {name}"


def walk_objects(node: Any, defs: dict[str, Any], seen: frozenset[str] = frozenset()) -> list[Any]:
    """Every object schema reachable from ``node`` (following $ref once per path)."""
    found: list[Any] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rpartition("/")[2]
            if name not in seen:
                found += walk_objects(defs[name], defs, seen | {name})
        if "properties" in node:
            found.append(node)
        for key, value in node.items():
            if key != "$defs":
                found += walk_objects(value, defs, seen)
    elif isinstance(node, list):
        for value in node:
            found += walk_objects(value, defs, seen)
    return found


def test_every_object_is_closed_and_requires_its_fixed_keys() -> None:
    """additionalProperties false everywhere: a new key must be added to the schema too."""
    for name in schema_names():
        schema = load_schema(name)
        for node in walk_objects(schema, schema.get("$defs", {})):
            assert node.get("additionalProperties") is False, (name, sorted(node["properties"]))
            assert set(node["required"]) <= set(node["properties"]), name


# --------------------------------------------------------------------------- strictness


def compare_document(tmp_path: Path) -> dict[str, Any]:
    old = tmp_path / "old.md"
    old.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    new = tmp_path / "new.md"
    new.write_text(
        SEED.read_text(encoding="utf-8").replace("may keep", "will keep", 1), encoding="utf-8"
    )
    result = run_cli(["compare", str(old), str(new), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(bogus=1), "Additional properties"),
        (lambda d: d["summary"].pop("added"), "'added' is a required property"),
        (lambda d: d["summary"].update(added="1"), "is not of type 'integer'"),
        (lambda d: d["old"].update(sha256="XYZ"), "does not match"),
        (lambda d: d["sections"][0].update(status="changed"), "is not one of"),
        (lambda d: d["sections"][0]["diff"][0].update(cosmetic=False), "was expected"),
        (lambda d: d.update(schema="policydiff.compare/2"), "was expected"),
    ],
)
def test_the_validator_rejects_a_document_that_drifts(
    tmp_path: Path, change: Any, where: str
) -> None:
    document = compare_document(tmp_path)
    assert check_document(document) == "compare"
    broken = copy.deepcopy(document)
    change(broken)
    with pytest.raises(SchemaViolationError, match=where):
        check_document(broken)


def test_a_schema_without_a_file_fails() -> None:
    with pytest.raises(KeyError):
        check_output('{"schema": "policydiff.nosuch/1"}')
    assert check_output('{"schema": "other/1"}') is None
    assert check_output("not json") is None


# --------------------------------------------------------------------------- documents


def test_documents_of_the_store_commands_validate(tmp_path: Path) -> None:
    """Produce the documents the other tests do not (import, add, policies, sync...)."""
    store = tmp_path / "store"
    remote = tmp_path / "remote.git"
    env = {"POLICYDIFF_STORE": str(store)}

    def json_of(*args: str) -> str | None:
        """Run policydiff (the hook validates what it prints); return the schema name."""
        result = run_cli(list(args), env=env)
        assert result.exit_code == 0, result.stderr
        if not result.stdout.startswith("{"):
            return None
        return schema_name(json.loads(result.stdout)["schema"])

    assert run_cli(["init"], env=env).exit_code == 0
    snapshots = tmp_path / "in" / "acme" / "privacy"
    snapshots.mkdir(parents=True)
    body = SEED.read_text(encoding="utf-8")
    (snapshots / "2017-04-22.md").write_text(body, encoding="utf-8")
    (snapshots / "2018-01-02.md").write_text(
        body.replace("may keep", "will keep", 1), encoding="utf-8"
    )
    later = tmp_path / "2019-03-04.md"
    later.write_text(body.replace("may keep", "shall keep", 1), encoding="utf-8")
    produced = {
        json_of("import", str(tmp_path / "in"), "--format", "json"),
        json_of("add", str(later), "--policy", "acme/privacy", "--format", "json"),
        json_of("policies", "--format", "json"),
        json_of("log", "acme/privacy", "--format", "json"),
        json_of("show", "acme/privacy", "--at", "2018-06-01", "--format", "json"),
        json_of("verify", "--format", "json"),
        json_of("compare", "acme/privacy", "1", "3", "--format", "json"),
        json_of("blame", "acme/privacy", "--format", "json"),
        json_of("history", "acme/privacy", "--section", "collect", "--format", "json"),
        json_of("changelog", "acme/privacy", "--format", "json"),
        json_of("announce", "acme/privacy", "--format", "json"),
        json_of("search", "keep a record", "--format", "json"),
        json_of("config", "set", "announce.to", "list@example.org"),
        json_of("config", "list", "--format", "json"),
        json_of("config", "show", "--format", "json"),
    }
    import subprocess

    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "-C", str(store), "remote", "add", "origin", str(remote)], check=True)
    produced.add(json_of("sync", "--format", "json"))
    assert produced - {None} == {
        "import", "policies", "log", "show", "verify", "compare", "blame", "history",
        "changelog", "announce", "search", "config", "config-show", "sync",
    }  # fmt: skip


# --------------------------------------------------------------------------- the command


def test_schema_lists_every_name() -> None:
    result = run_cli(["schema"])
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == schema_names()
    assert all(row[1] == f"policydiff.{row[0]}/1" for row in rows)


@pytest.mark.parametrize("name", ["log", "policydiff.log/1"])
def test_schema_prints_the_shipped_file(name: str) -> None:
    result = run_cli(["schema", name])
    assert result.exit_code == 0
    assert result.stdout == schema_text("log")
    assert json.loads(result.stdout)["properties"]["schema"]["const"] == "policydiff.log/1"


@pytest.mark.parametrize(
    ("name", "hint"),
    [("compre", "did you mean compare?"), ("zzz", "'policydiff schema' lists them")],
)
def test_unknown_schema_is_one_error_line(name: str, hint: str) -> None:
    result = run_cli(["schema", name])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"Error: no JSON schema named {name!r}; {hint}\n"


# --------------------------------------------------------------------------- the docs


def schema_type(node: dict[str, Any]) -> str:
    """Describe a schema node's type in a few words."""
    if "$ref" in node:
        return f"`{node['$ref'].rpartition('/')[2]}`"
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{value}`" for value in node["enum"])
    if "anyOf" in node:
        return " or ".join(schema_type(option) for option in node["anyOf"])
    if "oneOf" in node:
        return "object"
    kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
    words = []
    for kind in kinds:
        if kind == "array":
            words.append("array of " + schema_type(node["items"]))
        else:
            words.append(kind)
    return " or ".join(words)


def field_rows(
    node: dict[str, Any], prefix: str = "", *, document: bool = False
) -> list[tuple[str, str, bool, str]]:
    """Rows (field, type, required, description) of an object schema, nested fields dotted."""
    rows: list[tuple[str, str, bool, str]] = []
    variants = node.get("oneOf", [node])
    for variant in variants:
        for key, value in variant.get("properties", {}).items():
            if document and key == "schema":
                continue  # the section's heading names it
            path = f"{prefix}{key}"
            required = all(key in v.get("required", []) for v in variants)
            row = (path, schema_type(value), required, value.get("description", ""))
            if row not in rows:
                rows.append(row)
            inner = value.get("items", value) if value.get("type") == "array" else value
            suffix = "[]." if value.get("type") == "array" else "."
            if "properties" in inner or "oneOf" in inner:
                rows += field_rows(inner, path + suffix)
    return rows


def scalar(node: dict[str, Any]) -> str:
    """Describe a shared scalar or list definition with its constraints."""
    words = [schema_type(node)]
    if "pattern" in node:
        words.append(f"matching `{node['pattern']}`")
    if "minimum" in node:
        words.append(f"at least {node['minimum']}")
    if "minLength" in node:
        words.append("not empty")
    return ", ".join(words)


def table(rows: list[tuple[str, str, bool, str]]) -> list[str]:
    lines = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for path, kind, required, meaning in rows:
        cell = meaning.replace("|", "\\|")
        lines.append(f"| `{path}` | {kind} | {'yes' if required else 'no'} | {cell} |")
    return lines


def reference_markdown() -> str:
    """The generated end of docs/json-schemas.md: every field of every schema."""
    lines = [
        REFERENCE_START,
        "",
        "Every field of every document, as the JSON Schema files shipped in the package",
        "(`src/policydiff/schemas/`, printed by `policydiff schema NAME`) define it. This",
        "section is generated from those files (`pytest tests/test_json_schema_files.py",
        "--update-golden` rewrites it); the sections above explain the fields. A backticked",
        "type names an object defined under *Shared objects*; `required: no` marks a key",
        "that is absent when it does not apply.",
        "",
    ]
    shared: dict[str, Any] = {}
    for name in schema_names():
        schema = load_schema(name)
        shared.update(schema.get("$defs", {}))
        lines += [f"### `{schema['properties']['schema']['const']}`", ""]
        lines += [schema["description"], ""]
        lines += [*table(field_rows(schema, document=True)), ""]
    lines += ["### Shared objects", ""]
    for key in sorted(shared):
        node = shared[key]
        if "properties" in node:
            lines += [f"#### `{key}`", ""]
            if node.get("description"):
                lines += [node["description"], ""]
            lines += [*table(field_rows(node)), ""]
        else:
            lines += [f"#### `{key}`", "", f"{scalar(node)}: {node.get('description', '')}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def test_the_doc_ends_with_the_reference_generated_from_the_schemas(
    update_golden: bool,
) -> None:
    text = DOC.read_text(encoding="utf-8")
    head = text.split(REFERENCE_START, 1)[0]
    expected = head.rstrip("\n") + "\n\n" + reference_markdown()
    if update_golden:
        DOC.write_text(expected, encoding="utf-8")
    assert text == expected, "docs/json-schemas.md is stale: run with --update-golden"


# Hand-written sections of the doc and the schemas whose fields their tables name.
DOC_SECTIONS = {
    "## compare": "compare",
    "## blame": "blame",
    "## history": "history",
    "## log: change stats": "log",
    "## show: the version in force on a date": "show",
    "## search": "search",
    "## config show": "config-show",
    "## track": "track",
}
FIELD_CELL = re.compile(r"^\| ((?:`[^`]+`(?:, )?)+) \|", re.MULTILINE)


def all_keys(name: str) -> set[str]:
    schema = load_schema(name)
    keys: set[str] = set()
    for node in walk_objects(schema, schema.get("$defs", {})):
        keys.update(node["properties"])
        for variant in node.get("oneOf", []):
            keys.update(variant.get("properties", {}))
    return keys


def test_every_field_the_hand_written_doc_names_is_in_its_schema() -> None:
    text = DOC.read_text(encoding="utf-8").split(REFERENCE_START, 1)[0]
    starts = sorted((text.index(heading), heading) for heading in DOC_SECTIONS)
    checked = 0
    for number, (start, heading) in enumerate(starts):
        end = starts[number + 1][0] if number + 1 < len(starts) else len(text)
        keys = all_keys(DOC_SECTIONS[heading])
        for cell in FIELD_CELL.findall(text[start:end]):
            for field in re.findall(r"`([^`]+)`", cell):
                if field == "field":
                    continue
                assert field.rpartition(".")[2] in keys, f"{heading}: {field}"
                checked += 1
    assert checked > 100
