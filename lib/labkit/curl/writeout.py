"""``-w/--write-out``: expand it like curl, or recognise its output at the end of stdout."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..result import HttpResponse

_URL_PARTS = ("fragment", "host", "options", "password", "path", "port", "query", "scheme", "user", "zoneid")


def _words(text: str) -> list[str]:
    return text.split()


#: Every variable curl 8 knows. Ones labkit cannot know print as curl prints an unset value.
VARIABLES = frozenset(
    _words(
        "certs conn_id content_type errormsg exitcode filename_effective ftp_entry_path header_json "
        "http_code http_connect http_version json local_ip local_port method num_certs num_connects "
        "num_headers num_redirects num_retries onerror proxy_ssl_verify_result proxy_used redirect_url "
        "referer remote_ip remote_port response_code scheme size_delivered size_download size_header "
        "size_request size_upload speed_download speed_upload ssl_verify_result stderr stdout "
        "time_appconnect time_connect time_namelookup time_posttransfer time_pretransfer time_queue "
        "time_redirect time_starttransfer time_total tls_earlydata url url_effective urlnum xfer_id"
    )
    + [f"{prefix}.{part}" for prefix in ("url", "urle") for part in _URL_PARTS]
)

_NUMERIC = re.compile(
    r"^(conn_id|exitcode|http_code|http_connect|local_port|num_\w+|proxy_\w+|remote_port|"
    r"response_code|size_\w+|speed_\w+|ssl_verify_result|tls_earlydata|urlnum|xfer_id)$"
)


@dataclass
class WriteOutData:
    """What one transfer can report. ``values`` maps variable names to their printed text."""

    values: dict[str, str] = field(default_factory=dict)
    last: HttpResponse | None = None
    responses: list[HttpResponse] = field(default_factory=list)
    failed: bool = False


@dataclass(frozen=True)
class _Piece:
    """A literal text, a variable, or a header lookup, in format order."""

    kind: str  # "text", "var", "header" (%header{...}), "time" (%time{...})
    text: str


def _pieces(fmt: str) -> Iterator[_Piece]:
    """Tokenise a -w format exactly as curl's ourWriteOut() walks it."""
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        nxt = fmt[i + 1] if i + 1 < len(fmt) else ""
        if ch == "%" and nxt:
            if nxt == "%":
                yield _Piece("text", "%")
                i += 2
            elif nxt == "{":
                end = fmt.find("}", i)
                if end < 0:
                    yield _Piece("text", "%{")
                    i += 2
                else:
                    yield _Piece("var", fmt[i + 2 : end])
                    i = end + 1
            elif fmt.startswith("header{", i + 1):
                end = fmt.find("}", i)
                if end < 0:
                    yield _Piece("text", "%header{")
                    i += 8
                else:
                    yield _Piece("header", fmt[i + 8 : end])
                    i = end + 1
            elif fmt.startswith("time{", i + 1):
                end = fmt.find("}", i)
                if end < 0:
                    yield _Piece("text", "%time{")
                    i += 6
                else:
                    yield _Piece("time", fmt[i + 6 : end])
                    i = end + 1
            else:  # not a variable: curl prints both characters
                yield _Piece("text", ch + nxt)
                i += 2
        elif ch == "\\" and nxt:
            yield _Piece("text", {"n": "\n", "r": "\r", "t": "\t"}.get(nxt, ch + nxt))
            i += 2
        else:
            yield _Piece("text", ch)
            i += 1


def _header_value(spec: str, data: WriteOutData) -> str:
    """%header{name} from the last response; %header{name:all:sep} joins every response's values."""
    name, _, rest = spec.partition(":")
    if rest.startswith("all:"):
        sep = rest[4:]
        return sep.join(v for r in data.responses for k, v in r.headers if k.lower() == name.lower())
    if data.last is None:
        return ""
    return data.last.header(name) or ""


def _header_json(data: WriteOutData) -> str:
    """Like curl: one ``"name":["value", ...]`` entry per line, names lower-case."""
    grouped: dict[str, list[str]] = {}
    for k, v in data.last.headers if data.last else ():
        grouped.setdefault(k.lower(), []).append(v)
    entries = [f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in grouped.items()]
    return "{" + ",\n".join(entries) + "\n}"


