"""``lab.proxy_config(...)`` on kube: the proxy's own config dump, read over the exec API as istioctl reads it.

istio.io, Debugging Envoy and Istiod: ``kubectl exec $POD -c istio-proxy -- pilot-agent request GET
config_dump`` prints Envoy's admin config dump, which ``istioctl proxy-config`` reads. The dump below is
written for these tests in Envoy's admin format (envoy.admin.v3.ConfigDump: a ``configs`` list with one
typed entry per section, as in istioctl's configdump test data), for a sidecar that knows httpbin.org.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from rich.console import Console

from labkit import Lab, LabkitError

ADMIN = "type.googleapis.com/envoy.admin.v3."
CLIENT_POD = "sleep-6f8c"
GATEWAY_POD = "istio-egressgateway-7f9c"  # the ready gateway of the ``backend`` fixture
SUCCESS = '{"metadata":{},"status":"Success"}'
VERSION = "2026-11-29T19:00:00Z/12"
UPDATED = "2026-11-29T19:00:00.120Z"

DUMP: dict[str, Any] = {
    "configs": [
        {
            "@type": ADMIN + "BootstrapConfigDump",
            "bootstrap": {"node": {"id": f"sidecar~10.244.0.7~{CLIENT_POD}.lab~lab.svc.cluster.local"}},
            "last_updated": UPDATED,
        },
        {
            "@type": ADMIN + "ClustersConfigDump",
            "version_info": VERSION,
            "static_clusters": [
                {
                    "cluster": {
                        "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                        "name": "prometheus_stats",
                    },
                    "last_updated": UPDATED,
                }
            ],
            "dynamic_active_clusters": [
                {
                    "version_info": VERSION,
                    "cluster": {
                        "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                        "name": "outbound|80||httpbin.org",
                        "type": "STRICT_DNS",
                    },
                    "last_updated": UPDATED,
                },
                {
                    "version_info": VERSION,
                    "cluster": {
                        "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                        "name": "BlackHoleCluster",
                    },
                    "last_updated": UPDATED,
                },
            ],
        },
        {
            "@type": ADMIN + "ListenersConfigDump",
            "version_info": VERSION,
            "dynamic_listeners": [
                {
                    "name": "virtualOutbound",
                    "active_state": {
                        "version_info": VERSION,
                        "listener": {
                            "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
                            "name": "virtualOutbound",
                            "address": {"socket_address": {"address": "0.0.0.0", "port_value": 15001}},
                        },
                        "last_updated": UPDATED,
                    },
                }
            ],
        },
        {"@type": ADMIN + "ScopedRoutesConfigDump"},
        {
            "@type": ADMIN + "RoutesConfigDump",
            "dynamic_route_configs": [
                {
                    "version_info": VERSION,
                    "route_config": {
                        "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
                        "name": "80",
                        "virtual_hosts": [{"name": "httpbin.org:80", "domains": ["httpbin.org"]}],
                    },
                    "last_updated": UPDATED,
                }
            ],
        },
        {
            "@type": ADMIN + "SecretsConfigDump",
            "dynamic_active_secrets": [{"name": "default", "version_info": VERSION, "last_updated": UPDATED}],
        },
    ]
}


class Proxy:
    """Stands in for kubernetes.stream.stream: answers ``pilot-agent request GET config_dump``."""

    def __init__(self, ws_factory: Callable[..., Any], stdout: str, status: str = SUCCESS, stderr: str = "") -> None:
        self.ws_factory, self.stdout, self.status, self.stderr = ws_factory, stdout, status, stderr
        self.execs: list[dict[str, Any]] = []

    def __call__(self, api_method: Callable, pod: str, namespace: str, **kwargs: Any):
        self.execs.append({"pod": pod, "namespace": namespace, **kwargs})
        frames: list[dict[int, str]] = [{1: self.stdout}] if self.stdout else []
        if self.stderr:
            frames.append({2: self.stderr})
        return self.ws_factory([*frames, {3: self.status}])


@pytest.fixture
def lab(cluster, models) -> Lab:
    cluster.core.pods.append(models.pod(CLIENT_POD, "lab"))
    return Lab(cluster.backend, name="pc", console=Console(file=io.StringIO(), width=200))


def install(monkeypatch, proxy: Proxy) -> Proxy:
    monkeypatch.setattr("labkit.kube.exec.stream", proxy)
    return proxy


@pytest.mark.parametrize(
    ("kind", "section"),
    [
        ("listeners", "ListenersConfigDump"),
        ("routes", "RoutesConfigDump"),
        ("clusters", "ClustersConfigDump"),
        ("secrets", "SecretsConfigDump"),
    ],
)
def test_each_kind_is_its_section_of_the_proxys_dump(lab, ws_factory, monkeypatch, kind, section):
    proxy = install(monkeypatch, Proxy(ws_factory, json.dumps(DUMP, indent=2) + "\n"))
    shown = lab.proxy_config(kind, pod="sleep", namespace="lab")
    assert shown == next(c for c in DUMP["configs"] if c["@type"] == ADMIN + section)
    (call,) = proxy.execs
    assert (call["pod"], call["namespace"], call["container"]) == (CLIENT_POD, "lab", "istio-proxy")
    assert call["command"] == ["pilot-agent", "request", "GET", "config_dump"]


def test_the_listener_and_cluster_names_read_as_istioctl_shows_them(lab, ws_factory, monkeypatch):
    # istio.io, Debugging Envoy and Istiod: virtualOutbound on 0.0.0.0:15001; clusters outbound|<port>||<host>.
    install(monkeypatch, Proxy(ws_factory, json.dumps(DUMP)))
    listeners = lab.proxy_config("listeners", pod="sleep", namespace="lab")["dynamic_listeners"]
    assert [x["active_state"]["listener"]["address"]["socket_address"]["port_value"] for x in listeners] == [15001]
    clusters = lab.proxy_config("clusters", pod="sleep", namespace="lab")
    assert [c["cluster"]["name"] for c in clusters["dynamic_active_clusters"]] == [
        "outbound|80||httpbin.org",
        "BlackHoleCluster",
    ]


def test_a_gateway_by_selector(lab, ws_factory, monkeypatch):
    proxy = install(monkeypatch, Proxy(ws_factory, json.dumps(DUMP)))
    lab.proxy_config("routes", pod="istio=egressgateway", namespace="istio-system")
    assert (proxy.execs[0]["pod"], proxy.execs[0]["namespace"]) == (GATEWAY_POD, "istio-system")


def test_a_pod_without_a_proxy_container_is_refused_with_the_servers_reason(lab, ws_factory, monkeypatch):
    # Kubernetes refuses an exec into a container the pod does not have (400 Bad Request) before anything runs.
    refusal = ApiException(status=400, reason="Bad Request")
    refusal.body = json.dumps(
        {"kind": "Status", "status": "Failure", "reason": "BadRequest", "code": 400,
         "message": f"container istio-proxy is not valid for pod {CLIENT_POD}"}
    )  # fmt: skip

    def stream(*args, **kwargs):
        raise refusal

    monkeypatch.setattr("labkit.kube.exec.stream", stream)
    with pytest.raises(LabkitError, match=f"container istio-proxy is not valid for pod {CLIENT_POD}"):
        lab.proxy_config("listeners", pod="sleep", namespace="lab")


def test_an_agent_that_cannot_reach_envoy_is_refused_naming_the_command(lab, ws_factory, monkeypatch):
    failed = json.dumps(
        {"status": "Failure", "reason": "NonZeroExitCode", "message": "command terminated with non-zero exit code",
         "details": {"causes": [{"reason": "ExitCode", "message": "1"}]}}
    )  # fmt: skip
    error = "Error: dial tcp 127.0.0.1:15000: connect: connection refused\n"
    install(monkeypatch, Proxy(ws_factory, "", status=failed, stderr=error))
    with pytest.raises(LabkitError) as refused:
        lab.proxy_config("clusters", pod="sleep", namespace="lab")
    assert f"cannot read the config dump of lab/{CLIENT_POD}: Error: dial tcp" in str(refused.value)
    assert "exec sleep-6f8c -c istio-proxy -- pilot-agent request GET config_dump" in str(refused.value)


def test_an_answer_that_is_no_dump_is_refused(lab, ws_factory, monkeypatch):
    install(monkeypatch, Proxy(ws_factory, "upstream connect error\n"))
    with pytest.raises(LabkitError, match="is not JSON"):
        lab.proxy_config("listeners", pod="sleep", namespace="lab")
