"""Reading rendered HTML back as text, to assert on what a notebook shows."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", markup))
