"""Print what curl prints, from the options and a structured account of what happened.

The simulator decides the outcome (responses, or a failure such as a timeout); this module turns it
into curl's exact stdout, stderr, exit code and written files, so a simulated run reads the same as
a real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..result import HttpResponse
from . import progress, request
from .args import CurlOptions
from .headers import format_block
from .info import info_text
from .urls import Url, parse_url, resolve_location
from .verbose import CURL_VERSION, Hop, VerboseWriter
from .writeout import WriteOutData, expand

_STDOUT = {"-", "/dev/stdout"}
_DISCARD = "/dev/null"
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass
class Exchange:
    """One request and the response it got (several with -L, in order)."""

    url: str
    response: HttpResponse
    body: str
    remote_ip: str = ""
    remote_port: int = 0
    local_ip: str = ""  # the pod's address and source port, shown by -v and %{local_ip}
    local_port: int = 0
    #: The proxy's answer to CONNECT when the request went through a tunnel: curl writes its header
    #: block before the response's with -i and -D, and reports its status as %{http_connect}.
    connect: HttpResponse | None = None
    via_proxy: bool = False  # sent to an HTTP proxy (remote_ip is then the proxy's), for %{proxy_used}


@dataclass
class Failure:
    """Why curl gave up: its exit code and the text after ``curl: (N) ``.

    ``remote_ip`` is the address curl was trying, only shown by -v (real curl reports no
    ``%{remote_ip}`` for a connection that never opened).
    """

    exit_code: int
    message: str
    remote_ip: str = ""


@dataclass
class Transfer:
    """What happened: the responses received, then possibly a failure; elapsed is in seconds."""

    exchanges: list[Exchange]
    failure: Failure | None = None
    elapsed: float = 0.0
    #: A CONNECT the proxy answered with something other than 2xx (curl exits 56 after it).
    refused_connect: HttpResponse | None = None


@dataclass
class Rendered:
    """curl's output. ``files`` holds what -o/-D wrote to real paths (never /dev/null or stdout).

    ``body`` is the part of ``stdout`` that is the final response body (empty when -o sent it
    elsewhere), the same thing the real-cluster backend recovers from curl's stdout.
    """

    stdout: str
    stderr: str
    exit_code: int
    files: dict[str, str] = field(default_factory=dict)
    body: str = ""


class _Sinks:
    """stdout, stderr and files, written in the order curl writes them."""

    def __init__(self) -> None:
        self.parts: dict[str, list[str]] = {"stdout": [], "stderr": []}

    @staticmethod
    def target(path: str | None) -> str | None:
        if path is None or path in _STDOUT:
            return "stdout"
        if path == "/dev/stderr":
            return "stderr"
        return None if path == _DISCARD else path

    def write(self, target: str | None, text: str) -> None:
        if target is not None and text:
            self.parts.setdefault(target, []).append(text)

    def text(self, target: str) -> str:
        return "".join(self.parts.get(target, []))

    def files(self) -> dict[str, str]:
        return {k: "".join(v) for k, v in self.parts.items() if k not in ("stdout", "stderr")}


def _status_error(opts: CurlOptions, exchanges: list[Exchange]) -> Failure | None:
    """-f turns a final status >= 400 into exit 22."""
    if (opts.fail or opts.fail_with_body) and exchanges and exchanges[-1].response.status >= 400:
        return Failure(22, f"The requested URL returned error: {exchanges[-1].response.status}")
    return None


def _content_length(response: HttpResponse) -> int | None:
    value = response.header("content-length")
    return int(value) if value and value.strip().isdigit() else None


def _ends(ex: Exchange) -> tuple[str, int, str, int]:
    """Remote then local address and port of an exchange."""
    return ex.remote_ip, ex.remote_port, ex.local_ip, ex.local_port


def _size(text: str) -> int:
    return len(text.encode())


def render(opts: CurlOptions, transfer: Transfer) -> Rendered:
    """curl's stdout, stderr, exit code and files for this outcome."""
    if opts.info:  # --version/--help print and exit before any transfer
        return Rendered(stdout=info_text(opts.info), stderr="", exit_code=0)
    exchanges = transfer.exchanges
    failure = transfer.failure or _status_error(opts, exchanges)
    exit_code = failure.exit_code if failure else 0
    sinks = _Sinks()
    body_sink = _Sinks.target(opts.output)
    dump_sink = _Sinks.target(opts.dump_header) if opts.dump_header else None
    verbose = VerboseWriter(opts) if opts.verbose else None

    def err(text: str) -> None:  # stderr in write order: -D /dev/stderr interleaves with it
        sinks.write("stderr", text)

    if opts.show_progress:
        err(progress.start())
    method = request.method(opts)
    upload = _size(request.body(opts))
    body_out = ""
    count = len(exchanges)

    for index, ex in enumerate(exchanges):
        last = index == count - 1
        block = _blocks(ex)
        sinks.write(dump_sink, block)
        if opts.headers_in_output:
            sinks.write(body_sink, block)
        # Bodies: only the final one, never for HEAD, not when -f stopped at an error status.
        writes_body = last and not opts.head and _keeps_body(opts, failure)
        received = 0 if opts.head or (last and not writes_body) else _size(ex.body)
        if writes_body:
            sinks.write(body_sink, ex.body)
            if body_sink == "stdout":
                body_out = ex.body
        if verbose:
            url = parse_url(ex.url)
            err(verbose.hop(Hop(url, ex.response, received, *_ends(ex)), method))
        if opts.show_progress:
            spent = transfer.elapsed * (index + 1) / count
            sample = progress.Sample(received, _content_length(ex.response), upload, upload or None, spent)
            err(progress.finish(sample))
        if verbose and not last:
            next_url = resolve_location(ex.url, ex.response.header("location") or "")
            err(verbose.follow(next_url, received > 0))
        method = request.next_method(method, ex.response.status)

    if transfer.refused_connect is not None:
        block = format_block(transfer.refused_connect)
        sinks.write(dump_sink, block)
        if opts.headers_in_output:
            sinks.write(body_sink, block)
    if not exchanges:
        if verbose and failure:
            code, message, ip = failure.exit_code, failure.message, failure.remote_ip
            err(verbose.failure_before_response(opts.url, method, code, message, ip))
        if opts.show_progress:
            err(progress.finish(progress.Sample(spent=transfer.elapsed)))
    elif verbose:
        err(verbose.failure_after_response(failure.message) if failure else verbose.done())

    if failure and opts.show_errors:
        err(f"curl: ({failure.exit_code}) {failure.message}\n")

    if opts.write_out:
        data = _writeout_data(opts, transfer, failure, exit_code)
        out_text, err_text = expand(opts.write_out, data)
        sinks.write("stdout", out_text)
        sinks.write("stderr", err_text)

    return Rendered(
        stdout=sinks.text("stdout"),
        stderr=sinks.text("stderr"),
        exit_code=exit_code,
        files=sinks.files(),
        body=body_out,
    )


