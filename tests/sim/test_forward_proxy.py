"""curl through a forward proxy: Squid in a pod, as in istio.io's "Using an External HTTPS Proxy"
task (tasks/traffic-management/egress/http-proxy). Expected values cite that task, Squid's
squid.conf reference (http_access, via, forwarded_for) and curl's man page (-x, EXIT CODES);
curl's own wording of proxy errors was read from curl 7.88 on loopback."""

from __future__ import annotations

import re

import pytest
import yaml

from labkit.backend import ExecResult
from labkit.lab import Lab

# The squid.conf the task writes, word for word in its directives.
TASK_CONF = """\
http_port 3128

acl SSL_ports port 443
acl CONNECT method CONNECT

http_access deny CONNECT !SSL_ports
http_access allow localhost manager
http_access deny manager
http_access allow all

coredump_dir /var/spool/squid
"""


def _squid_docs(conf: str | None) -> list[dict]:
    volumes = "volumes: [{name: proxy-config, configMap: {name: proxy-configmap}}]" if conf else ""
    mounts = "volumeMounts: [{name: proxy-config, mountPath: /etc/squid, readOnly: true}]" if conf else ""
    deployment = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: squid, namespace: external}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: squid}}}}
  template:
    metadata: {{labels: {{app: squid}}}}
    spec:
      {volumes}
      containers:
      - name: squid
        image: ubuntu/squid:6.10-24.10_beta
        {mounts}
"""
    docs = [yaml.safe_load(deployment)]
    if conf:
        cm = {"name": "proxy-configmap", "namespace": "external"}
        docs.insert(0, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": cm, "data": {"squid.conf": conf}})
    return docs


def deploy_squid(lab: Lab, conf: str | None = TASK_CONF) -> str:
    """The task's namespace `external` (no injection label), Squid, and a sleep client there."""
    lab.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "external"}}])
    lab.apply(_squid_docs(conf))
    lab.deploy_client(namespace="external")
    return lab.pods("external", "app=squid")[0]["status"]["podIP"]


def external_exec(lab: Lab, *argv: str) -> ExecResult:
    return lab.driver.exec("external", lab.client_pod("external", "sleep"), "sleep", list(argv), 60.0)


def squid_exec(lab: Lab, *argv: str) -> ExecResult:
    pod = lab.pods("external", "app=squid")[0]["metadata"]["name"]
    return lab.driver.exec("external", pod, "squid", list(argv), 60.0)


TITLE = "<title>Politics - CNN</title>"


def test_https_through_squid_as_the_task_runs_it(lab: Lab) -> None:
    ip = deploy_squid(lab)
    # The task: sh -c "HTTPS_PROXY=$PROXY_IP:$PROXY_PORT curl https://..." | grep -o "<title>.*</title>"
    r = external_exec(lab, "sh", "-c", f"HTTPS_PROXY={ip}:3128 curl -s https://edition.cnn.com/politics")
    assert r.exit_code == 0, r.stderr
    assert re.search(r"<title>.*</title>", r.stdout).group(0) == TITLE
    # The task's access log line: "... 172.30.109.89 TCP_TUNNEL/200 87633 CONNECT en.wikipedia.org:443 -
    # HIER_DIRECT/91.198.174.192 -" (client address, tunnel, CONNECT target, the address Squid reached).
    client_ip = lab.pods("external", "app=sleep")[0]["status"]["podIP"]
    cnn_ip = lab.driver.mesh.world.resolve("edition.cnn.com")
    tail = squid_exec(lab, "tail", "/var/log/squid/access.log")
    pattern = (
        rf"\d+\.\d{{3}} +\d+ {client_ip} TCP_TUNNEL/200 \d+ CONNECT edition.cnn.com:443 - HIER_DIRECT/{cnn_ip} -\n"
    )
    assert re.fullmatch(pattern, tail.stdout), tail.stdout
    # ... and kubectl logs shows the same line.
    assert lab.logs("external", "app=squid", "squid") == [tail.stdout.rstrip("\n")]


def test_plain_http_is_forwarded_with_via_and_x_forwarded_for(lab: Lab) -> None:
    ip = deploy_squid(lab)
    r = external_exec(lab, "curl", "-sS", "-x", f"http://{ip}:3128", "http://httpbin.org/headers?show_env=1")
    assert r.exit_code == 0, r.stderr
    client_ip = lab.pods("external", "app=sleep")[0]["status"]["podIP"]
    # squid.conf reference: "via on" adds a Via header; "forwarded_for on" adds X-Forwarded-For with
    # the client's address. httpbin's /headers echoes what reached it; it hides proxy headers
    # (helpers.ENV_HEADERS, Via and X-Forwarded-For among them) unless the query has show_env.
    assert re.search(r'"Via": "1\.1 [^"]+ \(squid/[0-9.]+\)"', r.stdout), r.stdout
    assert f'"X-Forwarded-For": "{client_ip}"' in r.stdout
    # Squid's native log format: TCP_MISS/<status> for a forwarded request, the absolute URL, the type.
    line = lab.logs("external", "app=squid", "squid")[-1]
    assert f" {client_ip} TCP_MISS/200 " in line and " GET http://httpbin.org/headers?show_env=1 - HIER_DIRECT/" in line
    assert line.endswith(" application/json")


def test_connect_to_a_port_other_than_443_is_denied(lab: Lab) -> None:
    ip = deploy_squid(lab)
    r = external_exec(lab, "curl", "-sS", "-x", f"{ip}:3128", "https://edition.cnn.com:8443/")
    # The task's "http_access deny CONNECT !SSL_ports" answers 403; curl's man page: exit 56,
    # "CONNECT tunnel failed, response 403" (curl 7.88 on loopback).
    assert (r.exit_code, r.stderr) == (56, "curl: (56) CONNECT tunnel failed, response 403\n")
    assert " TCP_DENIED/403 " in lab.logs("external", "app=squid", "squid")[-1]


