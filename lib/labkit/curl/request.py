"""The HTTP request curl sends for a command line: its method, target, headers and body.

One owner for these rules, so what ``-v`` prints, what the simulated servers receive and what their
access logs record cannot disagree. The rules were checked against curl 7.88 on loopback and follow
curl's man page (``-d``, ``-G``, ``-H``, ``--json``, ``-x``, ``-p``):

- the method is ``-X`` as written, else HEAD for ``-I``, POST when data is sent, GET otherwise;
  ``-G`` turns the data into a query string, so the request is a GET without a body;
- headers: Host, User-Agent, Accept (each dropped when ``-H`` names it; a custom Host takes the
  first place), Referer, Proxy-Connection for a proxy, then the ``-H`` headers in order, then
  ``--json``'s two headers, then Content-Length and Content-Type for a body;
- through an HTTP proxy the target is the absolute URL; a tunnel starts with ``CONNECT host:port``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .args import CurlOptions
    from .urls import Url

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: Sent to an HTTP/1.1 proxy by curl, in both the absolute-form request and CONNECT.
PROXY_CONNECTION = ("Proxy-Connection", "Keep-Alive")


def default_user_agent() -> str:
    from .verbose import CURL_VERSION  # verbose imports this module; read the version late

    return f"curl/{CURL_VERSION}"


def method(opts: CurlOptions) -> str:
    """The method of the first request: -X as written, else -I, else data (unless -G), else GET."""
    if opts.method:
        return opts.method
    if opts.head:
        return "HEAD"
    if opts.data is not None and not opts.get:
        return "POST"
    return "GET"


def next_method(method: str, status: int) -> str:
    """The method after following a redirect: curl switches POST to GET after 301/302/303 (man page, -L)."""
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def body(opts: CurlOptions) -> str:
    """What follows the headers: the -d data, except with -G, which moves it into the URL."""
    return opts.data if opts.data is not None and not opts.get else ""


def sends_body(opts: CurlOptions) -> bool:
    return opts.data is not None and not opts.get


def target(opts: CurlOptions, url: Url, via_proxy: bool = False, first: bool = True) -> str:
    """The request target: origin-form (path and query), absolute-form through an HTTP proxy.

    -G data goes into the first URL only; a followed Location is used as it is.
    """
    path = url.path
    if first and opts.get and opts.data is not None:
        path += ("&" if "?" in path else "?") + opts.data
    if not via_proxy:
        return path
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = f":{url.port}" if url.explicit_port else ""
    return f"{url.scheme}://{host}{port}{path}"


def headers(opts: CurlOptions, url: Url, via_proxy: bool = False, with_body: bool = True) -> list[tuple[str, str]]:
    """The header lines in the order curl writes them (see the module docstring)."""
    custom = {name.lower(): value for name, value in opts.headers}
    out: list[tuple[str, str]] = [("Host", custom.get("host", url.authority))]
    if "user-agent" not in custom:
        out.append(("User-Agent", opts.user_agent if opts.user_agent is not None else default_user_agent()))
    if "accept" not in custom and not opts.json:
        out.append(("Accept", "*/*"))
    if opts.referer and "referer" not in custom:
        out.append(("Referer", opts.referer))
    if via_proxy:
        out.append(PROXY_CONNECTION)
    out += [(k, v) for k, v in opts.headers if k.lower() != "host"]
    if opts.json:
        out += [(k, v) for k, v in (("Content-Type", JSON), ("Accept", JSON)) if k.lower() not in custom]
    if with_body and sends_body(opts):
        data = body(opts)
        if "content-length" not in custom:
            out.append(("Content-Length", str(len(data.encode()))))
        if "content-type" not in custom and not opts.json:
            out.append(("Content-Type", FORM))
    # "-H 'Name:'" removes curl's own header and sends nothing; "-H 'Name;'" sends it empty.
    return [(k, v) for k, v in out if v or k.lower() in opts.empty_headers]


@dataclass(frozen=True)
class SentRequest:
    """One request exactly as curl writes it on the wire."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: str = ""

    @property
    def authority(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "host"), "")


def build(opts: CurlOptions, url: Url, via_proxy: bool = False, hop_method: str | None = None) -> SentRequest:
    """The request for ``url`` (origin-form, or absolute-form to an HTTP proxy).

    ``hop_method`` is the method of a request that follows a redirect (see ``next_method``); when a
    redirect turned POST into GET the body and its headers are gone.
    """
    first = hop_method is None
    verb = method(opts) if hop_method is None else hop_method
    with_body = first or verb == method(opts)
    return SentRequest(
        verb,
        target(opts, url, via_proxy, first),
        tuple(headers(opts, url, via_proxy, with_body)),
        body(opts) if with_body else "",
    )


def connect(opts: CurlOptions, url: Url) -> SentRequest:
    """The CONNECT that opens a tunnel through a proxy: the target is host:port, Host repeats it.

    Only -A and curl's Proxy-Connection go to the proxy; -H headers travel inside the tunnel.
    """
    host = f"[{url.host}]" if ":" in url.host else url.host
    authority = f"{host}:{url.port}"
    agent = opts.user_agent if opts.user_agent is not None else default_user_agent()
    lines = [("Host", authority), ("User-Agent", agent), PROXY_CONNECTION]
    return SentRequest("CONNECT", authority, tuple((k, v) for k, v in lines if v))
