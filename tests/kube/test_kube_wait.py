"""wait_ready: Deployment rollout, then every container Running and ready, the sidecar included."""

from __future__ import annotations

import pytest

from labkit.errors import NotReady
from labkit.kube import wait


def wait_for(core, apps, clock, selector="app=sleep", timeout=30.0, **kwargs):
    return wait.wait_ready(
        core, apps, "lab", selector, timeout, context="kind-x", clock=clock, sleep=clock.sleep, **kwargs
    )


def test_times_out_naming_the_unready_sidecar(core, apps, clock, models):
    core.pods = [models.pod("sleep-1", ready={"sleep": True, "istio-proxy": False})]
    apps.deployments = [models.deployment("sleep")]
    with pytest.raises(NotReady) as err:
        wait_for(core, apps, clock, timeout=30)
    text = str(err.value)
    assert "not ready after 30s" in text
    assert "pod lab/sleep-1: sidecar container 'istio-proxy' is not ready" in text
    assert "readiness probe failing" in text
    assert "kubectl --context kind-x -n lab describe pod sleep-1" in err.value.hint
    assert "logs sleep-1 -c istio-proxy" in err.value.hint
    # The fake clock moved; no real time was spent, and polling never overshot the deadline.
    assert sum(clock.sleeps) == pytest.approx(30)
    assert len(clock.sleeps) == 30


def test_native_sidecar_in_init_containers_counts(core, apps, clock, models):
    core.pods = [models.pod("sleep-1", ready={"sleep": True}, native_sidecar={"istio-proxy": False})]
    with pytest.raises(NotReady, match="sidecar container 'istio-proxy' is not ready"):
        wait_for(core, apps, clock, timeout=3)


def test_returns_the_ready_pods_as_dicts(core, apps, clock, models):
    core.pods = [models.pod("sleep-1", native_sidecar={"istio-proxy": True}), models.pod("other", labels={"app": "x"})]
    apps.deployments = [models.deployment("sleep")]
    pods = wait_for(core, apps, clock, serialize=lambda p: {"name": p.metadata.name})
    assert pods == [{"name": "sleep-1"}]
    assert clock.sleeps == []
    assert core.calls[-1] == ("list_namespaced_pod", "lab", "app=sleep")


def test_waits_for_the_rollout_before_the_pods(core, apps, clock, models):
    core.pods = [models.pod("sleep-1")]
    apps.deployment_sequence = [
        [models.deployment("sleep", generation=2, observed=1)],
        [models.deployment("sleep", replicas=2, updated=1, available=1)],
        [models.deployment("sleep", replicas=1, updated=1, available=1)],
    ]
    pods = wait_for(core, apps, clock)
    assert [p.metadata.name for p in pods] == ["sleep-1"]
    assert clock.sleeps == [1.0, 1.0]


def test_rollout_timeout_says_how_to_follow_it(core, apps, clock, models):
    core.pods = [models.pod("sleep-1")]
    apps.deployments = [models.deployment("sleep", updated=1, available=0)]
    with pytest.raises(NotReady) as err:
        wait_for(core, apps, clock, timeout=2)
    assert "deployment lab/sleep: 0 of 1 updated replicas available" in str(err.value)
    assert err.value.hint == "See why: kubectl --context kind-x -n lab rollout status deployment/sleep"


def test_deployments_for_other_pods_are_ignored(core, apps, clock, models):
    core.pods = [models.pod("sleep-1")]
    apps.deployments = [models.deployment("httpbin", labels={"app": "httpbin"}, available=0)]
    assert len(wait_for(core, apps, clock)) == 1


def test_no_pods_at_all(core, apps, clock):
    with pytest.raises(NotReady) as err:
        wait_for(core, apps, clock, timeout=1)
    assert "no running pods match app=sleep in namespace lab" in str(err.value)
    assert "get pods -l app=sleep --show-labels" in err.value.hint


def test_terminating_and_finished_pods_are_not_waited_for(core, apps, clock, models):
    core.pods = [
        models.pod("old", ready={"sleep": False, "istio-proxy": False}, deleting=True),
        models.pod("done", phase="Succeeded", ready={"sleep": False}),
        models.pod("new"),
    ]
    assert [p.metadata.name for p in wait_for(core, apps, clock)] == ["new"]


def test_pending_pod_names_the_waiting_container(core, apps, clock, models):
    pod = models.pod("sleep-1", phase="Pending", ready={"sleep": False, "istio-proxy": False})
    pod.status.container_statuses[0] = models.container_status("sleep", False, waiting="ImagePullBackOff")
    core.pods = [pod]
    with pytest.raises(NotReady) as err:
        wait_for(core, apps, clock, timeout=1)
    text = str(err.value)
    assert "pod lab/sleep-1 is Pending" in text
    assert "container 'sleep' is not ready (waiting: ImagePullBackOff)" in text
