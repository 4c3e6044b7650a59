"""File-watched xDS: a real Envoy loads the translation from files and takes a new translation without
a restart (Envoy's filesystem subscriptions reload a file moved into place; config_dump is its admin
API's view). Bounded: one Envoy, at most 10 s of waiting."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit import certs
from labkit.lab import Lab
from labkit.xds import EnvoyConfig, sidecar_config
from labkit.xds.delivery import write_file_xds

from .conftest import ENVOY, file_material, mesh_of, pod, scenario, settle

DEADLINE = 10.0


def loopback_only(config: EnvoyConfig) -> EnvoyConfig:
    """This test runs in the machine's own network namespace: the one listener that binds
    (virtualOutbound, 15001) takes a free loopback port instead. Listeners that do not bind keep theirs."""
    for listener in config.listeners:
        if listener.get("bind_to_port") is not False:
            listener["address"]["socket_address"].update(address="127.0.0.1", port_value=0)
    return config


@pytest.fixture
def envoy(tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    """Starts Envoy on a bootstrap written later by the test: yields (xds dir, start function)."""
    procs: list[subprocess.Popen[str]] = []

    def start(bootstrap: dict[str, Any]) -> str:
        bootstrap["admin"]["address"]["socket_address"]["port_value"] = 0
        (tmp_path / "bootstrap.json").write_text(json.dumps(bootstrap))
        admin_path = tmp_path / "admin"
        procs.append(
            subprocess.Popen(
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
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            if admin_path.exists() and admin_path.read_text().strip():
                return admin_path.read_text().strip()
            time.sleep(0.05)
        raise AssertionError("Envoy did not start its admin listener")

    yield tmp_path / "xds", start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def dump(admin: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{admin}/config_dump", timeout=5) as reply:
        return {c["@type"].rsplit(".", 1)[-1]: c for c in json.load(reply)["configs"]}


def route_timeout(admin: str) -> str | None:
    routes = dump(admin).get("RoutesConfigDump", {}).get("dynamic_route_configs", [])
    table = next((r["route_config"] for r in routes if r["route_config"]["name"] == "80"), None)
    if table is None:
        return None
    vhost = next((v for v in table["virtual_hosts"] if v["name"] == "httpbin.org:80"), None)
    return vhost["routes"][0]["route"]["timeout"] if vhost else None


def wait_for(check: Any, expected: Any) -> Any:
    end, value = time.monotonic() + DEADLINE, None
    while time.monotonic() < end:
        value = check()
        if value == expected:
            return value
        time.sleep(0.05)
    return value


def test_envoy_loads_the_files_and_takes_an_update_without_restart(envoy: tuple[Path, Any], pki: certs.LabPki) -> None:
    directory, start = envoy
    lab: Lab = scenario("01-registry-only-service-entries-timeout", pki)
    config = loopback_only(sidecar_config(mesh_of(lab), pod(lab)))
    admin = start(write_file_xds(config, file_material(pki), directory))
    assert wait_for(lambda: route_timeout(admin), "3s") == "3s"
    configs = dump(admin)
    listeners = {x["name"] for x in configs["ListenersConfigDump"]["dynamic_listeners"] if "active_state" in x}
    assert listeners == {x["name"] for x in config.listeners}
    clusters = {c["cluster"]["name"] for c in configs["ClustersConfigDump"]["dynamic_active_clusters"]}
    assert clusters == {c["name"] for c in config.clusters}
    # A new VirtualService timeout: translate again, rewrite the files, the running Envoy follows.
    lab.apply(
        [
            {
                **lab.get("VirtualService", "httpbin-ext", "default", "networking.istio.io/v1"),
                "spec": {
                    "hosts": ["httpbin.org"],
                    "http": [{"timeout": "7s", "route": [{"destination": {"host": "httpbin.org"}}]}],
                },
            }
        ]
    )
    settle(lab)
    write_file_xds(loopback_only(sidecar_config(mesh_of(lab), pod(lab))), file_material(pki), directory)
    assert wait_for(lambda: route_timeout(admin), "7s") == "7s"
