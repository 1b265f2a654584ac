"""Result rows: one figure next to its reference, rendered as a markdown table or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

SECONDS = "s"
THROUGHPUT = "versions/s"


@dataclass(slots=True)
class Row:
    """One measured figure and the reference measured in the same run.

    ``ratio`` is value / reference: for times, how many times slower than the reference;
    for throughputs, the fraction of the reference's rate.
    """

    section: str
    name: str
    value: float | None
    reference: str = ""
    ref_value: float | None = None
    unit: str = SECONDS
    target: str = ""
    met: bool | None = None
    peak_rss_mb: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / ref_value, when both were measured."""
        if self.value is None or not self.ref_value:
            return None
        return self.value / self.ref_value

    def as_dict(self) -> dict[str, Any]:
        """Return the row as plain JSON data, ratio included."""
        return {**asdict(self), "ratio": self.ratio}

    @classmethod
    def from_dict(cls, data: dict[str, Any], section: str) -> Row:
        """Build a row from a dict using these field names (``seconds`` stands for ``value``).

        Keys this table does not know are kept in the note rather than dropped.
        """
        known = {f.name for f in fields(cls)}
        values = dict(data)
        for alias, field in (("seconds", "value"), ("ref_seconds", "ref_value")):
            if alias in values and field not in values:
                values[field] = values.pop(alias)
        values.setdefault("section", section)
        values.setdefault("name", "?")
        values.setdefault("value", None)
        extra = {k: values.pop(k) for k in list(values) if k not in known}
        row = cls(**values)
        if extra:
            row.note = "; ".join(filter(None, [row.note, json.dumps(extra, default=str)]))
        return row


def skipped(section: str, name: str, why: str, target: str = "") -> Row:
    """Return the row of a figure that could not be measured yet."""
    return Row(section, name, None, target=target, note=f"skipped: {why}")


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == SECONDS:
        return f"{value * 1000:,.1f} ms" if value < 10 else f"{value:,.1f} s"
    return f"{value:,.0f} {unit}"


def _verdict(row: Row) -> str:
    if row.met is None:
        return row.target
    return f"{row.target}: {'met' if row.met else 'MISSED'}"


def markdown(rows: list[Row]) -> str:
    """Render rows as a markdown table."""
    lines = [
        "| section | measurement | policydiff | reference | reference time | ratio | target | peak RSS | note |",
        "|---|---|---:|---|---:|---:|---|---:|---|",
    ]
    for row in rows:
        ratio = row.ratio
        cells = [
            row.section,
            row.name,
            _figure(row.value, row.unit),
            row.reference or "-",
            _figure(row.ref_value, row.unit),
            "-" if ratio is None else f"{ratio:.2f}x",
            _verdict(row) or "-",
            "-" if row.peak_rss_mb is None else f"{row.peak_rss_mb:,.0f} MiB",
            row.note.replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def as_json(rows: list[Row], meta: dict[str, Any]) -> str:
    """Render rows and run metadata as a JSON document."""
    return json.dumps({"meta": meta, "rows": [row.as_dict() for row in rows]}, indent=2)
