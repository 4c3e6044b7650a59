"""A running ``labkit serve`` per test, with its kubeconfig and clients for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from labkit.serve import ApiServer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Http:
    """Raw requests to the server, to see exactly what goes over the wire."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        token: bool = True,
    ) -> Reply:
        conn = HTTPSConnection("127.0.0.1", self.server.port, timeout=30, context=self.server.client_context())
        sent = dict(headers or {})
        if token:
            sent.setdefault("Authorization", f"Bearer {self.server.token}")
        payload = None
        if body is not None:
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            sent["Content-Type"] = content_type
        try:
            conn.request(method, path, body=payload, headers=sent)
            response = conn.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode())
        finally:
            conn.close()


@pytest.fixture
def server() -> Iterator[ApiServer]:
    with ApiServer() as running:
        yield running


@pytest.fixture
def kubeconfig(server: ApiServer, tmp_path: Path) -> Path:
    return server.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def http(server: ApiServer) -> Http:
    return Http(server)


@pytest.fixture
def api(kubeconfig: Path) -> Iterator[k8s.ApiClient]:
    """The official Python client, configured from the served kubeconfig as labkit configures it."""
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration, persist_config=False)
    with k8s.ApiClient(configuration) as client:
        yield client


SERVICE_ENTRY = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "ServiceEntry",
    "metadata": {"name": "baidu", "namespace": "default"},
    "spec": {
        "hosts": ["www.baidu.com"],
        "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
        "resolution": "DNS",
        "location": "MESH_EXTERNAL",
    },
}


def sleep_manifests(name: str = "sleep", namespace: str = "default") -> list[dict[str, Any]]:
    """The labs' curl client (labs/common/sleep.yaml) for ``name``."""
    from labkit import manifests
    from labkit.paths import lab_file

    docs = manifests.load(lab_file("common", "sleep.yaml"), {"name": name})
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return docs


@pytest.fixture
def pod(server: ApiServer, http: Http) -> str:
    """The sleep client deployed in ``default`` (so with a sidecar); its pod's name."""
    for doc in sleep_manifests():
        kind = {"ServiceAccount": "serviceaccounts", "Service": "services", "Deployment": "deployments"}[doc["kind"]]
        prefix = "/apis/apps/v1" if doc["kind"] == "Deployment" else "/api/v1"
        path = f"{prefix}/namespaces/default/{kind}/sleep?fieldManager=test"
        assert http("PATCH", path, doc, content_type="application/apply-patch+yaml").status == 201
    pods = http("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dsleep").json()["items"]
    return pods[0]["metadata"]["name"]
