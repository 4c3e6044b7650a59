#!/usr/bin/env python3
"""Benchmark ``labkit serve``: requests per second, apply cost, and lab 01's wall time over kube.

    PYTHONPATH=lib .venv/bin/python scripts/bench-serve.py [--seconds 3] [--skip-lab]

Prints one line per figure. It measures, it does not judge: no thresholds, not part of the tests.
Every connection is to 127.0.0.1. Works with any labkit whose ``ApiServer`` serves plain HTTP or
HTTPS, so the same script measures an older checkout (``PYTHONPATH=<old checkout>/lib``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from labkit.serve import ApiServer

PATH = "/api/v1/namespaces/default"


def _connection(server: ApiServer) -> http.client.HTTPConnection:
    if server.url.startswith("https://"):
        return http.client.HTTPSConnection("127.0.0.1", server.port, timeout=30, context=server.client_context())
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)


def _headers(server: ApiServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}", "Accept": "application/json"}


def _get(conn: http.client.HTTPConnection, server: ApiServer, path: str = PATH) -> None:
    conn.request("GET", path, headers=_headers(server))
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status}")


def keep_alive_rate(server: ApiServer, seconds: float) -> float:
    conn = _connection(server)
    count, deadline = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < deadline:
        _get(conn, server)
        count += 1
    conn.close()
    return count / (time.monotonic() - start)


def new_connection_rate(server: ApiServer, seconds: float) -> float:
    count, deadline = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < deadline:
        conn = _connection(server)
        _get(conn, server)
        conn.close()
        count += 1
    return count / (time.monotonic() - start)


def _service_entry(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": f"se-{i}", "namespace": "default"},
        "spec": {
            "hosts": [f"host-{i}.example.com"],
            "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
            "resolution": "DNS",
            "location": "MESH_EXTERNAL",
        },
    }


def apply_seconds(count: int) -> float:
    """Server-side apply of ``count`` ServiceEntries, one request each, on a fresh server."""
    with ApiServer() as server:
        conn = _connection(server)
        headers = {**_headers(server), "Content-Type": "application/apply-patch+yaml"}
        start = time.monotonic()
        for i in range(count):
            path = f"/apis/networking.istio.io/v1/namespaces/default/serviceentries/se-{i}?fieldManager=bench"
            conn.request("PATCH", path, body=json.dumps(_service_entry(i)), headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status not in (200, 201):
                raise RuntimeError(f"apply se-{i}: {response.status}")
        took = time.monotonic() - start
        conn.close()
    return took


def lab_seconds(lab: str) -> tuple[float, int]:
    """Wall time of ``labkit run <lab> --backend kube`` against a fresh server, and its exit code."""
    with ApiServer() as server, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        command = [sys.executable, "-m", "labkit.cli", "run", lab, "--backend", "kube", "-q", "--out", tmp]
        start = time.monotonic()
        ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        return time.monotonic() - start, ran.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each request-rate run lasts")
    parser.add_argument("--skip-lab", action="store_true", help="do not time lab 01 over kube")
    args = parser.parse_args()
    with ApiServer() as server:
        _get(_connection(server), server)  # warm up
        print(f"keep-alive GETs:        {keep_alive_rate(server, args.seconds):8.0f} requests/s")
        print(f"new-connection GETs:    {new_connection_rate(server, args.seconds):8.0f} requests/s")
    small, large = apply_seconds(1000), apply_seconds(2000)
    print(f"apply 1,000 ServiceEntries: {small:6.2f} s")
    print(f"apply 2,000 ServiceEntries: {large:6.2f} s  (ratio {large / small:.2f}; 2.0 is linear)")
    if not args.skip_lab:
        seconds, code = lab_seconds("01")
        print(f"lab 01 over kube:       {seconds:8.1f} s  (exit code {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
