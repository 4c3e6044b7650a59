"""A real Envoy serving HTTP with the translated sidecar config, on loopback only: the route a request
takes, the decorator header and the access-log fields are Envoy's own. istio.io's egress-control task
shows what to expect: ``X-Envoy-Decorator-Operation: httpbin.org:80/*`` echoed by httpbin with a
ServiceEntry, and 502 for an unknown host under REGISTRY_ONLY. Bounded: one Envoy, 10 s at most."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from labkit import certs
from labkit.xds import EnvoyConfig, sidecar_config
from labkit.xds.delivery import static_bootstrap

from .conftest import ENVOY, file_material, mesh_of, pod, scenario

DEADLINE = 10.0


class Echo(BaseHTTPRequestHandler):
    """httpbin's /headers in miniature: the request headers as JSON."""

    def do_GET(self) -> None:
        body = json.dumps({"headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("server", "echo")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def on_loopback(config: EnvoyConfig, upstream_port: int) -> EnvoyConfig:
    """No iptables here: the HTTP listener binds a free loopback port itself, and httpbin.org's cluster
    resolves to the echo server instead of DNS. Everything else is the translation as it is."""
    config.listeners = [x for x in config.listeners if x["name"] == "0.0.0.0_80"]
    config.listeners[0]["address"]["socket_address"].update(address="127.0.0.1", port_value=0)
    config.listeners[0]["bind_to_port"] = True
    cluster = config.cluster("outbound|80||httpbin.org")
    assert cluster is not None
    cluster["type"] = "STATIC"
    for key in ("dns_lookup_family", "dns_refresh_rate", "respect_dns_ttl"):
        cluster.pop(key, None)
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"].update(address="127.0.0.1", port_value=upstream_port)
    return config


def test_requests_through_a_real_envoy(tmp_path: Path, pki: certs.LabPki, echo: int) -> None:
    lab = scenario("01-registry-only-service-entries-timeout", pki)
    config = on_loopback(sidecar_config(mesh_of(lab), pod(lab)), echo)
    bootstrap = static_bootstrap(config, file_material(pki))
    bootstrap["admin"]["address"]["socket_address"]["port_value"] = 0
    (tmp_path / "bootstrap.json").write_text(json.dumps(bootstrap))
    admin_path, log = tmp_path / "admin", tmp_path / "envoy.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(ENVOY),
                "-c",
                str(tmp_path / "bootstrap.json"),
                "--admin-address-path",
                str(admin_path),
                "--disable-hot-restart",
                "-l",
                "error",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        port = listener_port(admin_path)
        status, headers, body = get(port, "httpbin.org", "/headers")
        assert status == 200
        assert json.loads(body)["headers"]["x-envoy-decorator-operation"] == "httpbin.org:80/*"
        assert headers["server"] == "envoy"  # the sidecar's HCM overwrites it (ProxyHeaders, outbound)
        status, _, _ = get(port, "www.example.com", "/")
        assert status == 502
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = [x for x in log.read_text().splitlines() if x.startswith("[")]
    ok = next(x for x in lines if '"GET /headers HTTP/1.1" 200' in x)
    # Istio's text format: ... %UPSTREAM_CLUSTER_RAW% ... %ROUTE_NAME%; the VirtualService route has no name.
    assert " outbound|80||httpbin.org " in ok and ok.endswith(" -")
    blocked = next(x for x in lines if '"GET / HTTP/1.1" 502' in x)
    assert blocked.endswith(" block_all") and " direct_response " in blocked


def listener_port(admin_path: Path) -> int:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if admin_path.exists() and admin_path.read_text().strip():
            admin = admin_path.read_text().strip()
            conn = http.client.HTTPConnection(admin, timeout=5)
            conn.request("GET", "/listeners?format=json")
            data = json.loads(conn.getresponse().read())
            for item in data.get("listener_statuses", []):
                if item["name"] == "0.0.0.0_80" and item.get("local_address"):
                    return int(item["local_address"]["socket_address"]["port_value"])
        time.sleep(0.05)
    raise AssertionError("Envoy's listener did not come up")


def get(port: int, host: str, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": host, "User-Agent": "curl/8.16.0"})
    reply = conn.getresponse()
    return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
