"""The one-line help of each command, so ``policydiff --help`` need not import them."""

from __future__ import annotations

# name -> the first sentence of the command's help, as click shortens it for the command
# list. tests/test_perf_imports.py checks each against the command's own docstring.
SHORT_HELP: dict[str, str] = {
    "add": "Record one snapshot FILE with explicit metadata.",
    "announce": "Draft a notice of what changed in a policy, to edit and send.",
    "blame": "Show since which version each paragraph of a version has stood unchanged.",
    "capture": "Fetch URL now and record it as a new version of the policy if its text changed.",
    "changelog": "Write POLICY's changelog: each version's changed sections, newest first.",
    "compare": "Show what changed between two versions of a policy, or between two files.",
    "config": "Read and change the store's settings; with no command, show each and its source.",
    "feed": "Write an Atom feed of POLICY's substantive versions, newest first.",
    "git-diff-driver": (
        "Show policydiff's section diff of a file when git diffs it (a git diff driver)."
    ),
    "history": "Show every version in which one section of POLICY changed, with its word diff.",
    "import": "Import snapshot files and directories (recursively), oldest capture first.",
    "import-git": "Import every version of one file from another git repository's history.",
    "init": "Create a new store at PATH (default: the --store path).",
    "log": "List the versions of POLICY, oldest first, with what each changed.",
    "policies": "List the policies in the store with version counts and date ranges.",
    "reextract": (
        "Extract the text again from each version's stored HTML or PDF source, with today's rules."
    ),
    "schema": "Print the JSON Schema of a --format json document; with no NAME, list the names.",
    "search": (
        "Find when PHRASE first appeared in each policy, when it left or came "
        "back, and if it stands."
    ),
    "show": "Print a version's text exactly as recorded (REF: N, latest, previous, date, hash).",
    "site": "Write a static HTML site of the store to OUTDIR: timelines, texts, redlines, blame.",
    "sync": (
        "Share the store through a git remote: pull others' versions, merge by date, push ours."
    ),
    "track": "Capture every policy with a URL in policydiff.toml (or the POLICYs named).",
    "verify": (
        "Recompute every hash and check the archive's history; exit 2 if anything was altered."
    ),
    "wayback": "Backfill the policy from the Wayback Machine's captures of URL, oldest first.",
}
