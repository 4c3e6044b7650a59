"""VirtualService http routes on the simulator: faults, retries, weights, redirects, rewrites, direct
responses, header changes and matches.

Sources for the expected results:
- Istio VirtualService reference (istio.io/latest/docs/reference/config/networking/virtual-service/):
  HTTPRoute, HTTPMatchRequest, HTTPRedirect, HTTPRewrite, HTTPDirectResponse, Headers, HTTPRetry,
  HTTPFaultInjection, HTTPRouteDestination.weight.
- Envoy access-log response flags (envoyproxy.io, Access logging: "Format rules", %RESPONSE_FLAGS%):
  FI "aborted with a response code specified via fault injection", DI "delayed ... via fault
  injection", URX "upstream retry limit (HTTP) ... was reached", UT "upstream request timeout",
  NR "no route configured".
- istio.io fault-injection task (tasks/traffic-management/fault-injection): an abort at 100% answers
  every request with the configured status; a delay holds the request for the fixed delay.
- Istio's default retry policy (pilot/pkg/networking/core/route/retry/retry.go, DefaultPolicy):
  2 retries on connect-failure, refused-stream, unavailable, cancelled and 503.
"""

from __future__ import annotations

import json
import time

import pytest

from labkit.lab import Lab

SE = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin-ext}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  location: MESH_EXTERNAL
"""

ROUTE = "    route: [{destination: {host: httpbin.org}}]"


def vs(http: str) -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: httpbin}}
spec:
  hosts: [httpbin.org]
  http:
{http}
"""


def setup(lab: Lab, http: str) -> None:
    lab.apply(SE + "---\n" + vs(http))
    lab.driver.sleep(2.0)  # istiod's push reaches the proxies


def last_log(lab: Lab) -> str:
    return lab.logs()[-1]


def flags(line: str) -> str:
    """The %RESPONSE_FLAGS% field: right after the response code in Istio's default format."""
    return line.split('" ', 1)[1].split()[1]


def test_fault_abort_at_100_percent_answers_every_request(lab: Lab) -> None:
    setup(lab, "  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n" + ROUTE)
    for _ in range(3):
        r = lab.curl("http://httpbin.org/get", "-sS")
        assert r.status == 418
    assert flags(last_log(lab)) == "FI"
    # Envoy resolves the route before the fault filter runs and records its cluster then, so the
    # aborted request logs it as %UPSTREAM_CLUSTER_RAW% (Envoy access-log docs, UPSTREAM_CLUSTER_RAW;
    # ConnectionManagerImpl::ActiveStream::refreshCachedRoute sets the upstream cluster info).
    assert " outbound|80||httpbin.org " in last_log(lab)


def test_fault_abort_at_0_percent_never_fires(lab: Lab) -> None:
    setup(lab, "  - fault: {abort: {httpStatus: 418, percentage: {value: 0}}}\n" + ROUTE)
    assert [lab.curl("http://httpbin.org/get", "-sS").status for _ in range(5)] == [200] * 5


def test_fault_delay_holds_the_request_and_is_flagged_di(lab: Lab) -> None:
    setup(lab, "  - fault: {delay: {fixedDelay: 4s, percentage: {value: 100}}}\n" + ROUTE)
    start = time.monotonic()
    r = lab.curl("http://httpbin.org/get", "-sS")
    assert r.status == 200 and r.elapsed >= 4.0
    assert time.monotonic() - start < 3.0  # the simulator's clock runs ahead; no real wait
    assert flags(last_log(lab)) == "DI"


def test_a_weight_0_destination_gets_no_traffic(lab: Lab) -> None:
    dr = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin.org
  subsets: [{name: v1}, {name: v2}]
