"""Turning input files into ``Snapshot`` values: decoding, front matter, Wayback headers, dates."""

from __future__ import annotations

from policydiff.ingest.dates import date_from_filename, parse_date, parse_timestamp
from policydiff.ingest.decode import DEFAULT_MAX_BYTES, decode_bytes, lookup_encoding
from policydiff.ingest.discover import discover_snapshots, is_snapshot_name
from policydiff.ingest.effective import detect_effective_date
from policydiff.ingest.frontmatter import FRONT_MATTER_KEYS, FrontMatter, split_front_matter
from policydiff.ingest.snapshot import HtmlExtractor, policy_from_location, read_snapshot
from policydiff.ingest.wayback import WaybackInfo, parse_wayback_header

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
