"""policydiff: archive every version of a policy in git and show section-level diffs.

The public Python API (docs/api.md): ``compare_files`` and ``compare_texts`` diff two
texts exactly as ``policydiff compare`` does; ``read_snapshot`` reads a file as
``policydiff add`` does; ``Store`` lists, reads, looks up and records versions. The
names below are loaded on first use, so that ``import policydiff`` (and the CLI's
start-up) stays cheap.
"""

from __future__ import annotations

__version__ = "0.2.0"

# Not typing.TYPE_CHECKING: `policydiff --version` has no use for importing typing (mypy
# treats any name TYPE_CHECKING as true).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from policydiff.api import Store, compare_files, compare_texts, read_snapshot
    from policydiff.core.diff_model import (
        DocumentDiff,
        MovedBlock,
        Op,
        SectionDiff,
        SectionStatus,
        Segment,
        Summary,
    )
    from policydiff.core.errors import PolicydiffError
    from policydiff.core.model import RecordResult, Snapshot, Version
    from policydiff.store.inforce import InForce

# name -> the module it lives in. Everything listed here (and in docs/api.md) is public.
_EXPORTS = {
    "compare_files": "policydiff.api",
    "compare_texts": "policydiff.api",
    "read_snapshot": "policydiff.api",
    "Store": "policydiff.api",
    "DocumentDiff": "policydiff.core.diff_model",
    "MovedBlock": "policydiff.core.diff_model",
    "Op": "policydiff.core.diff_model",
    "SectionDiff": "policydiff.core.diff_model",
    "SectionStatus": "policydiff.core.diff_model",
    "Segment": "policydiff.core.diff_model",
    "Summary": "policydiff.core.diff_model",
    "InForce": "policydiff.store.inforce",
    "RecordResult": "policydiff.core.model",
    "Snapshot": "policydiff.core.model",
    "Version": "policydiff.core.model",
    "PolicydiffError": "policydiff.core.errors",
}

__all__ = [
    "DocumentDiff",
    "InForce",
    "MovedBlock",
    "Op",
    "PolicydiffError",
    "RecordResult",
    "SectionDiff",
    "SectionStatus",
    "Segment",
    "Snapshot",
    "Store",
    "Summary",
    "Version",
    "__version__",
    "compare_files",
    "compare_texts",
    "read_snapshot",
]


def __getattr__(name: str) -> object:
    """Import a public name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'policydiff' has no attribute {name!r}")
    import importlib

    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """List the module's names, the lazy public ones included (for help() and completion)."""
    return sorted({*globals(), *__all__})
