"""Which curl options the offline simulator models, which have no effect offline, and which it refuses.

Every option in ``optable`` has exactly one entry (a test checks it). The simulator refuses a command
line that uses a refused option with curl's exit code for a bad option (2) and a message naming it,
instead of running something else than what was asked:

    curl: option --limit-rate: not modelled by the offline simulator (...); run it on a kind cluster

"no effect offline" is strict: only options whose effect nothing in a simulated pod can observe (TCP
socket tuning, options curl itself ignores), each with the reason. Options that change what curl
prints or sends are modelled or refused, never accepted quietly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from .errors import NotModelled

if TYPE_CHECKING:
    from .args import CurlOptions, Token


class Status(Enum):
    MODELLED = "modelled"
    NO_EFFECT = "no effect offline"
    REFUSED = "not modelled"


@dataclass(frozen=True)
class Support:
    status: Status
    reason: str


KIND_CLUSTER = "run it on a kind cluster (scripts/cluster-up.sh, then --backend kube)"


def _group(status: Status, reason: str, names: str) -> dict[str, Support]:
    return {name: Support(status, reason) for name in names.split()}


M, N, R = Status.MODELLED, Status.NO_EFFECT, Status.REFUSED

_GROUPS: list[dict[str, Support]] = [
    # -- modelled: the simulator acts on these, and the renderer prints what curl prints
    _group(
        M,
        "the request line, headers and body curl sends (labkit.curl.request)",
        "request get head header user-agent referer data data-ascii data-binary data-raw data-urlencode json url",
    ),
    _group(
        M,
        "output: what goes to stdout, stderr and files (labkit.curl.render)",
        "silent show-error show-headers include verbose output out-null dump-header write-out "
        "progress-meter fail fail-with-body help version manual",
    ),
    _group(M, "redirects: -L follows Location, --max-redirs stops with exit 47", "location max-redirs"),
    _group(M, "time limits on the simulated clock (exit 28)", "max-time connect-timeout"),
    _group(M, "name resolution and connection targets", "resolve connect-to"),
    _group(M, "TLS as curl checks it: trusted CAs, client certificate, -k", "cacert cert key insecure"),
    _group(M, "HTTP version: ALPN offer over TLS (http:// with --http2 is refused at run time)", "http1.1 http2"),
    _group(
        M, "HTTP forward proxy: absolute-form requests, CONNECT tunnels, curl's exit codes", "proxy proxytunnel noproxy"
    ),
    # -- no effect offline: nothing in a simulated pod can observe these
    _group(
        N,
        "TCP socket tuning: the simulated network has no TCP stack whose timing it changes",
        "tcp-nodelay tcp-fastopen keepalive keepalive-time keepalive-cnt ip-tos vlan-priority mptcp",
    ),
    _group(N, "curl ignores it since 7.77.0 / 7.84.0 / 7.86.0 (curl man page)", "sslv2 sslv3 random-file egd-file npn"),
    _group(
        N,
        "Schannel or Secure Transport only; the simulated curl is built with OpenSSL (curl man page)",
        "ssl-no-revoke ssl-revoke-best-effort ssl-auto-client-cert proxy-ssl-auto-client-cert "
        "false-start ca-native proxy-ca-native",
    ),
    _group(
        N,
        "a minimum TLS version: every simulated TLS peer negotiates TLS 1.3, which meets any minimum",
        "tlsv1 tlsv1.0 tlsv1.1 tlsv1.2 tlsv1.3",
    ),
    _group(N, "every simulated address is IPv4, so asking for IPv4 only changes nothing", "ipv4"),
    _group(N, "simulated pods have no .curlrc for -q to skip", "disable"),
    _group(N, "output buffering: the simulated pod returns curl's output in one piece", "buffer"),
    _group(N, "bold headers only on a terminal; simulated curl never writes to a terminal", "styled-output"),
    _group(N, "simulated servers always answer with a status line, never HTTP/0.9", "http0.9"),
    _group(N, "only matters across several transfers; the simulator runs one URL per call", "fail-early rate"),
    _group(
        N,
        "a workaround for TLS 1.0 CBC ciphers; simulated peers negotiate TLS 1.3",
        "ssl-allow-beast proxy-ssl-allow-beast",
    ),
    # -- refused: curl does something here that the simulator does not reproduce
    _group(
        R,
        "only HTTP and HTTPS are simulated",
        "ftp-account ftp-alternative-to-user ftp-create-dirs ftp-method ftp-pasv ftp-port ftp-pret "
        "ftp-skip-pasv-ip ftp-ssl ftp-ssl-ccc ftp-ssl-ccc-mode ftp-ssl-control ftp-ssl-reqd disable-eprt "
        "disable-epsv eprt epsv list-only use-ascii crlf quote mail-auth mail-from mail-rcpt "
        "mail-rcpt-allowfails sasl-authzid sasl-ir login-options telnet-option tftp-blksize "
        "tftp-no-options hostpubmd5 hostpubsha256 pubkey knownhosts compressed-ssh ssl ssl-reqd "
        "krb krb4 ipfs-gateway create-dirs append",
    ),
    _group(
        R,
        "authentication schemes are not simulated",
        "user basic digest ntlm ntlm-wb negotiate anyauth oauth2-bearer aws-sigv4 delegation "
        "service-name netrc netrc-file netrc-optional disallow-username-in-url httpsig-algo "
        "httpsig-headers httpsig-key httpsig-keyid",
    ),
    _group(
        R,
        "proxy features beyond a plain HTTP proxy are not simulated",
        "preproxy proxy-user proxy-header proxy-anyauth proxy-basic proxy-digest proxy-ntlm "
        "proxy-negotiate proxy-service-name proxy-http2 proxy-http3 proxy1.0 proxy-insecure proxy-cacert "
        "proxy-capath proxy-cert proxy-cert-type proxy-key proxy-key-type proxy-pass proxy-ciphers "
        "proxy-tls13-ciphers proxy-crlfile proxy-pinnedpubkey proxy-tlsauthtype proxy-tlspassword "
        "proxy-tlsuser proxy-tlsv1 socks4 socks4a socks5 socks5-hostname "
        "socks5-basic socks5-gssapi socks5-gssapi-nec socks5-gssapi-service haproxy-protocol "
        "haproxy-clientip suppress-connect-headers",
    ),
    _group(
        R,
        "TLS settings beyond CAs and client certificates are not simulated",
        "capath crlfile cert-type key-type pass engine ciphers tls13-ciphers curves sigalgs tls-max "
        "pinnedpubkey cert-status doh-cert-status sessionid tls-earlydata ech tlsauthtype tlspassword "
        "tlsuser ssl-sessions alpn dump-ca-embed",
    ),
    _group(R, "this HTTP version is not simulated", "http1.0 http2-prior-knowledge http3 http3-only"),
    _group(
        R,
        "reading or writing files other than -o/-D is not simulated",
        "upload-file form form-string form-escape config cookie cookie-jar junk-session-cookies "
        "remote-name remote-name-all remote-header-name output-dir clobber remove-on-error "
        "skip-existing create-file-mode xattr remote-time etag-compare etag-save time-cond "
        "continue-at range alt-svc hsts libcurl stderr trace trace-ascii trace-config trace-ids "
        "trace-time upload-flags",
    ),
    _group(
        R,
        "DNS settings beyond --resolve are not simulated",
        "dns-interface dns-ipv4-addr dns-ipv6-addr dns-servers doh-url doh-insecure ipv6 happy-eyeballs-timeout-ms",
    ),
    _group(
        R,
        "retries, rate limits and transfer-speed limits are not simulated",
        "retry retry-delay retry-max-time retry-connrefused retry-all-errors limit-rate speed-limit "
        "speed-time max-filesize expect100-timeout",
    ),
    _group(
        R, "how curl encodes or transfers the body is not simulated", "compressed tr-encoding raw ignore-content-length"
    ),
    _group(
        R,
        "redirect variants beyond -L and --max-redirs are not simulated",
        "follow location-trusted post301 post302 post303 proto proto-default proto-redir",
    ),
    _group(R, "request variants not simulated", "request-target url-query variable"),
    _group(M, "URLs are sent as written; without them, URLs that curl would rewrite are refused", "globoff path-as-is"),
    _group(
        R,
        "the progress bar and parallel transfers are not simulated",
        "progress-bar parallel parallel-immediate parallel-max parallel-max-host next",
    ),
    _group(
        R, "socket and interface choices are not simulated", "interface local-port unix-socket abstract-unix-socket"
    ),
    _group(R, "metalink support was removed from curl", "metalink"),
    _group(R, "debug-build options", "test-duphandle test-event wdebug"),
]


def _table() -> dict[str, Support]:
    table: dict[str, Support] = {}
    for group in _GROUPS:
        for name, support in group.items():
            if name in table:
                raise ValueError(f"curl option --{name} is classified twice")
            table[name] = support
    return table


#: Every curl option by long name, with how the simulator treats it.
TABLE = _table()


def not_modelled(option: str, why: str) -> NotModelled:
    """curl's exit code for an option it can't use (2), with a message naming the option."""
    return NotModelled(option, why, KIND_CLUSTER)


def check(opts: CurlOptions) -> None:
    """Raise for the first option (or option value) the simulator does not model."""
    for token in opts.tokens:
        problem = _refusal(token)
        if problem is not None:
            raise not_modelled(*problem)
    _check_combinations(opts)


def _refusal(token: Token) -> tuple[str, str] | None:
    if token.name == "url":
        return None
    option = f"--{token.name}" if token.toggle else f"--no-{token.name}"
    if token.arg.startswith("--expand-"):
        return f"--expand-{token.name}", "variable expansion is not simulated"
    entry = TABLE.get(token.name)
    if entry is None:
        return option, "this option is missing from the simulator's table"
    if entry.status is Status.REFUSED:
        return option, entry.reason
    value = token.value or ""
    if token.name in ("data", "data-ascii", "data-binary", "json", "header", "write-out") and value.startswith("@"):
        return option, "reading it from a file (@file) is not simulated"
    if token.name == "data-urlencode" and ("@" in value.split("=", 1)[0]):
        return option, "reading it from a file (name@file) is not simulated"
    if token.name == "referer" and value.endswith(";auto"):
        return option, "';auto' referers are not simulated"
    return None


def _check_combinations(opts: CurlOptions) -> None:
    from .urls import parse_url  # urls is light, but args imports this module's users

    url = parse_url(opts.url) if opts.url else None
    if url is not None and url.scheme not in ("http", "https"):
        raise not_modelled(url.scheme + "://", "only HTTP and HTTPS are simulated")
    if opts.http_version == "2" and url is not None and url.scheme == "http":
        raise not_modelled("--http2", "an http:// URL would ask for an h2c upgrade, which is not simulated")
    if opts.proxy is not None and opts.verbose:
        raise not_modelled("--verbose", "-v output for transfers through a proxy is not simulated")
    if url is None:
        return
    literal = _last_toggle(opts, "globoff")
    if not literal and any(c in _url_text(opts) for c in "[]{}"):
        why = "URL globbing with [] or {} is not simulated; add -g to send the URL as written"
        raise not_modelled("URL " + opts.url, why)
    if not _last_toggle(opts, "path-as-is") and _has_dot_segments(url.path):
        why = "curl would squash ./ and ../ first; add --path-as-is to send the path as written"
        raise not_modelled("URL " + opts.url, why)
    if url.userinfo:
        raise not_modelled("URL " + opts.url, "credentials in the URL (user:password@) are not simulated")


def _last_toggle(opts: CurlOptions, name: str) -> bool:
    return next((t.toggle for t in reversed(opts.tokens) if t.name == name), False)


def _url_text(opts: CurlOptions) -> str:
    """The URL without an IPv6 literal's brackets, which are not glob characters."""
    text = opts.url
    start, end = text.find("://["), text.find("]")
    return text[:start] + text[end + 1 :] if start >= 0 and end > start else text


def _has_dot_segments(path: str) -> bool:
    segments = path.split("?", 1)[0].split("/")
    return any(s in (".", "..") for s in segments)
