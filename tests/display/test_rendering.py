"""What learners see: banners, check rows and tables, manifests, waits and errors, as HTML and as text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rich.console import Console

from labkit import connect, labinfo
from labkit.checks import Check, CheckTable, ExpectationFailed
from labkit.connect import Banner
from labkit.display import (
    Deleted,
    ErrorView,
    LiveStatus,
    ManifestView,
    Waiting,
    error_lines,
    plain_text,
)
from labkit.errors import ManifestError, Problem
from labkit.lab import Lab

from .text import html_to_text

ANSI = re.compile(r"\x1b\[")


def bundle(obj: Any) -> tuple[str, str]:
    data = obj._repr_mimebundle_()
    return data["text/plain"], data["text/html"]


@pytest.fixture
def sim_lab() -> Lab:
    return connect(backend="sim", lab="01-external-access", cleanup_on_error=False, console=Console(quiet=True))


# -- the banner


def test_sim_banner_is_marked_simulated_and_lists_the_labs_changes(sim_lab: Lab) -> None:
    text, markup = bundle(Banner(sim_lab, "backend='sim' was asked for", labinfo.find(sim_lab.name)))
    assert not ANSI.search(text)
    assert "SIMULATED MESH" in text and "not from a real cluster" in text
    # The simulator and the xds translator follow Istio 1.27.1's source (their docstrings cite it):
    # the banner names that version, not the release scripts/cluster-up.sh installs.
    assert "a model of Istio 1.27," in text
    assert "Lab 01 · Accessing external services · about 20 min" in text
    assert "What this lab changes in the simulated cluster" in text
    assert "sets meshConfig.outboundTrafficPolicy.mode to REGISTRY_ONLY" in text
    assert "undoes these changes, and so does a failing cell" in text
    assert "SIMULATED MESH" in html_to_text(markup) and "<span" in markup


class FakeCluster:
    """Just enough of a backend for a banner: a real cluster in a non-default Istio namespace."""

    name, simulated, istio_namespace = "kube", False, "istio-lab"

    def describe(self) -> str:
        return "cluster kind-istio-labs (Istio 1.27.1)"


def test_real_cluster_banner_names_the_cluster_and_its_istio_namespace() -> None:
    lab = Lab(FakeCluster(), name="04-network-policy")  # type: ignore[arg-type]
    text = plain_text(Banner(lab, "context kind-istio-labs answers", labinfo.find("04"), cleanup_on_error=False))
    assert "REAL CLUSTER" in text and "SIMULATED" not in text
    assert "What this lab changes in the cluster:" in text
    assert "labels the Istio namespace istio-lab (istio=system)" in text
    assert "a ready egress gateway (istio=egressgateway) in istio-lab" in text
    assert "builds on 03-egress-gateway" in text
    assert "External hosts it reaches: edition.cnn.com" in text  # labs/04-network-policy/lab.yaml hosts
    assert "so does a failing cell" not in text  # cleanup_on_error was off


def test_banner_without_metadata_and_with_a_long_reason(sim_lab: Lab) -> None:
    reason = "no usable kube context (BackendUnavailable: no kubeconfig\n  → create a cluster)"
    text = plain_text(Banner(sim_lab, reason, None))
    assert "lab 01-external-access" in text and "What this lab changes" not in text
    why = next(line for line in text.splitlines() if "chosen because" in line)
    assert why.strip("│ ").endswith("chosen because: no usable kube context (BackendUnavailable: no kubeconfig)")
    assert "create a cluster" not in text


# -- checks


def check(**kw: Any) -> Check:
    base = {"title": "HTTPS is blocked", "command": "curl -sSI https://x", "expected": "exit 35", "actual": "exit 35"}
    return Check(**{**base, "passed": True, **kw})


def test_a_passing_check_is_one_quiet_row_with_its_tries() -> None:
    text, markup = bundle(check(attempts=3, seconds=2.04, simulated=True))
    assert text.splitlines()[0] == "✔ PASS HTTPS is blocked  [simulated]  (3 tries, 2.0s virtual clock)"
    assert "ran:" not in text and "hint:" not in text
    assert not ANSI.search(text) and "color" in markup


def test_a_failing_check_shows_what_ran_expected_got_and_the_hint() -> None:
    text, _ = bundle(check(passed=False, actual="status 200; exit 0", hint="run r.explain()"))
    lines = [line.strip() for line in text.splitlines()]
    assert lines == [
        "✘ FAIL HTTPS is blocked",
        "ran:      curl -sSI https://x",
        "expected: exit 35",
        "got:      status 200; exit 0",
        "hint:     run r.explain()",
    ]


def test_check_table_is_an_html_table_with_a_row_per_check() -> None:
    checks = [
        check(attempts=2, seconds=1.1),
        check(title="<b>not bold</b>", passed=False, actual="exit 0", hint="look at the log"),
        check(title="n/a step", passed=False, skipped=True, actual="CNI ignores NetworkPolicy"),
    ]
    table = CheckTable(checks, title="Checks: demo")
    text, markup = bundle(table)
    assert markup.startswith('<table class="labkit-checks"')
    assert re.findall(r'data-result="([^"]+)"', markup) == ["PASS", "FAIL", "N/A"]
    assert "&lt;b&gt;not bold&lt;/b&gt;" in markup and "<b>not bold</b>" not in markup  # titles are text
    assert "hint: look at the log" in html_to_text(markup)
    assert "(2 tries, 1.1s)" in html_to_text(markup)
    assert "1/2 passed, 1 not applicable" in html_to_text(markup) and "1/2 passed, 1 not applicable" in text
    assert not ANSI.search(text) and "Checks: demo" in text


# -- manifests


def test_manifest_view_is_a_collapsed_highlighted_yaml_with_secrets_hidden() -> None:
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "client-credential", "namespace": "istio-system"},
            "data": {"tls.key": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t"},
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "originate-mtls", "namespace": "istio-system"},
            "spec": {"host": "nginx"},
        },
    ]
    view = ManifestView(docs, "destinationrule.yaml")
    text, markup = bundle(view)
    assert text == (
        "applying destinationrule.yaml: Secret/client-credential, DestinationRule/originate-mtls in istio-system"
    )
    assert markup.startswith('<details class="labkit-manifest">') and "<summary" in markup
    assert "--jp-mirror-editor-property-color" in markup  # highlighted in JupyterLab's own colours
    shown = html_to_text(markup)
    assert "kind: DestinationRule" in shown and "host: nginx" in shown
    assert "LS0tLS1CRUdJTi" not in markup and "not shown" in shown  # no key material in the notebook


def test_deleted_reports_what_was_already_gone() -> None:
    docs = [{"kind": "ServiceEntry", "metadata": {"name": "a", "namespace": "default"}}] * 2
    assert plain_text(Deleted(docs, 1, "se.yaml")) == (
        "deleted se.yaml: ServiceEntry/a, ServiceEntry/a in default (1 already gone)"
    )


def test_apply_shows_the_manifest_only_when_asked(sim_lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(record=True, width=200)
    sim_lab.console = console
    assert sim_lab.show_manifests is False  # not in a notebook
    sim_lab.apply(labkit_manifest(), namespace="default")
    sim_lab.apply(labkit_manifest("other"), namespace="default", show=True)
    out = console.export_text()
    assert "ServiceEntry/other in default" in out and "ServiceEntry/one" not in out
    sim_lab.show_manifests = True
    removed = sim_lab.delete(labkit_manifest(), namespace="default")
    assert [r.name for r in removed] == ["one"]
    assert "deleted ServiceEntry/one in default" in console.export_text()


def labkit_manifest(name: str = "one") -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}}}
spec:
  hosts: [{name}.example.com]
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  resolution: DNS
  location: MESH_EXTERNAL
"""


