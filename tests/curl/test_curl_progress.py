from __future__ import annotations

import pytest

from labkit.curl import progress


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "    0"), (13, "   13"), (99999, "99999"), (100000, "  97k"), (52428800, "50.0M"), (209715200, " 200M")],
)
def test_size5(value: int, text: str) -> None:
    assert progress.size5(value) == text


@pytest.mark.parametrize(("seconds", "text"), [(0, "--:--:--"), (3, " 0:00:03"), (3725, " 1:02:05")])
def test_clock(seconds: int, text: str) -> None:
    assert progress.clock(seconds) == text


def test_header_and_zero_line_match_curl() -> None:
    # Captured from curl writing to a pipe.
    assert progress.start() == (
        "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
        "                                 Dload  Upload   Total   Spent    Left  Speed\n"
        "\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0"
    )


def test_known_size_download() -> None:
    line = progress.line(progress.Sample(downloaded=13, download_size=13, spent=0.001))
    assert line == "100    13  100    13    0     0  13000      0 --:--:-- --:--:-- --:--:-- 13000"


def test_head_request_knows_size_but_gets_nothing() -> None:
    line = progress.line(progress.Sample(downloaded=0, download_size=13))
    assert line == "  0    13    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0"


def test_timeout_shows_time_spent() -> None:
    assert progress.finish(progress.Sample(spent=3.002)) == (
        "\r  0     0    0     0    0     0      0      0 --:--:--  0:00:03 --:--:--     0\n"
    )


def test_unknown_size_counts_as_complete_total() -> None:
    line = progress.line(progress.Sample(downloaded=13, spent=0.5))
    assert line.split()[:4] == ["100", "13", "0", "13"]
