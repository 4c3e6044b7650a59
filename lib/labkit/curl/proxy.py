"""Which proxy curl uses for a URL: ``-x``/``--proxy``, the proxy environment variables, ``--noproxy``.

From curl's man page: ``-x [protocol://]host[:port]`` defaults to http:// and port 1080; an empty
string turns the proxy off; ``--noproxy`` lists hosts (a domain matches its subdomains, ``*`` matches
all) and overrides the environment's ``NO_PROXY``. Without ``-x`` curl reads ``http_proxy`` (lower
case only) for http:// URLs, ``HTTPS_PROXY``/``https_proxy`` for https:// ones, then ``ALL_PROXY``.
Only plain HTTP proxies are simulated: an HTTPS or SOCKS proxy is refused by name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .args import CurlOptions
from .errors import CurlUsageError, transfer_error
from .support import not_modelled
from .urls import Url, is_ip_literal, parse_url

DEFAULT_PORT = 1080
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_NOT_SIMULATED = {"https", "socks4", "socks4a", "socks5", "socks5h"}


@dataclass(frozen=True)
class ProxyChoice:
    url: Url  # scheme http, host, port
    source: str  # "-x" or the environment variable it came from

    @property
    def host(self) -> str:
        return self.url.host

    @property
    def port(self) -> int:
        return self.url.port


def choose(opts: CurlOptions, url: Url, env: Mapping[str, str] | None = None) -> ProxyChoice | None:
    """The proxy for ``url``, or None to connect directly. Raises for proxies curl or labkit reject."""
    env = env or {}
    if opts.proxy is not None:
        text, source = opts.proxy, "-x"
    else:
        names = ["http_proxy"] if url.scheme == "http" else ["HTTPS_PROXY", "https_proxy"]
        names += ["ALL_PROXY", "all_proxy"]
        found = next((n for n in names if env.get(n)), None)
        if found is None:
            return None
        text, source = env[found], found
    if not text:
        return None  # -x "" switches the proxy off
    noproxy = opts.noproxy if opts.noproxy is not None else env.get("NO_PROXY", env.get("no_proxy", ""))
    if _bypassed(url.host, noproxy):
        return None
    return ProxyChoice(_parse(text, opts), source)


def _parse(text: str, opts: CurlOptions) -> Url:
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else "http"
    if scheme in _NOT_SIMULATED:
        raise not_modelled("--proxy", f"{scheme}:// proxies are not simulated; only http:// proxies are")
    if scheme != "http":
        # curl 7.88 on loopback: "curl: (7) Unsupported proxy scheme for 'ftp://127.0.0.1:1'"
        raise transfer_error(7, f"Unsupported proxy scheme for '{text}'", opts.silent, opts.show_error)
    rest = text[match.end() :] if match else text
    try:
        parsed = parse_url("http://" + rest)
    except CurlUsageError:
        raise transfer_error(5, f"Could not resolve proxy: {rest}", opts.silent, opts.show_error) from None
    if parsed.userinfo:
        raise not_modelled("--proxy", "proxy credentials (user:password@) are not simulated")
    port = parsed.port if parsed.explicit_port else DEFAULT_PORT
    return Url("http", parsed.host, port, "/", explicit_port=True)


def _bypassed(host: str, noproxy: str) -> bool:
    """--noproxy / NO_PROXY: "*" for every host, a name for itself and its subdomains, an address or CIDR."""
    host = host.lower().rstrip(".")
    for entry in (e.strip().lower().lstrip(".") for e in noproxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry or is_ip_literal(entry):
            if is_ip_literal(host) and ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return True
            continue
        if host == entry or host.endswith("." + entry):
            return True
    return False

