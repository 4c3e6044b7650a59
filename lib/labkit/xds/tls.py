"""TLS contexts as istiod builds them (Istio 1.27): upstream (pilot/pkg/networking/core/cluster_tls.go,
security/model/authentication.go) and a gateway server's downstream side (core/tls.go)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..sim.config import TlsSettings
from .envoy import ADS, DOWNSTREAM_TLS, RAW_BUFFER, UPSTREAM_TLS, Obj
from .errors import TranslationError
from .names import (
    SDS_CLUSTER,
    SDS_DEFAULT,
    SDS_ROOT,
    SDS_SYSTEM_ROOT,
    ClusterRef,
    credential_ca_secret,
    credential_secret,
    istio_mutual_sni,
)

#: istio-agent's SDS over the bootstrap's sds-grpc cluster (pkg/model ConstructSdsSecretConfig).
AGENT_SDS: Obj = {
    "api_config_source": {
        "api_type": "GRPC",
        "grpc_services": [{"envoy_grpc": {"cluster_name": SDS_CLUSTER}}],
        "set_node_on_first_message_only": True,
        "transport_api_version": "V3",
    },
    "initial_fetch_timeout": "0s",
    "resource_api_version": "V3",
}
#: util.ALPNInMeshWithMxc / ALPNInMeshH2WithMxc: in-mesh mTLS advertises Istio's peer exchange.
ALPN_IN_MESH = ["istio-peer-exchange", "istio"]
ALPN_IN_MESH_H2 = ["istio-peer-exchange", "istio", "h2"]
TLS_PARAMS = {"tls_minimum_protocol_version": "TLSv1_2", "tls_maximum_protocol_version": "TLSv1_3"}
#: ClientTLSSettings fields this translator builds; others are refused by name.
CLIENT_TLS_FIELDS = {
    "mode",
    "credentialName",
    "sni",
    "subjectAltNames",
    "caCertificates",
    "clientCertificate",
    "privateKey",
    "insecureSkipVerify",
}
SERVER_TLS_FIELDS = {"mode", "credentialName", "subjectAltNames", "httpsRedirect"}


@dataclass
class UpstreamTls:
    """What a cluster gets from its TLS settings: a transport socket (or Istio's auto-mTLS matches),
    and whether the HTTP protocol options need auto_sni / auto_san_validation."""

    transport_socket: Obj | None = None
    transport_socket_matches: list[Obj] | None = None
    auto_sni: bool = False
    auto_san_validation: bool = False
    secrets: list[str] = field(default_factory=list)


def _agent(name: str) -> Obj:
    return {"name": name, "sds_config": AGENT_SDS}


def _credential(name: str) -> Obj:
    """ConstructSdsSecretConfigForCredential: credentialName secrets come over ADS from istiod."""
    return {"name": name, "sds_config": ADS}


def _socket(context: Obj, type_url: str = UPSTREAM_TLS) -> Obj:
    return {"name": "envoy.transport_sockets.tls", "typed_config": {"@type": type_url, **context}}


def _exact(names: list[str]) -> list[Obj]:
    return [{"exact": n} for n in names]


def istio_mutual(cluster: ClusterRef, sni: str | None, sans: list[str], http2: bool) -> tuple[Obj, list[str]]:
    """ISTIO_MUTUAL: the workload certificate ``default`` and the mesh root ``ROOTCA`` from istio-agent,
    SANs of the destination's service accounts, SNI ``outbound_.<port>_.<subset>_.<host>``."""
    context = {
        "common_tls_context": {
            "tls_params": dict(TLS_PARAMS),
            "alpn_protocols": list(ALPN_IN_MESH_H2 if http2 else ALPN_IN_MESH),
            "tls_certificate_sds_secret_configs": [_agent(SDS_DEFAULT)],
            "combined_validation_context": {
                "default_validation_context": {"match_subject_alt_names": _exact(sans)} if sans else {},
                "validation_context_sds_secret_config": _agent(SDS_ROOT),
            },
        },
        "sni": sni or istio_mutual_sni(cluster),
    }
    return _socket(context), [SDS_DEFAULT, SDS_ROOT]


def upstream_tls(
    settings: TlsSettings | None,
    cluster: ClusterRef,
    http2: bool,
    auto_mtls_sans: list[str] | None,
    service_accounts: list[str] | None = None,
) -> UpstreamTls:
    """The cluster's TLS from its DestinationRule settings; without any, Istio's auto mTLS when the
    endpoints run a sidecar (``auto_mtls_sans`` is their identities, None when they do not).
    ISTIO_MUTUAL without subjectAltNames checks the destination's service accounts."""
    if settings is None or settings.mode == "DISABLE":
        if settings is None and auto_mtls_sans is not None:
            socket, secrets = istio_mutual(cluster, None, auto_mtls_sans, http2)
            return UpstreamTls(transport_socket_matches=auto_mtls_matches(socket), secrets=secrets)
        return UpstreamTls()
    tls = settings.settings
    unknown = sorted(set(tls) - CLIENT_TLS_FIELDS)
    if unknown:
        raise TranslationError(f"{settings.source}: {', '.join(unknown)} is not translated to Envoy config by labkit")
    if settings.mode == "ISTIO_MUTUAL":
        sans = tls.get("subjectAltNames")
        sans = list(sans) if sans is not None else list(service_accounts or [])
        socket, secrets = istio_mutual(cluster, tls.get("sni"), sans, http2)
        return UpstreamTls(transport_socket=socket, secrets=secrets)
    if settings.mode not in ("SIMPLE", "MUTUAL"):
        raise TranslationError(f"{settings.source}: TLS mode {settings.mode} is not translated")
    return _simple_or_mutual(settings, http2)


def _simple_or_mutual(settings: TlsSettings, http2: bool) -> UpstreamTls:
    """constructUpstreamTLS: credentialName secrets over SDS, else files (caCertificates, else the
    system roots ``file-root:system``); auto_sni and auto_san_validation when sni (and SANs) are unset."""
    tls, mutual = settings.settings, settings.mode == "MUTUAL"
    sans = list(tls.get("subjectAltNames") or [])
    skip_verify = bool(tls.get("insecureSkipVerify"))
    common: Obj = {"tls_params": dict(TLS_PARAMS)}
    secrets: list[str] = []
    credential = tls.get("credentialName")
    if credential:
        if mutual:
            common["tls_certificate_sds_secret_configs"] = [_credential(credential_secret(credential))]
            secrets.append(credential_secret(credential))
        if not skip_verify:
            common["combined_validation_context"] = {
                "default_validation_context": {"match_subject_alt_names": _exact(sans)} if sans else {},
                "validation_context_sds_secret_config": _credential(credential_ca_secret(credential)),
            }
            secrets.append(credential_ca_secret(credential))
    else:
        if mutual:
            if not tls.get("clientCertificate") or not tls.get("privateKey"):
                raise TranslationError(
                    f"{settings.source}: MUTUAL needs credentialName or clientCertificate and privateKey"
                )
            name = f"file-cert:{tls['clientCertificate']}~{tls['privateKey']}"
            common["tls_certificate_sds_secret_configs"] = [_agent(name)]
            secrets.append(name)
        if skip_verify:
            common["validation_context"] = {}
        else:
            root = f"file-root:{tls['caCertificates']}" if tls.get("caCertificates") else SDS_SYSTEM_ROOT
            common["combined_validation_context"] = {
                "default_validation_context": {"match_subject_alt_names": _exact(sans)} if sans else {},
                "validation_context_sds_secret_config": _agent(root),
            }
            secrets.append(root)
    if http2:
        common["alpn_protocols"] = ["h2"]
    context: Obj = {"common_tls_context": common}
    if tls.get("sni"):
        context["sni"] = tls["sni"]
    auto_sni = not tls.get("sni")
    return UpstreamTls(
        transport_socket=_socket(context),
        auto_sni=auto_sni,
        auto_san_validation=auto_sni and not sans and not skip_verify,
        secrets=secrets,
    )


def auto_mtls_matches(istio_socket: Obj) -> list[Obj]:
    """Auto mTLS: endpoints labelled tlsMode=istio get mTLS, the rest plain text (tlsMode-disabled)."""
    return [
        {"name": "tlsMode-istio", "match": {"tlsMode": "istio"}, "transport_socket": istio_socket},
        {
            "name": "tlsMode-disabled",
            "match": {},
            "transport_socket": {"name": "envoy.transport_sockets.raw_buffer", "typed_config": {"@type": RAW_BUFFER}},
        },
    ]


def server_tls(server: dict[str, Any], where: str) -> tuple[Obj, list[str]]:
    """A gateway server that terminates TLS (BuildListenerTLSContext): ISTIO_MUTUAL with the workload
    certificate and the mesh root; SIMPLE / MUTUAL with ``credentialName`` (``kubernetes://``, and
    ``-cacert`` to verify clients for MUTUAL)."""
    tls = server.get("tls") or {}
    unknown = sorted(set(tls) - SERVER_TLS_FIELDS)
    if unknown:
        raise TranslationError(f"{where}: tls.{', tls.'.join(unknown)} is not translated to Envoy config by labkit")
    mode = tls.get("mode")
    common: Obj = {"alpn_protocols": ["h2", "http/1.1"]}  # util.ALPNHttp; no tls_params on this side
    secrets: list[str]
    if mode == "ISTIO_MUTUAL":
        common["tls_certificate_sds_secret_configs"] = [_agent(SDS_DEFAULT)]
        common["combined_validation_context"] = {
            "default_validation_context": {},
            "validation_context_sds_secret_config": _agent(SDS_ROOT),
        }
        secrets = [SDS_DEFAULT, SDS_ROOT]
        context: Obj = {"common_tls_context": common, "require_client_certificate": True}
    elif mode in ("SIMPLE", "MUTUAL") and tls.get("credentialName"):
        name = tls["credentialName"]
        common["tls_certificate_sds_secret_configs"] = [_credential(credential_secret(name))]
        secrets = [credential_secret(name)]
        context = {"common_tls_context": common, "require_client_certificate": mode == "MUTUAL"}
        if mode == "MUTUAL":
            sans = list(tls.get("subjectAltNames") or [])
            common["combined_validation_context"] = {
                "default_validation_context": {"match_subject_alt_names": _exact(sans)} if sans else {},
                "validation_context_sds_secret_config": _credential(credential_ca_secret(name)),
            }
            secrets.append(credential_ca_secret(name))
    else:
        raise TranslationError(f"{where}: tls.mode {mode} without credentialName is not translated by labkit")
    return _socket(context, DOWNSTREAM_TLS), secrets
