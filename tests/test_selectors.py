"""Label selectors: the string form and the LabelSelector object, as Kubernetes defines them.

Expectations come from https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
(\"Label selectors\": equality- and set-based requirements) and from the LabelSelector reference,
https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/label-selector/.
"""

from __future__ import annotations

import pytest

from labkit.selectors import SelectorError, label_selector_matches, parse, selector_matches

PROD = {"environment": "production", "tier": "frontend"}
QA = {"environment": "qa"}
BARE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        # labels page: "environment = production" and "==" are the same equality requirement.
        ("environment=production", PROD, True),
        ("environment==production", PROD, True),
        ("environment=production", QA, False),
        # labels page: "tier != frontend" also selects resources without a tier label.
        ("tier!=frontend", PROD, False),
        ("tier!=frontend", QA, True),
        # labels page: requirements separated by commas are ANDed.
        ("environment=production,tier!=frontend", PROD, False),
        ("environment=production,tier=frontend", PROD, True),
        # labels page: set-based in / notin; notin also selects resources without the key.
        ("environment in (production, qa)", QA, True),
        ("environment in (production, qa)", BARE, False),
        ("environment notin (qa)", PROD, True),
        ("environment notin (qa)", QA, False),
        ("environment notin (qa)", BARE, True),
        # labels page: "partition" selects resources with the key, "!partition" those without it.
        ("tier", PROD, True),
        ("tier", QA, False),
        ("!tier", QA, True),
        ("!tier", PROD, False),
        # a comma inside in (...) separates values, not requirements
        ("environment in (production,qa),tier", PROD, True),
        ("", BARE, True),
    ],
)
def test_string_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert selector_matches(selector, labels) is expected


def test_a_label_map_is_equality_on_every_key() -> None:
    # LabelSelector reference: each matchLabels {key,value} is an In requirement with that one value.
    assert selector_matches({"environment": "production", "tier": "frontend"}, PROD)
    assert not selector_matches({"environment": "production", "tier": "backend"}, PROD)
    assert not selector_matches({"tier": "frontend"}, None)


@pytest.mark.parametrize("bad", ["environment in production", "a in ()", "!a in (x)", "a=b=c", "a b"])
def test_unparseable_selectors_are_refused(bad: str) -> None:
    with pytest.raises(SelectorError, match="unable to parse requirement"):
        parse(bad)


def _expr(key: str, operator: str, *values: str) -> dict:
    expr: dict = {"key": key, "operator": operator}
    if values:
        expr["values"] = list(values)
    return expr


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        # LabelSelector reference: "An empty label selector matches all objects."
        ({}, QA, True),
        ({"matchLabels": {"environment": "qa"}}, QA, True),
        ({"matchExpressions": [_expr("environment", "In", "qa", "dev")]}, QA, True),
        ({"matchExpressions": [_expr("environment", "In", "qa")]}, BARE, False),
        ({"matchExpressions": [_expr("environment", "NotIn", "qa")]}, QA, False),
        ({"matchExpressions": [_expr("environment", "NotIn", "qa")]}, BARE, True),
        ({"matchExpressions": [_expr("tier", "Exists")]}, PROD, True),
        ({"matchExpressions": [_expr("tier", "Exists")]}, QA, False),
        ({"matchExpressions": [_expr("tier", "DoesNotExist")]}, QA, True),
        # "The result of matchLabels and matchExpressions are ANDed."
        (
            {"matchLabels": {"environment": "production"}, "matchExpressions": [_expr("tier", "DoesNotExist")]},
            PROD,
            False,
        ),
    ],
)
def test_label_selector_objects(selector: dict, labels: dict[str, str], expected: bool) -> None:
    assert label_selector_matches(selector, labels) is expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        # reference: "Valid operators are In, NotIn, Exists and DoesNotExist."
        (_expr("tier", "Gt", "1"), "operator"),
        # reference: "If the operator is In or NotIn, the values array must be non-empty."
        (_expr("tier", "In"), "non-empty"),
        # reference: "If the operator is Exists or DoesNotExist, the values array must be empty."
        (_expr("tier", "Exists", "x"), "must be empty"),
        ({"operator": "Exists"}, "key"),
    ],
)
def test_invalid_match_expressions_are_refused(expr: dict, message: str) -> None:
    with pytest.raises(SelectorError, match=message):
        label_selector_matches({"matchExpressions": [expr]}, PROD)


def test_an_unknown_label_selector_field_is_refused() -> None:
    with pytest.raises(SelectorError, match="matchLabel"):
        label_selector_matches({"matchLabel": {"a": "b"}}, PROD)
