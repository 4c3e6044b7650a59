"""What Envoy does with an HTTP request once a route is chosen, as istiod configures it from a
VirtualService http route. The sidecar and the egress gateway share it.

The order is Envoy's filter chain: the fault filter first (delay, then abort), then the router:
direct response or redirect, else a destination picked by weight, request header changes and
rewrites, the upstream request with retries and the route timeout, and the response header changes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..schema.istio import Destination, HeaderOperations, HTTPRetry, HTTPRoute
from ..trace import Hop
from .messages import Outcome, Reply, Request
from .routing import HttpRouteChoice, parse_duration

#: Istio's retry policy for routes whose VirtualService sets none (pilot/pkg/networking/core/route/retry,
#: ``DefaultPolicy``, Istio 1.27): 2 retries on connect failures, refused streams, unavailable and
#: cancelled; it lists no retriable status codes, so an upstream 503 is not retried.
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
DEFAULT_ATTEMPTS = 2
DEFAULT_RETRIABLE_CODES: frozenset[int] = frozenset()
#: Envoy's default retry back-off base interval (config.route.v3.RetryPolicy.retry_back_off).
RETRY_BACKOFF = 0.025
#: Upstream failures as Envoy names them: response flag and response code details.
UPSTREAM_FAILURES = {
    "timeout": ("UF", "upstream_reset_before_response_started{connection_timeout}"),
    # Envoy's wording since 1.31 (istio/istio#52886 shows it in an Istio access log).
    "refused": (
        "UF",
        "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}",
    ),
    "tls": ("UF", "upstream_reset_before_response_started{connection_failure,TLS_error}"),
    "reset": ("UC", "upstream_reset_before_response_started{connection_termination}"),
    "no-healthy-upstream": ("UH", "no_healthy_upstream"),
}


def format_flags(flags: list[str]) -> str:
    """%RESPONSE_FLAGS% in the order the flags were set, as Envoy 1.40 prints them: the router marks the
    retry limit (URX) before the failure it ends with (UF, UT) - "URX,UF" in tests/conformance."""
    seen: list[str] = []
    for flag in flags:
        if flag not in seen:
            seen.append(flag)
    return ",".join(seen) or "-"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int  # retries after the first try
    per_try_timeout: float | None
    retry_on: frozenset[str]
    codes: frozenset[int]

    @classmethod
    def of(cls, retries: HTTPRetry | None) -> RetryPolicy:
        if retries is None:
            return cls(DEFAULT_ATTEMPTS, None, frozenset(DEFAULT_RETRY_ON.split(",")), DEFAULT_RETRIABLE_CODES)
        if not retries.attempts:  # Istio's ConvertPolicy: no attempts (unset or 0) means no retry policy
            return NO_RETRIES
        conditions = [c.strip() for c in (retries.retryOn or DEFAULT_RETRY_ON).split(",") if c.strip()]
        # Istio's HTTPRetry reference: retryOn may list HTTP status codes; they become retriable status codes.
        codes = {int(c) for c in conditions if c.isdigit()}
        names = {c for c in conditions if not c.isdigit()}
        if codes:
            names.add("retriable-status-codes")
        return cls(
            retries.attempts,
            parse_duration(retries.perTryTimeout),
            frozenset(names),
            frozenset(codes) if retries.retryOn else DEFAULT_RETRIABLE_CODES,
        )

    @property
    def enabled(self) -> bool:
        return self.attempts > 0

    def retries_reply(self, status: int) -> bool:
        """Envoy's retry-on conditions for a response (config.route.v3.RetryPolicy, x-envoy-retry-on)."""
        on = self.retry_on
        return (
            ("5xx" in on and status >= 500)
            or ("gateway-error" in on and status in (502, 503, 504))
            or ("retriable-4xx" in on and status == 409)
            or ("retriable-status-codes" in on and status in self.codes)
        )

    def retries_failure(self, failure: str | None, timed_out: bool) -> bool:
        """Retry-on conditions for no response: a failed connect, a reset, or a per-try timeout."""
        on = self.retry_on
        if timed_out:
            return bool(on & {"5xx", "gateway-error"})
        if failure == "no-healthy-upstream":  # a local 503 UH: there is no host to try again
            return False
        if failure in ("refused", "timeout", "tls"):  # Envoy counts a failed TLS handshake as a connect failure
            return bool(on & {"5xx", "gateway-error", "connect-failure", "reset"})
        return bool(on & {"5xx", "reset"})


NO_RETRIES = RetryPolicy(0, None, frozenset(), frozenset())


