"""Result objects read well in a terminal or ``python -i``: their repr is the readable text, not a
dump of fields or ``<... object at 0x...>`` (the README's "Using labkit" snippet relies on it)."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

import labkit
from labkit.lab import Lab

BARE = re.compile(r"object at 0x|^[A-Z][A-Za-z]+\(\w+=")


@pytest.fixture
def lab() -> Lab:
    lab = labkit.connect(backend="sim", lab="test", cleanup_on_error=False, console=Console(quiet=True))
    lab.deploy_client()
    return lab


def test_curl_result_explanation_checks_and_tables_have_readable_reprs(lab: Lab) -> None:
    r = lab.curl("http://httpbin.org/headers", "-sS")
    check = lab.verify_curl("http://httpbin.org/headers", "-sS", status=200)
    for obj in (r, r.explain(), check, lab.report()):
        text = repr(obj)
        assert text.strip() and not BARE.search(text), text
    assert "httpbin.org" in repr(r.explain())
