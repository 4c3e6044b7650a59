"""``Lab``: what a notebook holds. It applies manifests, runs curl in the client pod, checks
expectations with retries, and undoes everything it changed on ``cleanup()``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from rich.console import Console

from . import checks as checks_mod
from . import display, manifests
from .backend import NETWORK_POLICY_ITEM, Backend, DoctorItem
from .checks import Check
from .display import ManifestView, in_ipython
from .errors import LabkitError, ManifestError, Problem, UnknownChoice, closest, did_you_mean
from .manifests import CLUSTER_SCOPED, Manifest, Ref
from .meshconfig import MESH_CONFIGMAP, MESH_KEY, mesh_text, parse_mesh
from .meshconfig import outbound_policy as _outbound_policy
from .paths import lab_file
from .result import CurlResult
from .verify import Verifications

if TYPE_CHECKING:
    from .sim.world import World

OUTBOUND_POLICIES = ("ALLOW_ANY", "REGISTRY_ONLY")


class Lab(Verifications):
    """One lab's connection to a mesh. ``lab.backend`` is ``"sim"`` or ``"kube"``."""

    def __init__(self, driver: Backend, name: str = "lab", console: Console | None = None) -> None:
        self.driver = driver
        self.name = name
        self.console = console or Console()
        self.checks: list[Check] = []
        self._applied: list[Ref] = []  # in apply order; cleanup walks it backwards
        self._preexisting: set[Ref] = set()  # objects that were there before the lab: left alone
        self._mesh_original: str | None = None  # the ConfigMap text before the first change
        self._label_originals: dict[str, dict[str, str | None]] = {}
        #: Show each manifest (collapsed, highlighted) before applying it. On in notebooks, where a
        #: learner reads along; off in scripts and tests, where it would only add noise.
        self.show_manifests: bool = in_ipython()
        if hasattr(driver, "console"):  # a backend that waits or notes on its own shows it with the lab
            driver.console = self.console

    # -- identity
    @property
    def backend(self) -> str:
        return self.driver.name

    @property
    def simulated(self) -> bool:
        return self.driver.simulated

    @property
    def istio_namespace(self) -> str:
        return self.driver.istio_namespace

    @property
    def world(self) -> World:
        """The simulated internet outside the cluster: ``print(lab.world)``, ``lab.world.add_host(...)``."""
        mesh = getattr(self.driver, "mesh", None)
        if not self.simulated or mesh is None:
            raise LabkitError(
                "the outside world is real on a cluster: lab.world exists only on the simulator",
                hint="reach real hosts directly; run on backend='sim' to add simulated ones",
            )
        return mesh.world

    def __repr__(self) -> str:
        return f"<Lab {self.name!r} on {self.driver.describe()}>"

    # -- manifests
    def apply(
        self, manifest: Manifest, namespace: str | None = None, *, show: bool | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        """Validate every document, then apply them all. ``params`` fill ``${name}`` placeholders.

        ``show`` displays what is applied (default: ``lab.show_manifests``, on in notebooks).
        """
        _check_manifest_file(manifest)
        _check_params(manifest, params)
        docs = manifests.prepare(manifests.load(manifest, params), namespace, self.name)
        from . import schema  # deferred: the validators are heavy, and only applying needs them

        schema.validate(docs, source=_source_name(manifest))  # raises before anything is applied
        if self.show_manifests if show is None else show:
            # ``show`` the parameter hides ``show`` the function here.
            display.show(ManifestView(docs, _source_name(manifest)), self.console)
        for doc in docs:
            ref = Ref.of(doc)
            if ref not in self._applied and ref not in self._preexisting and self.driver.get(ref) is not None:
                self._preexisting.add(ref)
        try:
            applied = self.driver.apply(docs)
        except Exception as exc:
            created = {d["metadata"]["name"] for d in docs if d.get("kind") == "Namespace"}
            if namespace and namespace not in created:
                self._check_namespace(namespace, exc)  # a typo: name the namespace meant
            raise
        checks_mod.record_applied(docs, self.name)
        self._applied += [Ref.of(d) for d in docs if Ref.of(d) not in self._applied]
        if self.show_manifests if show is None else show:
            return display.QuietList(applied)  # shown above; echoing the stored objects would be noise
        return applied

    def delete(
        self, manifest: Manifest, namespace: str | None = None, *, show: bool | None = None, **params: Any
    ) -> list[Ref]:
        """Delete what the manifest names; objects already gone are fine. Returns what was deleted."""
        _check_manifest_file(manifest)
        _check_params(manifest, params)
        docs = manifests.prepare(manifests.load(manifest, params), namespace, self.name)
        deleted = [ref for ref in map(Ref.of, reversed(docs)) if self.driver.delete(ref)]
        for ref in map(Ref.of, docs):
            if ref not in deleted:  # gone already is fine; a kind or namespace that never was is a typo
                self._check_kind(ref.api_version, ref.kind)
        if namespace and not deleted and namespace not in self._applied_namespaces():
            self._check_namespace(namespace)
        if self.show_manifests if show is None else show:
            display.show(display.Deleted(docs, len(deleted), _source_name(manifest)), self.console)
            return display.QuietList(deleted)  # shown above; echoing the Refs again would be noise
        return deleted

    def _applied_namespaces(self) -> set[str]:
        """Namespaces this lab applied: deleting into one of them after it went is not a typo."""
        return {ref.name for ref in self._applied if ref.kind == "Namespace"}

    def get(self, kind: str, name: str, namespace: str | None = None, api_version: str = "v1") -> dict | None:
        """The object as stored, or None when it does not exist. A kind the API does not serve at
        ``api_version`` (a typo, or an Istio kind without its apiVersion) raises UnknownKind instead.

        ``namespace`` defaults to ``default`` for namespaced kinds, as in ``lab.apply`` and kubectl.
        """
        if kind in CLUSTER_SCOPED and namespace:
            raise LabkitError(
                f"{kind} is cluster-scoped: it has no namespace (got namespace={namespace!r})",
                hint=f"lab.get({kind!r}, {name!r}) without a namespace",
            )
        if kind not in CLUSTER_SCOPED:
            namespace = namespace or "default"
        found = self.driver.get(Ref(api_version, kind, namespace, name))
        if found is None:
            self._check_kind(api_version, kind)
        return found

    def _check_kind(self, api_version: str, kind: str) -> None:
        """Raise UnknownKind when the backend does not serve ``kind`` at ``api_version``."""
        check = getattr(self.driver, "check_kind", None)  # optional: a backend that cannot tell skips it
        if check is not None:
            check(api_version, kind)

    # -- workloads
    def deploy_client(
        self,
        namespace: str = "default",
        name: str = "sleep",
        *,
        pod_annotations: Mapping[str, str] | None = None,
        pod_labels: Mapping[str, str] | None = None,
        secret_mounts: Mapping[str, str] | None = None,
        timeout: float = 180.0,
    ) -> str:
        """Deploy the curl client (the classic ``sleep`` sample) and wait until it and its sidecar are ready.

        ``pod_annotations``/``pod_labels`` go on the pod template, e.g. the sidecar's
        ``traffic.sidecar.istio.io/includeOutboundIPRanges`` or ``sidecar.istio.io/inject``.
        ``secret_mounts`` maps Secret names to directories in the client container (for curl --cert).
        Returns the pod's name.
        """
        self._check_secrets(namespace, list(secret_mounts or {}))
        docs = manifests.load(lab_file("common", "sleep.yaml"), {"name": name})
        for doc in docs:
            if doc["kind"] == "Deployment":
                template_meta = doc["spec"]["template"]["metadata"]
                template_meta.setdefault("annotations", {}).update(pod_annotations or {})
                template_meta["labels"].update(pod_labels or {})
                if not template_meta["annotations"]:
                    del template_meta["annotations"]
                pod_spec = doc["spec"]["template"]["spec"]
                for secret, path in (secret_mounts or {}).items():
                    pod_spec.setdefault("volumes", []).append({"name": secret, "secret": {"secretName": secret}})
                    pod_spec["containers"][0].setdefault("volumeMounts", []).append(
                        {"name": secret, "mountPath": path, "readOnly": True}
                    )
        try:
            self.apply(docs, namespace=namespace)
        except Exception as exc:
            self._check_namespace(namespace, exc)  # the sample has no Namespace: it must exist already
            raise
        pods = self.driver.wait_ready(namespace, f"app={name}", timeout)
        return pods[0]["metadata"]["name"]

    def _check_secrets(self, namespace: str, secrets: list[str]) -> None:
        """Refuse a Secret to mount that the namespace lacks: the pod would never start on a cluster
        (its volume cannot be set up), and on the simulator the files would just be missing."""
        if not secrets:
            return
        self._check_namespace(namespace)
        present = self._names("v1", "Secret", namespace)
        for secret in secrets:
            if present is not None and secret not in present:
                fix = f"apply the Secret in namespace {namespace} first (labkit.certs.secret_manifest makes one)"
                raise UnknownChoice(f"secret in namespace {namespace}:", secret, present, fix=fix)

    def wait_ready(self, namespace: str, selector: str, timeout: float = 180.0) -> list[str]:
        """Wait until the pods behind ``selector`` are ready (sidecar included); returns their names."""
        self.pods(namespace, selector)  # a namespace typo would otherwise wait the whole timeout
        return [p["metadata"]["name"] for p in self.driver.wait_ready(namespace, selector, timeout)]

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The pods behind ``selector``. None yet is fine; a namespace that does not exist raises
        UnknownChoice with the closest one (an empty list would look like pods still starting)."""
        found = self._list_pods(namespace, selector)
        if not found:
            self._check_namespace(namespace)
        return found

    def _list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return self.driver.list_objects("v1", "Pod", namespace, selector)

    def client_pod(self, namespace: str = "default", name: str = "sleep") -> str:
        running = [p for p in self._list_pods(namespace, f"app={name}") if not p["metadata"].get("deletionTimestamp")]
        if not running:
            raise LabkitError(
                f"no client pod app={name} in namespace {namespace}",
                hint=self._hint_for_client(namespace, name),
            )
        return running[0]["metadata"]["name"]

    def _hint_for_client(self, namespace: str, name: str) -> str:
        """Did you mean another namespace, or another client in this one? Else: deploy it."""
        deploy = f"run lab.deploy_client(namespace={namespace!r}, name={name!r}) first"
        namespaces = self._names("v1", "Namespace", None)
        if namespaces is not None and namespace not in namespaces:
            return did_you_mean(namespace, namespaces, f"namespace {namespace} does not exist; or {deploy}")
        labels = [p["metadata"].get("labels") or {} for p in self._pods_or_none(namespace)]
        apps = sorted({found.get("app", "") for found in labels} - {""})
        guess = closest(name, apps)
        return f"did you mean client={guess!r}? otherwise {deploy}" if guess else deploy

    def _hint_for_selector(self, namespace: str, selector: str, fix: str) -> str:
        """Did you mean a label that pods in ``namespace`` carry? Else ``fix``."""
        labels = [p["metadata"].get("labels") or {} for p in self._pods_or_none(namespace)]
        selectors = {f"{key}={value}" for found in labels for key, value in found.items()}
        guess = closest(selector, sorted(selectors)) if selector not in selectors else None
        return f"did you mean selector={guess!r}? otherwise {fix}" if guess else fix

    def _names(self, api_version: str, kind: str, namespace: str | None) -> list[str] | None:
        """Names of the objects of a kind, for a hint; None when the backend cannot list them."""
        try:
            return sorted(o["metadata"]["name"] for o in self.driver.list_objects(api_version, kind, namespace))
        except Exception:  # a hint must never hide the error it explains
            return None

    def _pods_or_none(self, namespace: str) -> list[dict[str, Any]]:
        try:
            return self.driver.list_objects("v1", "Pod", namespace)
        except Exception:
            return []

    def _check_namespace(self, namespace: str, cause: BaseException | None = None) -> None:
        """Raise UnknownChoice, naming the closest namespace, when ``namespace`` does not exist."""
        if self.driver.get(Ref("v1", "Namespace", None, namespace)) is None:
            raise UnknownChoice("namespace", namespace, self._names("v1", "Namespace", None) or []) from cause

    def proxy_config(self, kind: str, pod: str = "sleep", namespace: str = "default") -> dict[str, Any]:
        """One section ("listeners" | "routes" | "clusters" | "secrets") of the proxy's config dump, as
        Envoy's admin API shapes it. ``pod``: a pod name, a label selector (``istio=egressgateway``), or
        a client's name (``sleep``)."""
        from .xds.dump import KINDS
        from .xds.shown import shown_config

        if kind not in KINDS:
            fix = f"choose one of {', '.join(KINDS)}, as istioctl proxy-config names them"
            raise UnknownChoice("proxy_config kind", kind, KINDS, fix=fix)
        if "=" in pod:
            found = self._list_pods(namespace, pod)
            if not found:
                self._check_namespace(namespace)
                raise LabkitError(
                    f"no pod matches {pod} in namespace {namespace}",
                    hint=self._hint_for_selector(namespace, pod, "a label selector such as app=sleep"),
                )
            name = found[0]["metadata"]["name"]
        elif self.driver.get(Ref("v1", "Pod", namespace, pod)) is not None:
            name = pod
        else:
            name = self.client_pod(namespace, pod)
        return shown_config(self.driver, kind, namespace, name)

    def containers(self, namespace: str = "default", name: str = "sleep") -> list[str]:
        """Container names of the client pod: ``['sleep', 'istio-proxy']`` when it has a sidecar."""
        spec = (self.driver.get(Ref("v1", "Pod", namespace, self.client_pod(namespace, name))) or {}).get("spec", {})
        # Istio can inject the proxy as a native sidecar: an init container that keeps running.
        native = [c["name"] for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        return [c["name"] for c in spec.get("containers", [])] + native

    def require_egress_gateway(self, selector: str = "istio=egressgateway", within: float | None = None) -> str:
        """Preflight: the egress gateway runs and is ready in the Istio namespace. Returns its pod name."""
        ns = self.istio_namespace

        def ready_pods() -> list[dict[str, Any]]:
            return [p for p in self._list_pods(ns, selector) if _all_ready(p)]  # the hint says what to install

        install = (
            "start the simulator with egress_gateway=True"
            if self.simulated
            else "install it: istioctl install --set 'components.egressGateways[0].name=istio-egressgateway' "
            "--set 'components.egressGateways[0].enabled=true' --set meshConfig.accessLogFile=/dev/stdout "
            "(keep the other flags your installation used; scripts/cluster-up.sh does all of this)"
        )
        pods = self.verify(
            "the egress gateway is ready",
            ready_pods,
            lambda found: [] if found else [f"no ready pod with {selector} in {ns}"],
            command=f"kubectl get pods -n {ns} -l {selector}",
            expected="a ready pod",
            actual=lambda found: ", ".join(p["metadata"]["name"] for p in found) or "none",
            within=within if within is not None else (0 if self.simulated else 60),
            hint=lambda found: self._hint_for_selector(ns, selector, install),
        )
        return pods[0]["metadata"]["name"]

    # -- the mesh config
    def mesh_config(self) -> dict[str, Any]:
        return parse_mesh(self._mesh_text())

    def outbound_policy(self) -> str:
        """meshConfig.outboundTrafficPolicy.mode; Istio's default is ALLOW_ANY when it is unset."""
        return _outbound_policy(self.mesh_config())

    def set_outbound_policy(self, mode: str) -> None:
        """Edit meshConfig.outboundTrafficPolicy.mode in the ``istio`` ConfigMap (a patch, not sed | replace)."""
        if mode not in OUTBOUND_POLICIES:
            raise UnknownChoice("outbound policy", mode, OUTBOUND_POLICIES, fix="meshConfig.outboundTrafficPolicy.mode")
        text = self._mesh_text()
        mesh = parse_mesh(text)
        mesh.setdefault("outboundTrafficPolicy", {})["mode"] = mode
        if self._mesh_original is None:
            self._mesh_original = text
        self.driver.patch(self._configmap_ref(), {"data": {MESH_KEY: yaml.safe_dump(mesh, sort_keys=False)}})

    def _configmap_ref(self) -> Ref:
        return Ref("v1", "ConfigMap", self.istio_namespace, MESH_CONFIGMAP)

    def _mesh_text(self) -> str:
        cm = self.driver.get(self._configmap_ref())
        if cm is None:
            raise LabkitError(
                f"ConfigMap {MESH_CONFIGMAP} not found in namespace {self.istio_namespace}",
                hint="is Istio installed? `labkit doctor` checks the cluster",
            )
        return mesh_text(cm)

    # -- namespace labels (restored on cleanup)
    def label_namespace(self, namespace: str, labels: Mapping[str, str | None]) -> None:
        """Set (or with None, remove) labels on a namespace; cleanup puts the old values back."""
        ns = self.driver.get(Ref("v1", "Namespace", None, namespace))
        if ns is None:
            raise UnknownChoice("namespace", namespace, self._names("v1", "Namespace", None) or [])
        current = ns["metadata"].get("labels") or {}
        originals = self._label_originals.setdefault(namespace, {})
        for key in labels:
            originals.setdefault(key, current.get(key))
        self.driver.patch(Ref("v1", "Namespace", None, namespace), {"metadata": {"labels": dict(labels)}})

    # -- traffic
    def curl(
        self,
        url: str,
        *args: str,
        client: str = "sleep",
        namespace: str = "default",
        timeout: float | None = None,
    ) -> CurlResult:
        """Run ``curl ARGS URL`` in the client's container (named like the client, as in the sample)."""
        if timeout is not None and timeout <= 0:  # 0 used to mean the default: say so instead
            raise LabkitError(f"curl timeout={timeout!r}: it must be more than 0 seconds", hint="omit it for 120 s")
        pod = self.client_pod(namespace, client)
        return self.driver.curl(namespace, pod, client, [*args, url], 120.0 if timeout is None else timeout)

    def logs(
        self,
        namespace: str = "default",
        selector: str = "app=sleep",
        container: str = "istio-proxy",
        since_seconds: float | None = None,
    ) -> list[str]:
        """Log lines of every pod behind ``selector`` (Envoy access logs with the default container)."""
        lines: list[str] = []
        for pod in self.pods(namespace, selector):  # no pods yet is fine; no such namespace raises
            _check_container(pod, container)
            lines += self.driver.logs(namespace, pod["metadata"]["name"], container, since_seconds)
        return lines

    def network_policy_enforced(self) -> bool | None:
        """Whether the cluster's CNI enforces NetworkPolicy: True, False, or None when unknown."""
        item = next((i for i in self.driver.doctor() if i.name == NETWORK_POLICY_ITEM), None)
        return item.ok if item else None

    def restart(self, name: str, namespace: str = "default", *, timeout: float = 180.0) -> str:
        """``kubectl rollout restart deployment/NAME``: new pods pick up namespace-level changes
        such as sidecar injection. Waits for them and returns the new pod's name."""
        ref = Ref("apps/v1", "Deployment", namespace, name)
        stamp = f"{self.driver.now():.3f}"
        patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
        try:
            self.driver.patch(ref, patch)
        except Exception as exc:
            if self.driver.get(ref) is not None:
                raise
            self._check_namespace(namespace, exc)
            deployments = self._names("apps/v1", "Deployment", namespace) or []
            raise UnknownChoice(f"deployment in namespace {namespace}:", name, deployments) from exc
        selector = f"app={name}"
        deadline = self.driver.now() + timeout
        while True:
            remaining = max(deadline - self.driver.now(), 0.0)
            pods = [p for p in self.driver.wait_ready(namespace, selector, remaining) if _restarted(p, stamp)]
            if pods:
                return pods[0]["metadata"]["name"]
            if self.driver.now() >= deadline:
                raise LabkitError(f"deployment {namespace}/{name} did not roll out new pods in {timeout:g}s")
            self.driver.sleep(1.0)

    def doctor(self) -> list[DoctorItem]:
        return self.driver.doctor()

    # -- cleanup
    @property
    def is_clean(self) -> bool:
        """True when there is nothing for cleanup() to undo."""
        return not self._applied and self._mesh_original is None and not self._label_originals

    def cleanup(self) -> list[str]:
        """Remove what this lab applied and restore the mesh config and labels it changed.

        Safe to call more than once, and it keeps going past errors so one failure doesn't leave the rest.
        Returns a line per thing it did.
        """
        done: list[str] = []
        errors: list[str] = []
        created_namespaces = {r.name for r in self._applied if r.kind == "Namespace" and r not in self._preexisting}
        for ref in reversed(self._applied):
            if ref in self._preexisting:
                done.append(f"kept {ref} (it existed before the lab)")
                continue
            try:
                if self.driver.delete(ref):
                    done.append(f"deleted {ref}")
            except Exception as exc:  # keep cleaning; report at the end
                errors.append(f"{ref}: {exc}")
        self._applied.clear()
        if self._mesh_original is not None:
            try:
                self.driver.patch(self._configmap_ref(), {"data": {MESH_KEY: self._mesh_original}})
                done.append("restored the mesh config (outbound policy)")
                self._mesh_original = None
            except Exception as exc:
                errors.append(f"mesh config: {exc}")
        for namespace, labels in list(self._label_originals.items()):
            if namespace in created_namespaces or self.driver.get(Ref("v1", "Namespace", None, namespace)) is None:
                del self._label_originals[namespace]  # the lab's own namespace: deleted above
                continue
            try:
                self.driver.patch(Ref("v1", "Namespace", None, namespace), {"metadata": {"labels": labels}})
                done.append(f"restored labels of namespace {namespace}")
                del self._label_originals[namespace]
            except Exception as exc:
                errors.append(f"labels of {namespace}: {exc}")
        if errors:
            raise LabkitError("cleanup left things behind:\n  " + "\n  ".join(errors), hint="run `labkit doctor`")
        return done


def _check_manifest_file(manifest: Manifest) -> None:
    """A manifest path that names no file: say which file in that folder was meant."""
    if not (isinstance(manifest, Path) or (isinstance(manifest, str) and manifests.looks_like_path(manifest))):
        return
    path = Path(manifest)
    if path.is_file():
        return
    folder = path.parent
    files = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    error = ManifestError([Problem(str(path), "", "file not found")])
    where = f"the files are in {folder}" if files else f"{folder} is not a folder with manifests"
    error.hint = did_you_mean(path.name, files, f"{where}; labkit.lab_file(lab, name) finds a lab's manifest")
    raise error


def _check_params(manifest: Manifest, params: Mapping[str, Any]) -> None:
    """A placeholder left without a value while a parameter nothing uses resembles it: name the parameter
    meant. (A parameter a file does not use is fine on its own: notebooks pass one set to several files.)"""
    wanted = _placeholders(manifest)
    unused = [name for name in params if name not in wanted]
    for missing in sorted(wanted - set(params)):
        typo = closest(missing, unused)
        if typo is not None:
            fix = f"{_source_name(manifest) or 'the manifest'} has the placeholder ${{{missing}}}"
            raise UnknownChoice("manifest parameter", typo, sorted(wanted), fix=f"pass {missing}=...; {fix}")


def _placeholders(manifest: Manifest) -> set[str]:
    """The ``${name}`` placeholders in a manifest's text (parsed manifests have none)."""
    import string

    if isinstance(manifest, (bytes, bytearray)):
        text = bytes(manifest).decode("utf-8", "replace")
    elif isinstance(manifest, Path) or (isinstance(manifest, str) and manifests.looks_like_path(manifest)):
        path = Path(manifest)
        text = path.read_text("utf-8", "replace") if path.is_file() else ""
    elif isinstance(manifest, str):
        text = manifest
    elif isinstance(manifest, (list, tuple)):  # not any iterable: reading a generator here would empty it
        return set().union(*(_placeholders(item) for item in manifest))
    else:
        return set()
    return {m["named"] or m["braced"] for m in string.Template.pattern.finditer(text) if m["named"] or m["braced"]}


def _check_container(pod: dict[str, Any], container: str) -> None:
    """Refuse a container the pod does not have (kubectl logs -c refuses it too)."""
    spec = pod.get("spec") or {}
    names = [c["name"] for key in ("containers", "initContainers") for c in spec.get(key) or [] if "name" in c]
    if names and container not in names:
        raise UnknownChoice(f"container of pod {pod['metadata']['name']}:", container, names)


def _source_name(manifest: Manifest) -> str:
    if isinstance(manifest, Path) or (isinstance(manifest, str) and manifests.looks_like_path(manifest)):
        return Path(manifest).name
    return ""


def _all_ready(pod: dict[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all(c.get("ready") for c in statuses)


def _restarted(pod: dict[str, Any], stamp: str) -> bool:
    annotations = pod["metadata"].get("annotations") or {}
    return annotations.get("kubectl.kubernetes.io/restartedAt") == stamp and not pod["metadata"].get(
        "deletionTimestamp"
    )
