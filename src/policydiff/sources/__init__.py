"""Where snapshots come from: files, pages, PDFs, the Wayback Machine, git, declarations."""
