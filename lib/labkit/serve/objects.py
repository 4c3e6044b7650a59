"""Object CRUD over the simulator's store, with the API server's rules.

Reads and writes go through ``Mesh.put``/``Mesh.remove``, so the simulator's controllers react as
they do for ``SimBackend.apply`` (Deployments get pods at once, sidecars are injected, Istio config
reaches the proxies after the push delay). On top, this module does what the API server does:
resourceVersion preconditions, generation, managed fields and server-side apply, and the same strict
validation the simulator applies (``labkit.schema.problems``), reported as 422 Invalid with causes.
The caller holds the server's lock: the simulator is not thread-safe.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import uuid
from datetime import datetime, timezone
from typing import Any

from .. import schema, yamlsafe
from ..errors import Problem
from ..manifests import Ref
from ..sim import SimBackend, coverage
from . import configdata, crds, fields, gatewayapi, patches, protobuf, rbac, status
from .catalog import Catalog
from .present import complete, list_item, served
from .resources import APIEXTENSIONS, ISTIO, Resource
from .selectors import field_matcher, label_matcher
from .status import ApiError, bad_request
from .watch import Journal, observe

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
#: How the simulator's store names the uids it assigns itself.
SIM_UID = "sim-"
#: Kinds whose spec changes bump metadata.generation (workloads and custom resources).
_GENERATION_GROUPS = frozenset({"apps", "networking.k8s.io", ISTIO, APIEXTENSIONS})
#: The API server's limit on all of an object's annotations together, keys and values
#: (apimachinery ValidateAnnotationsSize, TotalAnnotationSizeLimitB).
ANNOTATIONS_LIMIT = 256 * 1024


def now() -> str:
    """Server timestamps are wall-clock time, so ``kubectl get`` shows sensible ages."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_body(raw: bytes, content_type: str) -> Any:
    """JSON, or YAML for apply patches and ``application/yaml``, with YAML's limits (see ``yamlsafe``).

    Called before the server's lock is taken: parsing a large body holds up no other request.
    """
    if "protobuf" in content_type:
        return protobuf.decode(raw)
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the request body is not UTF-8 text (byte {exc.start})") from None
    what = content_type or "JSON"
    try:
        if "yaml" in content_type:
            return yamlsafe.load(text)
        value = json.loads(text)
    except yamlsafe.YamlRefused as exc:
        raise bad_request(f"the request body is not valid {what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"the request body is not valid {what}: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise bad_request(f"the request body is nested deeper than {yamlsafe.MAX_DEPTH} levels") from None
    if _depth(value) > yamlsafe.MAX_DEPTH:
        raise bad_request(f"the request body is nested deeper than {yamlsafe.MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """How deep lists and objects nest in ``value`` (iterative: a deep value cannot overflow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level > yamlsafe.MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


class Objects:
    """The API verbs for the kinds in ``resources``, answered from ``sim``'s store."""

    def __init__(self, sim: SimBackend, *, gateway_api: bool = True) -> None:
        self.sim = sim
        self.mesh = sim.mesh
        self.catalog = Catalog(self.mesh.store)
        if gateway_api:  # as a cluster where the Gateway API CRDs were installed (see ``gatewayapi``)
            for crd in gatewayapi.crds():
                if self.mesh.store.raw(APIEXTENSIONS, crd["kind"], None, crd["metadata"]["name"]) is None:
                    self.mesh.put(crd)
        #: uid -> creationTimestamp for objects the simulator made (see ``present.served``)
        self.born: dict[str, str] = {}
        started = now()
        for r in self.catalog.resources():
            for obj in self.mesh.store.select(r.group, r.kind):
                self.born[obj["metadata"]["uid"]] = started
        self.journal = Journal()
        observe(self.mesh.store, self.journal)

    def _note_births(self, since: int) -> None:
        """Pods the Deployment controller made in the write after journal position ``since`` are born now."""
        for change in self.journal.recent(since):
            uid = str((change.obj.get("metadata") or {}).get("uid") or "")
            if change.type == "ADDED" and change.key[1] == "Pod" and uid.startswith(SIM_UID):
                self.born.setdefault(uid, now())

    def show(self, obj: dict[str, Any], r: Resource, version: str) -> dict[str, Any]:
        """A stored object as the API returns it at ``version``."""
        return served(obj, r, version, self.mesh.store, self.born)

    # -- reads
    def resource_version(self) -> str:
        return str(self.mesh.store.version)

    def _raw(self, r: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.mesh.store.raw(r.group, r.kind, namespace if r.namespaced else None, name)

    def _existing(self, r: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._raw(r, namespace, name)
        if obj is None:
            raise status.not_found(r, name)
        return copy.deepcopy(obj)

    def get(self, r: Resource, version: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self.show(self._existing(r, namespace, name), r, version)

    def items(
        self, r: Resource, version: str, namespace: str | None, labels: str | None = None, field: str | None = None
    ) -> list[dict[str, Any]]:
        """The objects a list returns, completed, in namespace/name order."""
        by_label, by_field = label_matcher(labels), field_matcher(field)
        out = []
        for obj in self.mesh.store.select(r.group, r.kind, namespace if r.namespaced else None):
            shown = self.show(obj, r, version)
            if by_label(shown) and by_field(shown):
                out.append(shown)
        return out

    def list(
        self, r: Resource, version: str, namespace: str | None, labels: str | None = None, field: str | None = None
    ) -> dict[str, Any]:
        return {
            "kind": f"{r.kind}List",
            "apiVersion": r.api_version(version),
            "metadata": {"resourceVersion": self.resource_version()},
            "items": [list_item(o, r) for o in self.items(r, version, namespace, labels, field)],
        }

    # -- writes
    def create(
        self, r: Resource, version: str, namespace: str | None, body: Any, manager: str, dry_run: bool = False
    ) -> dict[str, Any]:
        obj = self._body(r, version, namespace, body)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        name = meta.get("name") or ""
        if not name:
            raise status.invalid(r, "", [Problem("", "metadata.name", "name or generateName is required")])
        if self._raw(r, namespace, name) is not None:
            raise status.already_exists(r, name)
        obj.pop("status", None)
        if r.kind == "Namespace":
            # The API server labels every namespace with its own name (Kubernetes >= 1.21).
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        fields.record_update(None, obj, manager, api_version=obj["apiVersion"], now=now(), associative=_assoc(r))
        return self._commit(r, version, None, obj, dry_run)

    def update(
        self,
        r: Resource,
        version: str,
        namespace: str | None,
        name: str,
        body: Any,
        manager: str,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        obj = self._body(r, version, namespace, body, name)
        old = self._existing(r, namespace, name)
        sent = obj["metadata"].get("resourceVersion")
        if not sent:
            raise status.invalid(r, name, [Problem("", "metadata.resourceVersion", "must be specified for an update")])
        if str(sent) != old["metadata"].get("resourceVersion"):
            raise status.conflict(r, name)
        fields.record_update(old, obj, manager, api_version=obj["apiVersion"], now=now(), associative=_assoc(r))
        return self._commit(r, version, old, obj, dry_run)

    def patch(
        self,
        r: Resource,
        version: str,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        manager: str | None,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Apply one PATCH; returns the object and whether it was created (server-side apply only)."""
        if content_type == APPLY_PATCH:
            return self._apply(r, version, namespace, name, body, manager, force, dry_run)
        old = self._existing(r, namespace, name)
        if content_type == MERGE_PATCH:
            if not isinstance(body, dict):
                raise bad_request("a merge patch must be a JSON object")
            new = patches.merge_patch(old, body)
        elif content_type == STRATEGIC_PATCH:
            if r.group == ISTIO or r.custom:  # custom resources take no strategic merge patch
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}",
                )
            if not isinstance(body, dict):
                raise bad_request("a strategic merge patch must be a JSON object")
            new = patches.strategic_merge(old, body)
        elif content_type == JSON_PATCH:
            new = patches.json_patch(old, body)
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the media type {content_type!r} is not a patch format")
        if not isinstance(new, dict):
            raise bad_request("the patch does not leave an object")
        new_meta = new.setdefault("metadata", {})
        if new_meta.get("name") != name or (r.namespaced and new_meta.get("namespace") != namespace):
            raise bad_request("a patch cannot change the name or namespace of an object")
        sent = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        if sent and str(sent) != old["metadata"].get("resourceVersion"):
            raise status.conflict(r, name)
        new["status"] = old.get("status")
        if new["status"] is None:
            new.pop("status")
        fields.record_update(
            old, new, manager or "unknown", api_version=r.api_version(version), now=now(), associative=_assoc(r)
        )
        return self._commit(r, version, old, new, dry_run), False

    def _apply(
        self,
        r: Resource,
        version: str,
        namespace: str | None,
        name: str,
        body: Any,
        manager: str | None,
        force: bool,
        dry_run: bool,
    ) -> tuple[dict[str, Any], bool]:
        if not manager:
            raise bad_request("PATCH requests with content type application/apply-patch+yaml require fieldManager")
        if not isinstance(body, dict) or not body.get("apiVersion") or not body.get("kind"):
            raise bad_request("an applied configuration must have apiVersion and kind")
        config = self._body(r, version, namespace, body, name)
        if config["metadata"].get("managedFields"):
            raise bad_request("metadata.managedFields must be nil in an applied configuration")
        config["metadata"].pop("resourceVersion", None)
        live = self._raw(r, namespace, name)
        if live is None:
            self._require_namespace(r, namespace)
        old = copy.deepcopy(live) if live is not None else None
        result, conflicts = fields.server_side_apply(
            old,
            config,
            manager,
            force=force,
            api_version=config["apiVersion"],
            now=now(),
            associative=_assoc(r),
        )
        if conflicts and not force:
            raise status.apply_conflict(r, name, conflicts)
        if old is not None:
            result["status"] = old.get("status")
            if result["status"] is None:
                result.pop("status")
        else:
            result.pop("status", None)
            if r.kind == "Namespace":
                result["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        return self._commit(r, version, old, result, dry_run), old is None

    def delete(self, r: Resource, version: str, namespace: str | None, name: str, dry_run: bool = False) -> dict:
        old = self._existing(r, namespace, name)
        shown = self.show(old, r, version)
        if not dry_run:
            defined = crds.resource_of(old) if r.kind == "CustomResourceDefinition" else None
            serving = defined and self.catalog.lookup(defined.group, defined.versions[0], defined.plural)
            if defined is not None and serving and serving.custom:
                # Deleting a CRD deletes every object of its kind (the customresourcecleanup finalizer).
                # Istio's kinds are labkit's own here: deleting their CRD object leaves them be.
                for obj in list(self.mesh.store.select(defined.group, defined.kind)):
                    meta = obj["metadata"]
                    self.mesh.remove(Ref(defined.api_version(), defined.kind, meta.get("namespace"), meta["name"]))
            self.mesh.remove(Ref(r.api_version(), r.kind, namespace if r.namespaced else None, name))
            if r.kind == "CustomResourceDefinition":
                self.catalog.changed()
        return shown

    # -- helpers
    def _require_namespace(self, r: Resource, namespace: str | None) -> None:
        if r.namespaced and self.mesh.store.raw("", "Namespace", None, namespace or "") is None:
            raise status.namespace_not_found(namespace or "")

    def _body(
        self, r: Resource, version: str, namespace: str | None, body: Any, name: str | None = None
    ) -> dict[str, Any]:
        """The request's object, checked against the URL, with the namespace filled in."""
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        obj = copy.deepcopy(body)
        expected = r.api_version(version)
        if obj.get("apiVersion", expected) != expected:
            raise bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) does not match the expected API version "
                f"({expected})"
            )
        if obj.get("kind", r.kind) != r.kind:
            raise bad_request(f"the kind in the data ({obj.get('kind')}) does not match the expected kind ({r.kind})")
        obj["apiVersion"], obj["kind"] = r.api_version(), r.kind  # stored at the preferred version
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if name is not None and meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if name is not None:
            meta["name"] = name
        if r.namespaced:
            if meta.get("namespace", namespace) != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
            if name is None:
                self._require_namespace(r, namespace)
        else:
            meta.pop("namespace", None)
        return obj

    def _validate(self, r: Resource, version: str, new: dict[str, Any]) -> None:
        """Refuse, as 422 Invalid, an object the API server would not store.

        A custom resource is checked against the schema of the version it was sent in (each CRD version
        carries its own openAPIV3Schema; Kubernetes docs, "Versions in CustomResourceDefinitions"), so a
        TLSRoute sent as v1alpha2 may leave out the hostnames v1 requires; it is stored at the preferred
        version all the same."""
        configdata.decode(new)
        checked = _validation_view(new, self.mesh.store)
        checked["apiVersion"] = r.api_version(version)
        # ... and Istio fields the simulator does not model, refused by name (sim.coverage)
        problems = (
            _annotation_problems(new)
            or configdata.problems(new)
            or schema.problems(checked, 1)
            or coverage.problems(checked, 1)
        )
        if not problems and r.kind == "CustomResourceDefinition":
            problems = crds.problems(new, [s for s in self.catalog.resources() if s.custom])
        if problems:
            raise status.invalid(r, new["metadata"].get("name", ""), problems)

    def _commit(
        self, r: Resource, version: str, old: dict[str, Any] | None, new: dict[str, Any], dry_run: bool
    ) -> dict[str, Any]:
        """Set the server's metadata, validate, store; returns the object as served."""
        meta = new["metadata"]
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if r.group in _GENERATION_GROUPS or r.custom:
                meta["generation"] = 1
        else:
            old_meta = old["metadata"]
            for key in ("uid", "creationTimestamp"):
                if old_meta.get(key) is not None:
                    meta[key] = old_meta[key]
            if r.group in _GENERATION_GROUPS or r.custom:
                changed = _without(new, "metadata", "status") != _without(old, "metadata", "status")
                meta["generation"] = int(old_meta.get("generation") or 1) + (1 if changed else 0)
            else:
                meta.pop("generation", None)
        meta.pop("resourceVersion", None)
        immutable = rbac.update_problems(r.kind, old, new) if old is not None else []
        if immutable:
            raise status.invalid(r, meta.get("name", ""), immutable)
        self._validate(r, version, new)
        if dry_run:
            if old is not None:
                meta["resourceVersion"] = old["metadata"].get("resourceVersion")
            return self.show(new, r, version)
        mark = self.journal.position
        stored = self.mesh.put(new)
        if r.kind == "CustomResourceDefinition":
            self.catalog.changed()
        self._note_births(mark)
        return self.show(stored, r, version)


def _assoc(r: Resource) -> bool:
    """Built-in kinds merge keyed lists element by element; custom resources' lists are atomic."""
    return r.group != ISTIO and not r.custom


def _annotation_problems(obj: dict[str, Any]) -> list[Problem]:
    """The total size limit on annotations: the one a large CRD's last-applied-configuration meets when
    applied client-side (kubernetes-sigs/gateway-api#4156: the experimental HTTPRoute CRD)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict):
        return []
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_LIMIT:
        return [Problem("", "metadata.annotations", f"Too long: may not be more than {ANNOTATIONS_LIMIT} bytes")]
    return []


def _without(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def _validation_view(obj: dict[str, Any], store: Any) -> dict[str, Any]:
    """What the strict checks see: the object as served (owner uids filled), without status."""
    view = copy.deepcopy(obj)
    complete(view, store)
    view.pop("status", None)
    view.get("metadata", {}).pop("managedFields", None)
    return view