# -- waiting


class FakeHandle:
    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    def update(self, obj: Any) -> None:
        self.log.append(("update", obj._repr_mimebundle_()["text/plain"]))


@pytest.fixture
def notebook_display(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """IPython's display() as a notebook frontend would receive it: first frames and in-place updates."""
    import IPython.display

    log: list[tuple[str, str]] = []

    def display(obj: Any, display_id: bool = False) -> FakeHandle:
        log.append(("display" if display_id else "static", obj._repr_mimebundle_()["text/plain"]))
        return FakeHandle(log)

    monkeypatch.setattr(IPython.display, "display", display)
    return log


def test_live_status_updates_in_place_at_most_once_a_second(notebook_display: list[tuple[str, str]]) -> None:
    now = [0.0]
    live = LiveStatus(
        Console(), Waiting("the route works", "status 200", 90, False), clock=lambda: now[0], notebook=True
    )
    for attempt, t in enumerate([0.0, 0.4, 0.8, 1.2, 1.3, 2.5], 1):
        now[0] = t
        live.waiting(attempt, t * 10, "status 503")
    live.finish(7, 62.0, passed=True)
    kinds = [kind for kind, _ in notebook_display]
    assert kinds == ["display", "update", "update", "update"]  # t=0 shown, 1.2 and 2.5 pushed, then the end
    assert notebook_display[0][1] == (
        "↻ waiting up to 90s (real time): the route works: want status 200; try 1 got status 503"
    )
    assert notebook_display[-1][1] == "↻ the try before it held got: status 503"


def test_a_verify_that_retries_shows_one_live_output_and_says_so_in_its_row(
    sim_lab: Lab, notebook_display: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("labkit.lab.in_ipython", lambda: True)
    monkeypatch.setattr("labkit.display.in_ipython", lambda: True)
    answers = iter([503, 503, 200])
    sim_lab.verify(
        "config reached the proxy",
        lambda: next(answers),
        lambda s: [] if s == 200 else [f"status {s}"],
        command="curl",
        expected="status 200",
        actual=lambda s: f"status {s}",
    )
    kinds = [kind for kind, _ in notebook_display]
    assert kinds == ["display", "update", "static"]  # the wait (virtual: no real second passed), its end, the row
    assert notebook_display[1][1] == "↻ the try before it held got: status 503"
    assert "(3 tries, 2.0s virtual clock)" in notebook_display[2][1]
    assert sim_lab.checks[-1].attempts == 3


def test_a_check_that_holds_at_once_shows_no_wait(
    sim_lab: Lab, notebook_display: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("labkit.display.in_ipython", lambda: True)
    sim_lab.verify_that("one and one", 1 + 1, 2)
    assert [kind for kind, _ in notebook_display] == ["static"]


def test_a_terminal_gets_a_transient_spinner_and_a_log_gets_nothing() -> None:
    terminal = Console(force_terminal=True, force_jupyter=False, record=True)
    live = LiveStatus(terminal, Waiting("t", "status 200", 10, True), notebook=False)
    live.waiting(1, 0.0, "status 503")
    assert live.started
    live.finish(2, 1.0, passed=True)
    log = Console(force_terminal=False, record=True)
    quiet = LiveStatus(log, Waiting("t", "status 200", 10, True), notebook=False)
    quiet.waiting(1, 0.0, "status 503")
    assert not quiet.started and quiet.frames == 0


# -- errors


def test_expectation_failed_is_one_line_without_stack_frames() -> None:
    error = ExpectationFailed(check(passed=False, actual="exit 0", expected="exit 35"))
    (line,) = error_lines(error)
    assert line.startswith("\x1b[1;31mExpectationFailed")  # the name in red, as IPython shows errors
    assert re.sub(r"\x1b\[[0-9;]*m", "", line) == (
        "ExpectationFailed: check failed: HTTPS is blocked (expected exit 35; details above)"
    )


def test_other_labkit_errors_render_their_message_and_hint() -> None:
    error = ManifestError([Problem("document 1 (VirtualService/x)", "spec.tls[0]", "must be a list")], "vs.yaml")
    text = plain_text(ErrorView(error))
    assert "ManifestError" in text and "spec.tls[0]: must be a list" in text
    assert "→ Fix the field named above" in text
    assert re.sub(r"\x1b\[[0-9;]*m", "", error_lines(error)[0]) == (
        "ManifestError: invalid manifest vs.yaml: (details above)"
    )
