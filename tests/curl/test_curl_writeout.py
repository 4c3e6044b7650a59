from __future__ import annotations

import re

from labkit.curl.writeout import WriteOutData, expand, stdout_pattern, strip_trailer
from labkit.result import HttpResponse

RESPONSE = HttpResponse("1.1", 200, "OK", (("Content-Type", "text/plain"), ("Set-Cookie", "a"), ("Set-Cookie", "b")))
DATA = WriteOutData(
    values={"http_code": "200", "time_total": "0.123456", "url_effective": "http://h/"},
    last=RESPONSE,
    responses=[RESPONSE],
)


def test_variables_and_escapes() -> None:
    out, err = expand(r"%{http_code}\t%{time_total}\r\n%%{x}\q%y", DATA)
    assert out == "200\t0.123456\r\n%{x}\\q%y"
    assert err == ""


def test_unknown_variable_warns_on_stderr() -> None:
    out, err = expand("[%{nope}]", DATA)
    assert (out, err) == ("[]", "curl: unknown --write-out variable: 'nope'\n")


def test_known_but_unset_variable_prints_nothing() -> None:
    assert expand("[%{local_ip}]", DATA) == ("[]", "")


def test_stream_switches() -> None:
    assert expand("a%{stderr}b%{stdout}c", DATA) == ("ac", "b")


def test_onerror_stops_on_success_only() -> None:
    assert expand("x%{onerror}y", DATA) == ("x", "")
    failed = WriteOutData(values={}, failed=True)
    assert expand("x%{onerror}y", failed) == ("xy", "")


def test_header_lookups() -> None:
    assert expand("%header{content-type}|%header{missing}|%header{set-cookie:all:, }", DATA) == (
        "text/plain||a, b",
        "",
    )


def test_header_json_shape() -> None:
    out, _ = expand("%{header_json}", DATA)
    assert out == '{"content-type":["text/plain"],\n"set-cookie":["a","b"]\n}'


def test_json_has_numbers_bare_and_unset_null() -> None:
    out, _ = expand("%{json}", DATA)
    assert '"http_code":200' in out
    assert '"time_total":0.123456' in out
    assert '"local_ip":null' in out
    assert out.startswith("{") and out.endswith("}")


def test_unterminated_variable_is_printed() -> None:
    assert expand("%{http_code", DATA) == ("%{http_code", "")


def test_pattern_strips_only_the_writeout_text() -> None:
    pattern = stdout_pattern("\n%{http_code} %{time_total}\n", {"http_code": "200"}, lambda _: None)
    assert strip_trailer("body\n200\n\n200 1.000000\n", pattern) == "body\n200\n"
    assert strip_trailer("no match here", pattern) == "no match here"


def test_pattern_ignores_the_stderr_part() -> None:
    pattern = stdout_pattern("%{http_code}%{stderr}%{errormsg}", {"http_code": "404"}, lambda _: None)
    assert re.fullmatch(pattern, "404")
