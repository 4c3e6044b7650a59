"""VirtualService http routes → Envoy routes (Istio 1.27.1 pilot/pkg/networking/core/route/route.go
TranslateRoute, TranslateRouteMatch, TranslateFault, ApplyRedirect, ApplyDirectResponse,
TranslateHeadersOperations; route/retry/retry.go ConvertPolicy), checked by a real Envoy too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit import certs
from labkit.lab import Lab
from labkit.paths import lab_file
from labkit.xds import EnvoyConfig, TranslationError, sidecar_config

from .conftest import envoy_validate, mesh_of, pod, settle

HTTP = [
    {
        "name": "echo",
        "match": [
            {
                "uri": {"prefix": "/anything"},
                "method": {"exact": "GET"},
                "headers": {"x-lab": {"exact": "1"}},
                "queryParams": {"debug": {}},
                "statPrefix": "echo-stats",
            }
        ],
        "rewrite": {"uri": "/get", "authority": "httpbin.org"},
        "headers": {
            "request": {"set": {"x-b": "2", "x-a": "1"}, "remove": ["x-drop"]},
            "response": {"add": {"x-served-by": "lab"}},
        },
        "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "gateway-error,503"},
        "route": [{"destination": {"host": "httpbin.org"}}],
    },
    {"name": "moved", "match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/new", "redirectCode": 302}},
    {
        "name": "teapot",
        "match": [{"uri": {"regex": "/tea.*"}}],
        "directResponse": {"status": 418, "body": {"string": "short and stout"}},
    },
    {
        "name": "faulty",
        "match": [{"uri": {"prefix": "/delay"}}],
        "fault": {"delay": {"fixedDelay": "5s", "percentage": {"value": 50}}, "abort": {"httpStatus": 503}},
        "retries": {"attempts": 0},
        "route": [
            {"destination": {"host": "httpbin.org"}, "weight": 80},
            {"destination": {"host": "httpbin.org"}, "weight": 20},
        ],
    },
    {"route": [{"destination": {"host": "httpbin.org"}}]},
    {"name": "after-catch-all", "route": [{"destination": {"host": "httpbin.org"}}]},
]


def apply_routes(lab: Lab, http: list[dict[str, Any]]) -> EnvoyConfig:
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "httpbin", "namespace": "default"},
        "spec": {"hosts": ["httpbin.org"], "http": http},
    }
    lab.apply([vs])
    settle(lab)
    return sidecar_config(mesh_of(lab), pod(lab))


def routes_of(config: EnvoyConfig) -> list[dict[str, Any]]:
    table = config.route("80")
    assert table is not None
    return next(v for v in table["virtual_hosts"] if v["name"] == "httpbin.org:80")["routes"]


@pytest.fixture
def routes(lab: Lab) -> list[dict[str, Any]]:
    return routes_of(apply_routes(lab, HTTP))


def test_match_translation(routes: list[dict[str, Any]]) -> None:
    # TranslateRouteMatch: headers sorted by name, then :method; query params; case_sensitive unless
    # ignoreUriCase; an empty StringMatch becomes present_match.
    match = routes[0]["match"]
    assert match["prefix"] == "/anything" and match["case_sensitive"] is True
    assert match["headers"] == [
        {"name": "x-lab", "string_match": {"exact": "1"}},
        {"name": ":method", "string_match": {"exact": "GET"}},
    ]
    assert match["query_parameters"] == [{"name": "debug", "present_match": True}]
    assert routes[1]["match"]["path"] == "/old"
    assert routes[2]["match"]["safe_regex"] == {"regex": "/tea.*"}


def test_rewrite_headers_and_retries(routes: list[dict[str, Any]]) -> None:
    route = routes[0]
    assert route["name"] == "echo"
    assert route["stat_prefix"] == "echo-stats"  # TranslateRoute: the match's statPrefix
    action = route["route"]
    # applyHTTPRouteDestination: rewrite.uri → prefix_rewrite, rewrite.authority → host_rewrite_literal.
    assert action["prefix_rewrite"] == "/get" and action["host_rewrite_literal"] == "httpbin.org"
    # translateAppendHeaders: set → OVERWRITE_IF_EXISTS_OR_ADD, add → APPEND_IF_EXISTS_OR_ADD, sorted by key.
    assert [h["header"]["key"] for h in route["request_headers_to_add"]] == ["x-a", "x-b"]
    assert {h["append_action"] for h in route["request_headers_to_add"]} == {"OVERWRITE_IF_EXISTS_OR_ADD"}
    assert route["request_headers_to_remove"] == ["x-drop"]
    assert route["response_headers_to_add"][0]["append_action"] == "APPEND_IF_EXISTS_OR_ADD"
    # ConvertPolicy: attempts → num_retries; a number in retryOn becomes a retriable status code and
    # adds retriable-status-codes; perTryTimeout carried over.
    policy = action["retry_policy"]
    assert policy["num_retries"] == 3 and policy["per_try_timeout"] == "2s"
    assert policy["retry_on"] == "gateway-error,retriable-status-codes"
    assert policy["retriable_status_codes"] == [503]


def test_redirect_and_direct_response(routes: list[dict[str, Any]]) -> None:
    # ApplyRedirect: uri → path_redirect, 302 → FOUND; ApplyDirectResponse: status and inline body.
    assert routes[1]["redirect"] == {"path_redirect": "/new", "response_code": "FOUND"}
    assert routes[2]["direct_response"] == {"status": 418, "body": {"inline_string": "short and stout"}}
    # GetRouteOperation without a single cluster: <VirtualService name>:<port><path>.
    assert routes[1]["decorator"] == {"operation": "httpbin:80/old"}


def test_fault_weights_and_disabled_retries(routes: list[dict[str, Any]]) -> None:
    route = routes[3]
    # TranslateFault: percentage is per million; an abort without percentage carries none.
    fault = route["typed_per_filter_config"]["envoy.filters.http.fault"]
    assert fault["delay"] == {"fixed_delay": "5s", "percentage": {"numerator": 500000, "denominator": "MILLION"}}
    assert fault["abort"] == {"http_status": 503}
    # Several destinations → weighted_clusters; attempts 0 → no retry policy at all.
    assert route["route"]["weighted_clusters"]["clusters"] == [
        {"name": "outbound|80||httpbin.org", "weight": 80},
        {"name": "outbound|80||httpbin.org", "weight": 20},
    ]
    assert "retry_policy" not in route["route"]


def test_a_catch_all_route_ends_the_list(routes: list[dict[str, Any]]) -> None:
    # BuildHTTPRoutesForVirtualService: routes after a catch-all are never reached, so they are not sent.
    assert [r.get("name") for r in routes] == ["echo", "moved", "teapot", "faulty", None]


def test_envoy_accepts_every_route_feature(lab: Lab, pki: certs.LabPki, tmp_path: Path) -> None:
    done = envoy_validate(apply_routes(lab, HTTP), pki, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ({"mirror": {"host": "httpbin.org"}, "route": [{"destination": {"host": "httpbin.org"}}]}, "mirror"),
        (
            {"corsPolicy": {"allowOrigins": [{"exact": "x"}]}, "route": [{"destination": {"host": "httpbin.org"}}]},
            "corsPolicy",
        ),
        (
            {"fault": {"delay": {"exponentialDelay": "1s"}}, "route": [{"destination": {"host": "httpbin.org"}}]},
            "exponentialDelay",
        ),
    ],
)
def test_untranslated_fields_are_refused_by_name(lab: Lab, route: dict[str, Any], field: str) -> None:
    """Right, or refused by name: a field the translator does not build stops it with that field's name."""
    with pytest.raises(TranslationError, match=field):
        apply_routes(lab, [route])
