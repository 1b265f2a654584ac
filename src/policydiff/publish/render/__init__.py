"""Output formats for compare reports: one module per format, found through ``RENDERERS``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Only for annotations: the CLI imports this module to list the formats at start-up.
    from policydiff.engine.report import CompareReport, View

# format name -> "module:function". Modules load on first use so that the CLI can list
# the formats without importing rich or the HTML templates.
RENDERERS: dict[str, str] = {
    "term": "policydiff.publish.render.terminal:render",
    "markdown": "policydiff.publish.render.markdown:render",
    "html": "policydiff.publish.render.html:render",
    "json": "policydiff.publish.render.json_report:render",
    "unified": "policydiff.publish.render.unified:render",
}


class Renderer(Protocol):
    """Turns a compare report into the complete text of one output format."""

    def __call__(self, report: CompareReport, view: View) -> str:
        """Return the rendered report (ending with a newline unless empty)."""
        ...


def get_renderer(name: str) -> Renderer:
    """Return the renderer registered as ``name`` (a key of ``RENDERERS``)."""
    module_name, _, attr = RENDERERS[name].partition(":")
    renderer: Renderer = getattr(importlib.import_module(module_name), attr)
    return renderer
