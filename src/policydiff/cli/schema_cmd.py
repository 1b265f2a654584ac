"""The ``schema`` command: print the JSON Schema of a ``--format json`` document, or list them."""

from __future__ import annotations

import click

from policydiff.cli.common import write_stdout
from policydiff.core.errors import UsageError


@click.command("schema")
@click.argument("name", required=False)
def schema_cmd(name: str | None) -> None:
    """Print the JSON Schema of a --format json document; with no NAME, list the names.

    NAME is a command's name as in the document's "schema" field (compare, log,
    config-show, ...); the field's whole value (policydiff.compare/1) works too. The
    schemas follow JSON Schema draft 2020-12 and ship in the package.
    """
    from policydiff.schemas import load_schema, schema_name, schema_names, schema_text

    names = schema_names()
    if name is None:
        width = max(len(found) for found in names)
        for found in names:
            tag = load_schema(found)["properties"]["schema"]["const"]
            click.echo(f"{found:<{width}}  {tag}")
        return
    wanted = schema_name(name.strip())
    if wanted not in names:
        import difflib  # only on a miss

        close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "'policydiff schema' lists them"
        raise UsageError(f"no JSON schema named {name!r}; {hint}")
    write_stdout(schema_text(wanted))
