"""istio-init's rules, as text, against Istio's golden files (no root needed).

Each expected line is taken from a golden file under istio/istio tools/istio-iptables/pkg/capture/testdata
(named in the test); the options are the ones that golden file's test case sets.
"""

from __future__ import annotations

import pytest

from labkit.envoy.capture import CaptureConfig, CaptureError, nat_rules

PROXY_OWNER_RULES = [
    "-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
    "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT",
    "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN",
    "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
    "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT",
    "-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN",
    "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
    "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
]
CHAINS = [
    ":ISTIO_INBOUND - [0:0]",
    ":ISTIO_REDIRECT - [0:0]",
    ":ISTIO_IN_REDIRECT - [0:0]",
    ":ISTIO_OUTPUT - [0:0]",
    "-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN",
    "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
    "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
]


def test_wildcard_outbound_matches_kube_virt_interfaces_golden() -> None:
    # kube-virt-interfaces.golden (OutboundIPRangesInclude "*"), without its interface rules, plus the
    # inbound part of inbound-ports-wildcard.golden with the injector's excluded ports.
    rules = nat_rules(CaptureConfig(exclude_inbound_ports=""))
    assert rules == [
        *CHAINS,
        "-A PREROUTING -p tcp -j ISTIO_INBOUND",
        "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
        "-A OUTPUT -j ISTIO_OUTPUT",
        *PROXY_OWNER_RULES,
        "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
    ]


def test_injector_default_excludes_the_agent_ports_from_inbound_capture() -> None:
    # The sidecar injector passes -d 15090,15021,15020 (istio.io "Traffic capture" / sidecar injection
    # template); istio-iptables turns each into a RETURN in ISTIO_INBOUND (run.go, InboundPortsExclude).
    rules = nat_rules(CaptureConfig())
    inbound = [r for r in rules if r.startswith("-A ISTIO_INBOUND")]
    assert inbound == [
        "-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN",
        "-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN",
        "-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN",
        "-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN",
        "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
    ]


def test_ip_ranges_match_ip_range_golden() -> None:
    # ip-range.golden: exclude 1.1.0.0/16, include 9.9.0.0/16 (its DNS and uid/gid options left out).
    rules = nat_rules(CaptureConfig(include_outbound_ip_ranges="9.9.0.0/16", exclude_outbound_ip_ranges="1.1.0.0/16"))
    tail = rules[rules.index("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN") :]
    assert tail == [
        "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
        "-A ISTIO_OUTPUT -d 1.1.0.0/16 -j RETURN",
        "-A ISTIO_OUTPUT -d 9.9.0.0/16 -j ISTIO_REDIRECT",
    ]


def test_excluded_outbound_ports_come_first_for_tcp_and_udp() -> None:
    # outbound-ports-exclude-single.golden: "-A ISTIO_OUTPUT -p tcp --dport 22 -j RETURN" and the
    # same for udp, right after the jump from OUTPUT.
    rules = nat_rules(CaptureConfig(exclude_outbound_ports="22"))
    at = rules.index("-A OUTPUT -j ISTIO_OUTPUT")
    assert rules[at + 1 : at + 3] == [
        "-A ISTIO_OUTPUT -p tcp --dport 22 -j RETURN",
        "-A ISTIO_OUTPUT -p udp --dport 22 -j RETURN",
    ]


def test_included_outbound_ports_match_outbound_ports_include_golden() -> None:
    # outbound-ports-include.golden: OutboundPortsInclude "32000,31000", no IP ranges.
    rules = nat_rules(CaptureConfig(include_outbound_ip_ranges="", include_outbound_ports="32000,31000"))
    assert rules[-3:] == [
        "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
        "-A ISTIO_OUTPUT -p tcp --dport 32000 -j ISTIO_REDIRECT",
        "-A ISTIO_OUTPUT -p tcp --dport 31000 -j ISTIO_REDIRECT",
    ]


def test_loopback_include_drops_the_app_loopback_return() -> None:
    # loopback-outbound-iprange.golden: including 127.1.2.3/32 removes the "-o lo ! --uid-owner RETURN" rules.
    rules = nat_rules(CaptureConfig(include_outbound_ip_ranges="127.1.2.3/32"))
    assert "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN" not in rules
    assert rules[-1] == "-A ISTIO_OUTPUT -d 127.1.2.3/32 -j ISTIO_REDIRECT"


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        (CaptureConfig(exclude_outbound_ip_ranges="*"), "excludeOutboundIPRanges"),
        (CaptureConfig(include_outbound_ip_ranges="10.0.0.0/33"), "includeOutboundIPRanges"),
        (CaptureConfig(include_outbound_ip_ranges="2001:db8::/32"), "includeOutboundIPRanges"),
        (CaptureConfig(exclude_outbound_ports="http"), "excludeOutboundPorts"),
        (CaptureConfig(exclude_inbound_ports="70000"), "excludeInboundPorts"),
    ],
)
def test_invalid_or_unmodelled_settings_are_refused_by_name(cfg: CaptureConfig, field: str) -> None:
    with pytest.raises(CaptureError, match=field):
        nat_rules(cfg)
