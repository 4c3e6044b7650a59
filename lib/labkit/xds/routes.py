"""One VirtualService http route → Envoy routes, as istiod's route.TranslateRoute builds them (Istio
1.27, pilot/pkg/networking/core/route/route.go and route/retry/retry.go).

Fields the translator does not build are refused by name (TranslationError), never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..schema.istio import Destination, HeaderOperations, HTTPMatchRequest, HTTPRetry, HTTPRoute, StringMatch
from ..sim.httproute import DEFAULT_RETRY_ON
from ..sim.registry import fqdn
from ..sim.routing import gateway_matches, parse_duration
from .envoy import FAULT, TYPE, Obj, duration
from .errors import TranslationError
from .names import DEFAULT_ROUTE

#: Finds the cluster name for a destination: GetDestinationCluster (port from the destination, else the
#: service's only port, else the listener port).
ClusterOf = Callable[[Destination, str], str]

PREVIOUS_HOSTS = {
    "name": "envoy.retry_host_predicates.previous_hosts",
    "typed_config": {"@type": TYPE + "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"},
}
NO_TIMEOUT = "0s"
#: route.go DefaultMaxDirectResponseBodySizeBytes, set on every outbound and gateway route config.
MAX_DIRECT_RESPONSE_BODY = 1048576
REDIRECT_CODES = {
    None: "MOVED_PERMANENTLY",
    0: "MOVED_PERMANENTLY",
    301: "MOVED_PERMANENTLY",
    302: "FOUND",
    303: "SEE_OTHER",
    307: "TEMPORARY_REDIRECT",
    308: "PERMANENT_REDIRECT",
}
#: HTTPRoute fields this translator does not build. Each is refused with its name.
UNTRANSLATED = ("delegate", "mirror", "mirrors", "mirrorPercent", "mirror_percent", "mirrorPercentage", "corsPolicy")


@dataclass(frozen=True)
class RouteContext:
    """Who the routes are built for: the listener port, the gateways (``mesh`` for a sidecar), and
    the proxy's labels and namespace (a match's sourceLabels / sourceNamespace narrow by them)."""

    port: int
    gateways: frozenset[str]
    labels: dict[str, str]
    namespace: str
    is_tls: bool = False  # a gateway HTTPS server: redirects default to https


def config_metadata(vs: dict[str, Any]) -> Obj:
    """util.BuildConfigInfoMetadata: which VirtualService a route came from."""
    meta = vs["metadata"]
    path = f"/apis/networking.istio.io/v1alpha3/namespaces/{meta['namespace']}/virtual-service/{meta['name']}"
    return {"filter_metadata": {"istio": {"config": path}}}


def routes_for_virtual_service(vs: dict[str, Any], ctx: RouteContext, cluster_of: ClusterOf) -> list[Obj]:
    """BuildHTTPRoutesForVirtualService: every http route, once per match that applies here; a
    catch-all ends the list (routes after it could never match)."""
    out: list[Obj] = []
    for raw in vs["spec"].get("http") or []:
        route = HTTPRoute.model_validate(raw)
        refuse_untranslated(vs, raw)
        matches: list[HTTPMatchRequest | None] = list(route.match) if route.match else [None]
        catchall = not route.match
        for match in matches:
            built = translate_route(vs, route, match, ctx, cluster_of)
            if built is not None:
                out.append(built)
                if match is not None and is_catch_all(built):
                    catchall = True
                    break
        if catchall:
            break
    return out


def refuse_untranslated(vs: dict[str, Any], raw: dict[str, Any]) -> None:
    name = f"VirtualService {vs['metadata']['namespace']}/{vs['metadata']['name']}"
    for key in UNTRANSLATED:
        if raw.get(key) is not None:
            raise TranslationError(f"{name}: http[].{key} is not translated to Envoy config by labkit")
    fault = raw.get("fault") or {}
    if (fault.get("delay") or {}).get("exponentialDelay"):
        raise TranslationError(f"{name}: http[].fault.delay.exponentialDelay is not translated (Istio ignores it)")
    abort = fault.get("abort") or {}
    for key in ("grpcStatus", "http2Error"):
        if abort.get(key) is not None:
            raise TranslationError(f"{name}: http[].fault.abort.{key} is not translated; use httpStatus")


def applies(match: HTTPMatchRequest | None, ctx: RouteContext, vs_namespace: str) -> bool:
    """TranslateRoute's filters: the match's port must be the listener port, and its gateways (or,
    without gateways, its sourceLabels and sourceNamespace) must select this proxy."""
    if match is None:
        return True
    if match.port is not None and match.port != ctx.port:
        return False
    if match.gateways:
        return any(gateway_matches(match.gateways, g, vs_namespace) for g in ctx.gateways)
    if match.sourceLabels and any(ctx.labels.get(k) != v for k, v in match.sourceLabels.items()):
        return False
    return match.sourceNamespace is None or match.sourceNamespace == ctx.namespace


def translate_route(
    vs: dict[str, Any], route: HTTPRoute, match: HTTPMatchRequest | None, ctx: RouteContext, cluster_of: ClusterOf
) -> Obj | None:
    vs_ns = vs["metadata"]["namespace"]
    if not applies(match, ctx, vs_ns):
        return None
    out: Obj = {"match": route_match(match)}
    name = (route.name or "") + (f".{match.name}" if match is not None and match.name else "")
    if name:
        out["name"] = name
    out["metadata"] = config_metadata(vs)
    if match is not None and match.statPrefix:
        out["stat_prefix"] = match.statPrefix
    authority = ""
    if route.headers is not None:
        authority = add_header_ops(out, route.headers.request, route.headers.response)
    if route.redirect is not None:
        out["redirect"] = redirect_action(route, ctx)
    elif route.directResponse is not None:
        out["direct_response"] = direct_response_action(route)
    elif route.route:
        out["route"] = route_action(out, route, ctx, authority, lambda d: cluster_of(d, vs_ns))
    else:
        where = f"VirtualService {vs_ns}/{vs['metadata']['name']}"
        raise TranslationError(f"{where}: an http route needs route, redirect or directResponse")
    out["decorator"] = {"operation": operation(out, vs["metadata"]["name"], ctx.port)}
    if route.fault is not None:
        fault = fault_config(route)
        if fault:
            out["typed_per_filter_config"] = {"envoy.filters.http.fault": fault}
    return out


# -- match ------------------------------------------------------------------------------------------


def route_match(match: HTTPMatchRequest | None) -> Obj:
    """TranslateRouteMatch: path (prefix ``/`` when unset), headers sorted by name, then :method,
    :authority, :scheme, then query parameters; case_sensitive unless ignoreUriCase."""
    out: Obj = {"prefix": "/"}
    if match is None:
        return out
    headers = [header_matcher(n, m) for n, m in (match.headers or {}).items()]
    for n, m in (match.withoutHeaders or {}).items():
        hm = header_matcher(n, m)
        hm["invert_match"] = True
        if not _present_only(m):
            hm["treat_missing_header_as_empty"] = True
        headers.append(hm)
    headers.sort(key=lambda h: h["name"])
    if match.uri is not None:
        out = _path(match.uri)
    out["case_sensitive"] = not match.ignoreUriCase
    for pseudo, pseudo_match in ((":method", match.method), (":authority", match.authority), (":scheme", match.scheme)):
        if pseudo_match is not None:
            headers.append(header_matcher(pseudo, pseudo_match))
    if headers:
        out["headers"] = headers
    if match.queryParams:
        out["query_parameters"] = [query_matcher(n, m) for n, m in match.queryParams.items()]
    return out


def _path(uri: StringMatch) -> Obj:
    if uri.exact is not None:
        return {"path": uri.exact}
    if uri.prefix is not None:
        return {"prefix": uri.prefix}
    if uri.regex is not None:
        return {"safe_regex": {"regex": uri.regex}}
    return {"prefix": "/"}


def _present_only(m: StringMatch | None) -> bool:
    """canBeConvertedToPresentMatch: an empty match, or the regex ``*`` (any value)."""
    return m is None or (m.exact is None and m.prefix is None and m.regex in (None, "*"))


def string_matcher(m: StringMatch) -> Obj:
    """util.ConvertToEnvoyMatch."""
    if m.exact is not None:
        return {"exact": m.exact}
    if m.prefix is not None:
        return {"prefix": m.prefix}
    return {"safe_regex": {"regex": m.regex or ""}}


def header_matcher(name: str, m: StringMatch | None) -> Obj:
    if _present_only(m):
        return {"name": name, "present_match": True}
    assert m is not None
    return {"name": name, "string_match": string_matcher(m)}


def query_matcher(name: str, m: StringMatch | None) -> Obj:
    if _present_only(m):
        return {"name": name, "present_match": True}
    assert m is not None
    return {"name": name, "string_match": string_matcher(m)}


def is_catch_all(route: Obj) -> bool:
    """IsCatchAllRoute: prefix ``/`` (or a regex for everything) without header or query conditions."""
    match = route["match"]
    everything = match.get("prefix") == "/" or (match.get("safe_regex") or {}).get("regex") in ("*", ".*")
    return everything and not match.get("headers") and not match.get("query_parameters")


# -- actions ----------------------------------------------------------------------------------------


def route_action(out: Obj, route: HTTPRoute, ctx: RouteContext, authority: str, cluster_of: Callable) -> Obj:
    """applyHTTPRouteDestination: timeout (0s: none), rewrites, one cluster or weighted clusters, retries."""
    timeout = duration(parse_duration(route.timeout) or 0.0) if route.timeout else NO_TIMEOUT
    action: Obj = {}
    dests = route.route or []
    if len(dests) == 1:
        dest = dests[0]
        action["cluster"] = cluster_of(dest.destination)
        if dest.headers is not None:
            dest_authority = add_header_ops(out, dest.headers.request, dest.headers.response)
            authority = authority or dest_authority
    elif dests:
        weighted = []
        for dest in dests:
            if not dest.weight:
                continue  # istiod drops 0-weight destinations when there are several
            cw: Obj = {"name": cluster_of(dest.destination), "weight": dest.weight}
            if dest.headers is not None:
                cw_authority = add_header_ops(cw, dest.headers.request, dest.headers.response)
                if cw_authority:
                    cw["host_rewrite_literal"] = cw_authority
            weighted.append(cw)
        action["weighted_clusters"] = {"clusters": weighted}
    action["timeout"] = timeout
    if route.rewrite is not None:
        rw = route.rewrite
        if rw.uriRegexRewrite is not None:
            action["regex_rewrite"] = {
                "pattern": {"regex": rw.uriRegexRewrite.match or ""},
                "substitution": rw.uriRegexRewrite.rewrite or "",
            }
        elif rw.uri:
            action["prefix_rewrite"] = rw.uri
        authority = rw.authority or authority
    if authority:
        action["host_rewrite_literal"] = authority
    policy = retry_policy(route.retries)
    if policy is not None:
        action["retry_policy"] = policy
    action["max_grpc_timeout"] = timeout
    return action


def retry_policy(retries: HTTPRetry | None) -> Obj | None:
    """retry.ConvertPolicy (Istio 1.27): unset retries get DefaultPolicy (2 retries on connect failures,
    refused streams, unavailable and cancelled; no status codes); ``attempts: 0`` removes the policy;
    numbers in retryOn become retriable_status_codes."""
    out: Obj = {
        "retry_on": DEFAULT_RETRY_ON,
        "num_retries": 2,
        "retry_host_predicate": [PREVIOUS_HOSTS],
        "host_selection_retry_max_attempts": "5",
    }
    if retries is None:
        return out
    if not retries.attempts or retries.attempts <= 0:
        return None
    out["num_retries"] = retries.attempts
    if retries.retryOn:
        parts = [p.strip() for p in retries.retryOn.split(",") if p.strip()]
        codes = [int(p) for p in parts if p.isdigit()]
        names = [p for p in parts if not p.isdigit()]
        if codes and "retriable-status-codes" not in names:
            names.append("retriable-status-codes")
        out["retry_on"] = ",".join(names)
        if codes:
            out["retriable_status_codes"] = codes
    if retries.perTryTimeout:
        out["per_try_timeout"] = duration(parse_duration(retries.perTryTimeout) or 0.0)
    if retries.retryIgnorePreviousHosts is not None and not retries.retryIgnorePreviousHosts:
        del out["retry_host_predicate"]
    if retries.retryRemoteLocalities:
        raise TranslationError("VirtualService http[].retries.retryRemoteLocalities is not translated by labkit")
    if retries.backoff:
        out["retry_back_off"] = {"base_interval": duration(parse_duration(retries.backoff) or 0.0)}
    return out


def redirect_action(route: HTTPRoute, ctx: RouteContext) -> Obj:
    """ApplyRedirect: host, path (or prefix), scheme, port (none for a scheme's default), response code."""
    rd = route.redirect
    assert rd is not None
    if rd.redirectCode not in REDIRECT_CODES:
        raise TranslationError(f"VirtualService http[].redirect.redirectCode {rd.redirectCode} is not supported")
    out: Obj = {}
    if rd.authority:
        out["host_redirect"] = rd.authority
    if rd.prefixRewrite:
        out["prefix_rewrite"] = rd.prefixRewrite
    elif rd.uri:
        out["path_redirect"] = rd.uri
    if rd.scheme:
        out["scheme_redirect"] = rd.scheme
    if rd.port is not None or rd.derivePort is not None:
        port = rd.port if rd.port is not None else (ctx.port if rd.derivePort == "FROM_REQUEST_PORT" else 0)
        scheme = rd.scheme or ("https" if ctx.is_tls else "http")
        if (port, scheme) not in ((80, "http"), (443, "https")) and port:
            out["port_redirect"] = port
    out["response_code"] = REDIRECT_CODES[rd.redirectCode]
    return out


def direct_response_action(route: HTTPRoute) -> Obj:
    dr = route.directResponse
    assert dr is not None
    out: Obj = {"status": dr.status}
    if dr.body is not None:
        out["body"] = (
            {"inline_string": dr.body.string} if dr.body.string is not None else {"inline_bytes": dr.body.bytes}
        )
    return out


def operation(route: Obj, vs_name: str, port: int) -> str:
    """GetRouteOperation: ``host:port/path`` when one cluster serves the route, else ``vsName:port/path``."""
    match = route["match"]
    if "prefix" in match:
        path = match["prefix"] + "*"
    elif "path" in match:
        path = match["path"]
    elif "safe_regex" in match:
        path = match["safe_regex"]["regex"]
    else:
        path = "/*"
    cluster = (route.get("route") or {}).get("cluster", "")
    parts = cluster.split("|")
    if len(parts) == 4 and parts[0] in ("outbound", "inbound") and parts[1].isdigit():
        return f"{parts[3]}:{parts[1]}{path}"
    return f"{vs_name}:{port}{path}"


# -- headers and faults -----------------------------------------------------------------------------


def _header_values(values: dict[str, str] | None, append: bool) -> tuple[list[Obj], str]:
    """translateAppendHeaders: sorted by name; Host/:authority become a host rewrite, not a header."""
    authority = ""
    out: list[dict[str, Any]] = []
    for key, value in (values or {}).items():
        if key.lower() in (":authority", "host"):
            authority = value
        if key.startswith(":") or key.lower() == "host":
            continue
        action = "APPEND_IF_EXISTS_OR_ADD" if append else "OVERWRITE_IF_EXISTS_OR_ADD"
        out.append({"header": {"key": key, "value": value}, "append_action": action})
    out.sort(key=lambda h: h["header"]["key"])
    return out, authority


def add_header_ops(target: Obj, request: HeaderOperations | None, response: HeaderOperations | None) -> str:
    """TranslateHeadersOperations onto a route or weighted cluster (a destination's ops come after the
    route's, as processDestination appends them); returns the authority it sets, if any."""
    req_set, set_auth = _header_values(request.set if request else None, append=False)
    req_add, add_auth = _header_values(request.add if request else None, append=True)
    resp_set, _ = _header_values(response.set if response else None, append=False)
    resp_add, _ = _header_values(response.add if response else None, append=True)
    for key, values in (
        ("request_headers_to_add", req_set + req_add),
        ("response_headers_to_add", resp_set + resp_add),
        ("request_headers_to_remove", _removable(request)),
        ("response_headers_to_remove", _removable(response)),
    ):
        if values:
            target[key] = target.get(key, []) + values
    return set_auth or add_auth


def _removable(ops: HeaderOperations | None) -> list[str]:
    return [h for h in (ops.remove or []) if not h.startswith(":") and h.lower() != "host"] if ops else []


def fault_config(route: HTTPRoute) -> Obj | None:
    """TranslateFault: a delay's ``percentage`` is per million, the deprecated integer ``percent`` per
    hundred (0 when neither is set); an abort without percentage has none (Envoy: every request)."""
    fault = route.fault
    assert fault is not None
    out: Obj = {"@type": FAULT}
    if fault.delay is not None and fault.delay.fixedDelay:
        delay: Obj = {"fixed_delay": duration(parse_duration(fault.delay.fixedDelay) or 0.0)}
        if fault.delay.percentage is not None:
            delay["percentage"] = _per_million(fault.delay.percentage.value)
        else:
            delay["percentage"] = {"numerator": fault.delay.percent or 0, "denominator": "HUNDRED"}
        out["delay"] = delay
    if fault.abort is not None and fault.abort.httpStatus is not None:
        abort: Obj = {"http_status": fault.abort.httpStatus}
        if fault.abort.percentage is not None:
            abort["percentage"] = _per_million(fault.abort.percentage.value)
        out["abort"] = abort
    return out if len(out) > 1 else None


def _per_million(value: float | None) -> Obj:
    return {"numerator": int((value or 0) * 10000), "denominator": "MILLION"}


# -- the default routes -----------------------------------------------------------------------------


def default_route(cluster: str, operation_name: str) -> Obj:
    """BuildDefaultHTTPOutboundRoute: prefix ``/`` to the service's own cluster, default retries, no timeout."""
    return {
        "match": {"prefix": "/"},
        "route": {
            "cluster": cluster,
            "timeout": NO_TIMEOUT,
            "retry_policy": retry_policy(None),
            "max_grpc_timeout": NO_TIMEOUT,
        },
        "decorator": {"operation": operation_name},
        "name": DEFAULT_ROUTE,
    }


def destination_cluster(dest: Destination, vs_namespace: str, listener_port: int, ports_of: Callable) -> str:
    """GetDestinationCluster: the destination's port, else the service's only port, else the listener port.
    ``ports_of(host)`` gives the port numbers of the proxy's service for a host (empty if unknown)."""
    host = fqdn(dest.host, vs_namespace)
    if dest.port is not None and dest.port.number:
        port = dest.port.number
    else:
        ports = ports_of(host)
        port = ports[0] if len(ports) == 1 else listener_port
    return f"outbound|{port}|{dest.subset or ''}|{host}"
