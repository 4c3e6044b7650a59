"""Wrong values to public functions raise LabkitError naming the closest valid value and the fix."""

from __future__ import annotations

import pytest
from rich.console import Console

import labkit
from labkit import LabkitError, lab_file


def test_a_misspelled_outbound_policy_names_the_right_one() -> None:
    lab = labkit.connect(backend="sim", lab="test", console=Console(quiet=True))
    # meshConfig.outboundTrafficPolicy.mode accepts ALLOW_ANY and REGISTRY_ONLY (Istio MeshConfig reference).
    with pytest.raises(LabkitError, match="did you mean 'REGISTRY_ONLY'"):
        lab.set_outbound_policy("REGISTRY_0NLY")
    assert lab.outbound_policy() == "ALLOW_ANY"  # nothing changed


def test_a_misspelled_lab_file_or_lab_names_the_right_one() -> None:
    with pytest.raises(LabkitError, match=r"did you mean 'serviceentry-http\.yaml'"):
        lab_file("01-external-access", "serviceentry-htp.yaml")
    with pytest.raises(LabkitError, match="did you mean '01-external-access'"):
        lab_file("01-external-acess", "serviceentry-http.yaml")


# Each public Lab method that takes a name: a near miss names the right one, and nothing changes.


@pytest.fixture(scope="module")
def lab() -> labkit.Lab:
    lab = labkit.connect(backend="sim", lab="test", console=Console(quiet=True), cleanup_on_error=False)
    lab.deploy_client()  # the sleep client in default, with its sidecar (istio.io's sleep sample)
    return lab


def test_proxy_config_names_the_section_meant(lab: labkit.Lab) -> None:
    # istioctl proxy-config's subcommands for these sections are listeners, routes, clusters, secrets
    # (istioctl reference, istio.io/latest/docs/reference/commands/istioctl/#istioctl-proxy-config).
    with pytest.raises(LabkitError, match="did you mean 'listeners'"):
        lab.proxy_config("listener")


def test_proxy_config_names_the_selector_meant(lab: labkit.Lab) -> None:
    # Istio's egress gateway pods carry istio=egressgateway (istio.io egress-gateway task, "kubectl get pod
    # -l istio=egressgateway -n istio-system").
    with pytest.raises(LabkitError, match="did you mean selector='istio=egressgateway'"):
        lab.proxy_config("listeners", pod="istio=egresgateway", namespace="istio-system")


def test_curl_names_the_client_or_namespace_meant(lab: labkit.Lab) -> None:
    # The sleep sample's pods are labelled app=sleep (samples/sleep/sleep.yaml in Istio's repository).
    with pytest.raises(LabkitError, match="did you mean client='sleep'"):
        lab.curl("http://httpbin.org/headers", "-sS", client="sleeep")
    # "default" is the namespace every Kubernetes cluster starts with (kubernetes.io, Namespaces).
    with pytest.raises(LabkitError, match="did you mean 'default'"):
        lab.curl("http://httpbin.org/headers", "-sS", namespace="defualt")


def test_containers_names_the_client_meant(lab: labkit.Lab) -> None:
    with pytest.raises(LabkitError, match="did you mean client='sleep'"):
        lab.containers(name="slep")


def test_logs_refuse_a_container_the_pod_lacks(lab: labkit.Lab) -> None:
    # Istio's injected sidecar container is named istio-proxy (istio.io, "Installing the sidecar");
    # kubectl logs -c refuses a container the pod does not have ("container ... is not valid for pod").
    with pytest.raises(LabkitError, match="did you mean 'istio-proxy'"):
        lab.logs(container="istio_proxy")


def test_verify_logs_refuses_a_container_the_pod_lacks_at_once(lab: labkit.Lab) -> None:
    checks = len(lab.checks)
    with pytest.raises(LabkitError, match="did you mean 'istio-proxy'"):
        lab.verify_logs("GET", container="istioproxy", within=0)
    assert len(lab.checks) == checks  # refused, not recorded as a failing check


def test_label_namespace_names_the_namespace_meant(lab: labkit.Lab) -> None:
    before = lab.get("Namespace", "kube-system")
    with pytest.raises(LabkitError, match="did you mean 'kube-system'"):
        lab.label_namespace("kube-sytem", {"kube-system": "true"})
    assert lab.get("Namespace", "kube-system") == before  # nothing changed


def test_wait_ready_names_the_namespace_meant_without_waiting(lab: labkit.Lab) -> None:
    with pytest.raises(LabkitError, match="did you mean 'default'"):
        lab.wait_ready("defualt", "app=sleep", timeout=60)


def test_restart_names_the_deployment_meant(lab: labkit.Lab) -> None:
    with pytest.raises(LabkitError, match="did you mean 'sleep'"):
        lab.restart("sleeep")


def test_apply_and_delete_name_the_manifest_file_meant(lab: labkit.Lab) -> None:
    missing = lab_file("01-external-access", "serviceentry-http.yaml").with_name("serviceentry-htp.yaml")
    with pytest.raises(labkit.ManifestError, match=r"did you mean 'serviceentry-http\.yaml'"):
        lab.apply(missing, name="httpbin-ext", host="httpbin.org")
    with pytest.raises(labkit.ManifestError, match=r"did you mean 'serviceentry-http\.yaml'"):
        lab.delete(missing, name="httpbin-ext", host="httpbin.org")


