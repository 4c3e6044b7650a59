"""What simulated curl sends: method, target, body and headers, as the server and access log see them.

Expectations come from curl's man page (-d, -G, -X, -H, --json, --connect-to, --http1.1) and from
curl 7.88 run on loopback (tests/curl/test_curl_request_vs_real.py checks the same rules byte for
byte); the refusals from issue 10, part 3 ("modelled, or refused with exit 2").
"""

from __future__ import annotations

import pytest

from labkit.lab import Lab
from labkit.sim.messages import Connection, Outcome, Request

RECORDER_IP = "203.0.113.99"  # RFC 5737 documentation range, like the other simulated hosts


@pytest.fixture
def seen(lab: Lab) -> list[Request]:
    """Requests that reach recorder.test, an external host that answers 200 to everything."""
    requests: list[Request] = []
    host = lab.driver.mesh.world.add_host(
        "recorder.test", "static-page", settings={"body": "ok"}, address=RECORDER_IP, ports=(80,)
    )
    answer = host.accept

    def record(conn: Connection) -> Outcome:
        assert conn.request is not None
        requests.append(conn.request)
        return answer(conn)

    host.accept = record  # type: ignore[method-assign]  # watch what reaches the server
    return requests


def test_get_with_data_sends_a_get_with_a_query_and_the_log_agrees(lab: Lab, seen: list[Request]) -> None:
    r = lab.curl("http://recorder.test/get", "-sS", "-G", "-d", "a=b")
    assert r.exit_code == 0, r.stderr
    # man page, -G: the -d data is "appended to the URL with a '?' separator" and sent with GET.
    assert (seen[-1].method, seen[-1].path, seen[-1].body) == ("GET", "/get?a=b", "")
    assert '"GET /get?a=b HTTP/1.1"' in lab.logs()[-1]


def test_post_data_carries_body_type_and_length(lab: Lab, seen: list[Request]) -> None:
    r = lab.curl("http://recorder.test/post", "-sS", "-X", "POST", "-d", "a=b")
    assert r.exit_code == 0, r.stderr
    req = seen[-1]
    # man page, -d: "sends the specified data in a POST request ... using the content-type
    # application/x-www-form-urlencoded"; Content-Length is the body's size.
    assert (req.method, req.body) == ("POST", "a=b")
    assert req.header("content-type") == "application/x-www-form-urlencoded"
    assert req.header("content-length") == "3"
    assert '"POST /post HTTP/1.1"' in lab.logs()[-1]


def test_json_sets_both_json_headers(lab: Lab, seen: list[Request]) -> None:
    lab.curl("http://recorder.test/", "-sS", "--json", '{"a":1}')
    req = seen[-1]
    # man page, --json: POST with "Content-Type: application/json" and "Accept: application/json".
    assert (req.method, req.body) == ("POST", '{"a":1}')
    assert (req.header("content-type"), req.header("accept")) == ("application/json", "application/json")


def test_custom_method_is_sent_as_written(lab: Lab, seen: list[Request]) -> None:
    lab.curl("http://recorder.test/x", "-sS", "-X", "PATCH", "-H", "X-Lab: 1")
    # man page, -X: the string is used as the method; -H adds the header.
    assert (seen[-1].method, seen[-1].header("x-lab")) == ("PATCH", "1")


def test_connect_to_keeps_the_host_header(lab: Lab, seen: list[Request]) -> None:
    r = lab.curl("http://httpbin.org/headers", "-sS", "--connect-to", "httpbin.org:80:recorder.test:80")
    assert r.exit_code == 0, r.stderr
    # man page, --connect-to: connect to HOST2:PORT2 instead, the request still names HOST1.
    assert seen[-1].authority == "httpbin.org"


def test_resolve_sends_to_the_given_address(lab: Lab, seen: list[Request]) -> None:
    r = lab.curl("http://other.test/", "-sS", "--resolve", f"other.test:80:{RECORDER_IP}")
    assert r.exit_code == 0, r.stderr
    # man page, --resolve: the name resolves to the given address; Host stays other.test.
    assert seen[-1].authority == "other.test"


def test_http1_1_offers_only_http_1_1(lab: Lab) -> None:
    # man page, --http1.1: "Tells curl to use HTTP version 1.1"; istio.io's egress tasks show
    # edition.cnn.com answering HTTP/2 by default over TLS.
    assert lab.curl("https://edition.cnn.com", "-sSI").responses[0].http_version == "2"
    assert lab.curl("https://edition.cnn.com", "-sSI", "--http1.1").responses[0].http_version == "1.1"


@pytest.mark.parametrize(
    "args",
    [("--http3",), ("--retry", "3"), ("--compressed",), ("-u", "a:b")],
)
def test_unmodelled_options_are_refused_and_nothing_is_sent(lab: Lab, args: tuple[str, ...]) -> None:
    before = len(lab.logs())
    r = lab.curl("http://httpbin.org/get", *args)
    # issue 10, part 3: refused with exit 2 and "option --X: not modelled by the offline simulator".
    assert r.exit_code == 2
    assert "not modelled by the offline simulator" in r.stderr
    assert len(lab.logs()) == before, "a refused command sends nothing"
