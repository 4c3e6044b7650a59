"""nginx in a simulated pod, driven by the nginx.conf the pod really mounts.

Only what the labs rely on is modelled: ``listen PORT ssl``, the server certificate and key, and
client-certificate checking with ``ssl_client_certificate`` + ``ssl_verify_client on``. The answers
follow nginx: 400 "No required SSL certificate was sent" without a client certificate, 400 "The SSL
certificate error" for one it can't verify, and the configured page otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..trace import Trace
from . import pki
from .messages import REFUSED, Connection, Outcome, Reply
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
    verify_client: bool
    body: str


def parse(text: str) -> NginxConf:
    def directive(name: str) -> str | None:
        m = re.search(rf"^\s*{name}\s+\"?([^\";]+)\"?\s*;", text, re.MULTILINE)
        return m.group(1).strip() if m else None

    listen = directive("listen") or "80"
    port = int(re.search(r"(\d+)(?!.*:)", listen.split()[0]).group(1))
    body = re.search(r"return\s+200\s+'(.*?)';", text, re.DOTALL)
    return NginxConf(
        port=port,
        ssl=" ssl" in f" {listen}",
        cert=directive("ssl_certificate"),
        key=directive("ssl_certificate_key"),
        client_ca=directive("ssl_client_certificate"),
        verify_client=(directive("ssl_verify_client") or "off") == "on",
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
        conf = parse(text.decode())
        if conn.dst_port != conf.port:
            hop.outcome = f"nginx listens on {conf.port}, not {conn.dst_port}: connection refused"
            return Outcome.failed(REFUSED, hop.outcome)
        out = Outcome(elapsed=0.002)
        if conf.ssl:
            if conn.tls is None:
                hop.outcome = "400: plain HTTP sent to the TLS port"
                out.reply = _page(400, "The plain HTTP request was sent to HTTPS port")
                return out
            certs = pki.load_certs(files.pod_file(pod, container, conf.cert or "") or b"")
            if not certs or files.pod_file(pod, container, conf.key or "") is None:
                hop.outcome = f"the certificate files {conf.cert}, {conf.key} are not mounted"
                return Outcome.failed(REFUSED, hop.outcome)
            out.server_identity = pki.identity(certs[0])
            out.tls_version = "TLSv1.3"
            hop.step("TLS", f"presents {out.server_identity.subject}")
            if conf.verify_client:
                ca = pki.load_certs(files.pod_file(pod, container, conf.client_ca or "") or b"")
                roots = {pki.ca_id(c) for c in ca}
                client = conn.tls.client_identity
                if client is None:
                    hop.step("client certificate", "none sent, and ssl_verify_client is on")
                    hop.outcome = "400 No required SSL certificate was sent"
                    out.reply = _page(400, "No required SSL certificate was sent")
                    return out
                if client.root not in roots:
                    hop.step("client certificate", f"{client.subject} is not signed by {conf.client_ca}")
                    hop.outcome = "400 The SSL certificate error"
                    out.reply = _page(400, "The SSL certificate error")
                    return out
                hop.step("client certificate", f"{client.subject}: verified against {conf.client_ca}")
        hop.outcome = "200 OK"
        body = conf.body if (conn.request is None or conn.request.method != "HEAD") else ""
        out.reply = Reply(200, "OK", (("server", SERVER), ("content-type", "text/html"),
                                      ("content-length", str(len(body.encode())))), body)  # fmt: skip
        return out