def _json(data: WriteOutData) -> str:
    """Every plain variable in name order: numbers bare, text quoted, unset values null."""
    skip = {"json", "header_json", "stderr", "stdout", "onerror"}
    entries = []
    for name in sorted(VARIABLES - skip):
        if "." in name:
            continue  # curl leaves the url.* parts out of %{json}
        value = data.values.get(name)
        if name.startswith("time_") and value:
            text = value
        elif _NUMERIC.match(name) and value and value.lstrip("-").isdigit():
            text = str(int(value))  # http_code is 200 here, not "200"
        elif value:
            text = json.dumps(value)
        else:
            text = "null"
        entries.append(f"{json.dumps(name)}:{text}")
    entries.append(f'"curl_version":{json.dumps(data.values.get("curl_version", ""))}')
    return "{" + ",".join(entries) + "}"


def _strftime(spec: str) -> str:
    now = datetime.now(timezone.utc)
    return now.strftime(spec.replace("%f", f"{now.microsecond:06d}"))


def expand(fmt: str, data: WriteOutData) -> tuple[str, str]:
    """Expand a -w format: (text for stdout, text for stderr).

    ``%{stderr}``/``%{stdout}`` switch streams; unknown variables warn on stderr like curl does;
    ``%{onerror}`` stops the output when the transfer succeeded.
    """
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    target = "stdout"
    for piece in _pieces(fmt):
        if piece.kind == "text":
            streams[target].append(piece.text)
        elif piece.kind == "header":
            streams[target].append(_header_value(piece.text, data))
        elif piece.kind == "time":
            streams[target].append(_strftime(piece.text))
        elif piece.text in ("stdout", "stderr"):
            target = piece.text
        elif piece.text == "onerror":
            if not data.failed:
                break
        elif piece.text == "json":
            streams[target].append(_json(data))
        elif piece.text == "header_json":
            streams[target].append(_header_json(data))
        elif piece.text in VARIABLES:
            streams[target].append(data.values.get(piece.text, ""))
        else:
            streams["stderr"].append(f"curl: unknown --write-out variable: '{piece.text}'\n")
    return "".join(streams["stdout"]), "".join(streams["stderr"])


def stdout_pattern(fmt: str, known: Mapping[str, str], header: Callable[[str], str | None]) -> str:
    """A regex for what ``fmt`` printed on stdout, for finding it after the body.

    ``known`` holds variables whose value is certain; ``header`` answers ``%header{...}`` or None
    when unsure. Other variables match by shape: numbers, ``N.NNNNNN`` times, or any text.
    """
    parts: list[str] = []
    target = "stdout"
    for piece in _pieces(fmt):
        if piece.kind == "var" and piece.text in ("stdout", "stderr"):
            target = piece.text
            continue
        if piece.kind == "var" and piece.text == "onerror":
            if known.get("exitcode") == "0":
                break
            continue
        if target != "stdout":
            continue
        if piece.kind == "text":
            parts.append(re.escape(piece.text))
        elif piece.kind == "header":
            value = header(piece.text)
            parts.append(re.escape(value) if value is not None else ".*?")
        elif piece.kind == "time":
            parts.append(".*?")
        elif piece.text in known:
            parts.append(re.escape(known[piece.text]))
        elif piece.text.startswith("time_"):
            parts.append(r"\d+\.\d{6}")
        elif _NUMERIC.match(piece.text):
            parts.append(r"-?\d+")
        elif piece.text in VARIABLES:
            parts.append(".*?")
        # unknown variables print nothing on stdout
    return "".join(parts)


def strip_trailer(text: str, pattern: str) -> str:
    """``text`` without the -w output matching ``pattern`` at its end; unchanged if it does not match."""
    if not pattern:
        return text
    # A greedy body leaves the shortest tail that fits: the -w text, never part of the body.
    match = re.fullmatch(f"(.*)(?:{pattern})", text, flags=re.DOTALL)
    return match.group(1) if match else text
