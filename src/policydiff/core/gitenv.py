"""The environment of every git process policydiff starts: no repository config runs a program.

policydiff reads repositories it did not set up: a store cloned or unpacked from
elsewhere, and another project's history for ``import-git``. A repository's own
``.git/config`` (and the hooks folder next to it) can make git run programs of its
choosing: hooks, an fsmonitor, a signature checker behind ``log.showSignature``,
clean/smudge filters, diff drivers, credential helpers, ssh and upload-pack commands.

Git has no switch that skips a repository's own config, so the rule is enforced with
command-scope overrides (``GIT_CONFIG_COUNT``), which git reads after every config file:

- a few keys are always forced: no hook runs (``core.hooksPath=/dev/null``), no
  fsmonitor, no signature check from ``log``, no ``ext::`` transport;
- content drivers (filters, diff and merge drivers: ``DRIVER_KEYS``) are switched off
  wherever they are configured, since the repository's attributes choose where they run;
- every other key that names a program (``PROGRAM_KEYS``) and that the repository's
  own config sets (local or worktree scope, includes followed) is set back to a neutral
  value, followed by the values the user's own (system, global, command-line) config
  gives it, so the user's ssh command, credential helper or gpg program still apply;
- replace refs and grafts never change what git reads (``GIT_NO_REPLACE_OBJECTS``,
  ``GIT_GRAFT_FILE=/dev/null``): ``verify`` reports them instead.

A foreign repository (``foreign=True``) is read with the user's system and global config
off too (only ``safe.directory`` is carried over), no transport at all, no prompt, and
literal pathspecs. policydiff reads it with plumbing only (``rev-list``, ``cat-file``,
``rev-parse``, ``config --get``), which never runs textconv, diff drivers or a pager.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

# Cap how much of the pack files git maps at once: a store of 100,000 versions has
# gigabytes of packs, and git's defaults map them whole (measured: 2.2 GB resident for one
# `git log`, 72 MB with these caps, at the same speed).
PACK_LIMITS = (("core.packedGitLimit", "128m"), ("core.packedGitWindowSize", "16m"))

# Forced for every git process, whatever any config says.
ALWAYS = (
    ("core.hooksPath", os.devnull),  # no hook: reference-transaction, post-checkout, ...
    ("core.fsmonitor", "false"),
    ("log.showSignature", "false"),  # log would run gpg.program on signed commits
    ("protocol.ext.allow", "never"),  # ext:: URLs run a shell command
    ("advice.graftFileDeprecated", "false"),  # grafts are ignored and reported by verify
)

# Forced for a foreign repository: it is only read, so it needs no transport (this also
# stops a partial clone from fetching missing objects from wherever its config says).
FOREIGN_ALWAYS = (("protocol.allow", "never"),)

# Keys (as ``git config --list`` prints them: section and name lower case) that name a
# program git may run, with the neutral value that runs none (or git's default program).
PROGRAM_KEYS: tuple[tuple[str, str], ...] = (
    (r"core\.sshcommand", "ssh"),
    (r"core\.askpass", ""),
    (r"core\.pager", "cat"),
    (r"pager\..+", "false"),
    (r"(?:core|sequence)\.editor", ":"),
    (r"core\.alternaterefscommand", "true"),
    # The first core.gitProxy that matches wins, so no later value can undo the
    # repository's: GIT_PROXY_COMMAND (set, even empty) makes git skip them all.
    (r"core\.gitproxy", ""),
    (r"gpg\.program", "gpg"),
    (r"gpg\.openpgp\.program", "gpg"),
    (r"gpg\.x509\.program", "gpgsm"),
    (r"gpg\.ssh\.program", "ssh-keygen"),
    (r"gpg\.ssh\.defaultkeycommand", ""),
    (r"gpg\..+\.program", "false"),
    (r"credential\.(?:.+\.)?helper", ""),  # an empty value clears the helper list
    # Git keeps the first of these, so overrides cannot undo them: the commands that
    # reach a remote pass the value of ``override()`` as --upload-pack/--receive-pack.
    (r"remote\..+\.uploadpack", "git-upload-pack"),
    (r"remote\..+\.receivepack", "git-receive-pack"),
    (r"submodule\..+\.update", "none"),
)
# Content drivers: the repository's attributes pick which one runs on which file, so they
# are switched off whoever configured them (the user's git-lfs filter included). policydiff
# writes and reads the bytes it records, never a filtered or converted form.
DRIVER_KEYS: tuple[tuple[str, str], ...] = (
    (r"diff\.external", ""),
    (r"diff\..+\.(?:command|textconv)", ""),
    (r"merge\..+\.driver", ""),
    (r"filter\..+\.(?:clean|smudge|process)", ""),  # an empty filter is no filter
    (r"filter\..+\.required", "false"),
)
# Only for a foreign repository: which transports are allowed (none).
FOREIGN_KEYS: tuple[tuple[str, str], ...] = ((r"protocol\.(?:.+\.)?allow", "never"),)

# Scopes whose config is the user's own; "local" and "worktree" belong to the repository.
TRUSTED_SCOPES = frozenset({"system", "global", "command"})


def _user_overrides() -> list[tuple[str, str]]:
    """Return the config overrides the user's own environment passes (kept, and first)."""
    try:
        count = int(os.environ.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        return []
    pairs = []
    for i in range(max(count, 0)):
        key = os.environ.get(f"GIT_CONFIG_KEY_{i}")
        if key is None:
            return []  # git refuses such an environment anyway
        pairs.append((key, os.environ.get(f"GIT_CONFIG_VALUE_{i}", "")))
    return pairs


def _overlay(pairs: list[tuple[str, str]], extra: dict[str, str]) -> dict[str, str]:
    """Return the variables that pass ``pairs`` as command-scope config, plus ``extra``."""
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for i, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    env.update(extra)
    return env


def static_environment() -> dict[str, str]:
    """Return the part of a store's git environment that needs no look at its config."""
    return _overlay(
        [*_user_overrides(), *PACK_LIMITS, *ALWAYS],
        {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_GRAFT_FILE": os.devnull},
    )


def _config_entries(repo: Path, env: dict[str, str]) -> list[tuple[str, str, str]]:
    """Return (scope, key, value) of every config entry git sees in ``repo`` under ``env``."""
    try:
        done = subprocess.run(
            ["git", "config", "--list", "--show-scope", "-z"],
            cwd=repo,
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )
    except OSError:
        return []  # the command that follows fails the same way, and says so
    entries = []
    fields = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    for scope, item in zip(fields[::2], fields[1::2], strict=False):
        key, _, value = item.partition("\n")
        entries.append((scope, key, value))
    return entries


def _neutral(key: str, table: tuple[tuple[str, str], ...]) -> str | None:
    """Return the value that makes ``key`` run nothing, or None if ``table`` does not name it."""
    for pattern, value in table:
        if re.fullmatch(pattern, key):
            return value
    return None


def git_environment(repo: Path, *, foreign: bool = False) -> dict[str, str]:
    """Return the variables (to add to ``os.environ``) for every git process on ``repo``.

    Reads the repository's config once (``git config --list --show-scope``) to find the
    program keys its own config sets; raises nothing (a broken repository makes the git
    command that follows fail with git's own message).
    """
    extra = {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_GRAFT_FILE": os.devnull}
    pairs = [*_user_overrides(), *PACK_LIMITS, *ALWAYS]
    if foreign:
        # Carry over only the user's safe.directory: git honours it from the user's own
        # config alone, and a repository owned by someone else needs it to be read at all.
        trusted_dirs = [
            ("safe.directory", value)
            for scope, key, value in _config_entries(repo, _overlay(pairs, {}))
            if key == "safe.directory" and scope in TRUSTED_SCOPES
        ]
        pairs += [*FOREIGN_ALWAYS, *trusted_dirs]
        extra |= {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_LITERAL_PATHSPECS": "1",
        }
    entries = _config_entries(repo, _overlay(pairs, extra))
    forced = {key.lower() for key, _ in ALWAYS + (FOREIGN_ALWAYS if foreign else ())}
    programs = PROGRAM_KEYS + (FOREIGN_KEYS if foreign else ())
    drivers: dict[str, str] = {}
    hostile: dict[str, str] = {}
    for scope, key, _ in entries:
        if key.lower() in forced:
            continue
        driver = _neutral(key, DRIVER_KEYS)
        if driver is not None:
            drivers.setdefault(key, driver)
        elif scope not in TRUSTED_SCOPES and (neutral := _neutral(key, programs)) is not None:
            hostile.setdefault(key, neutral)
    pairs += drivers.items()
    if hostile.pop("core.gitproxy", None) is not None:
        extra["GIT_PROXY_COMMAND"] = os.environ.get("GIT_PROXY_COMMAND", "")
    for key, neutral in hostile.items():
        # The neutral value first, then the user's own values: last wins for a single
        # value, and for a list (credential.helper) the empty value clears what came before.
        pairs.append((key, neutral))
        pairs += [(k, v) for scope, k, v in entries if k == key and scope in TRUSTED_SCOPES]
    return _overlay(pairs, extra)


def override(env: dict[str, str], key: str) -> str | None:
    """Return the value ``env`` (from ``git_environment``) sets last for ``key``, if any."""
    found = None
    for i in range(int(env.get("GIT_CONFIG_COUNT", "0"))):
        if env.get(f"GIT_CONFIG_KEY_{i}") == key:
            found = env.get(f"GIT_CONFIG_VALUE_{i}")
    return found
