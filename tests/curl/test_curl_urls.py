from __future__ import annotations

import pytest

from labkit.curl.errors import CurlUsageError
from labkit.curl.urls import is_ip_literal, normalize_url, parse_url, resolve_location, split_url

SPLITS = [
    ("http://httpbin.org/get", ("http", "httpbin.org", 80, "/get")),
    ("https://httpbin.org", ("https", "httpbin.org", 443, "/")),
    ("httpbin.org/headers", ("http", "httpbin.org", 80, "/headers")),
    ("httpbin.org:8080", ("http", "httpbin.org", 8080, "/")),
    ("HTTPS://Example.COM:8443/a?b=1#frag", ("https", "Example.COM", 8443, "/a?b=1")),
    ("http://user:pw@host/x", ("http", "host", 80, "/x")),
    ("http://[::1]:8080/v6", ("http", "::1", 8080, "/v6")),
    ("http://host?q=1", ("http", "host", 80, "/?q=1")),
    ("ftp.example.com/file", ("ftp", "ftp.example.com", 21, "/file")),
    ("http://host:/p", ("http", "host", 80, "/p")),
]


@pytest.mark.parametrize(("url", "expected"), SPLITS, ids=[u for u, _ in SPLITS])
def test_split_url(url: str, expected: tuple[str, str, int, str]) -> None:
    assert split_url(url) == expected


@pytest.mark.parametrize(
    ("url", "code", "detail"),
    [
        ("http://", 3, "URL rejected: No host part in the URL"),
        ("http://a b", 3, "URL rejected: Malformed input to a URL function"),
        ("http://h:65536/", 3, "URL rejected: Port number was not a decimal number between 0 and 65535"),
        ("http://[::1/", 3, "URL rejected: Bad IPv6 address"),
        ("gopherz://h/", 1, 'Protocol "gopherz" not supported'),
    ],
)
def test_split_url_errors(url: str, code: int, detail: str) -> None:
    with pytest.raises(CurlUsageError) as info:
        split_url(url)
    assert (info.value.exit_code, info.value.detail) == (code, detail)


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080/"),
        ("HTTP://h/p?q", "http://h/p?q"),
        ("https://h:443/", "https://h:443/"),  # curl keeps a port that was written out
        ("http://[::1]/", "http://[::1]/"),
    ],
)
def test_normalize_url(url: str, normalized: str) -> None:
    assert normalize_url(url) == normalized


def test_authority_omits_default_port() -> None:
    assert parse_url("https://h:443/").authority == "h"
    assert parse_url("http://h:8080/").authority == "h:8080"
    assert parse_url("http://[::1]:81/").authority == "[::1]:81"


@pytest.mark.parametrize(
    ("base", "location", "target"),
    [
        ("http://h:8080/a/b", "/get", "http://h:8080/get"),
        ("http://h/a/b", "c", "http://h/a/c"),
        ("http://h/", "https://other.example/x", "https://other.example/x"),
    ],
)
def test_resolve_location(base: str, location: str, target: str) -> None:
    assert resolve_location(base, location) == target


# RFC 6066 section 3: "Literal IPv4 and IPv6 addresses are not permitted in HostName", so curl sends no
# SNI for them, and RFC 6125 section 1.7.2 checks them against iPAddress SAN entries, not DNS names.
@pytest.mark.parametrize(
    ("host", "literal"),
    [("93.184.216.34", True), ("::1", True), ("2001:db8::7", True), ("httpbin.org", False),
     ("1.2.3", False), ("", False), ("999.1.1.1", False)],
)  # fmt: skip
def test_is_ip_literal(host: str, literal: bool) -> None:
    assert is_ip_literal(host) is literal
