"""Real nginx and the simulated one, side by side, on certificates made as istio.io makes them (X.509 v1).

The real nginx runs the Lab 05 nginx.conf (``ssl_verify_client on`` with ``ssl_client_certificate``) on
127.0.0.1 with the istio.io task's server certificate and CA; the simulated mesh runs the same nginx.conf in
its mesh-external namespace with the same files in Secrets. For each client certificate both must answer
alike, and the simulator's reason must be the one the real nginx writes to its error log.

What nginx answers is documented in ngx_http_ssl_module's "Error processing" section
(https://nginx.org/en/docs/http/ngx_http_ssl_module.html#errors): a client certificate that fails verification
is non-standard code 495, none at all 496; without an ``error_page`` for them the client gets 400 with the
pages "The SSL certificate error" and "No required SSL certificate was sent".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

import labkit
from labkit import certs, nginxconf
from labkit.lab import Lab
from labkit.paths import lab_file
from labkit.sim import pki
from labkit.sim.tls import hostname_mismatch

from .conftest import Nginx, require_binaries, run_curl, wait_for_text
from .istio_io import SERVER, IstioIoPki, make_istio_io_pki, openssl_verify, signed_leaf

LAB = "05-egress-gateway-tls-origination"
MOUNT = "/etc/client-certs"
VERIFY_ERROR = re.compile(r"client SSL certificate verify error: \((\d+):([^)]+)\)")

#: case → (HTTP status, text in the page, `openssl verify`'s reason, the reason in nginx's error log).
#: The two reasons differ for a lone leaf from an unknown CA: `openssl verify` stops at the first error (20),
#: while nginx's verify callback lets OpenSSL go on and reports the last one, 21 "unable to verify the first
#: certificate" (OpenSSL's X509_verify_cert(3): the callback decides whether verification continues).
CASES = {
    # istio.io's task: the client certificate from `openssl x509 -req` gets the nginx welcome page.
    "istio-io-v1": (200, "Welcome to nginx!", None, None),
    "none": (400, "No required SSL certificate was sent", None, None),
    "other-ca": (
        400,
        "The SSL certificate error",
        "unable to get local issuer certificate",
        "unable to verify the first certificate",
    ),
    "same-named-ca": (
        400,
        "The SSL certificate error",
        "certificate signature failure",
        "certificate signature failure",
    ),
    "expired": (400, "The SSL certificate error", "certificate has expired", "certificate has expired"),
    "not-yet-valid": (400, "The SSL certificate error", "certificate is not yet valid", "certificate is not yet valid"),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def istio_io(tmp_path_factory: pytest.TempPathFactory) -> IstioIoPki:
    return make_istio_io_pki(tmp_path_factory.mktemp("istio-io"))


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, istio_io: IstioIoPki) -> dict[str, tuple[Path, Path] | None]:
    d = tmp_path_factory.mktemp("clients")
    other = certs.generate_other_ca_client(d / "other")
    again = make_istio_io_pki(d / "again")  # the task's commands run twice: same CA name, new key
    day = dt.timedelta(days=1)
    return {
        "istio-io-v1": (istio_io.client_cert, istio_io.client_key),
        "none": None,
        "other-ca": (other.cert, other.key),
        "same-named-ca": (again.client_cert, again.client_key),
        "expired": signed_leaf(istio_io, d / "expired.crt", not_before=_now() - 30 * day, not_after=_now() - day),
        "not-yet-valid": signed_leaf(istio_io, d / "future.crt", not_before=_now() + day, not_after=_now() + 30 * day),
    }


@pytest.fixture(scope="module")
def real_nginx(tmp_path_factory: pytest.TempPathFactory, istio_io: IstioIoPki) -> Iterator[Nginx]:
    binary = require_binaries("nginx", "curl")["nginx"]
    server = Nginx(binary, tmp_path_factory.mktemp("nginx"), istio_io.as_lab_pki())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sim(istio_io: IstioIoPki, clients: dict[str, tuple[Path, Path] | None]) -> Lab:
    lab = labkit.connect(backend="sim", lab="test", cleanup_on_error=False, console=Console(quiet=True))
    lab.apply(lab_file("common", "namespace.yaml"), name="mesh-external")
    lab.apply(
        [
            certs.secret_manifest(
                "nginx-server-certs", "mesh-external", cert=istio_io.server_cert, key=istio_io.server_key
            ),
            certs.secret_manifest("nginx-ca-certs", "mesh-external", ca=istio_io.ca_cert),
            nginxconf.configmap(),
        ],
        namespace="mesh-external",
    )
    lab.apply(lab_file(LAB, "nginx.yaml"), namespace="mesh-external")
    secrets = {case: files for case, files in clients.items() if files}
    lab.apply([certs.secret_manifest(case, "default", cert=c, key=k) for case, (c, k) in secrets.items()])
    lab.deploy_client(secret_mounts={case: f"{MOUNT}/{case}" for case in secrets})
    return lab


def _client_args(files: tuple[Path, Path] | None) -> tuple[str, ...]:
    return ("--cert", str(files[0]), "--key", str(files[1])) if files else ()


@pytest.mark.parametrize("case", list(CASES))
def test_real_and_simulated_nginx_agree(
    case: str,
    istio_io: IstioIoPki,
    clients: dict[str, tuple[Path, Path] | None],
    real_nginx: Nginx,
    sim: Lab,
) -> None:
    status, text, verify_reason, reason = CASES[case]
    files = clients[case]
    if files is not None:
        # The client certificate is what the case says it is, by `openssl verify` against the task's CA.
        assert openssl_verify(istio_io.ca_cert, files[0]) == verify_reason

    mark = real_nginx.error_log.stat().st_size if real_nginx.error_log.exists() else 0
    real = run_curl(real_nginx, *_client_args(files), host=SERVER, cacert=istio_io.ca_cert)
    # The handshake completes either way (curl exit 0, the v1 server certificate verified by its CN); nginx
    # answers at the HTTP layer.
    assert real.returncode == 0, real.stderr
    assert real.verify_result == 0
    assert (real.status, text in real.body) == (status, True), real.body
    if reason is not None:
        log = wait_for_text(real_nginx.error_log, "client SSL certificate verify error")[mark:]
        found = VERIFY_ERROR.search(log)
        assert found and found.group(2) == reason, log

    # The simulated curl runs with -k: this test is about nginx's check of the client certificate.
    args = ("--cert", f"{MOUNT}/{case}/tls.crt", "--key", f"{MOUNT}/{case}/tls.key") if files else ()
    r = sim.curl(f"https://{SERVER}", "-sS", "-k", *args)
    assert (r.status, text in r.body) == (status, True), r.body
    if reason is not None:
        assert f": {reason}" in str(r.explain())


@pytest.mark.parametrize(
    ("host", "which"),
    [
        (SERVER, "istio.io"),  # v1: no SAN, so curl falls back to the CN, which is this name
        ("nginx.example.com", "istio.io"),  # not the CN
        ("nginx.example.com", "labkit"),  # one of the SANs
        ("wrong.example.com", "labkit"),  # none of the SANs
    ],
)
def test_host_name_check_matches_curl(
    host: str, which: str, istio_io: IstioIoPki, real_nginx: Nginx, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if which == "istio.io":
        server, ca, nginx = istio_io.server_cert, istio_io.ca_cert, real_nginx
    else:
        lab_pki = certs.generate_lab_pki(tmp_path_factory.mktemp("lab") / "pki")
        nginx = Nginx(require_binaries("nginx")["nginx"], tmp_path_factory.mktemp("nginx-lab"), lab_pki)
        server, ca = lab_pki.server_cert, lab_pki.ca_cert
        nginx.start()
    try:
        real = run_curl(nginx, host=host, cacert=ca)
    finally:
        if nginx is not real_nginx:
            nginx.stop()
    presented = pki.presented_identity(server.read_bytes())
    assert presented is not None
    simulated = hostname_mismatch(presented, host)
    if simulated is None:
        assert real.returncode == 0 and real.status in (200, 400), real.stderr  # 400: no client certificate sent
    else:
        # curl exits 60 (CURLE_PEER_FAILED_VERIFICATION) and prints "curl: (60) <message>".
        assert real.returncode == 60, real.stderr
        assert f"curl: (60) {simulated}" in real.stderr, real.stderr
