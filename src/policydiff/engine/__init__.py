"""The compare engine: sections, word diffs, alignment, reports, and history over them."""