@dataclass
class Upstream:
    """What the router needs from the proxy it runs in."""

    #: Sends one upstream request to a destination; returns the outcome, the upstream host and the cluster name.
    send: Callable[[Request, Destination | None, Hop], tuple[Outcome, str, str]]
    #: A reason the destination's cluster does not exist in Envoy's config, or "".
    missing: Callable[[Destination], str]
    rng: random.Random
    local: Callable[..., Outcome]  # HttpExchange.local
    log: Callable[..., None]  # HttpExchange.log
    default_retries: bool = True  # the PassthroughCluster route has no retry policy
    #: The HTTP connection manager overwrites the response's ``server`` header with its server_name
    #: (Envoy's default server_header_transformation, OVERWRITE): "envoy" on a sidecar, where istiod
    #: sets no name, and "istio-envoy" on a gateway.
    server_name: str = "envoy"
    notes: list[str] = field(default_factory=list)
    #: The cluster a destination names (None: the virtual host's own route), for %UPSTREAM_CLUSTER_RAW%
    #: on replies the proxy makes after the route was chosen.
    cluster_name: Callable[[Destination | None], str] = lambda dest: "-"


def _applies(percentage: float | None, rng: random.Random) -> bool:
    """Fault percentages (Istio Percent, 0-100). VirtualService reference, Abort/Delay ``percentage``:
    "If not specified, no request will be aborted" (delayed): unset means never."""
    if percentage is None or percentage <= 0:
        return False
    return percentage >= 100 or rng.random() * 100 < percentage


def apply_header_ops(headers: tuple[tuple[str, str], ...], ops: HeaderOperations | None) -> tuple[tuple[str, str], ...]:
    """Envoy removes first, then sets (overwrite) and adds (append), as its HeaderParser does."""
    if ops is None:
        return headers
    drop = {h.lower() for h in ops.remove or []} | {h.lower() for h in ops.set or {}}
    kept = tuple((k, v) for k, v in headers if k.lower() not in drop)
    return kept + tuple((ops.set or {}).items()) + tuple((ops.add or {}).items())


def _rewrite(req: Request, route: HTTPRoute, matched_prefix: str | None) -> Request:
    rw = route.rewrite
    if rw is None:
        return req
    path, _, query = req.path.partition("?")
    if rw.uri is not None:
        # Envoy's prefix_rewrite replaces the part the route matched (the whole path for a catch-all "/").
        prefix = matched_prefix if matched_prefix is not None else path
        path = rw.uri + path[len(prefix) :]
    elif rw.uriRegexRewrite is not None and rw.uriRegexRewrite.match:
        replacement = re.sub(r"\\(\d)", r"\\g<\1>", rw.uriRegexRewrite.rewrite or "")
        path = re.sub(rw.uriRegexRewrite.match, replacement, path)
    new_path = path + (f"?{query}" if query else "")
    authority = rw.authority or req.authority
    headers = tuple((k, authority if k.lower() == "host" else v) for k, v in req.headers)
    return replace(req, path=new_path, authority=authority, headers=headers)


def _matched_prefix(choice: HttpRouteChoice, req: Request) -> str | None:
    for m in choice.route.match or []:
        if m.uri is not None and m.uri.prefix is not None and req.path.startswith(m.uri.prefix):
            return m.uri.prefix
    return "/" if not choice.route.match or all(m.uri is None for m in choice.route.match) else None


def _pick(route: HTTPRoute, rng: random.Random) -> tuple[Destination | None, HeaderOperations | None, str]:
    """A destination by weight (Envoy weighted_clusters); a weight of 0 never gets traffic."""
    dests = route.route or []
    if not dests:
        return None, None, ""
    weights = [d.weight if d.weight is not None else (100 if len(dests) == 1 else 0) for d in dests]
    if sum(weights) == 0:
        weights = [1] * len(dests)
    roll = rng.uniform(0, sum(weights))
    for dest, weight in zip(dests, weights, strict=True):
        if weight > 0 and roll <= weight:
            note = f" (weight {weight} of {sum(weights)})" if len(dests) > 1 else ""
            return dest.destination, (dest.headers.request if dest.headers else None), note
        roll -= weight
    last = next(d for d, w in zip(dests, weights, strict=True) if w > 0)
    return last.destination, (last.headers.request if last.headers else None), ""


def _response_ops(route: HTTPRoute, dest: Destination | None) -> list[HeaderOperations]:
    ops = []
    for d in route.route or []:
        if d.destination is dest and d.headers and d.headers.response:
            ops.append(d.headers.response)
    if route.headers and route.headers.response:
        ops.append(route.headers.response)
    return ops


