"""policydiff: archive every version of a policy in git and show section-level diffs."""

__version__ = "0.1.0"
