"""Run real curl in a pod and read back what happened.

A pod exec only returns stdout, stderr and an exit code, and curl prints headers only when asked
(-i, -I, -D). So the command wraps curl in a small POSIX sh script that adds ``-D <tempfile>``
(unless the user chose their own -D), then prints a marker line with curl's exit code and the
header dump after curl's own stdout. ``to_result`` splits that apart again.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

from ..backend import ExecResult
from ..result import CurlResult, HttpResponse
from .args import CurlOptions, iter_options, parse_args_lenient
from .errors import CurlUsageError
from .headers import parse_header_dump, split_stdout
from .urls import normalize_url
from .writeout import stdout_pattern, strip_trailer

#: Line printed between curl's stdout and the header dump. Long and odd so no body contains it.
MARKER = "::labkit-curl-headers:7e3f0a9c41b2::"

# $1 says where headers go: "@tmp" = capture them in a temp file we add with -D; "" = nowhere we
# can read; anything else = the user's own -D file, read back after curl ran.
# mktemp may fail on a read-only /tmp; /dev/shm is the usual writable fallback. Without either,
# curl runs untouched and only headers printed on stdout can be recovered.
SCRIPT = f"""\
hdr=$1
shift
own=
if [ "$hdr" = @tmp ]; then
  hdr=$(mktemp 2>/dev/null || mktemp -p /dev/shm 2>/dev/null) || hdr=
  own=$hdr
fi
if [ -n "$own" ]; then
  curl -D "$own" "$@"
else
  curl "$@"
fi
rc=$?
printf '\\n%s rc=%s\\n' '{MARKER}' "$rc"
if [ -n "$hdr" ] && [ -f "$hdr" ]; then
  cat "$hdr"
fi
if [ -n "$own" ]; then
  rm -f "$own"
fi
exit "$rc"
"""

_MARKER_LINE = re.compile(r"\n" + re.escape(MARKER) + r" rc=(\d+)\r?\n")
_STREAMS = {"-", "/dev/stdout", "/dev/stderr", "/dev/null", "/dev/fd/1", "/dev/fd/2"}
_STDOUT = {"-", "/dev/stdout"}
# -w output sits at the end of stdout; only this much of the tail is searched for it.
_TAIL = 65536


def _user_dump_header(args: list[str]) -> str | None:
    """The user's own -D target, read the way curl reads the options (the last one wins)."""
    found = None
    try:
        for token in iter_options(args):
            if token.name == "dump-header":
                found = token.value
    except CurlUsageError:
        pass  # curl stops at that option and runs nothing; any -D after it is moot
    return found


def build_command(args: list[str]) -> list[str]:
    """argv for the pod exec: ``sh -c SCRIPT sh <hdr> <args...>``; the user's args go to curl as-is."""
    own = _user_dump_header(args)
    if own is None:
        hdr = "@tmp"
    elif own in _STREAMS:
        hdr = ""  # "-" puts headers in stdout, where to_result finds them
    else:
        hdr = own
    return ["sh", "-c", SCRIPT, "sh", hdr, *args]


def split_marker(stdout: str) -> tuple[str, str, int] | None:
    """(curl's stdout, header dump, curl's exit code), or None when the marker never printed."""
    matches = list(_MARKER_LINE.finditer(stdout))
    if not matches:
        return None
    last = matches[-1]  # a body can't fake the last one: the script prints it after curl exits
    return stdout[: last.start()], stdout[last.end() :], int(last.group(1))


def to_result(args: list[str], result: ExecResult) -> CurlResult:
    """Turn the output of ``build_command(args)`` (or of plain curl) into a CurlResult.

    Without the marker (no ``sh`` in the image, or curl was run directly) stdout is taken as
    curl's own and headers are recovered only if curl printed them there.
    """
    opts = parse_args_lenient(args)
    split = split_marker(result.stdout)
    if split is None:
        stdout, dump, exit_code = result.stdout, "", result.exit_code
    else:
        stdout, dump, exit_code = split
    printed, rest = split_stdout(opts, stdout)
    responses = parse_header_dump(dump) or printed
    return CurlResult(
        argv=["curl", *args],
        exit_code=exit_code,
        stdout=stdout,
        stderr=result.stderr,
        elapsed=result.elapsed,
        responses=responses,
        body=_body(opts, rest, responses, exit_code, result.stderr),
        simulated=False,
    )


def _body(opts: CurlOptions, rest: str, responses: list[HttpResponse], exit_code: int, stderr: str) -> str:
    """The response body within stdout: nothing for HEAD or -o FILE, and never the -w output."""
    if opts.head or (opts.output is not None and opts.output not in _STDOUT):
        return ""
    if not opts.write_out:
        return rest
    known = _known_values(opts, responses, exit_code, stderr)
    pattern = stdout_pattern(opts.write_out, known, _header(responses))
    head, tail = rest[:-_TAIL], rest[-_TAIL:]
    stripped = strip_trailer(tail, pattern)
    return head + stripped if stripped != tail else rest


def _known_values(opts: CurlOptions, responses: list[HttpResponse], exit_code: int, stderr: str) -> dict[str, str]:
    """-w variables whose printed value follows for certain from what curl reported."""
    last = responses[-1] if responses else None
    status = f"{last.status:03d}" if last else "000"
    known = {
        "http_code": status,
        "response_code": status,
        "exitcode": str(exit_code),
        "http_version": last.http_version if last else "0",
        "content_type": (last.header("content-type") or "") if last else "",
        "url": opts.url,
    }
    if not opts.follow:
        known["num_redirects"] = "0"
        if opts.url:
            with contextlib.suppress(CurlUsageError):  # a bad URL never got this far in curl
                known["url_effective"] = normalize_url(opts.url)
    if exit_code == 0:
        known["errormsg"] = ""
    else:
        shown = re.findall(rf"^curl: \({exit_code}\) (.*)$", stderr, flags=re.MULTILINE)
        if shown:
            known["errormsg"] = shown[-1].rstrip("\r")
    return known


def _header(responses: list[HttpResponse]) -> Callable[[str], str | None]:
    """Answers %header{name} from the last response."""
    last = responses[-1] if responses else None

    def lookup(spec: str) -> str | None:
        if ":" in spec:
            return None  # the ":all:" form spans responses; match it by shape
        if last is None:
            return ""
        return last.header(spec) or ""

    return lookup
