"""curl's command line and output, shared by both backends.

- ``parse_args`` reads a curl command line (``CurlOptions``), raising ``CurlUsageError`` like curl.
- ``render`` prints what curl would print for a simulated outcome (``Transfer``).
- ``build_command``/``to_result`` run real curl in a pod and read its output back.
- ``parse_header_dump``/``split_stdout`` read header blocks curl wrote.
"""

from __future__ import annotations

from .args import CurlOptions, parse_args, parse_args_lenient
from .errors import CurlUnsupported, CurlUsageError
from .headers import format_block, parse_header_dump, split_stdout
from .remote import build_command, to_result
from .render import Exchange, Failure, Rendered, Transfer, render
from .urls import normalize_url, split_url
from .verbose import CURL_VERSION

__all__ = [
    "CURL_VERSION",
    "CurlOptions",
    "CurlUnsupported",
    "CurlUsageError",
    "Exchange",
    "Failure",
    "Rendered",
    "Transfer",
    "build_command",
    "format_block",
    "normalize_url",
    "parse_args",
    "parse_args_lenient",
    "parse_header_dump",
    "render",
    "split_stdout",
    "split_url",
    "to_result",
]
