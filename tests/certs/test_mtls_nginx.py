"""The real thing: Debian's nginx with the rendered Lab 05 nginx.conf, reached with the real curl and openssl.

This proves what the lab claims: the generated server certificate verifies for both of its names, a client
with the lab's client certificate gets the page, and a client without one, or with one from another CA, is
turned away. nginx listens on 127.0.0.1 only and is stopped by the fixture's finalizer.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from labkit.certs import ClientCert, LabPki

from .conftest import SERVER_NAME, TIMEOUT, CurlOutcome, Nginx, port_open, require_binaries, wait_for_text

Curl = Callable[..., CurlOutcome]


def client_args(cert: Path, key: Path) -> tuple[str, ...]:
    return ("--cert", str(cert), "--key", str(key))


def test_rendered_config_passes_nginx_syntax_check(nginx: Nginx) -> None:
    done = subprocess.run(nginx.command("-t"), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr


@pytest.mark.parametrize("host", ["nginx.example.com", "my-nginx.mesh-external.svc.cluster.local"])
def test_client_with_lab_certificate_gets_the_page(curl: Curl, shared_pki: LabPki, nginx: Nginx, host: str) -> None:
    result = curl(*client_args(shared_pki.client_cert, shared_pki.client_key), host=host)
    assert result.returncode == 0, result.stderr
    assert result.verify_result == 0  # curl verified nginx's certificate against ca.crt for this name
    assert result.status == 200
    assert "Welcome to nginx!" in result.body
    assert '"GET / HTTP/1.1" 200 ' in wait_for_text(nginx.access_log, '"GET / HTTP/1.1" 200 ')


def new_log(nginx: Nginx, mark: int) -> str:
    """The error log written since ``mark`` (its size before the request), so each test sees only its own lines."""
    with nginx.error_log.open("rb") as fh:
        fh.seek(mark)
        return fh.read().decode(errors="replace")


def test_client_without_certificate_is_refused(curl: Curl, nginx: Nginx) -> None:
    mark = nginx.error_log.stat().st_size
    result = curl()
    # The TLS handshake itself succeeds (curl exit 0, server verified); nginx refuses at the HTTP layer.
    assert result.returncode == 0, result.stderr
    assert result.status == 400
    assert "No required SSL certificate was sent" in result.body
    assert "Welcome to nginx!" not in result.body
    assert "client sent no required SSL certificate" in new_log(nginx, mark)


@pytest.mark.parametrize("tls_version", [("--tlsv1.2", "--tls-max", "1.2"), ("--tlsv1.3",)], ids=["tls1.2", "tls1.3"])
def test_client_certificate_from_another_ca_is_refused(
    curl: Curl, nginx: Nginx, other_client: ClientCert, tls_version: tuple[str, ...]
) -> None:
    mark = nginx.error_log.stat().st_size
    result = curl(*tls_version, *client_args(other_client.cert, other_client.key))
    # What really happens, with TLS 1.2 and 1.3 alike: nginx's certificate callback accepts any client certificate
    # during the handshake and checks the verification result when the request arrives, so it can answer with an
    # HTTP error page instead of a bare TLS alert. The handshake completes and the answer is a 400.
    assert result.returncode == 0, result.stderr
    assert result.status == 400
    assert "The SSL certificate error" in result.body
    assert "Welcome to nginx!" not in result.body
    log = new_log(nginx, mark)
    assert "client SSL certificate verify error" in log
    # 20/21: OpenSSL could not chain the certificate to the configured ssl_client_certificate.
    assert "unable to get local issuer certificate" in log or "unable to verify the first certificate" in log


def test_server_certificate_does_not_verify_for_another_name(curl: Curl, shared_pki: LabPki) -> None:
    result = curl(*client_args(shared_pki.client_cert, shared_pki.client_key), host="wrong.example.com")
    assert result.returncode == 60, result.stderr  # CURLE_PEER_FAILED_VERIFICATION
    assert result.status == 0  # no HTTP request was sent


def test_server_certificate_does_not_verify_against_another_ca(curl: Curl, other_client: ClientCert) -> None:
    result = curl(host=SERVER_NAME, cacert=other_client.ca_cert)
    assert result.returncode == 60, result.stderr
    assert result.status == 0


def s_client(nginx: Nginx, ca: Path, hostname: str = SERVER_NAME) -> subprocess.CompletedProcess[str]:
    openssl = require_binaries("openssl")["openssl"]
    cmd = [
        openssl,
        "s_client",
        "-connect",
        f"127.0.0.1:{nginx.port}",
        "-servername",
        SERVER_NAME,
        "-CAfile",
        str(ca),
        "-verify_hostname",
        hostname,
        "-showcerts",
    ]
    # stdin at EOF: s_client completes the handshake, prints its report and closes.
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def test_openssl_verifies_the_server_chain(nginx: Nginx, shared_pki: LabPki) -> None:
    done = s_client(nginx, shared_pki.ca_cert)
    assert "Verify return code: 0 (ok)" in done.stdout, done.stdout + done.stderr
    assert "CN = Istio Egress Labs Root CA" in done.stdout  # depth=1: the chain ends at the lab CA
    assert "CN = my-nginx.mesh-external.svc.cluster.local" in done.stdout
    # nginx asks for a client certificate and names the one CA it accepts.
    ca_names = done.stdout.split("Acceptable client certificate CA names", 1)[1].splitlines()[1]
    assert ca_names == "O = Istio Egress Labs, OU = Lab CA, CN = Istio Egress Labs Root CA"


def test_openssl_rejects_the_chain_with_another_ca_or_name(
    nginx: Nginx, shared_pki: LabPki, other_client: ClientCert
) -> None:
    # The same check with a different trust anchor or host name must fail, or the positive test proves nothing.
    assert (
        "Verify return code: 21 (unable to verify the first certificate)"
        in s_client(nginx, other_client.ca_cert).stdout
    )
    assert (
        "Verify return code: 62 (hostname mismatch)"
        in s_client(nginx, shared_pki.ca_cert, hostname="wrong.example.com").stdout
    )


def test_nginx_stops_cleanly(tmp_path: Path, shared_pki: LabPki) -> None:
    # The fixture's finalizer relies on this: SIGTERM ends the master and its workers and frees the port.
    server = Nginx(require_binaries("nginx")["nginx"], tmp_path / "nginx", shared_pki)
    try:
        server.start()
        assert port_open(server.port)
        assert server.pid_file.read_text().strip() == str(server.proc.pid if server.proc else "")
    finally:
        server.stop()
    assert server.proc is not None and server.proc.returncode == 0
    assert not server.pid_file.exists()  # nginx removes its pid file on a clean exit
    assert not port_open(server.port)
