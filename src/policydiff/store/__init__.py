"""The git-backed store of policy versions: write, read, verify, sync, what is in force."""
