"""``KubeBackend``: the Backend contract on a real cluster, through the official Python client."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..backend import DoctorItem, ExecResult
from ..errors import BackendUnavailable, LabkitError
from ..manifests import Ref
from ..result import CurlResult
from . import configdump, hops, istiod
from . import context as ctx
from . import exec as exec_mod
from . import wait as wait_mod
from .apply import Objects
from .clients import Clients
from .configsync import ConfigSync
from .doctor import Doctor, not_answering
from .logs import read_lines
from .syncstate import ProxySync, reaches

if TYPE_CHECKING:
    from rich.console import Console

#: Seconds the API server gets to answer before a lab starts (a local kind cluster answers in milliseconds).
PREFLIGHT_TIMEOUT = 3.0
#: Extra seconds the exec stream waits past a curl's own timeout, so curl can report exit 28 itself.
CURL_GRACE = 5.0
CURL_TIMEOUT_EXIT_CODE = 28


class KubeBackend:
    """A real cluster. Refuses any context that is not ``kind-*`` or explicitly allowed (see ``context``)."""

    name = "kube"
    simulated = False

    def __init__(
        self,
        context: str | None = None,
        *,
        kubeconfig: str | None = None,
        allow_context: str | None = None,
        istio_namespace: str = "istio-system",
        api_client: Any = None,
    ) -> None:
        # The guard comes first: nothing below may talk to a cluster that is not a lab cluster.
        self.context = ctx.resolve_context(context, kubeconfig)
        self.allowed_because = ctx.check_allowed(self.context, allow_context)
        self.kubeconfig = kubeconfig
        self.istio_namespace = istio_namespace
        owned = api_client is None
        if api_client is None:
            from kubernetes import client as k8s

            api_client = k8s.ApiClient(ctx.load_configuration(self.context, kubeconfig))
        self.clients = Clients(api_client, owned=owned)
        self.objects = Objects(self.clients.dynamic)
        self.kubectl = f"kubectl --context {self.context}"
        #: Where notes and waits show; a ``Lab`` sets its own console here.
        self.console: Console | None = None
        # Before a request, wait until the proxies hold the mesh config written since (``configsync``).
        self.config_sync = ConfigSync(
            self._read_sync_state,
            clock=lambda: self.now(),
            sleep=lambda seconds: self.sleep(seconds),
            console=self._console,
        )

    # -- identity and time
    def describe(self) -> str:
        return f"kube context {self.context}"

    def __repr__(self) -> str:
        return f"<KubeBackend {self.context}>"

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def close(self) -> None:
        self.clients.close()

    def _console(self) -> Console:
        if self.console is None:
            from rich.console import Console

            self.console = Console(stderr=True)
        return self.console

    # -- objects
    def apply(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self._before_write([(Ref.of(doc), doc) for doc in docs])
        return self.objects.apply(docs)

    def delete(self, ref: Ref) -> bool:
        # A VirtualService's gateways say which proxies its deletion reaches; other kinds need no read.
        current = self.objects.get(ref) if ref.kind == "VirtualService" else None
        self._before_write([(ref, current)])
        return self.objects.delete(ref)

    def get(self, ref: Ref) -> dict[str, Any] | None:
        return self.objects.get(ref)

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]:
        return self.objects.list_objects(api_version, kind, namespace, selector)

    def patch(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        self._before_write([(ref, None)])
        return self.objects.patch(ref, patch)

    def _before_write(self, writes: list[tuple[Ref, Mapping[str, Any] | None]]) -> None:
        """Note what the proxies hold before a write of mesh config (see ``configsync``)."""
        types: frozenset[str] = frozenset()
        for ref, obj in writes:
            types |= reaches(ref.api_version, ref.kind, ref.namespace, ref.name, obj, self.istio_namespace)
        self.config_sync.before_write(types)

    def _read_sync_state(self) -> dict[str, ProxySync]:
        return istiod.read_syncz(self.clients.core, self._exec, self.istio_namespace)

    def _exec(self, namespace: str, pod: str, container: str, argv: list[str], timeout: float) -> ExecResult:
        return self.exec(namespace, pod, container, argv, timeout)

    def served_kinds(self) -> list[tuple[str, str]]:
        """Every (apiVersion, kind) the cluster can list, at its preferred version (API discovery)."""
        return self.objects.served_kinds()

    def check_kind(self, api_version: str, kind: str) -> None:
        """Raise UnknownKind unless the cluster serves ``kind`` at ``api_version`` (API discovery)."""
        self.objects.check_kind(api_version, kind)

    # -- workloads
    def wait_ready(self, namespace: str, selector: str, timeout: float) -> list[dict[str, Any]]:
        return wait_mod.wait_ready(
            self.clients.core,
            self.clients.apps,
            namespace,
            selector,
            timeout,
            context=self.context,
            clock=self.now,
            sleep=self.sleep,
            serialize=self.clients.serialize,
        )

    def exec(self, namespace: str, pod: str, container: str, argv: list[str], timeout: float) -> ExecResult:
        result, _ = exec_mod.run(
            self.clients.exec_core,
            namespace,
            pod,
            container,
            argv,
            timeout,
            clock=self.now,
            kubectl=self.kubectl,
        )
        return result

    def curl(self, namespace: str, pod: str, container: str, args: list[str], timeout: float) -> CurlResult:
        from ..curl import remote

        self.config_sync.before_request(namespace, pod)
        started = time.time()
        argv = remote.build_command(list(args))
        result, _ = exec_mod.run(
            self.clients.exec_core,
            namespace,
            pod,
            container,
            argv,
            timeout + CURL_GRACE,
            clock=self.now,
            timeout_exit_code=CURL_TIMEOUT_EXIT_CODE,
            kubectl=self.kubectl,
        )
        curled = remote.to_result(list(args), result)
        request = hops.Request(namespace, pod, started, time.time(), curled.command)
        return hops.KubeCurlResult.of(curled, lambda: hops.read(request, self._hop_sources()))

    def _hop_sources(self) -> hops.Sources:
        def logs(namespace: str, pod: str, since: float) -> list[str]:
            try:
                return self.logs(namespace, pod, hops.PROXY_CONTAINER, since)
            except LabkitError:  # no proxy container in that pod
                return []

        def gateways() -> list[tuple[str, str]]:
            found = self.list_objects("v1", "Pod", self.istio_namespace, hops.GATEWAY_SELECTOR)
            return [(self.istio_namespace, p["metadata"]["name"]) for p in found]

        def listeners(namespace: str, pod: str) -> set[str]:
            dump = self.config_dump(namespace, pod)
            return {x.get("name", "") for c in dump["configs"] for x in c.get("dynamic_listeners", [])}

        return hops.Sources(logs=logs, listeners=listeners, gateways=gateways)

    def logs(self, namespace: str, pod: str, container: str, since_seconds: float | None = None) -> list[str]:
        return read_lines(self.clients.core, namespace, pod, container, since_seconds, kubectl=self.kubectl)

    def config_dump(self, namespace: str, pod: str) -> dict[str, Any]:
        """The pod's Envoy config dump, read from the proxy itself (as ``istioctl proxy-config`` does)."""
        return configdump.read(self._exec, namespace, pod, self.kubectl)

    # -- diagnosis
    def preflight(self, timeout: float = PREFLIGHT_TIMEOUT) -> None:
        """Raise ``BackendUnavailable``, with ``labkit doctor``'s diagnosis and fix, unless the API server
        answers ``GET /version`` within ``timeout`` seconds (one attempt, no retries)."""
        answers, why = ctx.probe(self.context, self.kubeconfig, timeout)
        if not answers:
            item = not_answering(self.context, why.split(" did not answer: ", 1)[-1])
            raise BackendUnavailable(
                f"the cluster does not answer: {item.detail}",
                hint=f"{item.fix}\n    then `labkit doctor --backend kube` checks everything the labs need",
            )

    def doctor(self) -> list[DoctorItem]:
        objects = self.objects.list_objects
        return Doctor(self.clients, self.context, self.allowed_because, self.istio_namespace, objects).run()