def test_deploy_client_names_the_namespace_meant(lab: labkit.Lab) -> None:
    # The sleep sample has no Namespace object: kubectl apply into a missing namespace fails
    # (NotFound), so the client can only go into one that exists.
    with pytest.raises(LabkitError, match="did you mean 'default'"):
        lab.deploy_client(namespace="defualt", name="other", timeout=5)


def test_verify_curl_names_the_log_source_key_meant(lab: labkit.Lab) -> None:
    checks = len(lab.checks)
    with pytest.raises(LabkitError, match="did you mean 'selector'"):
        lab.verify_curl("http://httpbin.org/headers", "-sS", log_contains="GET", log_source={"selecter": "app=sleep"})
    assert len(lab.checks) == checks


def test_verify_logs_names_the_namespace_meant_at_once(lab: labkit.Lab) -> None:
    with pytest.raises(LabkitError, match="did you mean 'default'"):
        lab.verify_logs("GET", namespace="defualt", within=60)


def test_require_egress_gateway_names_the_selector_meant(lab: labkit.Lab) -> None:
    # istio.io's egress gateway task selects the gateway pods with istio=egressgateway.
    with pytest.raises(labkit.ExpectationFailed, match="did you mean selector='istio=egressgateway'"):
        lab.require_egress_gateway(selector="istio=egresgateway")
    assert lab.require_egress_gateway().startswith("istio-egressgateway")


def test_pods_names_the_namespace_meant_and_none_yet_is_fine(lab: labkit.Lab) -> None:
    # "default" is the namespace every Kubernetes cluster starts with (kubernetes.io, Namespaces).
    with pytest.raises(LabkitError, match="did you mean 'default'"):
        lab.pods("defualt", "app=sleep")
    assert lab.pods("default", "app=no-such-app") == []  # an existing namespace without such pods


def test_delete_names_the_namespace_meant(lab: labkit.Lab) -> None:
    http = lab_file("01-external-access", "serviceentry-http.yaml")
    with pytest.raises(LabkitError, match="did you mean 'default'"):
        lab.delete(http, namespace="defualt", name="httpbin-ext", host="httpbin.org")
    # Objects already gone are fine in a namespace that exists (as kubectl delete --ignore-not-found).
    assert lab.delete(http, namespace="default", name="httpbin-ext", host="httpbin.org") == []


def test_delete_names_the_kind_meant(lab: labkit.Lab) -> None:
    # ServiceEntry is the networking.istio.io/v1 kind (istio.io reference: networking/service-entry).
    typo = "apiVersion: networking.istio.io/v1\nkind: ServiceEntri\nmetadata: {name: x}\n"
    with pytest.raises(LabkitError, match="did you mean 'ServiceEntry'"):
        lab.delete(typo, namespace="default")


def test_delete_into_a_namespace_the_lab_removed_is_fine() -> None:
    lab = labkit.connect(backend="sim", lab="test", console=Console(quiet=True), cleanup_on_error=False)
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}\n"
    lab.apply(namespace)
    lab.delete(namespace)
    http = lab_file("01-external-access", "serviceentry-http.yaml")
    assert lab.delete(http, namespace="scratch", name="httpbin-ext", host="httpbin.org") == []
    lab.cleanup()


def test_deploy_client_names_the_secret_meant(lab: labkit.Lab) -> None:
    # A Secret a pod's volume names is required unless marked optional: without it the pod does not start,
    # the kubelet reporting FailedMount 'secret "..." not found' (kubernetes.io, Secrets, "Optional Secrets").
    lab.apply(certs_secret("nginx-client-certs"), show=False)
    with pytest.raises(LabkitError, match="did you mean 'nginx-client-certs'") as caught:
        lab.deploy_client(name="with-certs", secret_mounts={"nginx-client-cert": "/etc/certs"}, timeout=5)
    assert "apply the Secret" in caught.value.hint
    assert lab.pods("default", "app=with-certs") == []  # nothing was deployed


def certs_secret(name: str) -> str:
    return f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {{tls.crt: x}}\n"


def test_apply_names_the_namespace_meant(lab: labkit.Lab) -> None:
    # Creating an object in a namespace that does not exist fails (kubernetes.io, Namespaces); nothing is applied.
    http = lab_file("01-external-access", "serviceentry-http.yaml")
    with pytest.raises(LabkitError, match="did you mean 'default'"):
        lab.apply(http, namespace="defualt", name="httpbin-ext", host="httpbin.org", show=False)
    assert lab.get("ServiceEntry", "httpbin-ext", "defualt", "networking.istio.io/v1") is None


def test_apply_and_delete_name_the_parameter_meant(lab: labkit.Lab) -> None:
    # serviceentry-http.yaml fills ${name} and ${host}; "hots" is a typo of host.
    http = lab_file("01-external-access", "serviceentry-http.yaml")
    for call in (lab.apply, lab.delete):
        with pytest.raises(LabkitError, match="manifest parameter 'hots'") as caught:
            call(http, name="httpbin-ext", hots="httpbin.org", show=False)
        assert "did you mean 'host'?" in caught.value.hint
    # A parameter the file does not use is fine when every placeholder has a value (one set for several files).
    assert lab.delete(http, name="httpbin-ext", host="httpbin.org", gateway="unused", show=False) == []


def test_curl_refuses_a_timeout_that_is_not_positive(lab: labkit.Lab) -> None:
    for timeout in (0, -1):
        with pytest.raises(LabkitError, match="more than 0 seconds"):
            lab.curl("http://httpbin.org/headers", "-sS", timeout=timeout)
