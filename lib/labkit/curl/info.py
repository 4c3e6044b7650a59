"""What ``curl --version`` and ``curl --help`` print, for the release the simulator plays."""

from __future__ import annotations

from .verbose import CURL_VERSION

VERSION_TEXT = (
    f"curl {CURL_VERSION} (x86_64-pc-linux-musl) libcurl/{CURL_VERSION} OpenSSL/3.5.2 zlib/1.3.1 "
    "brotli/1.1.0 zstd/1.5.7 libidn2/2.3.7 libpsl/0.21.5 nghttp2/1.66.0\n"
    "Release-Date: 2025-09-10\n"
    "Protocols: dict file ftp ftps gopher gophers http https imap imaps ipfs ipns mqtt pop3 pop3s "
    "rtsp smb smbs smtp smtps telnet tftp ws wss\n"
    "Features: alt-svc AsynchDNS brotli HSTS HTTP2 HTTPS-proxy IPv6 Largefile libz NTLM SSL "
    "threadsafe TLS-SRP UnixSockets\n"
)

HELP_TEXT = """\
Usage: curl [options...] <url>
 -d, --data <data>           HTTP POST data
 -f, --fail                  Fail fast with no output on HTTP errors
 -h, --help <subject>        Get help for commands
 -o, --output <file>         Write to file instead of stdout
 -O, --remote-name           Write output to file named as remote file
 -i, --include               Include response headers in output
 -s, --silent                Silent mode
 -T, --upload-file <file>    Transfer local FILE to destination
 -u, --user <user:password>  Server user and password
 -A, --user-agent <name>     Send User-Agent <name> to server
 -v, --verbose               Make the operation more talkative
 -V, --version               Show version number and quit

This is not the full help; this menu is split into categories.
Use "--help category" to get an overview of all categories.
For all options use the manual or "--help all".
"""


def info_text(kind: str) -> str:
    """stdout of ``--version`` ("version") or ``--help``/``--manual`` (anything else)."""
    return VERSION_TEXT if kind == "version" else HELP_TEXT