def _keeps_body(opts: CurlOptions, failure: Failure | None) -> bool:
    """-f drops the body of an error status (unless --fail-with-body); too many redirects drops it too."""
    if failure is None:
        return True
    if failure.exit_code == 22:
        return opts.fail_with_body
    return failure.exit_code != 47


def _blocks(ex: Exchange) -> str:
    """The header blocks of one exchange: the proxy's CONNECT answer first, when there was one."""
    return (format_block(ex.connect) if ex.connect else "") + format_block(ex.response)


def _writeout_data(opts: CurlOptions, transfer: Transfer, failure: Failure | None, exit_code: int) -> WriteOutData:
    exchanges = transfer.exchanges
    last = exchanges[-1] if exchanges else None
    response = last.response if last else None
    effective = parse_url(last.url if last else opts.url)
    total = transfer.elapsed
    status = f"{response.status:03d}" if response else "000"
    received = 0 if (opts.head or last is None) else _size(last.body)
    redirect_url = ""
    if last and response and response.status in _REDIRECTS and response.header("location") and not opts.follow:
        redirect_url = resolve_location(last.url, response.header("location") or "")
    method = request.method(opts)
    for ex in exchanges[:-1]:
        method = request.next_method(method, ex.response.status)
    https = effective.scheme == "https"
    connected = bool(exchanges)
    values = {
        "http_code": status,
        "response_code": status,
        "http_connect": _connect_code(transfer),
        "http_version": response.http_version if response else "0",
        "exitcode": str(exit_code),
        "errormsg": failure.message if failure else "",
        "content_type": (response.header("content-type") or "") if response else "",
        "num_redirects": str(len(exchanges) - 1 if opts.follow and exchanges else 0),
        "num_connects": "1" if connected else "0",
        "num_headers": str(len(response.headers)) if response else "0",
        "num_retries": "0",
        "num_certs": "0",
        "url": opts.url,
        "url_effective": str(effective),
        "redirect_url": redirect_url,
        "remote_ip": last.remote_ip if last else "",
        "remote_port": str(last.remote_port if last else 0),
        "local_ip": last.local_ip if last else "",
        "local_port": str(last.local_port if last else 0),
        "method": method,
        "scheme": effective.scheme,
        "size_download": str(received),
        "size_delivered": str(received),
        "size_header": str(_size("".join(_blocks(ex) for ex in exchanges)) + _refused_size(transfer)),
        "size_upload": str(_size(request.body(opts))),
        "size_request": "0",
        "speed_download": str(int(received / total) if total > 0 else 0),
        "speed_upload": "0",
        "ssl_verify_result": "0",
        "proxy_ssl_verify_result": "0",
        "proxy_used": "1" if last is not None and last.via_proxy else "0",
        "filename_effective": opts.output or "",
        "conn_id": "0" if connected else "-1",
        "xfer_id": "0",
        "urlnum": "0",
        "tls_earlydata": "0",
        "curl_version": f"libcurl/{CURL_VERSION}",
        **_url_parts("url", parse_url(opts.url)),
        **_url_parts("urle", effective),
        **_timings(total, connected, https, len(exchanges)),
    }
    return WriteOutData(
        values=values,
        last=response,
        responses=[ex.response for ex in exchanges],
        failed=failure is not None,
    )


