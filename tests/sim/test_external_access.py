"""Lab 01 behaviour of the simulator. Expected values come from Istio's egress-control task
(istio.io: tasks/traffic-management/egress/egress-control) unless a comment says otherwise."""

from __future__ import annotations

import pytest

from labkit import ExpectationFailed, ManifestError
from labkit.lab import Lab
from labkit.paths import lab_file

HTTP_SE = lab_file("01-external-access", "serviceentry-http.yaml")
HTTPS_SE = lab_file("01-external-access", "serviceentry-https.yaml")
TIMEOUT_VS = lab_file("01-external-access", "virtualservice-timeout.yaml")


def settle(lab: Lab) -> None:
    """Let istiod's push reach the proxies (the simulator's push delay is one virtual second)."""
    lab.driver.sleep(2.0)


def test_fresh_sim_looks_like_a_prepared_kind_cluster(lab: Lab) -> None:
    assert lab.backend == "sim" and lab.simulated
    assert lab.get("Namespace", "default")["metadata"]["labels"]["istio-injection"] == "enabled"
    assert lab.outbound_policy() == "ALLOW_ANY"
    assert lab.mesh_config()["accessLogFile"] == "/dev/stdout"
    assert lab.pods("istio-system", "istio=egressgateway"), "the egress gateway runs by default"
    assert lab.pods("kube-system", "k8s-app=kube-dns")
    assert lab.containers() == ["sleep", "istio-proxy"]


def test_allow_any_passes_https_through(lab: Lab) -> None:
    for host in ("www.baidu.com", "edition.cnn.com"):
        r = lab.curl(f"https://{host}", "-sSI")
        assert (r.exit_code, r.status) == (0, 200), r.stderr
    assert lab.curl("https://edition.cnn.com", "-sSI").responses[0].http_version == "2"
    assert "HTTP/1.1 200 OK" in lab.curl("https://www.baidu.com", "-sSI").stdout


