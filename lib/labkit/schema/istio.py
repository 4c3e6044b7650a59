"""Strict models of the networking.istio.io kinds the labs use.

Field names, types and enum values follow the published Istio CRDs (``crd-all.gen.yaml``); the tests walk
every field here and check it against that file. Some checks Istio makes in CEL rules or in its validating
webhook are repeated here (port ranges, duration syntax, "only one of" groups, known port protocols),
because the offline simulator has no API server to make them.

A field set to ``null`` counts as absent, as the API server prunes such fields before validating.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ..errors import Problem
from ..meshconfig import ISTIO_NETWORKING_GROUP
from ._common import at_most_one_message, duration_seconds, expected_message, format_path, is_duration

GROUP = ISTIO_NETWORKING_GROUP
#: Every version current Istio serves for these kinds (v1 is the stored one; the schemas are identical).
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1", f"{GROUP}/v1alpha3")

#: Port protocols Istio recognises (case-insensitive); anything else is rejected by its webhook.
PROTOCOLS = ("HTTP", "HTTPS", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB", "TCP", "TLS", "UDP", "MONGO", "MYSQL", "REDIS")


class _Model(BaseModel):
    """Unknown fields and loose types are errors; ``_one_of`` lists groups of which at most one may be set."""

    model_config = ConfigDict(extra="forbid", strict=True)

    _one_of: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @model_validator(mode="after")
    def _check_one_of(self) -> _Model:
        by_alias = {(f.alias or name): name for name, f in type(self).model_fields.items()}
        for group in self._one_of:
            present = [key for key in group if getattr(self, by_alias[key]) is not None]
            if len(present) > 1:
                raise ValueError(at_most_one_message(group, present))
        return self


# --------------------------------------------------------------------------- scalar types


def _string_first(expected: str):
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(expected_message(expected, value))
        return value

    return check


def _duration(minimum: float):
    def check(value: str) -> str:
        if not is_duration(value):
            raise ValueError(f'{value!r} is not a duration; write it like "3s", "500ms" or "1m30s"')
        if duration_seconds(value) < minimum:
            raise ValueError(f"{value!r} is too short; the minimum is 1ms")
        return value

    return check


def _protocol(value: str) -> str:
    if value.upper() not in PROTOCOLS:
        raise ValueError(f"unknown protocol {value!r}; use one of {', '.join(PROTOCOLS)}")
    return value


def _not_wildcard(value: str) -> str:
    if "*" in value:
        raise ValueError("wildcards are not supported in selectors")
    return value


def _not_star(value: str) -> str:
    if value == "*":
        raise ValueError('hostname cannot be the wildcard "*"')
    return value


_DURATION_HINT = 'a duration string like "3s"'
_PORT_NAME = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")

#: A duration that must be at least 1ms (the CRD's CEL rule), e.g. "3s".
Duration = Annotated[str, BeforeValidator(_string_first(_DURATION_HINT)), AfterValidator(_duration(0.001))]
#: A duration with no lower bound (fields whose CRD has no CEL rule), e.g. "0s".
AnyDuration = Annotated[str, BeforeValidator(_string_first(_DURATION_HINT)), AfterValidator(_duration(0.0))]
Port = Annotated[int, Field(ge=1, le=65535)]
UInt32 = Annotated[int, Field(ge=0, le=4294967295)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
NonNegInt32 = Annotated[int, Field(ge=0, le=2**31 - 1)]
Protocol = Annotated[str, AfterValidator(_protocol)]
SelectorValue = Annotated[str, Field(max_length=63), AfterValidator(_not_wildcard)]
StringMap = dict[str, str]
Strings = list[str]


# --------------------------------------------------------------------------- shared pieces


class PortSelector(_Model):
    number: Port | None = None


class Destination(_Model):
    host: str
    subset: str | None = None
    port: PortSelector | None = None


class StringMatch(_Model):
    _one_of = (("exact", "prefix", "regex"),)

    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None


class Percent(_Model):
    value: Annotated[float, Field(ge=0, le=100)] | None = None


class HeaderOperations(_Model):
    set: StringMap | None = None
    add: StringMap | None = None
    remove: Strings | None = None


class Headers(_Model):
    request: HeaderOperations | None = None
    response: HeaderOperations | None = None


class WorkloadSelector(_Model):
    """``spec.workloadSelector`` of ServiceEntry and Sidecar."""

    labels: Annotated[dict[str, SelectorValue], Field(max_length=256)] | None = None


class LabelSelector(_Model):
    """``spec.workloadSelector`` of DestinationRule (note: ``matchLabels``)."""

    matchLabels: Annotated[dict[str, SelectorValue], Field(max_length=4096)] | None = None

    @model_validator(mode="after")
    def _keys(self) -> LabelSelector:
        for key in self.matchLabels or {}:
            if not key or "*" in key:
                raise ValueError("label keys must be non-empty and contain no wildcard")
        return self


class ObjectMeta(_Model):
    name: Annotated[str, Field(min_length=1)]
    generateName: str | None = None
    namespace: str | None = None
    labels: StringMap | None = None
    annotations: StringMap | None = None
    uid: str | None = None
    resourceVersion: str | None = None
    generation: int | None = None
    creationTimestamp: Any = None
    deletionTimestamp: Any = None
    deletionGracePeriodSeconds: int | None = None
    ownerReferences: list[dict[str, Any]] | None = None
    finalizers: Strings | None = None
    managedFields: list[dict[str, Any]] | None = None
    selfLink: str | None = None


class _Resource(_Model):
    apiVersion: Literal["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]
    metadata: ObjectMeta
    #: Written by Istio, ignored when applied; accepted so that ``kubectl get -o yaml`` output loads.
    status: dict[str, Any] | None = None


# --------------------------------------------------------------------------- ServiceEntry


class ServicePort(_Model):
    number: Port
    protocol: Annotated[Protocol, Field(max_length=256)] | None = None
    name: Annotated[str, Field(max_length=256)]
    targetPort: Port | None = None


class WorkloadEntry(_Model):
    address: Annotated[str, Field(max_length=256)] | None = None
    ports: Annotated[dict[str, Port], Field(max_length=128)] | None = None
    labels: Annotated[StringMap, Field(max_length=256)] | None = None
    network: Annotated[str, Field(max_length=2048)] | None = None
    locality: Annotated[str, Field(max_length=2048)] | None = None
    weight: UInt32 | None = None
    serviceAccount: Annotated[str, Field(max_length=253)] | None = None

    @model_validator(mode="after")
    def _address(self) -> WorkloadEntry:
        for port_name in self.ports or {}:
            if len(port_name) >= 63 or not _PORT_NAME.match(port_name):
                raise ValueError(f"port name {port_name!r} must be letters, digits and '-', under 63 characters")
        if self.address is None and self.network is None:
            raise ValueError("an endpoint needs an address (or a network)")
        if self.address and self.address.startswith("unix://"):
            if self.ports:
                raise ValueError("a unix socket endpoint may not have ports")
            if self.address[7:8] not in ("/", "@") or self.address.endswith("/"):
                raise ValueError("a unix socket address must be an absolute file path or an abstract socket")
        return self


class ServiceEntrySpec(_Model):
    hosts: Annotated[list[Annotated[str, AfterValidator(_not_star)]], Field(min_length=1, max_length=256)]
    addresses: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=256)] | None = None
    ports: Annotated[list[ServicePort], Field(max_length=256)] | None = None
    location: Literal["MESH_EXTERNAL", "MESH_INTERNAL"] | None = None
    resolution: Literal["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"] | None = None
    endpoints: Annotated[list[WorkloadEntry], Field(max_length=4096)] | None = None
    workloadSelector: WorkloadSelector | None = None
    exportTo: Strings | None = None
    subjectAltNames: Strings | None = None

    @model_validator(mode="after")
    def _rules(self) -> ServiceEntrySpec:
        resolution = self.resolution or "NONE"
        if self.workloadSelector is not None and self.endpoints is not None:
            raise ValueError("set only one of workloadSelector, endpoints")
        if any("/" in a for a in self.addresses or []) and resolution not in ("NONE", "STATIC"):
            raise ValueError("CIDR addresses are allowed only with resolution NONE or STATIC")
        if resolution == "NONE" and self.endpoints is not None:
            raise ValueError("resolution NONE cannot have endpoints")
        if resolution == "DNS_ROUND_ROBIN" and len(self.endpoints or []) > 1:
            raise ValueError("resolution DNS_ROUND_ROBIN allows at most one endpoint")
        numbers = [p.number for p in self.ports or []]
        names = [p.name for p in self.ports or []]
        if len(set(numbers)) != len(numbers):
            raise ValueError("port numbers must be unique")
        if len(set(names)) != len(names):
            raise ValueError("port names must be unique")
        return self


class ServiceEntry(_Resource):
    kind: Literal["ServiceEntry"]
    spec: ServiceEntrySpec


# --------------------------------------------------------------------------- VirtualService


class HTTPMatchRequest(_Model):
    name: str | None = None
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: dict[str, StringMatch] | None = None
    port: Port | None = None
    sourceLabels: StringMap | None = None
    gateways: Strings | None = None
    queryParams: dict[str, StringMatch] | None = None
    ignoreUriCase: bool | None = None
    withoutHeaders: dict[str, StringMatch] | None = None
    sourceNamespace: str | None = None
    statPrefix: str | None = None


class HTTPRouteDestination(_Model):
    destination: Destination
    weight: NonNegInt32 | None = None
    headers: Headers | None = None


class RouteDestination(_Model):
    destination: Destination
    weight: NonNegInt32 | None = None


class HTTPRedirect(_Model):
    _one_of = (("port", "derivePort"),)

    uri: str | None = None
    authority: str | None = None
    port: Port | None = None
    derivePort: Literal["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"] | None = None
    scheme: str | None = None
    redirectCode: UInt32 | None = None
    prefixRewrite: str | None = None


class RegexRewrite(_Model):
    match: str | None = None
    rewrite: str | None = None


class HTTPRewrite(_Model):
    uri: str | None = None
    authority: str | None = None
    uriRegexRewrite: RegexRewrite | None = None


class HTTPBody(_Model):
    _one_of = (("string", "bytes"),)

    string: str | None = None
    bytes: str | None = None


class HTTPDirectResponse(_Model):
    status: UInt32
    body: HTTPBody | None = None


class Delegate(_Model):
    name: str | None = None
    namespace: str | None = None


class HTTPRetry(_Model):
    attempts: Int32 | None = None
    perTryTimeout: Duration | None = None
    retryOn: str | None = None
    retryRemoteLocalities: bool | None = None
    retryIgnorePreviousHosts: bool | None = None
    backoff: Duration | None = None


class Delay(_Model):
    _one_of = (("fixedDelay", "exponentialDelay"),)

    fixedDelay: Duration | None = None
    exponentialDelay: Duration | None = None
    percent: Int32 | None = None
    percentage: Percent | None = None


class Abort(_Model):
    _one_of = (("httpStatus", "grpcStatus", "http2Error"),)

    httpStatus: Int32 | None = None
    grpcStatus: str | None = None
    http2Error: str | None = None
    percentage: Percent | None = None


class HTTPFaultInjection(_Model):
    delay: Delay | None = None
    abort: Abort | None = None


class HTTPMirrorPolicy(_Model):
    destination: Destination
    percentage: Percent | None = None


class CorsPolicy(_Model):
    allowOrigin: Strings | None = None
    allowOrigins: list[StringMatch] | None = None
    allowMethods: Strings | None = None
    allowHeaders: Strings | None = None
    exposeHeaders: Strings | None = None
    maxAge: Duration | None = None
    allowCredentials: bool | None = None
    unmatchedPreflights: Literal["UNSPECIFIED", "FORWARD", "IGNORE"] | None = None


class HTTPRoute(_Model):
    name: str | None = None
    match: list[HTTPMatchRequest] | None = None
    route: list[HTTPRouteDestination] | None = None
    redirect: HTTPRedirect | None = None
    directResponse: HTTPDirectResponse | None = None
    delegate: Delegate | None = None
    rewrite: HTTPRewrite | None = None
    timeout: Duration | None = None
    retries: HTTPRetry | None = None
    fault: HTTPFaultInjection | None = None
    mirror: Destination | None = None
    mirrors: list[HTTPMirrorPolicy] | None = None
    mirrorPercent: UInt32 | None = None
    mirror_percent: UInt32 | None = None
    mirrorPercentage: Percent | None = None
    corsPolicy: CorsPolicy | None = None
    headers: Headers | None = None


class TLSMatchAttributes(_Model):
    sniHosts: Annotated[Strings, Field(min_length=1)]
    destinationSubnets: Strings | None = None
    port: Port | None = None
    sourceLabels: StringMap | None = None
    gateways: Strings | None = None
    sourceNamespace: str | None = None


class TLSRoute(_Model):
    match: list[TLSMatchAttributes]
    route: list[RouteDestination] | None = None


class L4MatchAttributes(_Model):
    destinationSubnets: Strings | None = None
    port: Port | None = None
    sourceSubnet: str | None = None
    sourceLabels: StringMap | None = None
    gateways: Strings | None = None
    sourceNamespace: str | None = None


class TCPRoute(_Model):
    match: list[L4MatchAttributes] | None = None
    route: list[RouteDestination] | None = None


class VirtualServiceSpec(_Model):
    hosts: Strings | None = None
    gateways: Strings | None = None
    http: list[HTTPRoute] | None = None
    tls: list[TLSRoute] | None = None
    tcp: list[TCPRoute] | None = None
    exportTo: Strings | None = None


class VirtualService(_Resource):
    kind: Literal["VirtualService"]
    spec: VirtualServiceSpec | None = None


# --------------------------------------------------------------------------- DestinationRule


class HTTPCookieAttribute(_Model):
    name: str
    value: str | None = None


class HTTPCookie(_Model):
    name: str
    path: str | None = None
    ttl: AnyDuration | None = None
    attributes: list[HTTPCookieAttribute] | None = None


class RingHash(_Model):
    minimumRingSize: Annotated[int, Field(ge=0)] | None = None


class MagLev(_Model):
    tableSize: Annotated[int, Field(ge=0)] | None = None


class ConsistentHashLB(_Model):
    _one_of = (("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"), ("ringHash", "maglev"))

    httpHeaderName: str | None = None
    httpCookie: HTTPCookie | None = None
    useSourceIp: bool | None = None
    httpQueryParameterName: str | None = None
    ringHash: RingHash | None = None
    maglev: MagLev | None = None
    minimumRingSize: Annotated[int, Field(ge=0)] | None = None


class LocalityDistribute(_Model):
    from_: str | None = Field(None, alias="from")
    to: dict[str, UInt32] | None = None


class LocalityFailover(_Model):
    from_: str | None = Field(None, alias="from")
    to: str | None = None


class LocalityLoadBalancerSetting(_Model):
    distribute: list[LocalityDistribute] | None = None
    failover: list[LocalityFailover] | None = None
    failoverPriority: Strings | None = None
    enabled: bool | None = None


class ZoneAwareLbSetting(_Model):
    enabled: bool | None = None
    failover: list[LocalityFailover] | None = None
    failoverPriority: Strings | None = None
    minClusterSize: Annotated[int, Field(ge=1, le=4294967295)] | None = None


class WarmupConfiguration(_Model):
    duration: Duration
    minimumPercent: Annotated[float, Field(ge=0, le=100)] | None = None
    aggression: Annotated[float, Field(ge=0)] | None = None


class BackendUtilization(_Model):
    errorUtilizationPenaltyPercent: UInt32 | None = None
    metricNamesForComputingUtilization: Strings | None = None
    weightExpirationPeriod: AnyDuration | None = None
    weightStabilizationPeriod: AnyDuration | None = None
    weightUpdatePeriod: AnyDuration | None = None


class LoadBalancerSettings(_Model):
    _one_of = (("simple", "consistentHash", "backendUtilization"),)

    simple: Literal["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"] | None = None
    consistentHash: ConsistentHashLB | None = None
    backendUtilization: BackendUtilization | None = None
    localityLbSetting: LocalityLoadBalancerSetting | None = None
    zoneAwareLbSetting: ZoneAwareLbSetting | None = None
    warmupDurationSecs: Duration | None = None
    warmup: WarmupConfiguration | None = None


class TcpKeepalive(_Model):
    probes: UInt32 | None = None
    time: Duration | None = None
    interval: Duration | None = None


class TCPSettings(_Model):
    maxConnections: Int32 | None = None
    connectTimeout: Duration | None = None
    tcpKeepalive: TcpKeepalive | None = None
    maxConnectionDuration: Duration | None = None
    idleTimeout: AnyDuration | None = None


class HTTP2KeepAlive(_Model):
    interval: Duration | None = None
    timeout: Duration | None = None


class HTTPSettings(_Model):
    http1MaxPendingRequests: Int32 | None = None
    http2MaxRequests: Int32 | None = None
    maxRequestsPerConnection: Int32 | None = None
    maxRetries: Int32 | None = None
    idleTimeout: Duration | None = None
    h2UpgradePolicy: Literal["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] | None = None
    useClientProtocol: bool | None = None
    maxConcurrentStreams: Int32 | None = None
    http2KeepAlive: HTTP2KeepAlive | None = None


class ConnectionPoolSettings(_Model):
    tcp: TCPSettings | None = None
    http: HTTPSettings | None = None


class OutlierDetection(_Model):
    splitExternalLocalOriginErrors: bool | None = None
    consecutiveLocalOriginFailures: UInt32 | None = None
    consecutiveGatewayErrors: UInt32 | None = None
    consecutive5xxErrors: UInt32 | None = None
    consecutiveErrors: Int32 | None = None
    interval: Duration | None = None
    baseEjectionTime: Duration | None = None
    maxEjectionPercent: Int32 | None = None
    minHealthPercent: Int32 | None = None
    outlierDetectionHttpErrorCodes: list[Annotated[int, Field(ge=100, le=599)]] | None = None


class ClientTLSSettings(_Model):
    mode: Literal["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] | None = None
    clientCertificate: str | None = None
    privateKey: str | None = None
    caCertificates: str | None = None
    credentialName: str | None = None
    subjectAltNames: Strings | None = None
    sni: str | None = None
    insecureSkipVerify: bool | None = None
    caCrl: str | None = None


class TrafficPolicyTunnel(_Model):
    protocol: str | None = None
    targetHost: str
    targetPort: Port


class ProxyProtocol(_Model):
    version: Literal["V1", "V2"] | None = None


class RetryBudget(_Model):
    percent: Annotated[float, Field(ge=0, le=100)] | None = None
    minRetryConcurrency: UInt32 | None = None
    budgetInterval: AnyDuration | None = None


class PortTrafficPolicy(_Model):
    port: PortSelector | None = None
    loadBalancer: LoadBalancerSettings | None = None
    connectionPool: ConnectionPoolSettings | None = None
    outlierDetection: OutlierDetection | None = None
    tls: ClientTLSSettings | None = None


class TrafficPolicy(_Model):
    loadBalancer: LoadBalancerSettings | None = None
    connectionPool: ConnectionPoolSettings | None = None
    outlierDetection: OutlierDetection | None = None
    tls: ClientTLSSettings | None = None
    portLevelSettings: Annotated[list[PortTrafficPolicy], Field(max_length=4096)] | None = None
    tunnel: TrafficPolicyTunnel | None = None
    proxyProtocol: ProxyProtocol | None = None
    retryBudget: RetryBudget | None = None


class Subset(_Model):
    name: str
    labels: StringMap | None = None
    trafficPolicy: TrafficPolicy | None = None


class DestinationRuleSpec(_Model):
    host: str
    trafficPolicy: TrafficPolicy | None = None
    subsets: list[Subset] | None = None
    exportTo: Strings | None = None
    workloadSelector: LabelSelector | None = None


class DestinationRule(_Resource):
    kind: Literal["DestinationRule"]
    spec: DestinationRuleSpec | None = None


# --------------------------------------------------------------------------- Gateway


class GatewayPort(_Model):
    number: Port
    protocol: Protocol
    name: str
    targetPort: Port | None = None


class TLSCertificate(_Model):
    serverCertificate: str | None = None
    privateKey: str | None = None
    caCertificates: str | None = None


_TLSVersion = Literal["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]
_ServerTLSMode = Literal["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"]


class ServerTLSSettings(_Model):
    _one_of = (("credentialName", "credentialNames", "tlsCertificates"),)

    httpsRedirect: bool | None = None
    mode: _ServerTLSMode | None = None
    serverCertificate: str | None = None
    privateKey: str | None = None
    caCertificates: str | None = None
    caCrl: str | None = None
    credentialName: str | None = None
    credentialNames: Annotated[Strings, Field(min_length=1, max_length=2)] | None = None
    tlsCertificates: Annotated[list[TLSCertificate], Field(min_length=1, max_length=2)] | None = None
    caCertCredentialName: str | None = None
    subjectAltNames: Strings | None = None
    verifyCertificateSpki: Strings | None = None
    verifyCertificateHash: Strings | None = None
    minProtocolVersion: _TLSVersion | None = None
    maxProtocolVersion: _TLSVersion | None = None
    cipherSuites: Strings | None = None
    ecdhCurves: Strings | None = None
    insecureSkipVerify: bool | None = None


class Server(_Model):
    port: GatewayPort
    bind: str | None = None
    hosts: Annotated[Strings, Field(min_length=1)]
    tls: ServerTLSSettings | None = None
    defaultEndpoint: str | None = None
    name: str | None = None


class GatewaySpec(_Model):
    servers: list[Server] | None = None
    selector: StringMap | None = None


class Gateway(_Resource):
    kind: Literal["Gateway"]
    spec: GatewaySpec | None = None


# --------------------------------------------------------------------------- Sidecar


class SidecarPort(_Model):
    number: Port | None = None
    protocol: Protocol | None = None
    name: str | None = None
    targetPort: Port | None = None


_CaptureMode = Literal["DEFAULT", "IPTABLES", "NONE"]


class IstioIngressListener(_Model):
    port: SidecarPort
    bind: str | None = None
    captureMode: _CaptureMode | None = None
    defaultEndpoint: str | None = None
    tls: ServerTLSSettings | None = None
    connectionPool: ConnectionPoolSettings | None = None


class IstioEgressListener(_Model):
    port: SidecarPort | None = None
    bind: str | None = None
    captureMode: _CaptureMode | None = None
    hosts: Annotated[Strings, Field(min_length=1)]


class OutboundTrafficPolicy(_Model):
    mode: Literal["REGISTRY_ONLY", "ALLOW_ANY"] | None = None
    egressProxy: Destination | None = None


class SidecarSpec(_Model):
    workloadSelector: WorkloadSelector | None = None
    ingress: list[IstioIngressListener] | None = None
    egress: list[IstioEgressListener] | None = None
    inboundConnectionPool: ConnectionPoolSettings | None = None
    outboundTrafficPolicy: OutboundTrafficPolicy | None = None


class Sidecar(_Resource):
    kind: Literal["Sidecar"]
    spec: SidecarSpec | None = None


#: kind -> model, for every networking.istio.io kind labkit validates.
MODELS: dict[str, type[_Resource]] = {
    m.__name__: m for m in (ServiceEntry, VirtualService, DestinationRule, Gateway, Sidecar)
}


# --------------------------------------------------------------------------- errors -> Problems

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _message(error: Mapping[str, Any]) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field missing"
    if kind in _EXPECTED:
        return expected_message(_EXPECTED[kind], value)
    if kind == "literal_error":
        allowed = ", ".join(
            part.strip().strip("'") for part in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")
        )
        return f"must be one of {allowed}; got {value!r}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}; got {value!r}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}; got {value!r}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty" if ctx.get("min_length") == 1 else f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"allows at most {ctx.get('max_length')} item(s)"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind == "value_error":
        message = str(error["msg"])
        return message.removeprefix("Value error, ")
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def _path(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if len(parts) > 1 and parts[-1] == "[key]":  # the key itself is wrong: name it as a key, never an index
        parts = [*parts[:-2], str(parts[-2])]
    return format_path(parts)


def problems(doc: Mapping[str, Any], document: str) -> list[Problem]:
    """Problems with one networking.istio.io document (its ``kind`` must be in MODELS)."""
    model = MODELS[str(doc.get("kind"))]
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        out: list[Problem] = []
        for error in exc.errors():
            problem = Problem(document, _path(error["loc"]), _message(error))
            if problem not in out:
                out.append(problem)
        return out
    return []