def _connect_code(transfer: Transfer) -> str:
    """%{http_connect}: the status of the last CONNECT, 000 when none was sent."""
    if transfer.refused_connect is not None:
        return f"{transfer.refused_connect.status:03d}"
    connects = [ex.connect for ex in transfer.exchanges if ex.connect is not None]
    return f"{connects[-1].status:03d}" if connects else "000"


def _refused_size(transfer: Transfer) -> int:
    return _size(format_block(transfer.refused_connect)) if transfer.refused_connect else 0


def _url_parts(prefix: str, url: Url) -> dict[str, str]:
    path, _, query = url.path.partition("?")
    user, _, password = url.userinfo.partition(":")
    return {
        f"{prefix}.scheme": url.scheme,
        f"{prefix}.host": url.host,
        f"{prefix}.port": str(url.port),
        f"{prefix}.path": path,
        f"{prefix}.query": query,
        f"{prefix}.user": user,
        f"{prefix}.password": password,
        f"{prefix}.fragment": "",
        f"{prefix}.options": "",
        f"{prefix}.zoneid": "",
    }


def _timings(total: float, connected: bool, https: bool, hops: int) -> dict[str, str]:
    """Plausible phase times that add up to ``total``: the simulator only knows the whole."""
    lookup = min(total, 0.000015 + total * 0.01)
    connect = total * 0.1 if connected else 0.0
    appconnect = total * 0.4 if connected and https else 0.0
    pretransfer = max(connect, appconnect) + (total * 0.01 if connected else 0.0)
    start = total * 0.95 if connected else 0.0
    redirect = total * (hops - 1) / hops if hops > 1 else 0.0
    times = {
        "time_namelookup": lookup,
        "time_connect": connect,
        "time_appconnect": appconnect,
        "time_pretransfer": pretransfer,
        "time_posttransfer": pretransfer,
        "time_starttransfer": start,
        "time_redirect": redirect,
        "time_queue": min(total, 0.000010),
        "time_total": total,
    }
    return {k: f"{v:.6f}" for k, v in times.items()}
