"""Which proxy curl picks (labkit.curl.proxy). Expectations from curl's man page: -x/--proxy
("[protocol://]host[:port]", default port 1080), --noproxy, and ENVIRONMENT (http_proxy in lower
case only, HTTPS_PROXY, ALL_PROXY, NO_PROXY)."""

from __future__ import annotations

import pytest

from labkit.curl.args import parse_args
from labkit.curl.errors import CurlUsageError
from labkit.curl.proxy import choose
from labkit.curl.urls import parse_url


def pick(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[str, int, str] | None:
    opts = parse_args([*args, url])
    choice = choose(opts, parse_url(url), env or {})
    return None if choice is None else (choice.host, choice.port, choice.source)


def test_proxy_option_defaults() -> None:
    assert pick("http://h/", "-x", "10.0.0.5") == ("10.0.0.5", 1080, "-x")  # default port 1080
    assert pick("http://h/", "-x", "http://p:3128") == ("p", 3128, "-x")
    assert pick("http://h/", "-x", "") is None  # an empty proxy string turns the proxy off


def test_environment_variables() -> None:
    assert pick("http://h/", env={"http_proxy": "p:3128"}) == ("p", 3128, "http_proxy")
    assert pick("http://h/", env={"HTTP_PROXY": "p:3128"}) is None  # only lower case for http
    assert pick("https://h/", env={"HTTPS_PROXY": "p:3128"}) == ("p", 3128, "HTTPS_PROXY")
    assert pick("https://h/", env={"ALL_PROXY": "p:1"}) == ("p", 1, "ALL_PROXY")
    assert pick("https://h/", "-x", "q:2", env={"HTTPS_PROXY": "p:1"}) == ("q", 2, "-x")  # -x wins


@pytest.mark.parametrize(
    ("host", "noproxy", "bypassed"),
    [
        # "local.com would match local.com, local.com:80, and www.local.com, but not www.notlocal.com"
        ("local.com", "local.com", True),
        ("www.local.com", "local.com", True),
        ("www.notlocal.com", "local.com", False),
        ("anything.example", "*", True),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("192.168.1.1", "10.0.0.0/8", False),
    ],
)
def test_noproxy(host: str, noproxy: str, bypassed: bool) -> None:
    chosen = pick(f"http://{host}/", "-x", "p:3128", "--noproxy", noproxy)
    assert (chosen is None) == bypassed
    from_env = pick(f"http://{host}/", env={"http_proxy": "p:3128", "NO_PROXY": noproxy})
    assert (from_env is None) == bypassed


def test_proxies_beyond_http_are_refused_or_rejected() -> None:
    with pytest.raises(CurlUsageError) as info:
        pick("http://h/", "-x", "socks5://p:1080")
    assert info.value.exit_code == 2 and "not modelled by the offline simulator" in info.value.stderr
    with pytest.raises(CurlUsageError) as info:
        pick("http://h/", "-x", "ftp://p:21")
    # curl 7.88 on loopback: "curl: (7) Unsupported proxy scheme for 'ftp://127.0.0.1:1'"
    assert (info.value.exit_code, info.value.stderr) == (7, "curl: (7) Unsupported proxy scheme for 'ftp://p:21'\n")