def _location(route: HTTPRoute, req: Request) -> str:
    rd = route.redirect
    assert rd is not None
    scheme = rd.scheme or req.scheme
    host, _, port = (rd.authority or req.authority).partition(":")
    if rd.port is not None:
        port = str(rd.port)
    elif rd.derivePort == "FROM_PROTOCOL_DEFAULT":
        port = ""
    path = req.path
    if rd.uri is not None:
        # Envoy's path_redirect keeps the original query unless the new path brings its own.
        query = req.path.split("?", 1)[1] if "?" in req.path else ""
        path = rd.uri if "?" in rd.uri or not query else f"{rd.uri}?{query}"
    default = {"http": "80", "https": "443"}.get(scheme)
    authority = host if not port or port == default else f"{host}:{port}"
    return f"{scheme}://{authority}{path}"


def route_request(
    req: Request, choice: HttpRouteChoice | None, up: Upstream, hop: Hop, default_name: str = "default"
) -> Outcome:
    """Serve ``req`` by the chosen route (None: the virtual host's own route, named ``default_name``:
    "default" for a service's virtual host, "allow_any" for the passthrough one)."""
    route = choice.route if choice else HTTPRoute()
    name = choice.name if choice else default_name
    flags: list[str] = []
    delay = 0.0
    # Envoy resolves the route (and picks among weighted clusters) before the HTTP filters run, and the
    # connection manager records the route's cluster in the stream info then (ActiveStream::
    # refreshCachedRoute, setUpstreamClusterInfo); a reply the fault filter makes still logs it as
    # %UPSTREAM_CLUSTER_RAW% (Envoy access-log docs, "UPSTREAM_CLUSTER_RAW").
    dest, dest_ops, weight_note = _pick(route, up.rng)
    fault = route.fault
    if fault and fault.delay and _applies(fault.delay.percentage.value if fault.delay.percentage else None, up.rng):
        delay = parse_duration(fault.delay.fixedDelay or fault.delay.exponentialDelay) or 0.0
        flags.append("DI")
        hop.step("fault", f"delay {delay:g}s injected ({choice.source if choice else ''})")
    if fault and fault.abort and _applies(fault.abort.percentage.value if fault.abort.percentage else None, up.rng):
        status = fault.abort.httpStatus
        if status is None:  # grpcStatus / http2Error aborts: the field table refuses them offline
            raise ValueError("only httpStatus aborts are modelled")
        flags.append("FI")
        hop.step("fault", f"abort with HTTP {status} ({choice.source if choice else ''})")
        hop.outcome = f"{status} from the sidecar's fault filter (FI)"
        routed = choice is None or bool(route.route)  # a redirect or direct response has no cluster
        cluster = up.cluster_name(dest) if routed and not (dest is not None and up.missing(dest)) else "-"
        return up.local(
            status, flags=format_flags(flags), details="fault_filter_abort", route=name, body="fault filter abort",
            cluster=cluster, duration=delay,
        )  # fmt: skip
    if route.directResponse is not None:
        dr = route.directResponse
        body = (dr.body.string if dr.body and dr.body.string is not None else "") if dr.body else ""
        hop.outcome = f"{dr.status} direct response from the proxy"
        return up.local(dr.status, flags=format_flags(flags), details="direct_response", route=name,
                        body=body, duration=delay)  # fmt: skip
    if route.redirect is not None:
        status = route.redirect.redirectCode or 301
        location = _location(route, req)
        hop.outcome = f"{status} redirect to {location} from the proxy"
        return up.local(status, flags=format_flags(flags), details="direct_response", route=name,
                        headers=(("location", location),), duration=delay)  # fmt: skip
    if dest is not None:
        hop.step("destination", f"{dest.host}{f' subset {dest.subset}' if dest.subset else ''}{weight_note}")
        missing = up.missing(dest)
        if missing:
            hop.step("cluster", f"does not exist: {missing}")
            hop.outcome = "503 from the proxy: the route points at a cluster Envoy doesn't have (NC)"
            return up.local(503, flags="NC", details="cluster_not_found", route=name, duration=delay)
    upstream_req = _rewrite(req, route, _matched_prefix(choice, req) if choice else None)
    if route.rewrite is not None:
        hop.step("rewrite", f"{req.authority}{req.path} → {upstream_req.authority}{upstream_req.path}")
    headers = apply_header_ops(upstream_req.headers, dest_ops)
    headers = apply_header_ops(headers, route.headers.request if route.headers else None)
    upstream_req = replace(upstream_req, headers=headers)
    return _send_with_retries(upstream_req, route, dest, name, flags, delay, up, hop)


