"""The internet namespace's real servers answer as the simulator's world says, over real TCP and TLS.

Requests go from a pod outside the mesh (no sidecar), so only the servers are under test.
"""

from __future__ import annotations

import json
import time

import pytest

from labkit.envoy import DataPlane, Pod
from labkit.sim.messages import Connection, Request
from labkit.sim.tls import ClientTls


@pytest.fixture
def client(plane: DataPlane) -> Pod:
    return plane.add_pod("client", proxy=None, capture=None)


def world_body(plane: DataPlane, host: str, port: int, path: str, tls: bool) -> str:
    server = plane.world.at(plane.world.resolve(host))
    conn = Connection(
        "10.244.0.10", server.ip, port, tls=ClientTls(sni=host) if tls else None, request=Request("GET", host, path)
    )
    out = server.accept(conn)
    assert out.reply is not None
    return out.reply.body


@pytest.mark.parametrize(
    ("url", "host", "port", "path", "tls"),
    [
        ("http://edition.cnn.com/politics", "edition.cnn.com", 80, "/politics", False),
        ("https://edition.cnn.com/politics", "edition.cnn.com", 443, "/politics", True),
        ("https://www.baidu.com/", "www.baidu.com", 443, "/", True),
    ],
)
def test_the_servers_send_the_world_s_own_answer(
    plane: DataPlane, client: Pod, url: str, host: str, port: int, path: str, tls: bool
) -> None:
    # Issue 11: the external hosts answer as the world's behaviour says, so both backends answer alike.
    r = client.curl("-sS", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == world_body(plane, host, port, path, tls)


def test_httpbin_echoes_the_request_curl_really_sent(client: Pod) -> None:
    r = client.curl("-sS", "-H", "X-Lab: 1", "http://httpbin.org/headers")
    # httpbin.org /headers returns the request's headers (httpbin's own description of the endpoint).
    headers = json.loads(r.stdout)["headers"]
    assert headers["Host"] == "httpbin.org" and headers["X-Lab"] == "1"
    assert headers["User-Agent"].startswith("curl/")


def test_http2_is_negotiated_where_the_world_says(client: Pod) -> None:
    # istio.io egress-control: `curl -sSI https://edition.cnn.com` shows "HTTP/2 200".
    r = client.curl("-sSI", "https://edition.cnn.com")
    assert r.stdout.splitlines()[0].strip() == "HTTP/2 200", r.stderr
    # The lab's www.baidu.com answers HTTP/1.1 (Istio egress tutorials show "HTTP/1.1 200 OK" for it).
    assert client.curl("-sSI", "https://www.baidu.com").stdout.startswith("HTTP/1.1 200 OK")


def test_the_wrong_protocol_on_a_port_fails_as_on_the_internet(client: Pod) -> None:
    # curl(1) exit code 35: "SSL connect error. The SSL handshaking failed." (a plain port answers text).
    r = client.curl("-sS", "https://httpbin.org:80/get")
    assert r.returncode == 35 and "wrong version number" in r.stderr, r
    # nginx and similar servers answer plain HTTP on a TLS port with 400 (nginx ngx_http_ssl_module docs,
    # error 497 "plain HTTP request was sent to HTTPS port", returned to the client as 400).
    r = client.curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://httpbin.org:443/get")
    assert r.stdout == "400"


def test_delays_take_real_time(client: Pod) -> None:
    began = time.monotonic()
    # httpbin /delay/{n}: "Returns a delayed response (max of 10 seconds)" (httpbin.org's API description).
    r = client.curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://httpbin.org/delay/1")
    assert r.stdout == "200"
    assert time.monotonic() - began >= 1.0