"""
    lab.apply(dr)
    setup(
        lab,
        "  - route:\n"
        "    - {destination: {host: httpbin.org, subset: v1}, weight: 100}\n"
        "    - {destination: {host: httpbin.org, subset: v2}, weight: 0}",
    )
    for _ in range(20):
        assert lab.curl("http://httpbin.org/get", "-sS").status == 200
    assert all("outbound|80|v1|httpbin.org" in line for line in lab.logs()[-20:])


def test_weighted_destinations_share_the_traffic(lab: Lab) -> None:
    lab.apply(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: httpbin}\n"
        "spec: {host: httpbin.org, subsets: [{name: v1}, {name: v2}]}"
    )
    setup(
        lab,
        "  - route:\n"
        "    - {destination: {host: httpbin.org, subset: v1}, weight: 50}\n"
        "    - {destination: {host: httpbin.org, subset: v2}, weight: 50}",
    )
    for _ in range(40):
        lab.curl("http://httpbin.org/get", "-sS")
    lines = lab.logs()[-40:]
    assert any("|v1|" in line for line in lines) and any("|v2|" in line for line in lines)


def test_redirect_answers_from_the_proxy(lab: Lab) -> None:
    setup(lab, "  - redirect: {uri: /anything/moved, authority: httpbin.org}")
    r = lab.curl("http://httpbin.org/old?x=1", "-sS", "-D", "-")
    assert r.status == 301
    assert r.responses[0].header("location") == "http://httpbin.org/anything/moved?x=1"


def test_rewrite_changes_the_path_the_upstream_sees(lab: Lab) -> None:
    setup(
        lab,
        "  - match: [{uri: {prefix: /old}}]\n"
        "    rewrite: {uri: /anything/new}\n"
        "    route: [{destination: {host: httpbin.org}}]",
    )
    r = lab.curl("http://httpbin.org/old/page", "-sS")
    assert r.status == 200
    assert json.loads(r.body)["url"] == "http://httpbin.org/anything/new/page"


def test_direct_response_is_served_by_the_proxy(lab: Lab) -> None:
    setup(lab, "  - directResponse: {status: 503, body: {string: maintenance}}")
    r = lab.curl("http://httpbin.org/get", "-sS")
    assert (r.status, r.body) == (503, "maintenance")


def test_request_and_response_headers_are_changed(lab: Lab) -> None:
    setup(
        lab,
        "  - headers:\n"
        "      request: {set: {x-lab: set-by-route}, remove: [user-agent]}\n"
        "      response: {add: {x-served-by: mesh}}\n"
        "    route: [{destination: {host: httpbin.org}}]",
    )
    r = lab.curl("http://httpbin.org/headers", "-sS", "-D", "-")
    echoed = json.loads(r.body)["headers"]
    assert echoed["X-Lab"] == "set-by-route"
    assert "User-Agent" not in echoed
    assert r.responses[0].header("x-served-by") == "mesh"


@pytest.mark.parametrize(
    ("curl_args", "expected"),
    [
        ((), "default"),
        (("-H", "end-user: jason"), "jason"),
        (("-X", "DELETE"), "delete"),
        (("-H", "end-user: jason", "-X", "DELETE"), "jason"),  # routes are tried in order
    ],
)
def test_matches_pick_the_first_route_whose_conditions_all_hold(lab: Lab, curl_args: tuple, expected: str) -> None:
    setup(
        lab,
        "  - match: [{headers: {end-user: {exact: jason}}}]\n"
        "    directResponse: {status: 200, body: {string: jason}}\n"
        "  - match: [{method: {exact: DELETE}}]\n"
        "    directResponse: {status: 200, body: {string: delete}}\n"
        "  - directResponse: {status: 200, body: {string: default}}",
    )
    assert lab.curl("http://httpbin.org/get", "-sS", *curl_args).body == expected


def test_match_on_source_labels_and_uri_and_no_match_is_404_nr(lab: Lab) -> None:
    setup(
        lab,
        "  - match: [{sourceLabels: {app: sleep}, uri: {prefix: /get}}]\n"
        "    route: [{destination: {host: httpbin.org}}]",
    )
    assert lab.curl("http://httpbin.org/get", "-sS").status == 200
    r = lab.curl("http://httpbin.org/ip", "-sS")
    assert r.status == 404 and flags(last_log(lab)) == "NR"


def test_retries_that_run_out_return_the_last_response_with_urx(lab: Lab) -> None:
    setup(lab, "  - retries: {attempts: 3, retryOn: 5xx}\n    route: [{destination: {host: httpbin.org}}]")
    r = lab.curl("http://httpbin.org/status/500", "-sS")
    assert r.status == 500 and flags(last_log(lab)) == "URX"


def test_attempts_0_turns_retries_off(lab: Lab) -> None:
    setup(lab, "  - retries: {attempts: 0}\n    route: [{destination: {host: httpbin.org}}]")
    r = lab.curl("http://httpbin.org/status/503", "-sS")
    assert r.status == 503 and flags(last_log(lab)) == "-"


def test_the_default_retry_policy_does_not_retry_an_upstream_503(lab: Lab) -> None:
    # Istio 1.27's DefaultPolicy retries connect failures, refused streams, unavailable and cancelled,
    # with no retriable status codes: an answer from the upstream comes back as it is, without URX.
    setup(lab, "  - route: [{destination: {host: httpbin.org}}]")
    assert lab.curl("http://httpbin.org/status/503", "-sS").status == 503
    assert flags(last_log(lab)) == "-"


def test_retries_without_attempts_are_no_retries(lab: Lab) -> None:
    # Istio's retry ConvertPolicy: attempts 0 (unset) gives the route no retry policy at all.
    setup(lab, "  - retries: {retryOn: 5xx}\n" + ROUTE)
    assert lab.curl("http://httpbin.org/status/500", "-sS").status == 500
    assert flags(last_log(lab)) == "-"


def test_a_fault_without_percentage_never_fires(lab: Lab) -> None:
    # VirtualService reference, HTTPFaultInjection.Abort.percentage: "If not specified, no request will
    # be aborted"; the same for Delay.
    setup(lab, "  - fault: {abort: {httpStatus: 418}, delay: {fixedDelay: 5s}}\n" + ROUTE)
    r = lab.curl("http://httpbin.org/get", "-sS")
    assert r.status == 200 and r.elapsed < 5


def test_per_try_timeout_retries_then_answers_504(lab: Lab) -> None:
    setup(
        lab,
        "  - retries: {attempts: 1, perTryTimeout: 1s, retryOn: 5xx}\n    route: [{destination: {host: httpbin.org}}]",
    )
    r = lab.curl("http://httpbin.org/delay/3", "-sS")
    assert r.status == 504 and r.body == "upstream request timeout"
    assert 2.0 <= r.elapsed < 3.0  # two tries of one second each
    assert flags(last_log(lab)) == "URX,UT"  # set in that order by Envoy's router (see format_flags)


@pytest.mark.parametrize(
    ("match", "curl_args", "hit"),
    [
        ("{authority: {exact: httpbin.org}}", (), True),
        ("{authority: {prefix: other}}", (), False),
        ("{scheme: {exact: http}}", (), True),
        ("{queryParams: {user: {exact: jason}}}", ("?user=jason",), True),
        ("{queryParams: {user: {regex: 'j.*'}}}", ("?user=bob",), False),
        ("{withoutHeaders: {end-user: {exact: jason}}}", ("-H", "end-user: jason"), False),
        ("{withoutHeaders: {end-user: {exact: jason}}}", (), True),
        ("{uri: {exact: /GET}, ignoreUriCase: true}", (), True),
        ("{uri: {exact: /GET}}", (), False),
        ("{method: {prefix: G}}", (), True),
        ("{method: {regex: 'P.*'}}", (), False),
        ("{sourceNamespace: default}", (), True),
        ("{sourceNamespace: other}", (), False),
    ],
)
def test_each_match_condition(lab: Lab, match: str, curl_args: tuple, hit: bool) -> None:
    setup(
        lab,
        f"  - match: [{match}]\n"
        "    directResponse: {status: 200, body: {string: hit}}\n"
        "  - directResponse: {status: 200, body: {string: miss}}",
    )
    query = next((a for a in curl_args if a.startswith("?")), "")
    args = [a for a in curl_args if not a.startswith("?")]
    assert lab.curl(f"http://httpbin.org/get{query}", "-sS", *args).body == ("hit" if hit else "miss")


def test_rewrite_authority_and_regex(lab: Lab) -> None:
    setup(
        lab,
        "  - match: [{uri: {prefix: /v1}}]\n"
        "    rewrite: {authority: httpbin.org, uriRegexRewrite: {match: '^/v1/(.*)$', rewrite: '/anything/\\1'}}\n"
        "    route: [{destination: {host: httpbin.org}}]",
    )
    r = lab.curl("http://httpbin.org/v1/items", "-sS", "-H", "Host: httpbin.org")
    assert json.loads(r.body)["url"] == "http://httpbin.org/anything/items"


def test_destination_headers_and_every_header_operation(lab: Lab) -> None:
    setup(
        lab,
        "  - headers:\n"
        "      request: {add: {x-route: added}}\n"
        "      response: {set: {x-answer: set}, remove: [access-control-allow-origin]}\n"
        "    route:\n"
        "    - destination: {host: httpbin.org}\n"
        "      headers: {request: {set: {x-destination: chosen}}, response: {add: {x-destination: chosen}}}",
    )
    r = lab.curl("http://httpbin.org/headers", "-sS", "-D", "-")
    echoed = json.loads(r.body)["headers"]
    assert echoed["X-Route"] == "added" and echoed["X-Destination"] == "chosen"
    response = r.responses[0]
    assert response.header("x-answer") == "set" and response.header("x-destination") == "chosen"
    assert response.header("access-control-allow-origin") is None


def test_redirect_port_scheme_and_code(lab: Lab) -> None:
    setup(lab, "  - redirect: {scheme: https, port: 8443, redirectCode: 302}")
    r = lab.curl("http://httpbin.org/get", "-sS", "-D", "-")
    assert r.status == 302 and r.responses[0].header("location") == "https://httpbin.org:8443/get"
    setup(lab, "  - redirect: {scheme: https, derivePort: FROM_PROTOCOL_DEFAULT}")
    r = lab.curl("http://httpbin.org:80/get", "-sS", "-D", "-")
    assert r.responses[0].header("location") == "https://httpbin.org/get"


def test_the_sidecar_writes_its_own_server_header(lab: Lab) -> None:
    # Envoy HttpConnectionManager reference: server_header_transformation defaults to OVERWRITE and
    # server_name, when unset (as istiod leaves it on a sidecar's outbound listeners), is "envoy".
    setup(lab, ROUTE.replace("    route", "  - route"))
    r = lab.curl("http://httpbin.org/get", "-sSI")
    assert r.responses[0].header("server") == "envoy"


def test_retry_conditions_the_simulator_does_not_model_are_refused(lab: Lab) -> None:
    # Envoy's x-envoy-retry-on lists retriable-headers and envoy-ratelimited too; the simulator models the
    # conditions above (and the HTTP/2 and gRPC ones that can't happen offline), so the rest is refused
    # by name rather than silently never retried.
    from labkit import ManifestError

    with pytest.raises(ManifestError, match="retryOn"):
        lab.apply(SE + "---\n" + vs("  - retries: {attempts: 2, retryOn: 'retriable-headers'}\n" + ROUTE))
    assert lab.get("VirtualService", "httpbin", "default", "networking.istio.io/v1") is None


@pytest.mark.parametrize(
    ("route_fields", "expected"),
    [
        ("  - timeout: 3s\n", "3000"),
        ("  - timeout: 3s\n    retries: {attempts: 1, perTryTimeout: 1s}\n", "1000"),
        ("  - retries: {attempts: 1, perTryTimeout: 2s}\n", "2000"),
        ("  - headers: {request: {set: {x-probe: a}}}\n", None),
    ],
)
def test_the_router_tells_the_upstream_the_timeout_it_expects(
    lab: Lab, route_fields: str, expected: str | None
) -> None:
    # Envoy HTTP router docs, "x-envoy-expected-rq-timeout-ms": the time the router expects the request
    # to complete in, from the per-try timeout or the route timeout (FilterUtility::finalTimeout takes
    # the shorter per-try timeout; no header when neither is set). Istio's default route timeout is
    # disabled (VirtualService reference, HTTPRoute.timeout) and istiod does not suppress Envoy headers.
    setup(lab, route_fields + ROUTE)
    r = lab.curl("http://httpbin.org/headers", "-sS")
    echoed = json.loads(r.body)["headers"]
    assert echoed.get("X-Envoy-Expected-Rq-Timeout-Ms") == expected
