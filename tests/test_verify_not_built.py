"""A check that expects a header only Istio's own proxy build adds is split on a backend that runs plain
Envoy: the rest is checked, and the header part is recorded as not applicable, naming the filter."""

from __future__ import annotations

import pytest

from labkit import ExpectationFailed
from labkit.lab import Lab
from labkit.sim.backend import SimBackend


@pytest.fixture
def lab() -> Lab:
    lab = Lab(SimBackend())
    lab.deploy_client()
    return lab


def test_a_header_the_proxy_cannot_add_is_not_applicable_by_name(lab: Lab) -> None:
    # httpbin's /headers echoes the request's headers as JSON keys (httpbin.org's API description), so a
    # header nobody sends is absent; a backend that declares it Istio-only names the filter instead.
    lab.driver.istio_only_headers = {"x-only-in-istio": "istio.example_filter"}  # type: ignore[attr-defined]
    r = lab.verify_curl("http://httpbin.org/headers", "-sS", status=200,
                        body_contains=['"Host": "httpbin.org"', '"X-Only-In-Istio"'])  # fmt: skip
    assert r.status == 200
    main, not_applicable = lab.checks[-2:]
    assert main.passed and "X-Only-In-Istio" not in main.expected
    assert not_applicable.skipped and not not_applicable.passed
    assert "istio.example_filter" in not_applicable.actual and "x-only-in-istio" in not_applicable.actual


def test_without_that_declaration_the_missing_header_fails_the_check(lab: Lab) -> None:
    # The same expectation on a backend that declares nothing: the header is simply missing from the echo.
    with pytest.raises(ExpectationFailed):
        lab.verify_curl("http://httpbin.org/headers", "-sS", status=200, body_contains='"X-Only-In-Istio"', within=0)
