"""Showing labkit objects: HTML and clean plain text in Jupyter, colours in a terminal.

Objects that render through ``__rich__`` inherit ``RichDisplay`` so IPython (and papermill's logged
output) gets a text/plain version without escape codes and a text/html version for the notebook.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

WIDTH = 120


def _render(obj: Any, html: bool) -> str:
    console = Console(file=io.StringIO(), record=True, width=WIDTH, force_jupyter=False, color_system="truecolor")
    console.print(obj)
    if html:
        return console.export_html(inline_styles=True, code_format='<pre style="line-height:1.25">{code}</pre>')
    return console.export_text(styles=False)


class RichDisplay:
    """Mixin: IPython shows ``__rich__`` as HTML, with a plain-text twin for logs."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": _render(self, html=False).rstrip("\n"), "text/html": _render(self, html=True)}


def in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def show(obj: Any, console: Console) -> None:
    """Display in a notebook (HTML + clean text), print in a terminal."""
    if in_ipython() and hasattr(obj, "_repr_mimebundle_"):
        from IPython.display import display

        display(obj)
    else:
        console.print(obj)
