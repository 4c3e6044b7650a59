"""TLS mistakes that fail on a real mesh must fail on the simulator too.

Sources:
- istio.io, Operations > Common problems > Traffic management problems (network-issues): "Double TLS
  (TLS origination for a TLS request)" (the sidecar wraps TLS in TLS and the request fails). Its
  "Sending HTTPS to an HTTP port" describes istio/istio#16458, fixed since (see the test below).
- Istio ClientTLSSettings reference (DestinationRule): ``subjectAltNames`` "If specified, the proxy
  will verify that the server certificate's subject alt name matches one of the specified values."
- curl's man page, exit code 35: "SSL connect error. The SSL handshaking failed."
"""

from __future__ import annotations

import re

from labkit.lab import Lab
from labkit.paths import lab_file

ORIGINATION = lab_file("02-tls-origination", "tls-origination.yaml")
BOTH_PORTS = lab_file("02-tls-origination", "serviceentry.yaml")


def settle(lab: Lab) -> None:
    lab.driver.sleep(2.0)  # istiod's push reaches the proxies


def _httpbin_443_as_http(lab: Lab) -> None:
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin-443-as-http}
spec:
  hosts: [httpbin.org]
  ports: [{number: 443, name: http, protocol: HTTP}]
  resolution: DNS
"""
    )
    settle(lab)


def test_https_sent_to_a_port_declared_http_falls_through_to_the_passthrough_chain(lab: Lab) -> None:
    # istio.io network-issues, "Sending HTTPS to an HTTP port", shows this ServiceEntry breaking HTTPS
    # (curl exit 35, 400 DPE). That was istio/istio#16458 (a maintainer's report: the 0.0.0.0_443 listener
    # sent everything to the HTTP connection manager), fixed by #17169 and #22707, whose author states the
    # aim that an HTTP port must no longer block TCP or HTTPS passthrough; since then the listener has an
    # HTTP chain matched by the HTTP inspector and a match-all TCP chain (#24998). So the ClientHello
    # falls through, and under ALLOW_ANY PassthroughCluster carries it to the server: the request works.
    _httpbin_443_as_http(lab)
    r = lab.curl("https://httpbin.org/get", "-sS")
    assert r.status == 200, r.stderr
    assert "PassthroughCluster" in lab.logs()[-1]


def test_double_tls_fails_the_handshake(lab: Lab) -> None:
    lab.apply(BOTH_PORTS, host="edition.cnn.com")
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: originate-on-443}
spec:
  host: edition.cnn.com
  trafficPolicy:
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE}
"""
    )
    settle(lab)
    r = lab.curl("https://edition.cnn.com/politics", "-sS")
    assert r.exit_code == 35, r.stderr
    assert "double TLS" in str(r.explain())
    # The sidecar's own TLS to the server succeeds (the server answers the inner ClientHello as plain
    # text), so the TCP proxy's line names the host it connected to, port 443 (Envoy access-log docs,
    # %UPSTREAM_HOST%), before %UPSTREAM_CLUSTER_RAW%.
    assert re.search(r'"\d+\.\d+\.\d+\.\d+:443" outbound\|443\|\|edition\.cnn\.com ', lab.logs()[-1])


def test_without_the_destination_rule_the_same_request_passes(lab: Lab) -> None:
    lab.apply(BOTH_PORTS, host="edition.cnn.com")
    settle(lab)
    assert lab.curl("https://edition.cnn.com/politics", "-sS").status == 200


def _originate_with_sans(lab: Lab, sans: list[str]) -> None:
    lab.apply(ORIGINATION, host="edition.cnn.com")
    lab.apply(
        f"""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: edition-cnn-com}}
spec:
  host: edition.cnn.com
  trafficPolicy:
    portLevelSettings:
    - port: {{number: 80}}
      tls: {{mode: SIMPLE, subjectAltNames: {sans}}}
"""
    )
    settle(lab)


def test_subject_alt_names_that_the_server_certificate_lacks_fail_with_503_uf(lab: Lab) -> None:
    _originate_with_sans(lab, ["wrong.example.com"])
    r = lab.curl("http://edition.cnn.com/politics", "-sS")
    assert r.status == 503
    line = lab.logs()[-1]
    assert re.search(r" 503 (URX,)?UF ", line) and "CERTIFICATE_VERIFY_FAILED" in line


def test_subject_alt_names_that_match_pass(lab: Lab) -> None:
    _originate_with_sans(lab, ["edition.cnn.com"])
    assert lab.curl("http://edition.cnn.com/politics", "-sS").status == 200
