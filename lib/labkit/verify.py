"""The checks vocabulary a lab uses: run something until a condition holds or a deadline passes,
record each result as a Check, and raise when it never held (so papermill fails the notebook).

Like the istio.io doc tests' verify helpers, checks retry instead of sleeping for a fixed time:
a real mesh needs seconds to push new config to the proxies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from . import checks as checks_mod
from .checks import Check, CheckTable, ExpectationFailed
from .display import LiveStatus, QuietList, Waiting, show
from .errors import UnknownChoice
from .expect import CurlExpectation
from .result import CurlResult

if TYPE_CHECKING:
    from rich.console import Console

    from .backend import Backend

T = TypeVar("T")
ACCESS_LOG_FLUSH_WAIT = 3.0  # seconds; Envoy writes its access log file about once a second
#: What ``verify_curl(log_source=...)`` may name: whose log to read.
LOG_SOURCE_KEYS = ("namespace", "selector", "container")


class LabActions(Protocol):
    """What the checks need from the lab they are mixed into (``Lab`` provides all of it)."""

    driver: Backend
    name: str
    console: Console
    checks: list[Check]

    @property
    def simulated(self) -> bool: ...

    def curl(
        self, url: str, *args: str, client: str = "sleep", namespace: str = "default", timeout: float | None = None
    ) -> CurlResult: ...

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]: ...

    def logs(
        self,
        namespace: str = "default",
        selector: str = "app=sleep",
        container: str = "istio-proxy",
        since_seconds: float | None = None,
    ) -> list[str]: ...


class Verifications(LabActions):
    """Mixed into ``Lab``, whose ``curl``, ``logs`` and ``pods`` these methods call (``LabActions``)."""

    def default_within(self) -> float:
        # A real mesh needs seconds to push config; the simulator's propagation delay is small.
        return 15.0 if self.simulated else 90.0

    def verify(
        self,
        title: str,
        probe: Callable[[], T],
        failures: Callable[[T], list[str]],
        *,
        command: str,
        expected: str,
        actual: Callable[[T], str],
        within: float | None = None,
        interval: float = 1.0,
        hint: str | Callable[[T], str] = "",
    ) -> T:
        """Run ``probe`` until ``failures(result)`` is empty or ``within`` seconds pass; record a check."""
        within = self.default_within() if within is None else within
        start = self.driver.now()
        attempts = 0
        # Shown from the first miss on: what the check waits for, and what the last try got.
        live = LiveStatus(self.console, Waiting(title, expected, within, self.simulated))
        while True:
            attempts += 1
            value = probe()
            missing = failures(value)
            elapsed = self.driver.now() - start
            if not missing or elapsed + interval > within:
                break
            live.waiting(attempts, elapsed, actual(value))
            self.driver.sleep(interval)
        passed = not missing
        if live.started:
            live.finish(attempts, self.driver.now() - start, passed)
        check = Check(
            title=title,
            command=command,
            expected=expected,
            actual=actual(value) if passed else f"{actual(value)} ✗ {', '.join(missing)}",
            passed=passed,
            attempts=attempts,
            seconds=round(self.driver.now() - start, 3),
            hint="" if passed else (hint(value) if callable(hint) else hint),
            simulated=self.simulated,
        )
        self.checks.append(check)
        checks_mod.record(self.checks, self.name)
        show(check, self.console)
        if not passed:
            raise ExpectationFailed(check)
        return value

    def verify_curl(
        self,
        url: str,
        *args: str,
        title: str | None = None,
        client: str = "sleep",
        namespace: str = "default",
        status: int | None = None,
        statuses: list[int] | None = None,
        exit_code: int | None = None,
        no_response: bool = False,
        body_contains: str | list[str] | tuple[()] = (),
        body_lacks: str | list[str] | tuple[()] = (),
        elapsed: tuple[float, float] | None = None,
        log_contains: str | None = None,
        log_source: Mapping[str, str] | None = None,
        within: float | None = None,
        hint: str = "",
    ) -> CurlResult:
        """Curl until the result matches every expectation given, then return it.

        ``log_contains`` also requires that this very request left a log line with that text, in the
        logs of ``log_source`` (``namespace``/``selector``/``container``; the client's sidecar by
        default). That tells a request that took the new route from one that still took the old
        route while the config was on its way.
        """
        wanted = _strings(body_contains)
        # A header only Istio's own proxy build adds can't be in a request through plain Envoy: the check
        # runs without it and says by name why (the envoy backend's ``istio_only_headers``).
        not_built = _istio_only(wanted, getattr(self.driver, "istio_only_headers", {}))
        expectation = CurlExpectation(
            status=status,
            statuses=tuple(statuses) if statuses is not None else None,
            exit_code=exit_code,
            no_response=no_response,
            body_contains=tuple(w for w in wanted if w not in not_built),
            body_lacks=_strings(body_lacks),
            elapsed=elapsed,
        )

        def explain_hint(r: CurlResult) -> str:
            if hint:
                return hint
            if r.simulated and r.traces and r.traces[-1].hops:
                return f"r.explain() shows why; last decision: {r.traces[-1].hops[-1].outcome}"
            return "look at the proxy's access log: lab.logs(namespace, selector, 'istio-proxy')"

        for key in log_source or {}:
            if key not in LOG_SOURCE_KEYS:
                fix = "e.g. log_source={'selector': 'istio=egressgateway'}"
                raise UnknownChoice("log_source key", key, LOG_SOURCE_KEYS, fix=fix)
        source = {"namespace": namespace, "selector": f"app={client}", **(log_source or {})}
        new_lines: dict[int, list[str]] = {}

        def probe() -> CurlResult:
            before = {pod: len(lines) for pod, lines in self._logs_by_pod(**source).items()} if log_contains else {}
            r = self.curl(url, *args, client=client, namespace=namespace)
            if log_contains:
                new_lines[id(r)] = self._new_log_lines(source, before, log_contains)
            return r

        def mismatches(r: CurlResult) -> list[str]:
            out = expectation.mismatches(r)
            if log_contains and not any(log_contains in line for line in new_lines.get(id(r), [])):
                out.append(f"no new line with {log_contains!r} in the log of {source['selector']}")
            return out

        expected = expectation.describe() + (f"; logged {log_contains!r}" if log_contains else "")
        result = self.verify(
            title or f"{url} → {expectation.describe()}",
            probe,
            mismatches,
            command=f"curl {' '.join(args)} {url}".replace("  ", " "),
            expected=expected,
            actual=expectation.actual,
            within=within,
            hint=explain_hint,
        )
        for text, (header, filter_name) in not_built.items():
            self.not_applicable(
                f"{title or url}: the response body contains {text}",
                f"{header} is added by Istio's {filter_name} filter, part of Istio's proxy build and not of the "
                f"upstream Envoy this backend runs; the check runs on kube and sim",
                command=f"curl {' '.join(args)} {url}".replace("  ", " "),
                expected=f"body contains {text!r}",
            )
        return result

    def _logs_by_pod(self, namespace: str, selector: str, container: str = "istio-proxy") -> dict[str, list[str]]:
        return {
            pod["metadata"]["name"]: self.driver.logs(namespace, pod["metadata"]["name"], container)
            for pod in self.pods(namespace, selector)
        }

    def _new_log_lines(self, source: Mapping[str, str], before: Mapping[str, int], wanted: str) -> list[str]:
        """Lines each pod logged since ``before`` (counted per pod, as pods log independently).

        Envoy flushes its access log about once a second, so on a real mesh the line can trail the
        response: look again for a few seconds before calling the request unlogged.
        """
        # A backend whose proxies flush sooner says how long (the envoy backend's flush every 50 ms).
        flush = getattr(self.driver, "access_log_flush_wait", ACCESS_LOG_FLUSH_WAIT)
        deadline = self.driver.now() + (0.0 if self.simulated else flush)
        while True:
            new = [line for pod, lines in self._logs_by_pod(**source).items() for line in lines[before.get(pod, 0) :]]
            if any(wanted in line for line in new) or self.driver.now() >= deadline:
                return new
            self.driver.sleep(0.5)

    def verify_logs(
        self,
        contains: str,
        *,
        title: str | None = None,
        namespace: str = "default",
        selector: str = "app=sleep",
        container: str = "istio-proxy",
        within: float | None = None,
    ) -> list[str]:
        """Wait until some log line contains ``contains``; returns the matching lines."""

        def matching() -> list[str]:
            return [line for line in self.logs(namespace, selector, container) if contains in line]

        self.verify(
            title or f"{container} log of {selector} shows {contains}",
            matching,
            lambda lines: [] if lines else [f"no line with {contains!r}"],
            command=f"kubectl logs -n {namespace} -l {selector} -c {container}",
            expected=f"a line containing {contains!r}",
            actual=lambda lines: f"{len(lines)} matching line(s)",
            within=within,
            hint="is access logging on? meshConfig.accessLogFile must be /dev/stdout",
        )
        return QuietList(matching())  # the check above shows them; a notebook cell need not echo them

    def verify_that(self, title: str, value: Any, expected: Any, *, command: str = "") -> Any:
        """Record a one-shot equality check (no retry) for facts such as a container list."""
        return self.verify(
            title,
            lambda: value,
            lambda v: [] if v == expected else [f"not {expected!r}"],
            command=command or title,
            expected=repr(expected),
            actual=repr,
            within=0,
        )

    def not_applicable(self, title: str, reason: str, *, command: str = "", expected: str = "") -> Check:
        """Record a check that can't run meaningfully here, saying why. It neither passes nor fails."""
        check = Check(
            title=title,
            command=command or title,
            expected=expected or "n/a",
            actual=reason,
            passed=False,
            skipped=True,
            hint=reason,
            simulated=self.simulated,
        )
        self.checks.append(check)
        checks_mod.record(self.checks, self.name)
        show(check, self.console)
        return check

    def report(self) -> CheckTable:
        return CheckTable(self.checks, title=f"Checks: {self.name}")


def _strings(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _istio_only(wanted: tuple[str, ...], headers: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The expected body strings that name a header only Istio's proxy adds -> (header, the filter adding it)."""
    out: dict[str, tuple[str, str]] = {}
    for text in wanted:
        for header, filter_name in headers.items():
            if header.lower() in text.lower():
                out[text] = (header, filter_name)
    return out
