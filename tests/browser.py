"""Test helpers: headless Chromium loading local files, and a parser for the DOM it dumps."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 90
# Headless and offline: no first-run UI, no background traffic, no sandbox (containers).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


def chromium_available() -> bool:
    """Whether the Debian Chromium binary is installed."""
    return CHROMIUM.is_file()


@dataclass
class Run:
    """What one Chromium run printed."""

    stdout: str
    stderr: str


def run_chromium(page: Path, profile: Path, *extra: str) -> Run:
    """Load ``page`` (a local file) in headless Chromium with a fresh profile directory."""
    args = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return Run(done.stdout, done.stderr)


def dump_dom(page: Path, profile: Path) -> Run:
    """Return the DOM Chromium builds for ``page``, serialised (``--dump-dom``)."""
    return run_chromium(page, profile, "--dump-dom")


def screenshot(
    page: Path, target: Path, profile: Path, size: tuple[int, int] = (1200, 1800)
) -> Path:
    """Save a PNG screenshot of ``page`` to ``target`` and return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(page, profile, f"--screenshot={target}", f"--window-size={size[0]},{size[1]}")
    return target


@dataclass
class Element:
    """One element of a parsed DOM: tag, attributes and the text directly inside it."""

    tag: str
    attrs: dict[str, str | None]
    text: list[str] = field(default_factory=list)


class DomParser(HTMLParser):
    """Collect every element and the whole text of a serialised DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.text: list[str] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._open:
            self._open[-1].text.append(data)

    def tags(self, name: str) -> list[Element]:
        """Return the elements called ``name``."""
        return [e for e in self.elements if e.tag == name]


def parse_dom(html: str) -> DomParser:
    """Parse serialised HTML into a ``DomParser``."""
    parser = DomParser()
    parser.feed(html)
    parser.close()
    return parser