def expected_timeout_ms(timeout: float | None, per_try_timeout: float | None) -> int | None:
    """The router's x-envoy-expected-rq-timeout-ms (Envoy HTTP router docs, "x-envoy-expected-rq-timeout-ms":
    the time the router expects the request to complete in, from the per-try timeout or else the route
    timeout; Envoy's FilterUtility::finalTimeout takes the per-try timeout when it is the shorter one and
    sets no header when neither is set). istiod leaves the router's suppress_envoy_headers off."""
    chosen = timeout or None
    if per_try_timeout and (chosen is None or per_try_timeout < chosen):
        chosen = per_try_timeout
    return round(chosen * 1000) if chosen else None


def _send_with_retries(
    req: Request, route: HTTPRoute, dest: Destination | None, name: str, flags: list[str], delay: float,
    up: Upstream, hop: Hop,
) -> Outcome:  # fmt: skip
    timeout = parse_duration(route.timeout)  # Istio's default route timeout is 0s: disabled
    policy = RetryPolicy.of(route.retries) if (route.retries or up.default_retries) else NO_RETRIES
    expected = expected_timeout_ms(timeout, policy.per_try_timeout)
    if expected is not None:
        req = req.with_headers(("x-envoy-expected-rq-timeout-ms", str(expected)))
    spent, attempt = 0.0, 1
    while True:
        attempt_req = req.with_headers(("x-envoy-attempt-count", str(attempt)))
        out, upstream, cluster = up.send(attempt_req, dest, hop)
        took = out.elapsed
        timed_out = policy.per_try_timeout is not None and took > policy.per_try_timeout and out.reply is not None
        if timed_out:
            assert policy.per_try_timeout is not None
            took = policy.per_try_timeout
        if timeout is not None and spent + took > timeout:
            hop.step("timeout", f"route timeout {timeout:g}s elapsed before the upstream answered")
            hop.outcome = "504 upstream request timeout (UT)"
            return up.local(504, flags=format_flags([*flags, "UT"]), details="response_timeout", route=name,
                            body="upstream request timeout", cluster=cluster, upstream=upstream,
                            duration=delay + timeout)  # fmt: skip
        spent += took
        retriable = (
            policy.retries_failure(out.failure, timed_out)
            if out.reply is None or timed_out
            else policy.retries_reply(out.reply.status)
        )
        if not retriable or not policy.enabled:  # attempts 0: Istio gives the route no retry policy
            break
        if attempt > policy.attempts:
            flags = [*flags, "URX"]
            hop.step("retries", f"retry limit reached after {attempt} attempts")
            break
        why = "per-try timeout" if timed_out else (out.failure or f"HTTP {out.reply.status if out.reply else ''}")
        hop.step("retry", f"attempt {attempt} failed ({why}); retrying")
        spent += RETRY_BACKOFF
        attempt += 1
    total = delay + spent
    if timed_out:
        hop.outcome = "504 upstream request timeout (per-try timeout, UT)"
        return up.local(504, flags=format_flags([*flags, "UT"]), details="upstream_per_try_timeout", route=name,
                        body="upstream request timeout", cluster=cluster, upstream=upstream,
                        duration=total)  # fmt: skip
    if out.reply is None:
        flag, details = UPSTREAM_FAILURES.get(out.failure or "", ("UF", "upstream_reset_before_response_started"))
        if out.transport_failure:
            details = f"upstream_reset_before_response_started{{remote_connection_failure|{out.transport_failure}}}"
        body = (
            "no healthy upstream"
            if flag == "UH"
            else f"upstream connect error or disconnect/reset before headers. reset reason: {out.failure}"
        )
        hop.outcome = f"503 from the proxy: {out.detail} ({flag})"
        return up.local(503, flags=format_flags([*flags, flag]), details=details, route=name, body=body,
                        cluster=cluster, upstream=upstream, duration=total,
                        transport_failure=out.transport_failure)  # fmt: skip
    reply = out.reply
    headers = reply.headers
    for ops in _response_ops(route, dest):
        headers = apply_header_ops(headers, ops)
    # Each router sets these, replacing what a router upstream (the egress gateway's) wrote.
    headers = tuple((k, v) for k, v in headers if k.lower() not in ("server", "x-envoy-upstream-service-time"))
    reply = replace(reply, headers=headers, http_version="1.1").with_headers(
        ("x-envoy-upstream-service-time", str(int(spent * 1000))), ("server", up.server_name)
    )
    hop.outcome = f"{reply.status} {reply.reason} from {cluster}"
    up.log(reply, flags=format_flags(flags), cluster=cluster, upstream=upstream, route=name, duration=total)
    return Outcome(reply=reply, elapsed=total, server_identity=out.server_identity, tls_version=out.tls_version)


__all__ = ["Reply", "RetryPolicy", "Upstream", "apply_header_ops", "route_request"]
