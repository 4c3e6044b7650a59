"""``ssl_verify_client`` modes, real nginx against the simulated one, with istio.io's v1 certificates.

ngx_http_ssl_module (https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_verify_client): "on" requires a
verified client certificate; "optional" asks for one and verifies it if present; "optional_no_ca" asks for one
but does not require it to be signed by a trusted CA. Each case runs on the real nginx, whose answer is the
expected one, and on the simulator with the same nginx.conf and files.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

import labkit
from labkit import certs, nginxconf
from labkit.lab import Lab
from labkit.paths import lab_file
from labkit.sim.nginx import NginxConfError, parse

from .conftest import TIMEOUT, Nginx, require_binaries, run_curl
from .istio_io import SERVER, IstioIoPki, make_istio_io_pki, signed_leaf

LAB = "05-egress-gateway-tls-origination"
MOUNT = "/etc/client-certs"
MODES = ("on", "optional", "optional_no_ca")
CLIENTS = ("istio-io-v1", "none", "other-ca", "expired")
OK = (200, "Welcome to nginx!")
NO_CERT = (400, "No required SSL certificate was sent")
CERT_ERROR = (400, "The SSL certificate error")
#: What the nginx documentation above says for each mode and client; the real nginx must agree.
EXPECTED = {
    ("on", "istio-io-v1"): OK,
    ("on", "none"): NO_CERT,
    ("on", "other-ca"): CERT_ERROR,
    ("on", "expired"): CERT_ERROR,
    ("optional", "istio-io-v1"): OK,
    ("optional", "none"): OK,  # verified "if the certificate is present"
    ("optional", "other-ca"): CERT_ERROR,
    ("optional", "expired"): CERT_ERROR,
    ("optional_no_ca", "istio-io-v1"): OK,
    ("optional_no_ca", "none"): OK,
    ("optional_no_ca", "other-ca"): OK,  # "does not require it to be signed by a trusted CA"
    ("optional_no_ca", "expired"): CERT_ERROR,  # only the CA is waived, not the validity period
}


def _conf(text: str, mode: str) -> str:
    assert text.count("ssl_verify_client on;") == 1
    return text.replace("ssl_verify_client on;", f"ssl_verify_client {mode};")


class ModeNginx(Nginx):
    mode: str = "on"

    def render(self, port: int) -> None:
        super().render(port)
        self.conf.write_text(_conf(self.conf.read_text(), self.mode))


@pytest.fixture(scope="module")
def istio_io(tmp_path_factory: pytest.TempPathFactory) -> IstioIoPki:
    return make_istio_io_pki(tmp_path_factory.mktemp("istio-io"))


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory, istio_io: IstioIoPki) -> dict[str, tuple[Path, Path] | None]:
    d = tmp_path_factory.mktemp("clients")
    other = certs.generate_other_ca_client(d / "other")
    now, day = dt.datetime.now(dt.timezone.utc), dt.timedelta(days=1)
    return {
        "istio-io-v1": (istio_io.client_cert, istio_io.client_key),
        "none": None,
        "other-ca": (other.cert, other.key),
        "expired": signed_leaf(istio_io, d / "expired.crt", not_before=now - 30 * day, not_after=now - day),
    }


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def real_nginx(tmp_path_factory: pytest.TempPathFactory, istio_io: IstioIoPki, mode: str) -> Iterator[Nginx]:
    binary = require_binaries("nginx", "curl")["nginx"]
    server = ModeNginx(binary, tmp_path_factory.mktemp("nginx"), istio_io.as_lab_pki())
    server.mode = mode
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sim(istio_io: IstioIoPki, clients: dict[str, tuple[Path, Path] | None], mode: str) -> Lab:
    lab = labkit.connect(backend="sim", lab="test", cleanup_on_error=False, console=Console(quiet=True))
    lab.apply(lab_file("common", "namespace.yaml"), name="mesh-external")
    configmap = nginxconf.configmap()
    configmap["data"]["nginx.conf"] = _conf(configmap["data"]["nginx.conf"], mode)
    lab.apply(
        [
            certs.secret_manifest(
                "nginx-server-certs", "mesh-external", cert=istio_io.server_cert, key=istio_io.server_key
            ),
            certs.secret_manifest("nginx-ca-certs", "mesh-external", ca=istio_io.ca_cert),
            configmap,
        ],
        namespace="mesh-external",
    )
    lab.apply(lab_file(LAB, "nginx.yaml"), namespace="mesh-external")
    secrets = {case: files for case, files in clients.items() if files}
    lab.apply([certs.secret_manifest(case, "default", cert=c, key=k) for case, (c, k) in secrets.items()])
    lab.deploy_client(secret_mounts={case: f"{MOUNT}/{case}" for case in secrets})
    return lab


@pytest.mark.parametrize("client", CLIENTS)
def test_mode(
    mode: str,
    client: str,
    istio_io: IstioIoPki,
    clients: dict[str, tuple[Path, Path] | None],
    real_nginx: Nginx,
    sim: Lab,
) -> None:
    status, text = EXPECTED[(mode, client)]
    files = clients[client]
    real = run_curl(
        real_nginx,
        *(("--cert", str(files[0]), "--key", str(files[1])) if files else ()),
        host=SERVER,
        cacert=istio_io.ca_cert,
    )
    assert real.returncode == 0, real.stderr
    assert (real.status, text in real.body) == (status, True), real.body
    # -k: the simulated curl's own check of the server certificate is not what this test is about.
    args = ("--cert", f"{MOUNT}/{client}/tls.crt", "--key", f"{MOUNT}/{client}/tls.key") if files else ()
    r = sim.curl(f"https://{SERVER}", "-sS", "-k", *args)
    assert (r.status, text in r.body) == (status, True), r.body


def test_unknown_mode_is_refused_as_nginx_refuses_it(istio_io: IstioIoPki, tmp_path: Path) -> None:
    # `nginx -t` rejects the value, so the server never starts; the simulated nginx serves nothing either.
    server = ModeNginx(require_binaries("nginx")["nginx"], tmp_path / "nginx", istio_io.as_lab_pki())
    server.mode = "required"
    server.render(1)  # any port: only the configuration test runs
    done = subprocess.run(server.command("-t"), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode != 0 and 'invalid value "required"' in done.stderr, done.stderr
    with pytest.raises(NginxConfError, match='invalid value "required" in "ssl_verify_client" directive'):
        parse(server.conf.read_text())
