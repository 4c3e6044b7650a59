"""nginx in a simulated pod, driven by the nginx.conf the pod really mounts.

Only what the labs rely on is modelled: ``listen PORT ssl``, the server certificate and key, and
client-certificate checking with ``ssl_client_certificate`` + ``ssl_verify_client``. The answers
follow nginx's ngx_http_ssl_module: with ``on``, 400 "No required SSL certificate was sent" without a
client certificate; with ``on`` or ``optional``, 400 "The SSL certificate error" for one that does not
verify against ``ssl_client_certificate`` (wrong CA, expired, not yet valid, bad signature; checked by
``pki.verify_peer``); the configured page otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..trace import Hop, Trace
from . import pki
from .messages import REFUSED, Connection, Outcome, Reply
from .tls import Identity
from .world import reason

if TYPE_CHECKING:
    from .mesh import Mesh

CONF = "/etc/nginx/nginx.conf"
SERVER = "nginx/1.27.5"


def is_nginx(pod: dict[str, Any]) -> bool:
    return any(_is_nginx_image(c.get("image", "")) for c in pod["spec"].get("containers", []))


def _is_nginx_image(image: str) -> bool:
    name = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    return name == "nginx"


@dataclass
class NginxConf:
    port: int
    ssl: bool
    cert: str | None
    key: str | None
    client_ca: str | None
    verify_client: str  # off | on | optional | optional_no_ca
    verify_depth: int  # ssl_verify_depth: how many intermediate CAs a client chain may have
    body: str


VERIFY_CLIENT_VALUES = ("off", "on", "optional", "optional_no_ca")
# What optional_no_ca forgives (nginx's ngx_ssl_verify_error_optional): only "no trusted CA" errors;
# an expired certificate or a bad signature is still refused.
NO_CA_ERRORS = (
    pki.DEPTH_ZERO_SELF_SIGNED_CERT,
    pki.SELF_SIGNED_CERT_IN_CHAIN,
    pki.UNABLE_TO_GET_ISSUER_CERT,
    pki.UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    pki.UNABLE_TO_VERIFY_LEAF_SIGNATURE,
)


class NginxConfError(ValueError):
    """A directive value nginx itself rejects (``nginx -t`` fails), so the server would not start."""


def parse(text: str) -> NginxConf:
    def directive(name: str) -> str | None:
        m = re.search(rf"^\s*{name}\s+\"?([^\";]+)\"?\s*;", text, re.MULTILINE)
        return m.group(1).strip() if m else None

    listen = directive("listen") or "80"
    found = re.search(r"(\d+)(?!.*:)", listen.split()[0])
    port = int(found.group(1)) if found else 80
    body = re.search(r"return\s+200\s+'(.*?)';", text, re.DOTALL)
    verify_client = directive("ssl_verify_client") or "off"
    if verify_client not in VERIFY_CLIENT_VALUES:
        raise NginxConfError(f'invalid value "{verify_client}" in "ssl_verify_client" directive')
    client_ca = directive("ssl_client_certificate")
    depth = directive("ssl_verify_depth") or "1"  # nginx's default
    if not depth.isdigit():
        raise NginxConfError(f'invalid value "{depth}" in "ssl_verify_depth" directive')
    if verify_client in ("on", "optional") and client_ca is None:
        raise NginxConfError("no ssl_client_certificate for ssl_verify_client")
    return NginxConf(
        port=port,
        ssl=" ssl" in f" {listen}",
        cert=directive("ssl_certificate"),
        key=directive("ssl_certificate_key"),
        client_ca=client_ca,
        verify_client=verify_client,
        verify_depth=int(depth),
        body=body.group(1) if body else "<html><body><h1>Welcome to nginx!</h1></body></html>\n",
    )


def _page(status: int, text: str) -> Reply:
    body = (
        f"<html>\r\n<head><title>{status} {text}</title></head>\r\n<body>\r\n<center><h1>{status} {reason(status)}"
        f"</h1></center>\r\n<center>{text}</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Reply(status, reason(status), (("server", SERVER), ("content-type", "text/html")), body)


class NginxServer:
    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh

    def __call__(self, pod: dict[str, Any], conn: Connection, trace: Trace) -> Outcome:
        hop = trace.hop(f"nginx in {pod['metadata']['namespace']}/{pod['metadata']['name']}")
        container = next(c["name"] for c in pod["spec"]["containers"] if _is_nginx_image(c.get("image", "")))
        files = self.mesh.cluster
        text = files.pod_file(pod, container, CONF)
        if text is None:
            hop.outcome = f"no {CONF} mounted: the simulator serves nothing"
            return Outcome.failed(REFUSED, hop.outcome)
        try:
            conf = parse(text.decode())
        except NginxConfError as err:
            hop.outcome = f"nginx does not start: {err} in {CONF}"
            return Outcome.failed(REFUSED, hop.outcome)
        if conn.dst_port != conf.port:
            hop.outcome = f"nginx listens on {conf.port}, not {conn.dst_port}: connection refused"
            return Outcome.failed(REFUSED, hop.outcome)
        out = Outcome(elapsed=0.002)
        if conf.ssl:
            if conn.tls is None:
                hop.outcome = "400: plain HTTP sent to the TLS port"
                out.reply = _page(400, "The plain HTTP request was sent to HTTPS port")
                return out
            server = pki.presented_identity(files.pod_file(pod, container, conf.cert or "") or b"")
            if server is None or files.pod_file(pod, container, conf.key or "") is None:
                hop.outcome = f"the certificate files {conf.cert}, {conf.key} are not mounted"
                return Outcome.failed(REFUSED, hop.outcome)
            out.server_identity = server
            out.tls_version = "TLSv1.3"
            hop.step("TLS", f"presents {server.subject}")
            refused = self._client_certificate(pod, container, conf, conn.tls.client_identity, hop)
            if refused is not None:
                out.reply = refused
                return out
        hop.outcome = "200 OK"
        body = conf.body if (conn.request is None or conn.request.method != "HEAD") else ""
        out.reply = Reply(200, "OK", (("server", SERVER), ("content-type", "text/html"),
                                      ("content-length", str(len(body.encode())))), body)  # fmt: skip
        return out

    def _client_certificate(
        self, pod: dict[str, Any], container: str, conf: NginxConf, client: Identity | None, hop: Hop
    ) -> Reply | None:
        """nginx's ``ssl_verify_client`` verdict on the client's certificate: an error page, or ``None``."""
        if conf.verify_client == "off":
            return None
        if client is None:
            if conf.verify_client != "on":
                hop.step("client certificate", f"none sent; ssl_verify_client is {conf.verify_client}")
                return None
            hop.step("client certificate", "none sent, and ssl_verify_client is on")
            hop.outcome = "400 No required SSL certificate was sent"
            return _page(400, "No required SSL certificate was sent")
        trust = pki.trust_store(self.mesh.cluster.pod_file(pod, container, conf.client_ca or "") or b"")
        now = pki.certificate_time(self.mesh.clock)
        # nginx's verify callback lets OpenSSL go on after an error and looks at the result when the request
        # arrives, so the reason it reports is the last one OpenSSL found.
        rejected = pki.verify_peer(client, trust, now, max_depth=conf.verify_depth, keep_going=True)
        if rejected is not None and conf.verify_client == "optional_no_ca" and rejected.reason in NO_CA_ERRORS:
            hop.step("client certificate", f"{client.subject}: {rejected}, accepted (ssl_verify_client optional_no_ca)")
            return None
        if rejected is not None:
            # As nginx's error log says it: "client SSL certificate verify error: (10:certificate has expired)".
            hop.step("client certificate", f"{client.subject}: verify error against {conf.client_ca}: {rejected}")
            hop.outcome = "400 The SSL certificate error"
            return _page(400, "The SSL certificate error")
        hop.step("client certificate", f"{client.subject}: verified against {conf.client_ca}")
        return None
