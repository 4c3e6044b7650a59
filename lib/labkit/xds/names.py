"""Names istiod gives Envoy resources. Each says where in Istio 1.27's source the name comes from."""

from __future__ import annotations

from ..sim.proxy import BLACKHOLE, PASSTHROUGH, ClusterRef

#: pilot/pkg/model/sidecar.go VirtualOutboundListenerName, on meshConfig.proxyListenPort (15001).
VIRTUAL_OUTBOUND = "virtualOutbound"
VIRTUAL_OUTBOUND_PORT = 15001
#: listener_builder.go blackholeFilterChain / buildOutboundCatchAllNetworkFilterChains.
VIRTUAL_OUTBOUND_BLACKHOLE_CHAIN = "virtualOutbound-blackhole"
VIRTUAL_OUTBOUND_CATCHALL_CHAIN = "virtualOutbound-catchall-tcp"
#: listener.go buildListenerFromEntry: the default filter chain of every outbound listener.
PASSTHROUGH_FILTER_CHAIN = "PassthroughFilterChain"
#: httproute.go buildCatchAllVirtualHost: util.Passthrough and util.BlackHole.
ALLOW_ANY = "allow_any"
BLOCK_ALL = "block_all"
#: route.go DefaultRouteName: the route of a virtual host no VirtualService routes.
DEFAULT_ROUTE = "default"
#: security/model: the workload certificate and the mesh root, served by istio-agent over SDS.
SDS_DEFAULT = "default"
SDS_ROOT = "ROOTCA"
#: pkg/security FileRootSystemCACert: SIMPLE TLS without caCertificates verifies with the system roots.
SDS_SYSTEM_ROOT = "file-root:system"
#: The cluster istio-agent serves SDS on (bootstrap template's sds-grpc).
SDS_CLUSTER = "sds-grpc"

__all__ = ["BLACKHOLE", "PASSTHROUGH", "ClusterRef"]


def listener_name(bind: str, port: int) -> str:
    """gateway.go getListenerName / listener.go: ``<bind>_<port>``, e.g. ``0.0.0.0_80``."""
    return f"{bind}_{port}"


def sidecar_route_name(port: int) -> str:
    """A sidecar's outbound RDS name is the listener port (httproute.go extractListenerPort)."""
    return str(port)


def virtual_host_name(host: str, port: int) -> str:
    """util.DomainName: ``host:port``."""
    return f"{host}:{port}"


def gateway_http_route_name(target_port: int) -> str:
    """model/gateway.go gatewayRDSRouteName: plain-text HTTP servers share ``http.<port>``, where the port
    is the one resolvePorts gives: the gateway Service's targetPort."""
    return f"http.{target_port}"


def gateway_https_route_name(server_port: int, port_name: str, gateway: str, namespace: str) -> str:
    """gatewayRDSRouteName for an HTTPS server that terminates TLS: ``https.<port>.<portName>.<gw>.<ns>``,
    with the Gateway server's own port number."""
    return f"https.{server_port}.{port_name}.{gateway}.{namespace}"


def credential_secret(credential_name: str) -> str:
    """credentials.ToResourceName: a credentialName is the Kubernetes Secret ``kubernetes://<name>``."""
    return credential_name if "://" in credential_name else f"kubernetes://{credential_name}"


def credential_ca_secret(credential_name: str) -> str:
    """The CA of a credential: the same name with SdsCaSuffix ``-cacert``."""
    return credential_secret(credential_name) + "-cacert"


def istio_mutual_sni(cluster: ClusterRef) -> str:
    """cluster_tls.go buildUpstreamTLSSettings: ISTIO_MUTUAL without an explicit ``sni`` uses the
    cluster's DNS SRV form ``outbound_.<port>_.<subset>_.<host>`` (model.BuildDNSSrvSubsetKey)."""
    return f"outbound_.{cluster.port}_.{cluster.subset}_.{cluster.host}"
