"""Shell completion of policy ids and version refs from the selected store.

Click calls these while the shell waits, with the command line parsed as far as it goes
(``ctx``). They read the store only when its marker file is there, and answer with no
candidates rather than an error: a completion must never print a traceback into the
user's prompt, nor hang on a half-typed ``--store``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from policydiff.store.gitstore import GitStore

# The refs every policy has besides its version numbers (see refs.parse_ref).
NAMED_REFS = ("latest", "previous")
# store.MARKER_FILE, named here so that a path with no store is told without importing the
# store (and git): a test keeps the two equal.
STORE_MARKER = "policydiff-store.json"


def _item(value: str, *, note: str | None = None, kind: str = "plain") -> CompletionItem:
    """Return a completion candidate (click's completion module is loaded only to complete)."""
    from click.shell_completion import CompletionItem

    return CompletionItem(value, type=kind, help=note)


def _store(ctx: click.Context) -> GitStore | None:
    """Return the store the command line names (--store, $POLICYDIFF_STORE), if there is one."""
    # As parsed, before the group's callback makes it a Path: a str (or None).
    value = ctx.find_root().params.get("store_path")
    if not isinstance(value, str | Path) or not value:
        return None
    path = Path(value)
    if not (path / STORE_MARKER).is_file():
        return None
    from policydiff.store.gitstore import GitStore

    return GitStore(path)


def _policies(store: GitStore | None) -> list[str]:
    """Return the store's policy ids (none without a store)."""
    return store.policies() if store is not None else []


def _refs(store: GitStore, policy: str, prefix: str = "") -> list[CompletionItem]:
    """Return a policy's refs (numbers, latest, previous), each after ``prefix``."""
    if policy not in store.policies():
        return []
    versions = store.versions(policy)
    items = [_item(f"{prefix}{name}", note=name) for name in NAMED_REFS]
    items += [
        _item(
            f"{prefix}{version.number}",
            note=f"captured {version.captured_at.date().isoformat()}",
        )
        for version in versions
    ]
    return items


def _guarded(find: Callable[[], list[CompletionItem]]) -> list[CompletionItem]:
    """Return what ``find`` returns, or nothing if the store cannot be read as asked."""
    # Any failure (a damaged store, git missing, a half-typed path) means no candidates:
    # the shell shows none, as for a word it cannot complete.
    with contextlib.suppress(Exception):
        return find()
    return []


def _starting(items: list[CompletionItem], incomplete: str) -> list[CompletionItem]:
    """Return the items whose value starts with what was typed."""
    return [item for item in items if str(item.value).startswith(incomplete)]


def complete_policy(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Complete a POLICY argument or a --policy option: the store's policy ids."""
    del param
    return _guarded(lambda: _starting([_item(p) for p in _policies(_store(ctx))], incomplete))


def complete_policy_ref(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Complete POLICY[@REF]: policy ids, then after '@' that policy's refs."""
    del param

    def find() -> list[CompletionItem]:
        store = _store(ctx)
        if store is None:
            return []
        if "@" in incomplete:
            policy = incomplete.partition("@")[0]
            return _starting(_refs(store, policy, f"{policy}@"), incomplete)
        return _starting([_item(p) for p in store.policies()], incomplete)

    return _guarded(find)


def complete_compare_args(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Complete [POLICY] [OLD] [NEW]: a policy first, then refs of it (or POLICY@REF), or files."""
    typed = ctx.params.get(param.name or "") or ()
    policy_ref = complete_policy_ref(ctx, param, incomplete) if "@" in incomplete else []
    if policy_ref:
        return policy_ref

    def find() -> list[CompletionItem]:
        store = _store(ctx)
        if store is None or "@" in incomplete:
            return []
        policies = store.policies()
        items: list[CompletionItem] = []
        if not typed:
            items += [_item(p) for p in policies]
        named = typed[0] if typed and typed[0] in policies else None
        if named is None and len(policies) == 1:
            named = policies[0]
        if named is not None:
            items += _refs(store, named)
        return _starting(items, incomplete)

    # Files are candidates too (a name with '@' in it only when no policy matches): the
    # shell completes them itself.
    return [*_guarded(find), _item(incomplete, kind="file")]
