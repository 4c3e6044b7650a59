"""URLs the way curl reads them: a missing scheme means http, ports default by scheme."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin

from .errors import CurlUsageError, transfer_error

#: Schemes curl can run, with the port each uses when the URL names none.
DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "ftp": 21,
    "ftps": 990,
    "sftp": 22,
    "scp": 22,
    "telnet": 23,
    "smtp": 25,
    "smtps": 465,
    "tftp": 69,
    "gopher": 70,
    "gophers": 70,
    "pop3": 110,
    "pop3s": 995,
    "imap": 143,
    "imaps": 993,
    "ldap": 389,
    "ldaps": 636,
    "smb": 445,
    "smbs": 445,
    "rtsp": 554,
    "mqtt": 1883,
    "dict": 2628,
    "file": 0,
}

# curl guesses the scheme of a scheme-less URL from the host name's first label.
_GUESSED = {"ftp": "ftp", "dict": "dict", "ldap": "ldap", "imap": "imap", "smtp": "smtp", "pop3": "pop3"}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Control bytes and spaces make curl's URL parser give up before looking at anything else.
_BAD_BYTES = re.compile(r"[\x00-\x20\x7f]")
_BAD_HOST = re.compile(r"[ \r\n\t/:#?!@{}\[\]\\$'\"^`*<>=;,+&()%]")


@dataclass(frozen=True)
class Url:
    scheme: str
    host: str  # IPv6 literals without brackets
    port: int
    path: str  # path and query, never empty; the fragment is not sent so it is dropped
    userinfo: str = ""
    explicit_port: bool = False

    @property
    def authority(self) -> str:
        """host[:port] as curl puts it in the Host header: the port only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS.get(self.scheme)
        return host if self.port == default else f"{host}:{self.port}"

    def __str__(self) -> str:
        """The normalised form curl reports as ``%{url_effective}``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.userinfo}@" if self.userinfo else ""
        port = f":{self.port}" if self.explicit_port else ""
        return f"{self.scheme}://{user}{host}{port}{self.path}"


def is_ip_literal(host: str) -> bool:
    """Whether a URL's host is an IP address rather than a name: such a host gets no DNS lookup, no SNI
    and is checked against a certificate's IP entries, not its DNS names."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _rejected(text: str) -> CurlUsageError:
    return transfer_error(3, f"URL rejected: {text}")


def parse_url(url: str) -> Url:
    """Parse like curl; raise CurlUsageError with curl's exit code (3 malformed, 1 unknown scheme).

    The error's ``stderr`` assumes no ``-s``; ``parse_args`` re-raises it with the right muting.
    """
    if not url or _BAD_BYTES.search(url):
        raise _rejected("Malformed input to a URL function")
    match = _SCHEME.match(url)
    if match:
        scheme, rest = match.group(1).lower(), url[match.end() :]
    else:
        scheme, rest = "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, _, hostport = authority.rpartition("@")
    host, port_text = _split_hostport(hostport)
    if not scheme:
        scheme = _GUESSED.get(host.split(".", 1)[0].lower(), "http") if "." in host else "http"
    if scheme not in DEFAULT_PORTS:
        raise transfer_error(1, f'Protocol "{scheme}" not supported')
    if not host:
        raise _rejected("No host part in the URL")
    if ":" not in host and _BAD_HOST.search(host):
        raise _rejected("Bad hostname")
    if port_text and (not port_text.isdigit() or int(port_text) > 65535):
        raise _rejected("Port number was not a decimal number between 0 and 65535")
    port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    path = tail.split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return Url(scheme, host, port, path, userinfo, explicit_port=bool(port_text))


def _split_hostport(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise _rejected("Bad IPv6 address")
        host, rest = hostport[1:close], hostport[close + 1 :]
        if rest and not rest.startswith(":"):
            raise _rejected("Bad IPv6 address")
        return host, rest[1:]
    host, _, port = hostport.partition(":")
    return host, port


def split_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)``: scheme defaults to http, port to 80/443, path to "/" (query kept)."""
    parsed = parse_url(url)
    return parsed.scheme, parsed.host, parsed.port, parsed.path


def normalize_url(url: str) -> str:
    """What curl prints as ``%{url_effective}``: ``127.0.0.1:8080`` becomes ``http://127.0.0.1:8080/``."""
    return str(parse_url(url))


def resolve_location(base: str, location: str) -> str:
    """The absolute URL a ``Location`` header points to, as curl follows it."""
    return normalize_url(urljoin(normalize_url(base), location.strip()))