def test_write_out_reports_the_connect_status(lab: Lab) -> None:
    ip = deploy_squid(lab)
    fmt = "%{http_code} %{http_connect}\n"
    ok = external_exec(lab, "curl", "-s", "-o", "/dev/null", "-w", fmt, "-x", f"{ip}:3128", "https://edition.cnn.com/")
    denied = external_exec(
        lab, "curl", "-s", "-o", "/dev/null", "-w", fmt, "-x", f"{ip}:3128", "https://edition.cnn.com:8443/"
    )
    # curl man page, -w: http_connect is "the numerical code that was found in the last response (from a
    # proxy) to a curl CONNECT request"; curl 7.88 prints "000 403" for a refused CONNECT.
    assert (ok.stdout, denied.stdout) == ("200 200\n", "000 403\n")
    # curl man page, -w: proxy_used is 1 "if the previous transfer used a proxy" (curl 8.7.0 and later).
    used = external_exec(
        lab, "curl", "-s", "-o", "/dev/null", "-w", "%{proxy_used}", "-x", f"{ip}:3128", "http://httpbin.org/"
    )
    direct = external_exec(lab, "curl", "-s", "-o", "/dev/null", "-w", "%{proxy_used}", "http://httpbin.org/")
    assert (used.stdout, direct.stdout) == ("1", "0")


def test_include_prints_the_connect_answer_first(lab: Lab) -> None:
    ip = deploy_squid(lab)
    r = external_exec(lab, "curl", "-si", "-x", f"{ip}:3128", "https://edition.cnn.com/")
    # curl 7.88 on loopback with -i through a tunnel: the proxy's "HTTP/1.1 200 Connection
    # established" block, then the server's response.
    assert r.stdout.startswith("HTTP/1.1 200 Connection established\r\n\r\nHTTP/2 200 \r\n"), r.stdout[:80]


@pytest.mark.parametrize(
    ("proxy", "code", "message"),
    [
        # curl man page, EXIT CODES: 5 "Could not resolve proxy", 7 "Failed to connect to host".
        ("no-such-proxy.invalid:3128", 5, "curl: (5) Could not resolve proxy: no-such-proxy.invalid\n"),
        ("{ip}:3129", 7, "curl: (7) Failed to connect to {ip} port 3129 after"),
    ],
)
def test_unreachable_proxies_give_curls_exit_codes(lab: Lab, proxy: str, code: int, message: str) -> None:
    ip = deploy_squid(lab)
    r = external_exec(lab, "curl", "-sS", "-x", proxy.format(ip=ip), "https://edition.cnn.com/")
    assert r.exit_code == code
    assert r.stderr.startswith(message.format(ip=ip))


def test_unresolvable_target_gets_503_from_squid(lab: Lab) -> None:
    ip = deploy_squid(lab)
    r = external_exec(lab, "curl", "-sS", "-x", f"{ip}:3128", "https://no-such-host.invalid/")
    # Squid answers 503 (ERR_DNS_FAIL) when it cannot resolve the CONNECT target; curl exits 56.
    assert (r.exit_code, r.stderr) == (56, "curl: (56) CONNECT tunnel failed, response 503\n")


def test_lowercase_http_proxy_variable_is_used_for_http(lab: Lab) -> None:
    ip = deploy_squid(lab)
    # curl man page, ENVIRONMENT: http_proxy (lower case only) for http:// URLs.
    script = f"http_proxy=http://{ip}:3128 curl -s 'http://httpbin.org/headers?show_env=1' | grep -c Via"
    r = external_exec(lab, "sh", "-c", script)
    assert (r.exit_code, r.stdout) == (0, "1\n")
    script = f"HTTP_PROXY=http://{ip}:3128 curl -s 'http://httpbin.org/headers?show_env=1' | grep -c Via"
    r = external_exec(lab, "sh", "-c", script)
    assert (r.exit_code, r.stdout) == (1, "0\n")


def test_squid_without_a_config_is_refused_by_name(lab: Lab) -> None:
    ip = deploy_squid(lab, conf=None)
    r = external_exec(lab, "curl", "-sS", "-x", f"{ip}:3128", "http://httpbin.org/headers")
    assert r.exit_code == 7  # nothing answers: the simulator does not guess Squid's packaged defaults
    assert "not modelled" in lab.logs("external", "app=squid", "squid")[-1]


def test_https_through_squid_from_a_pod_with_a_sidecar(lab: Lab) -> None:
    ip = deploy_squid(lab)
    # The task's second half: a TCP ServiceEntry for the proxy address, then the same command from
    # the sidecar-injected sleep pod; Squid's log shows the tunnel.
    se = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "proxy", "namespace": "default"},
        "spec": {
            "hosts": ["my-company-proxy.com"],
            "addresses": [f"{ip}/32"],
            "ports": [{"number": 3128, "name": "tcp", "protocol": "TCP"}],
            "location": "MESH_EXTERNAL",
        },
    }
    lab.apply([se])
    lab.driver.sleep(2.0)  # istiod's push
    pod = lab.client_pod("default", "sleep")
    r = lab.driver.exec(
        "default", pod, "sleep", ["sh", "-c", f"HTTPS_PROXY={ip}:3128 curl -s https://edition.cnn.com/politics"], 60.0
    )
    assert r.exit_code == 0 and TITLE in r.stdout, r.stderr
    assert " TCP_TUNNEL/200 " in lab.logs("external", "app=squid", "squid")[-1]
