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

from .conftest import ENVOY, file_material, mesh_of, pod, scenario, settle

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


class RunningEnvoy:
    """The translation's HTTP listener served by a real Envoy on loopback; its log is Envoy's stdout."""

    def __init__(self, config: EnvoyConfig, pki: certs.LabPki, directory: Path) -> None:
        bootstrap = static_bootstrap(config, file_material(pki))
        bootstrap["admin"]["address"]["socket_address"]["port_value"] = 0
        (directory / "bootstrap.json").write_text(json.dumps(bootstrap))
        self.log = directory / "envoy.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [
                    str(ENVOY),
                    "-c",
                    str(directory / "bootstrap.json"),
                    "--admin-address-path",
                    str(directory / "admin"),
                    "--disable-hot-restart",
                    "-l",
                    "error",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.port = listener_port(directory / "admin")

    def stop(self) -> list[str]:
        """Stops Envoy; returns its access-log lines."""
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return [x for x in self.log.read_text().splitlines() if x.startswith("[")]


@pytest.fixture
def running(tmp_path: Path, pki: certs.LabPki, echo: int) -> Iterator[Any]:
    started: list[RunningEnvoy] = []

    def start(config: EnvoyConfig) -> RunningEnvoy:
        started.append(RunningEnvoy(on_loopback(config, echo), pki, tmp_path))
        return started[-1]

    yield start
    for envoy in started:
        if envoy.proc.poll() is None:
            envoy.stop()


def test_requests_through_a_real_envoy(running: Any, pki: certs.LabPki) -> None:
    lab = scenario("01-registry-only-service-entries-timeout", pki)
    envoy = running(sidecar_config(mesh_of(lab), pod(lab)))
    status, headers, body = get(envoy.port, "httpbin.org", "/headers")
    assert status == 200
    assert json.loads(body)["headers"]["x-envoy-decorator-operation"] == "httpbin.org:80/*"
    assert headers["server"] == "envoy"  # the sidecar's HCM overwrites it (ProxyHeaders, outbound)
    status, _, _ = get(envoy.port, "www.example.com", "/")
    assert status == 502
    lines = envoy.stop()
    ok = next(x for x in lines if '"GET /headers HTTP/1.1" 200' in x)
    # Istio's text format: ... %UPSTREAM_CLUSTER_RAW% ... %ROUTE_NAME%; the VirtualService route has no name.
    assert " outbound|80||httpbin.org " in ok and ok.endswith(" -")
    blocked = next(x for x in lines if '"GET / HTTP/1.1" 502' in x)
    assert blocked.endswith(" block_all") and " direct_response " in blocked


def test_a_fault_without_percentage_never_fires(running: Any, pki: certs.LabPki) -> None:
    """route.go TranslateFault sends a delay without ``percentage`` as the deprecated integer percent
    (0) and an abort without one with no percentage at all; Envoy's FaultDelay / FaultAbort percentage
    is a FractionalPercent whose unset value is 0, so neither fault fires, and with percentage 100 both do."""
    lab = scenario("01-registry-only-service-entries-timeout", pki)
    route = {"destination": {"host": "httpbin.org"}}
    http = [
        {"match": [{"uri": {"prefix": "/abort"}}], "fault": {"abort": {"httpStatus": 418}}, "route": [route]},
        {"match": [{"uri": {"prefix": "/delay"}}], "fault": {"delay": {"fixedDelay": "1s"}}, "route": [route]},
        {
            "match": [{"uri": {"prefix": "/always"}}],
            "route": [route],
            "fault": {"abort": {"httpStatus": 418, "percentage": {"value": 100}}},
        },
        {"route": [route]},
    ]
    vs = lab.get("VirtualService", "httpbin-ext", "default", "networking.istio.io/v1")
    assert vs is not None
    lab.apply([{**vs, "spec": {"hosts": ["httpbin.org"], "http": http}}])
    settle(lab)
    envoy = running(sidecar_config(mesh_of(lab), pod(lab)))
    assert get(envoy.port, "httpbin.org", "/abort")[0] == 200
    started = time.monotonic()
    assert get(envoy.port, "httpbin.org", "/delay")[0] == 200
    assert time.monotonic() - started < 1.0
    assert get(envoy.port, "httpbin.org", "/always")[0] == 418


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
