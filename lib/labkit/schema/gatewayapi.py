"""Strict models of the Kubernetes Gateway API kinds Istio's egress tasks use: Gateway, HTTPRoute, TLSRoute.

Field names, types and enum values follow the Gateway API CRDs Istio tests with
(``gateway-api-crd.yaml``, Gateway API v1.6); the tests check every field here against that file.
Sub-trees the offline simulator never acts on (filters, TLS options, session persistence, ...) are kept
as free-form mappings: the API server's schema is the authority on them, and the simulator's coverage
table refuses them by name before their shape could matter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Problem
from .istio import ObjectMeta, _message, _path

GROUP = "gateway.networking.k8s.io"
#: The versions the CRDs serve, per kind (the newest is stored; the schemas are identical).
API_VERSIONS: dict[str, tuple[str, ...]] = {
    "Gateway": (f"{GROUP}/v1", f"{GROUP}/v1beta1"),
    "HTTPRoute": (f"{GROUP}/v1", f"{GROUP}/v1beta1"),
    "TLSRoute": (f"{GROUP}/v1", f"{GROUP}/v1alpha2", f"{GROUP}/v1alpha3"),
    "ReferenceGrant": (f"{GROUP}/v1beta1", f"{GROUP}/v1"),
}
#: Every other kind of the Gateway API groups: labkit does not validate them.
OTHER_KINDS = {
    GROUP: ("BackendTLSPolicy", "GatewayClass", "GRPCRoute", "ListenerSet", "TCPRoute", "UDPRoute"),
    "gateway.networking.x-k8s.io": ("XBackendTrafficPolicy", "XMesh", "XBackend"),
}

FreeForm = dict[str, Any]
Port = Annotated[int, Field(ge=1, le=65535)]
Hostname = Annotated[str, Field(min_length=1, max_length=253)]
ObjectName = Annotated[str, Field(min_length=1, max_length=253)]
SectionName = Annotated[str, Field(min_length=1, max_length=253)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Resource(_Model):
    metadata: ObjectMeta
    #: Written by the controller; accepted so that ``kubectl get -o yaml`` output loads.
    status: dict[str, Any] | None = None


# --------------------------------------------------------------------------- shared pieces


class ParentReference(_Model):
    group: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: ObjectName
    sectionName: SectionName | None = None
    port: Port | None = None


class BackendRef(_Model):
    group: str | None = None
    kind: str | None = None
    name: ObjectName
    namespace: str | None = None
    port: Port | None = None
    weight: Annotated[int, Field(ge=0, le=1000000)] | None = None


class HTTPBackendRef(BackendRef):
    filters: list[FreeForm] | None = None


class LabelSelector(_Model):
    matchLabels: dict[str, str] | None = None
    matchExpressions: list[FreeForm] | None = None


# --------------------------------------------------------------------------- Gateway


class RouteNamespaces(_Model):
    from_: Annotated[Literal["All", "Selector", "Same"] | None, Field(alias="from")] = None
    selector: LabelSelector | None = None

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class RouteGroupKind(_Model):
    group: str | None = None
    kind: str


class AllowedRoutes(_Model):
    namespaces: RouteNamespaces | None = None
    kinds: list[RouteGroupKind] | None = None


class SecretObjectReference(_Model):
    group: str | None = None
    kind: str | None = None
    name: ObjectName
    namespace: str | None = None


class ListenerTLSConfig(_Model):
    mode: Literal["Terminate", "Passthrough"] | None = None
    certificateRefs: list[SecretObjectReference] | None = None
    options: dict[str, str] | None = None


class Listener(_Model):
    name: SectionName
    hostname: Hostname | None = None
    port: Port
    protocol: Annotated[str, Field(min_length=1, max_length=255)]
    tls: ListenerTLSConfig | None = None
    allowedRoutes: AllowedRoutes | None = None


class GatewaySpecAddress(_Model):
    type: str | None = None
    value: str | None = None


class ParametersReference(_Model):
    group: str
    kind: str
    name: str


class GatewayInfrastructure(_Model):
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    parametersRef: ParametersReference | None = None


class GatewaySpec(_Model):
    gatewayClassName: Annotated[str, Field(min_length=1, max_length=253)]
    listeners: Annotated[list[Listener], Field(min_length=1, max_length=64)]
    addresses: list[GatewaySpecAddress] | None = None
    infrastructure: GatewayInfrastructure | None = None
    allowedListeners: FreeForm | None = None
    tls: FreeForm | None = None
    defaultScope: str | None = None


class Gateway(_Resource):
    apiVersion: Literal["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"]
    kind: Literal["Gateway"]
    spec: GatewaySpec


# --------------------------------------------------------------------------- HTTPRoute


class HTTPPathMatch(_Model):
    type: Literal["Exact", "PathPrefix", "RegularExpression"] | None = None
    value: Annotated[str, Field(max_length=1024)] | None = None


class HTTPHeaderMatch(_Model):
    type: Literal["Exact", "RegularExpression"] | None = None
    name: Annotated[str, Field(min_length=1, max_length=256)]
    value: Annotated[str, Field(min_length=1, max_length=4096)]


class HTTPQueryParamMatch(_Model):
    type: Literal["Exact", "RegularExpression"] | None = None
    name: Annotated[str, Field(min_length=1, max_length=256)]
    value: Annotated[str, Field(min_length=1, max_length=1024)]


class HTTPRouteMatch(_Model):
    path: HTTPPathMatch | None = None
    headers: list[HTTPHeaderMatch] | None = None
    queryParams: list[HTTPQueryParamMatch] | None = None
    method: Literal["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] | None = None


#: GEP-2257 durations, as the CRD's pattern has them: "3s", "500ms", "1h30m".
Duration = Annotated[str, Field(pattern=r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")]


class HTTPRouteTimeouts(_Model):
    request: Duration | None = None
    backendRequest: Duration | None = None


class HTTPRouteRetry(_Model):
    codes: list[int] | None = None
    attempts: int | None = None
    backoff: str | None = None


class HTTPRouteRule(_Model):
    name: SectionName | None = None
    matches: list[HTTPRouteMatch] | None = None
    filters: list[FreeForm] | None = None
    backendRefs: list[HTTPBackendRef] | None = None
    timeouts: HTTPRouteTimeouts | None = None
    retry: HTTPRouteRetry | None = None
    sessionPersistence: FreeForm | None = None


class HTTPRouteSpec(_Model):
    parentRefs: Annotated[list[ParentReference], Field(max_length=32)] | None = None
    hostnames: Annotated[list[Hostname], Field(max_length=16)] | None = None
    rules: Annotated[list[HTTPRouteRule], Field(min_length=1, max_length=16)] | None = None
    useDefaultGateways: str | None = None


class HTTPRoute(_Resource):
    apiVersion: Literal["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"]
    kind: Literal["HTTPRoute"]
    spec: HTTPRouteSpec


# --------------------------------------------------------------------------- TLSRoute


class TLSRouteRule(_Model):
    name: SectionName | None = None
    backendRefs: Annotated[list[BackendRef], Field(min_length=1, max_length=16)]


class TLSRouteSpec(_Model):
    parentRefs: Annotated[list[ParentReference], Field(max_length=32)] | None = None
    hostnames: Annotated[list[Hostname], Field(min_length=1, max_length=1024)]
    rules: Annotated[list[TLSRouteRule], Field(min_length=1, max_length=1)]
    useDefaultGateways: str | None = None


class TLSRoute(_Resource):
    apiVersion: Literal["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha3"]
    kind: Literal["TLSRoute"]
    spec: TLSRouteSpec


class TLSRouteSpecV1Alpha2(TLSRouteSpec):
    """v1alpha2 (what istio.io's pages apply) still allows a route without hostnames and up to 16 rules."""

    hostnames: Annotated[list[Hostname], Field(max_length=1024)] | None = None  # type: ignore[assignment]
    rules: Annotated[list[TLSRouteRule], Field(min_length=1, max_length=16)]


class TLSRouteV1Alpha2(_Resource):
    apiVersion: Literal["gateway.networking.k8s.io/v1alpha2"]
    kind: Literal["TLSRoute"]
    spec: TLSRouteSpecV1Alpha2


# --------------------------------------------------------------------------- ReferenceGrant

_GROUP_NAME = Annotated[
    str, Field(max_length=253, pattern=r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
]
_KIND_NAME = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")]


class ReferenceGrantFrom(_Model):
    group: _GROUP_NAME
    kind: _KIND_NAME
    namespace: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]


class ReferenceGrantTo(_Model):
    group: _GROUP_NAME
    kind: _KIND_NAME
    name: ObjectName | None = None


class ReferenceGrantSpec(_Model):
    from_: Annotated[list[ReferenceGrantFrom], Field(alias="from", min_length=1, max_length=16)]
    to: Annotated[list[ReferenceGrantTo], Field(min_length=1, max_length=16)]

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ReferenceGrant(_Resource):
    apiVersion: Literal["gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1"]
    kind: Literal["ReferenceGrant"]
    spec: ReferenceGrantSpec


#: kind -> model, for every gateway.networking.k8s.io kind labkit validates (at its stored version).
MODELS: dict[str, type[_Resource]] = {m.__name__: m for m in (Gateway, HTTPRoute, TLSRoute, ReferenceGrant)}
#: The versions whose schema differs from the stored one.
OLDER_MODELS: dict[str, type[_Resource]] = {f"{GROUP}/v1alpha2 TLSRoute": TLSRouteV1Alpha2}


def model_for(api_version: str, kind: str) -> type[_Resource]:
    return OLDER_MODELS.get(f"{api_version} {kind}") or MODELS[kind]


def problems(doc: Mapping[str, Any], document: str) -> list[Problem]:
    """Problems with one gateway.networking.k8s.io document (its ``kind`` must be in MODELS)."""
    try:
        model_for(str(doc.get("apiVersion")), str(doc.get("kind"))).model_validate(doc)
    except ValidationError as exc:
        out: list[Problem] = []
        for error in exc.errors():
            problem = Problem(document, _path(error["loc"]), _message(error))
            if problem not in out:
                out.append(problem)
        return out
    return []
