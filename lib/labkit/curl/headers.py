"""Header blocks as curl writes them (``-D``, ``-i``, ``-I``), and reading them back."""

from __future__ import annotations

import re
from http import HTTPStatus

from ..result import HttpResponse
from .args import CurlOptions

_STATUS_LINE = re.compile(r"^HTTP/(\d(?:\.\d)?) (\d{3})(?: (.*))?$")
_STDOUT_PATHS = {"-", "/dev/stdout"}


def status_line(response: HttpResponse) -> str:
    """The first line curl writes for a response, without the line ending.

    HTTP/2 and 3 carry no reason phrase; curl still writes a space after the code (``HTTP/2 200 ``).
    For HTTP/1.x an empty reason becomes the standard phrase, as real servers send one.
    """
    version = response.http_version
    if version.startswith("1"):
        reason = response.reason or _standard_reason(response.status)
        return f"HTTP/{version} {response.status}" + (f" {reason}" if reason else "")
    return f"HTTP/{version} {response.status} "


def _standard_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def header_lines(response: HttpResponse) -> list[str]:
    """Status line and ``name: value`` lines, no line endings. HTTP/2+ names arrive lower-case."""
    lower = not response.http_version.startswith("1")
    return [status_line(response)] + [f"{k.lower() if lower else k}: {v}" for k, v in response.headers]


def format_block(response: HttpResponse) -> str:
    """One response's header block exactly as curl writes it: CRLF line ends, then an empty line."""
    return "".join(line + "\r\n" for line in header_lines(response)) + "\r\n"


def parse_header_dump(text: str) -> list[HttpResponse]:
    """Responses in a header dump: each block starts with ``HTTP/x[.y] NNN [reason]``.

    CRLF and LF both work. Interim 1xx blocks (100 Continue) are skipped: they are not answers.
    Lines outside a block (trailers, noise) are ignored; folded lines continue the previous header.
    """
    responses, _ = _consume_blocks(text, anchored=False)
    return responses


def split_stdout(opts: CurlOptions, stdout: str) -> tuple[list[HttpResponse], str]:
    """Split stdout into the header blocks curl printed there and what follows them.

    Headers land in stdout with ``-D -`` or with ``-i``/``-I`` when the body goes to stdout. They
    come first (curl does not print the bodies of redirects it follows), so the remainder is the
    final body, plus any ``-w`` output.
    """
    if not headers_in_stdout(opts):
        return [], stdout
    responses, end = _consume_blocks(stdout, anchored=True)
    return responses, stdout[end:]


def headers_in_stdout(opts: CurlOptions) -> bool:
    body_to_stdout = opts.output is None or opts.output in _STDOUT_PATHS
    return opts.dump_header in _STDOUT_PATHS or (opts.headers_in_output and body_to_stdout)


def _consume_blocks(text: str, anchored: bool) -> tuple[list[HttpResponse], int]:
    """Parse header blocks from the start of text; return them and where they end.

    ``anchored``: stop at the first line that is not part of a block (stdout, where the body follows);
    otherwise skip such lines (a dump file).
    """
    responses: list[HttpResponse] = []
    pos, end = 0, 0
    current: tuple[re.Match[str], list[tuple[str, str]]] | None = None
    while pos < len(text):
        newline = text.find("\n", pos)
        stop = len(text) if newline < 0 else newline + 1
        line = text[pos:stop].rstrip("\r\n")
        if current is None:
            match = _STATUS_LINE.match(line)
            if match:
                current = (match, [])
            elif anchored:
                break
        elif not line:
            responses.append(_response(*current))
            current = None
        elif line[0] in " \t" and current[1]:
            name, value = current[1][-1]
            current[1][-1] = (name, f"{value} {line.strip()}")
        else:
            name, _, value = line.partition(":")
            current[1].append((name.strip(), value.strip()))
        pos = stop
        if current is None and (responses or not anchored):
            end = pos
    if current is not None:  # output cut short inside a block: keep what arrived
        responses.append(_response(*current))
        end = len(text)
    return [r for r in responses if not 100 <= r.status < 200], end


def _response(match: re.Match[str], headers: list[tuple[str, str]]) -> HttpResponse:
    return HttpResponse(
        http_version=match.group(1),
        status=int(match.group(2)),
        reason=(match.group(3) or "").strip(),
        headers=tuple(headers),
    )
