"""Sidecar TLS origination (lab 02). Expected values from istio.io's egress-tls-origination task:
HTTP to edition.cnn.com first gets 301 to HTTPS, and with TLS origination a single 200."""

from __future__ import annotations

import pytest

from labkit.lab import Lab
from labkit.paths import lab_file

LAB = "02-tls-origination"
CURL = ("-sSL", "-o", "/dev/null", "-D", "-")
URL = "http://edition.cnn.com/politics"


def test_without_origination_http_is_redirected_to_https(lab: Lab) -> None:
    lab.apply(lab_file(LAB, "serviceentry.yaml"), host="edition.cnn.com")
    lab.driver.sleep(2)
    r = lab.curl(URL, *CURL)
    assert r.statuses == [301, 200]
    assert r.responses[0].header("location") == "https://edition.cnn.com/politics"


@pytest.mark.parametrize("manifest", ["tls-origination.yaml", "tls-origination-subset.yaml"])
def test_origination_gives_one_200_over_plain_http(lab: Lab, manifest: str) -> None:
    lab.apply(lab_file(LAB, manifest), host="edition.cnn.com")
    lab.driver.sleep(2)
    r = lab.curl(URL, *CURL)
    assert r.statuses == [200]
    assert "HTTP/1.1 200 OK" in r.stdout, "the app speaks HTTP/1.1 to its sidecar"
    text = str(r.explain())
    assert "SIMPLE" in text and "edition.cnn.com (203.0.113.30:443)" in text


def test_subset_form_needs_its_destination_rule(lab: Lab) -> None:
    """A route to a subset no DestinationRule defines points at a cluster Envoy does not have:
    503 with response flag NC (cluster not found). See Envoy's response flags (NC: no cluster found)
    and istio/istio#15226 ("VirtualService can create route to a cluster that does not exist")."""
    docs = [d for d in lab_docs(LAB, "tls-origination-subset.yaml") if d["kind"] != "DestinationRule"]
    lab.apply(docs)
    lab.driver.sleep(2)
    r = lab.curl(URL, "-sS")
    assert r.status == 503
    assert "subset 'tls-origination'" in str(r.explain())
    assert any(" NC cluster_not_found " in line for line in lab.logs())


def lab_docs(lab_name: str, file: str) -> list[dict]:
    from labkit import manifests

    return manifests.load(lab_file(lab_name, file), {"host": "edition.cnn.com"})
