"""Turning input files into ``Snapshot`` values: decoding, front matter, Wayback headers, dates."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policydiff.sources.ingest.dates import date_from_filename, parse_date, parse_timestamp
    from policydiff.sources.ingest.decode import DEFAULT_MAX_BYTES, decode_bytes, lookup_encoding
    from policydiff.sources.ingest.discover import discover_snapshots, is_snapshot_name
    from policydiff.sources.ingest.effective import detect_effective_date
    from policydiff.sources.ingest.frontmatter import (
        FRONT_MATTER_KEYS,
        FrontMatter,
        split_front_matter,
    )
    from policydiff.sources.ingest.snapshot import (
        HtmlExtractor,
        policy_from_location,
        read_snapshot,
    )
    from policydiff.sources.ingest.wayback import WaybackInfo, parse_wayback_header

# Each name is imported from its module on first use: a compare of two files reads
# only decode, front matter and Wayback headers, not snapshots, discovery or PDFs.
_HOMES = {
    "date_from_filename": "dates",
    "parse_date": "dates",
    "parse_timestamp": "dates",
    "DEFAULT_MAX_BYTES": "decode",
    "decode_bytes": "decode",
    "lookup_encoding": "decode",
    "discover_snapshots": "discover",
    "is_snapshot_name": "discover",
    "detect_effective_date": "effective",
    "FRONT_MATTER_KEYS": "frontmatter",
    "FrontMatter": "frontmatter",
    "split_front_matter": "frontmatter",
    "HtmlExtractor": "snapshot",
    "policy_from_location": "snapshot",
    "read_snapshot": "snapshot",
    "WaybackInfo": "wayback",
    "parse_wayback_header": "wayback",
}

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FRONT_MATTER_KEYS",
    "FrontMatter",
    "HtmlExtractor",
    "WaybackInfo",
    "date_from_filename",
    "decode_bytes",
    "detect_effective_date",
    "discover_snapshots",
    "is_snapshot_name",
    "lookup_encoding",
    "parse_date",
    "parse_timestamp",
    "parse_wayback_header",
    "policy_from_location",
    "read_snapshot",
    "split_front_matter",
]


def __getattr__(name: str) -> object:
    """Import an exported name from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
