"""Wildcard hosts (lab 06) on the simulator, after istio.io's "Egress using Wildcard Hosts" task
(tasks/traffic-management/egress/wildcard-egress-hosts and its doc test): a ``*.wikipedia.org``
ServiceEntry with resolution NONE lets every host under the domain out under REGISTRY_ONLY; routed
through the egress gateway, every name goes to the one server configured, www.wikipedia.org.
"""

from __future__ import annotations

import re

from labkit.lab import Lab
from labkit.paths import lab_file

LAB = "06-wildcard-hosts"
PARAMS = {
    "domain": "wikipedia.org",
    "server_host": "www.wikipedia.org",
    "istio_namespace": "istio-system",
    "gateway_label": "egressgateway",
    "name": "wikipedia",
}
EN = ("https://en.wikipedia.org/wiki/Main_Page", "<title>Wikipedia, the free encyclopedia</title>")
DE = ("https://de.wikipedia.org/wiki/Wikipedia:Hauptseite", "<title>Wikipedia – Die freie Enzyklopädie</title>")


def title(lab: Lab, url: str) -> str:
    r = lab.curl(url, "-sS")
    found = re.search(r"<title>.*</title>", r.body)
    return found.group(0) if found else f"exit {r.exit_code}: {r.stderr}"


def test_a_wildcard_service_entry_lets_every_host_under_the_domain_out(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(lab_file(LAB, "serviceentry-wildcard.yaml"), **PARAMS)
    lab.driver.sleep(2)
    for url, expected in (EN, DE):
        assert title(lab, url) == expected
        assert "outbound|443||*.wikipedia.org" in lab.logs()[-1]


def test_a_wildcard_through_the_egress_gateway_reaches_the_one_server(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    for name in ("gateway.yaml", "destinationrule-gateway.yaml", "virtualservice.yaml", "serviceentry-server.yaml"):
        lab.apply(lab_file(LAB, name), **PARAMS)
    lab.driver.sleep(2)
    for url, expected in (EN, DE):
        assert title(lab, url) == expected
        gateway = lab.logs("istio-system", "istio=egressgateway")[-1]
        assert "outbound|443||www.wikipedia.org" in gateway
