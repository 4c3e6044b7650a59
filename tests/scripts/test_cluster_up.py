"""scripts/cluster-up.sh and cluster-down.sh against stub executables that record their arguments."""

from __future__ import annotations

import hashlib
import re
import sys
import tarfile

import pytest
import yaml
from script_sandbox import ROOT, Machine

PINNED = "1.31.1"
#: The Gateway API release Istio 1.31's tests install: ../shared/istio/gateway-api-crd.yaml (from istio/istio
#: tests/integration/pilot/testdata, 1.31 line) carries gateway.networking.k8s.io/bundle-version: v1.6.0.
GATEWAY_API_URL = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.0/experimental-install.yaml"
CONTEXT = "kind-istio-labs"


def test_fresh_run_creates_installs_labels_waits_and_checks(machine: Machine) -> None:
    result = machine.run("cluster-up.sh")
    assert result.returncode == 0, result.stderr
    repo = machine.repo / "scripts"
    expected = [
        ["docker", "info"],
        ["kind", "version"],
        ["istioctl", "version", "--remote=false"],
        ["kind", "get", "clusters"],
        ["kind", "create", "cluster", "--name", "istio-labs", "--config", f"{repo}/kind-config.yaml", "--wait", "120s"],
        ["kubectl", "--context", CONTEXT, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=300s"],
        ["kubectl", "--context", CONTEXT, "get", "crd", "gateways.gateway.networking.k8s.io"],
        ["kubectl", "--context", CONTEXT, "apply", "--server-side", "-f", GATEWAY_API_URL],
        ["istioctl", "install", "-y", "--context", CONTEXT, "-f", f"{repo}/istio-labs.yaml"],
        ["kubectl", "--context", CONTEXT, "label", "namespace", "default", "istio-injection=enabled", "--overwrite"],
        [
            "kubectl",
            "--context",
            CONTEXT,
            "-n",
            "istio-system",
            "rollout",
            "status",
            "deployment/istiod",
            "--timeout=300s",
        ],
        [
            "kubectl",
            "--context",
            CONTEXT,
            "-n",
            "istio-system",
            "rollout",
            "status",
            "deployment/istio-egressgateway",
            "--timeout=300s",
        ],
        ["labkit", "doctor", "--backend", "kube"],
    ]
    assert machine.calls == expected
    assert machine.state["clusters"] == ["istio-labs"]
    assert "ready: context kind-istio-labs" in result.stdout


def test_rerun_reuses_the_cluster(machine: Machine) -> None:
    machine.state["clusters"] = ["other", "istio-labs"]
    result = machine.run("cluster-up.sh")
    assert result.returncode == 0, result.stderr
    assert "reusing kind cluster istio-labs" in result.stdout
    assert machine.called("kind", "create") == []
    assert machine.called("kind", "export", "kubeconfig") == [["kind", "export", "kubeconfig", "--name", "istio-labs"]]
    assert machine.called("docker", "start") == []  # the node was running
    # Istio is applied again: that puts its settings back if a lab or a person changed them.
    assert len(machine.called("istioctl", "install")) == 1
    assert machine.called("labkit") == [["labkit", "doctor", "--backend", "kube"]]
    assert machine.state["clusters"] == ["other", "istio-labs"]


def test_gateway_api_crds_a_cluster_has_are_kept(machine: Machine) -> None:
    # istio.io's Gateway API task installs the CRDs only when `kubectl get crd gateways...` finds none.
    machine.state["gateway_api_crds"] = "installed by someone else"
    result = machine.run("cluster-up.sh")
    assert result.returncode == 0, result.stderr
    assert machine.called("kubectl", "--context", CONTEXT, "apply") == []
    assert machine.state["gateway_api_crds"] == "installed by someone else"
    assert "Gateway API CRDs are installed: keeping them" in result.stdout


def test_missing_gateway_api_crds_are_installed_at_the_pinned_release(machine: Machine) -> None:
    result = machine.run("cluster-up.sh")
    assert result.returncode == 0, result.stderr
    assert machine.state["gateway_api_crds"] == GATEWAY_API_URL
    assert "installing the Gateway API CRDs v1.6.0 (experimental channel)" in result.stdout


def test_rerun_starts_a_node_docker_stopped(machine: Machine) -> None:
    machine.state.update(clusters=["istio-labs"], node_running=False)
    assert machine.run("cluster-up.sh").returncode == 0
    assert machine.called("docker", "start") == [["docker", "start", "istio-labs-control-plane"]]


def test_name_option_and_node_image(machine: Machine) -> None:
    machine.env["KIND_NODE_IMAGE"] = "kindest/node:v1.32.5"
    assert machine.run("cluster-up.sh", "--name", "labs2").returncode == 0
    (create,) = machine.called("kind", "create")
    assert create[create.index("--name") + 1] == "labs2"
    assert create[-2:] == ["--image", "kindest/node:v1.32.5"]
    assert machine.called("istioctl", "install")[0][4] == "kind-labs2"


def test_missing_prerequisites_are_all_named_with_their_install_command(machine: Machine) -> None:
    machine.remove("kind", "kubectl", "istioctl")
    result = machine.run("cluster-up.sh")
    assert result.returncode == 3
    err = result.stderr
    assert "missing prerequisites" in err
    assert "kind: not found (kind >= v0.24.0 is needed)" in err
    assert "https://kind.sigs.k8s.io/dl/v0.29.0/kind-" in err
    assert "kubectl: not found" in err and "https://dl.k8s.io/release/v1.33.1/bin/" in err
    assert f"istioctl: not found (Istio {PINNED})" in err
    assert "scripts/cluster-up.sh --install-istioctl" in err
    assert f"https://github.com/istio/istio/releases/download/{PINNED}/istioctl-{PINNED}-" in err
    assert "docker" not in err  # docker is there and answers
    # Nothing was created or installed.
    assert [c[0] for c in machine.calls] == ["docker"]


def test_docker_installed_but_not_running(machine: Machine) -> None:
    machine.state["docker_running"] = False
    result = machine.run("cluster-up.sh")
    assert result.returncode == 3
    assert "the Docker daemon does not answer" in result.stderr and "systemctl start docker" in result.stderr
    assert machine.called("kind", "create") == []


def test_missing_docker(machine: Machine) -> None:
    machine.remove("docker")
    result = machine.run("cluster-up.sh")
    assert result.returncode == 3
    assert "docker: not found" in result.stderr and "install:" in result.stderr


@pytest.mark.parametrize("version", ["kind v0.23.0 go1.22.2 linux/amd64", "kind v0.20.0 go1.20.4 darwin/arm64"])
def test_old_kind_is_refused_because_its_kindnet_ignores_network_policy(machine: Machine, version: str) -> None:
    machine.state["kind_version"] = version
    result = machine.run("cluster-up.sh")
    assert result.returncode == 3
    old = re.search(r"v\d+\.\d+\.\d+", version)
    assert old is not None
    assert f"kind: {old.group(0)} is older than v0.24.0" in result.stderr
    assert "does not enforce NetworkPolicy" in result.stderr
    assert machine.called("kind", "create") == []


def test_kind_at_the_minimum_version_and_prereleases_pass(machine: Machine) -> None:
    machine.state["kind_version"] = "kind v0.24.0 go1.22.6 linux/amd64"
    assert machine.run("cluster-up.sh").returncode == 0
    machine.state["kind_version"] = "kind v0.30.0-alpha+abc go1.24.5 linux/amd64"
    assert machine.run("cluster-up.sh").returncode == 0


def test_istioctl_of_another_version_is_refused(machine: Machine) -> None:
    machine.state["istioctl_version"] = "1.22.0"
    result = machine.run("cluster-up.sh")
    assert result.returncode == 3
    assert f"is version 1.22.0, not {PINNED}" in result.stderr
    assert "ISTIO_VERSION=1.22.0" in result.stderr
    assert machine.called("istioctl", "install") == []


def test_istio_version_override(machine: Machine) -> None:
    machine.env["ISTIO_VERSION"] = "1.26.3"
    machine.state["istioctl_version"] = "1.26.3"
    result = machine.run("cluster-up.sh")
    assert result.returncode == 0, result.stderr
    assert "installing Istio 1.26.3" in result.stdout


def _release(machine: Machine, version: str, corrupt: bool = False) -> str:
    """Serve an istioctl release tarball (holding a stub istioctl) and its .sha256 to the curl stub."""
    asset = f"istioctl-{version}-linux-amd64.tar.gz"
    stub = machine.add_stub("istioctl", machine.root)
    tarball = machine.root / asset
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(stub, arcname="istioctl")
    digest = hashlib.sha256(b"tampered" if corrupt else tarball.read_bytes()).hexdigest()
    (machine.root / f"{asset}.sha256").write_text(f"{digest}  {asset}\n")
    url = f"https://github.com/istio/istio/releases/download/{version}/{asset}"
    machine.state["downloads"] = {url: str(tarball), f"{url}.sha256": str(machine.root / f"{asset}.sha256")}
    return url


def _linux_amd64(machine: Machine) -> None:
    # Asset names depend on the platform; pin it so the served URL is the one the script asks for.
    uname = machine.bin / "uname"
    uname.write_text('#!/bin/sh\ncase "$1" in -s) echo Linux ;; -m) echo x86_64 ;; esac\n')
    uname.chmod(0o755)


def test_install_istioctl_downloads_exactly_the_pinned_release(machine: Machine) -> None:
    _linux_amd64(machine)
    machine.remove("istioctl")
    url = _release(machine, PINNED)
    result = machine.run("cluster-up.sh", "--install-istioctl")
    assert result.returncode == 0, result.stderr
    assert [c[-1] for c in machine.called("curl")] == [url, f"{url}.sha256"]
    installed = machine.repo / ".tools" / f"istio-{PINNED}" / "istioctl"
    assert installed.is_file()
    install = [p for p, c in zip(machine.paths, machine.calls, strict=True) if c[:2] == ["istioctl", "install"]]
    assert install == [str(installed)]

    # A second run uses the copy in .tools and downloads nothing.
    assert machine.run("cluster-up.sh").returncode == 0
    assert machine.called("curl") == []
    assert str(installed) in machine.paths


def test_install_istioctl_refuses_a_download_with_the_wrong_checksum(machine: Machine) -> None:
    _linux_amd64(machine)
    machine.remove("istioctl")
    _release(machine, PINNED, corrupt=True)
    result = machine.run("cluster-up.sh", "--install-istioctl")
    assert result.returncode == 1
    assert "checksum mismatch" in result.stderr and "nothing installed" in result.stderr
    assert not (machine.repo / ".tools" / f"istio-{PINNED}" / "istioctl").exists()
    assert machine.called("kind", "create") == []


def test_install_istioctl_replaces_a_wrong_version_on_path(machine: Machine) -> None:
    _linux_amd64(machine)
    machine.state["istioctl_version"] = "1.22.0"  # what PATH's istioctl says; the download says the same
    _release(machine, PINNED)
    result = machine.run("cluster-up.sh", "--install-istioctl")
    assert result.returncode == 0, result.stderr
    install = [p for p, c in zip(machine.paths, machine.calls, strict=True) if c[:2] == ["istioctl", "install"]]
    assert install == [str(machine.repo / ".tools" / f"istio-{PINNED}" / "istioctl")]


def test_without_a_venv_it_builds_one_for_the_doctor(machine: Machine) -> None:
    del machine.env["LABKIT"]
    (machine.bin / "python3").symlink_to(sys.executable)
    result = machine.run("cluster-up.sh")
    assert result.returncode == 0, result.stderr
    assert machine.called("make") == [["make", "-C", str(machine.repo), "venv"]]
    assert machine.paths[-1] == str(machine.repo / ".venv" / "bin" / "labkit")
    assert machine.calls[-1] == ["labkit", "doctor", "--backend", "kube"]


def test_without_a_venv_make_and_python_are_prerequisites(machine: Machine) -> None:
    del machine.env["LABKIT"]
    machine.remove("make")
    result = machine.run("cluster-up.sh")
    assert result.returncode == 3
    assert "make: not found (builds .venv for labkit)" in result.stderr
    assert "python3: not found" in result.stderr


def test_doctor_problems_fail_the_run(machine: Machine) -> None:
    machine.state["labkit_exit"] = 1
    result = machine.run("cluster-up.sh")
    assert result.returncode == 1
    assert "labkit doctor found problems" in result.stderr
    assert machine.state["clusters"] == ["istio-labs"]  # the cluster stays for the next run


def test_a_failing_step_stops_the_run_and_names_it(machine: Machine) -> None:
    machine.state["istioctl_install_exit"] = 1
    result = machine.run("cluster-up.sh")
    assert result.returncode == 1
    assert "failed:" in result.stderr and "install -y" in result.stderr
    assert machine.called("labkit") == [] and machine.called("kubectl", "--context", CONTEXT, "label") == []


def test_help_explains_it_all(machine: Machine) -> None:
    result = machine.run("cluster-up.sh", "--help")
    assert result.returncode == 0
    for words in (
        "kind >= v0.24.0",
        "NetworkPolicy",
        "--install-istioctl",
        f"istioctl {PINNED}",
        "kind-istio-labs",
        "accessLogFile=/dev/stdout",
        "ALLOW_ANY",
        "istio-injection=enabled",
        "labkit doctor --backend kube",
        "ISTIO_VERSION",
        "reuses it",
        "scripts/cluster-down.sh",
        'No "latest" version',
    ):
        assert words in result.stdout, words
    assert machine.calls == []


def test_unknown_argument_is_a_usage_error(machine: Machine) -> None:
    result = machine.run("cluster-up.sh", "--frobnicate")
    assert result.returncode == 2 and "unknown argument: --frobnicate" in result.stderr
    assert machine.calls == []


def test_the_files_it_installs_from_say_what_the_labs_need() -> None:
    istio = yaml.safe_load((ROOT / "scripts" / "istio-labs.yaml").read_text())
    spec = istio["spec"]
    assert spec["meshConfig"]["accessLogFile"] == "/dev/stdout"
    assert spec["meshConfig"]["outboundTrafficPolicy"]["mode"] == "ALLOW_ANY"
    assert {"name": "istio-egressgateway", "enabled": True} in spec["components"]["egressGateways"]
    kind = yaml.safe_load((ROOT / "scripts" / "kind-config.yaml").read_text())
    # Lab 01 bypasses the sidecar for exactly these ranges.
    assert kind["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12"}
    assert "disableDefaultCNI" not in kind["networking"]  # kindnet enforces NetworkPolicy
    assert re.fullmatch(r"kindest/node:v1\.33\.\d+@sha256:[0-9a-f]{64}", kind["nodes"][0]["image"])


# -- cluster-down.sh --------------------------------------------------------------------------------


def test_down_deletes_the_cluster(machine: Machine) -> None:
    machine.state["clusters"] = ["istio-labs", "other"]
    result = machine.run("cluster-down.sh")
    assert result.returncode == 0
    assert machine.called("kind", "delete") == [["kind", "delete", "cluster", "--name", "istio-labs"]]
    assert machine.state["clusters"] == ["other"]


def test_down_without_a_cluster_is_fine(machine: Machine) -> None:
    result = machine.run("cluster-down.sh", "--name", "gone")
    assert result.returncode == 0
    assert "nothing to delete" in result.stdout
    assert machine.called("kind", "delete") == []


def test_down_without_kind(machine: Machine) -> None:
    machine.remove("kind")
    result = machine.run("cluster-down.sh")
    assert result.returncode == 3 and "kind: not found" in result.stderr


def test_down_help(machine: Machine) -> None:
    result = machine.run("cluster-down.sh", "-h")
    assert result.returncode == 0
    assert "kind-istio-labs" in result.stdout and "labkit reset" in result.stdout
    assert machine.calls == []


def test_wait_timeout_reaches_kubectl_as_one_argument(machine: Machine) -> None:
    # Quoting: a value with a space stays one argument (and the stubs log arguments verbatim).
    machine.state["clusters"] = ["istio-labs"]
    machine.env["WAIT_TIMEOUT"] = "5m 0s"
    machine.run("cluster-up.sh")
    assert ["kubectl", "--context", CONTEXT, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=5m 0s"] in (
        machine.calls
    )