def test_registry_only_blocks_https_with_exit_35_and_http_with_502(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    settle(lab)
    r = lab.curl("https://www.baidu.com", "-sSI")
    assert r.exit_code == 35 and r.status is None
    assert r.stderr.startswith("curl: (35)")
    assert "BlackHoleCluster" in str(r.explain())
    r = lab.curl("http://httpbin.org/headers", "-sS")
    assert r.status == 502  # the block_all virtual host's direct response
    assert any("block_all" in line for line in lab.logs())


def test_policy_change_reaches_proxies_after_the_push_delay(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    assert lab.curl("https://www.baidu.com", "-sSI").status == 200, "not pushed yet"
    r = lab.verify_curl("https://www.baidu.com", "-sSI", exit_code=35)
    assert r.exit_code == 35
    assert lab.checks[-1].attempts >= 2, "the check had to retry until the config arrived"


def test_service_entry_for_http_adds_envoy_headers_and_logs(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(HTTP_SE, name="httpbin-ext", host="httpbin.org")
    settle(lab)
    r = lab.curl("http://httpbin.org/headers", "-sS")
    assert r.status == 200
    assert '"X-Envoy-Decorator-Operation": "httpbin.org:80/*"' in r.body
    lines = [line for line in lab.logs() if "outbound|80||httpbin.org" in line]
    assert lines and '"GET /headers HTTP/1.1" 200' in lines[-1]
    assert lines[-1].startswith("[2026-")


def test_service_entry_for_https_routes_by_sni(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(HTTPS_SE, name="baidu", host="www.baidu.com")
    settle(lab)
    assert lab.curl("https://www.baidu.com", "-sSI").status == 200
    tcp = [line for line in lab.logs() if "outbound|443||www.baidu.com" in line]
    assert tcp and '"- - -" 0' in tcp[-1] and " www.baidu.com " in tcp[-1]
    assert lab.curl("https://edition.cnn.com", "-sSI").exit_code == 35, "only the registered host"


def test_delay_takes_virtual_time_and_a_virtual_service_timeout_gives_504(lab: Lab) -> None:
    lab.apply(HTTP_SE, name="httpbin-ext", host="httpbin.org")
    settle(lab)
    before = lab.driver.now()
    r = lab.curl("http://httpbin.org/delay/5", "-sS", "-o", "/dev/null", "-w", "%{http_code}")
    assert (r.status, r.stdout) == (200, "200")
    assert 5.0 <= r.elapsed < 5.5
    assert lab.driver.now() - before == pytest.approx(r.elapsed)
    lab.apply(TIMEOUT_VS, name="httpbin-ext", host="httpbin.org", timeout="3s")
    settle(lab)
    r = lab.curl("http://httpbin.org/delay/5", "-sS", "-o", "/dev/null", "-w", "%{http_code}")
    assert (r.status, r.stdout) == (504, "504")
    assert 3.0 <= r.elapsed < 3.2
    assert any(" UT response_timeout " in line for line in lab.logs())


def test_include_outbound_ip_ranges_bypasses_the_sidecar(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.deploy_client(
        name="direct",
        pod_annotations={"traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/12,10.244.0.0/16"},
    )
    settle(lab)
    assert lab.curl("https://www.baidu.com", "-sSI", client="direct").status == 200
    r = lab.curl("http://httpbin.org/headers", "-sS", client="direct")
    assert r.status == 200 and "X-Envoy" not in r.body
    assert lab.logs(selector="app=direct") == [], "the sidecar never saw the traffic"


def test_redirect_chain_and_curl_failures(lab: Lab) -> None:
    r = lab.curl("http://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [301, 200]
    assert "HTTP/1.1 301 Moved Permanently" in r.stdout and "HTTP/2 200" in r.stdout
    r = lab.curl("http://no-such-host.example", "-sS")
    assert r.exit_code == 6 and "Could not resolve host: no-such-host.example" in r.stderr
    r = lab.curl("http://httpbin.org/delay/5", "-sS", "-m", "2")
    assert r.exit_code == 28 and r.status is None and r.elapsed == pytest.approx(2.0)


def test_strict_parsing_names_document_and_field_and_applies_nothing(lab: Lab) -> None:
    bad = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: fine}
spec: {hosts: [a.example], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct-nginx}
spec:
  hosts: [nginx.example.com]
  tls:
  - match:
    - port: 443
      sniHosts:
      - nginx.example.comm:
    route:
    - destination: {host: nginx.example.com}
"""
    with pytest.raises(ManifestError) as err:
        lab.apply(bad)
    assert "document 2 (VirtualService/direct-nginx)" in str(err.value)
    assert "spec.tls[0].match[0].sniHosts[0]" in str(err.value)
    assert lab.get("ServiceEntry", "fine", "default", "networking.istio.io/v1") is None


def test_bad_outbound_policy_is_rejected_and_changes_nothing(lab: Lab) -> None:
    with pytest.raises(ValueError, match="ALLOW_ANY, REGISTRY_ONLY"):
        lab.set_outbound_policy("DENY_ALL")
    assert lab.outbound_policy() == "ALLOW_ANY"
    assert lab.is_clean is False  # the client is deployed; nothing else changed
    assert lab._mesh_original is None


def test_cleanup_restores_everything_and_is_idempotent(lab: Lab) -> None:
    original = lab.get("ConfigMap", "istio", "istio-system")["data"]["mesh"]
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(HTTP_SE, name="httpbin-ext", host="httpbin.org")
    done = lab.cleanup()
    assert "restored the mesh config (outbound policy)" in done
    assert lab.get("ConfigMap", "istio", "istio-system")["data"]["mesh"] == original
    assert lab.get("ServiceEntry", "httpbin-ext", "default", "networking.istio.io/v1") is None
    assert lab.pods("default", "app=sleep") == []
    assert lab.is_clean and lab.cleanup() == []


def test_a_failed_expectation_raises_and_is_recorded(lab: Lab) -> None:
    with pytest.raises(ExpectationFailed) as err:
        lab.verify_curl("https://www.baidu.com", "-sSI", status=404, within=3)
    check = err.value.check
    assert not check.passed and check.attempts >= 2 and "status 200" in check.actual
    assert lab.report().passed is False
