"""The table of curl options the simulator models, accepts without effect, or refuses (issue 10, part 3)."""

from __future__ import annotations

import pytest

from labkit.curl import optable, support
from labkit.curl.args import _HANDLERS, parse_args
from labkit.curl.errors import CurlUsageError
from labkit.curl.support import Status

ALL = optable.FLAGS | optable.SWITCHES | optable.WITH_ARG
INFO = {"help", "version", "manual"}  # handled by the parser itself: print and exit 0


def test_every_option_curl_knows_is_classified() -> None:
    assert sorted(ALL - set(support.TABLE)) == []
    assert sorted(set(support.TABLE) - ALL) == [], "the table names options optable does not have"


def test_every_entry_gives_a_reason() -> None:
    assert all(entry.reason.strip() for entry in support.TABLE.values())


def test_modelled_options_are_read_by_the_parser() -> None:
    # A "modelled" option the parser drops into CurlOptions.extras would be ignored silently.
    modelled = {name for name, entry in support.TABLE.items() if entry.status is Status.MODELLED}
    aliases = set(optable.ALIASES)  # --include is read as --show-headers
    unread = sorted(modelled - set(_HANDLERS) - INFO - aliases - {"path-as-is", "globoff"})
    assert unread == []


@pytest.mark.parametrize("name", sorted(n for n, e in support.TABLE.items() if e.status is Status.REFUSED))
def test_each_refused_option_is_refused_with_exit_2_by_name(name: str) -> None:
    kind = optable.kind(name)
    argv = [f"--{name}", "x"] if kind == "arg" else [f"--{name}"]
    try:
        opts = parse_args([*argv, "http://h/"])
    except CurlUsageError as err:  # --next and friends stop in the parser already
        assert err.exit_code == 2 and f"--{name}" in err.stderr
        return
    with pytest.raises(CurlUsageError) as info:
        support.check(opts)
    # issue 10, part 3: "refused with exit 2 and 'option --X: not modelled by the offline simulator'"
    assert info.value.exit_code == 2
    assert f"curl: option --{name}: not modelled by the offline simulator" in info.value.stderr
    assert "kind cluster" in info.value.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["-d", "@body.json", "http://h/"],  # man page -d: "@" reads a file
        ["--data-urlencode", "n@file", "http://h/"],
        ["-H", "@headers.txt", "http://h/"],
        ["-w", "@format.txt", "http://h/"],  # man page -w: "@filename" reads the format from a file
        ["http://h/{a,b}"],  # man page: URL globbing, unless -g
        ["http://h/a/../b"],  # curl squashes dot segments unless --path-as-is
        ["http://user:pw@h/"],  # credentials in the URL become an Authorization header
        ["--http2", "http://h/"],  # h2c upgrade request
        ["--expand-data", "{{x}}", "http://h/"],
        ["-x", "socks5://p:1080", "http://h/"],
    ],
)
def test_values_the_simulator_cannot_honour_are_refused(argv: list[str]) -> None:
    with pytest.raises(CurlUsageError) as info:
        opts = parse_args(argv)
        support.check(opts)
        from labkit.curl.proxy import choose
        from labkit.curl.urls import parse_url

        choose(opts, parse_url(opts.url))
    assert info.value.exit_code == 2
    assert "not modelled by the offline simulator" in info.value.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["-g", "http://h/{a,b}"],
        ["--path-as-is", "http://h/a/../b"],
        ["--http2", "https://h/"],
        ["--tcp-nodelay", "--no-keepalive", "-sS", "http://h/"],
        ["http://[::1]:8080/"],  # IPv6 brackets are not glob characters
    ],
)
def test_modelled_and_no_effect_options_pass(argv: list[str]) -> None:
    support.check(parse_args(argv))
