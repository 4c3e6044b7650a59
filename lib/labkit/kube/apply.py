"""Creating, reading, patching and deleting any object, Istio CRs included, through the dynamic client.

Writes use server-side apply with labkit as the field manager, forcing conflicts: the labs own the
objects they declare, even fields a previous ``kubectl apply`` or an earlier lab run set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from kubernetes.dynamic.resource import ResourceList

from ..errors import LabkitError
from ..kinds import CLUSTER_LISTING, unknown_kind
from ..manifests import Ref, describe
from .apierror import is_not_found, message_of

FIELD_MANAGER = "labkit"
MERGE_PATCH = "application/merge-patch+json"
#: Seconds one API request may take before it fails instead of hanging a notebook cell.
REQUEST_TIMEOUT = 30


def apply_order(docs: list[dict[str, Any]]) -> list[int]:
    """Indexes of ``docs`` in the order to apply them: Namespaces first, otherwise as given."""
    return sorted(range(len(docs)), key=lambda i: 0 if docs[i].get("kind") == "Namespace" else 1)


def _to_dict(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return dict(obj)


def _unknown_kind(api_version: str, kind: str) -> LabkitError:
    istio = ".istio.io/" in api_version or api_version.startswith("istio.io/")
    hint = (
        "Istio's CRDs are missing or older than this API version: check `istioctl version` and "
        "`kubectl api-resources | grep istio.io`."
        if istio
        else f"Check `kubectl api-resources` for {kind}."
    )
    return LabkitError(f"the cluster does not serve {kind} in {api_version}", hint=hint)


class Objects:
    """Object CRUD on one cluster. ``dynamic`` is a DynamicClient or a callable returning one (lazy)."""

    def __init__(self, dynamic: Any | Callable[[], Any]) -> None:
        self._dynamic = dynamic
        self._resolved: Any = None if callable(dynamic) else dynamic

    @property
    def dynamic(self) -> Any:
        if self._resolved is None:
            self._resolved = self._dynamic()
        return self._resolved

    def resource(self, api_version: str, kind: str) -> Any:
        """The API resource serving ``kind`` in ``api_version``. Raises ResourceNotFoundError."""
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Server-side apply every document, Namespaces first; return the stored objects in input order.

        Stops at the first document the server rejects; the error says which documents were applied.
        """
        stored: dict[int, dict[str, Any]] = {}
        for index in apply_order(docs):
            doc = docs[index]
            ref = Ref.of(doc)
            where = describe(doc, index + 1)
            try:
                resource = self.resource(ref.api_version, ref.kind)
                result = resource.server_side_apply(
                    body=doc,
                    name=ref.name,
                    namespace=ref.namespace if resource.namespaced else None,
                    field_manager=FIELD_MANAGER,
                    force_conflicts=True,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except ResourceNotFoundError:
                error = _unknown_kind(ref.api_version, ref.kind)
                raise LabkitError(
                    f"cannot apply {where}: {error.args[0]}", hint=self._hint(stored, docs, error)
                ) from None
            except ApiException as exc:
                raise LabkitError(
                    f"the cluster rejected {where}: {message_of(exc)}", hint=self._hint(stored, docs)
                ) from None
            stored[index] = _to_dict(result)
        return [stored[i] for i in range(len(docs))]

    @staticmethod
    def _hint(stored: Mapping[int, Any], docs: list[dict[str, Any]], cause: LabkitError | None = None) -> str:
        done = ", ".join(str(Ref.of(docs[i])) for i in sorted(stored)) or "none"
        lead = f"{cause.hint} " if cause and cause.hint else ""
        return f"{lead}Already applied: {done}. Fix the document and apply again (apply is idempotent)."

    def delete(self, ref: Ref) -> bool:
        """Delete one object; False when it (or its kind) does not exist."""
        try:
            resource = self.resource(ref.api_version, ref.kind)
            resource.delete(
                name=ref.name,
                namespace=ref.namespace if resource.namespaced else None,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ResourceNotFoundError:
            return False
        except ApiException as exc:
            if is_not_found(exc):
                return False
            raise LabkitError(f"cannot delete {ref}: {message_of(exc)}") from None
        return True

    def get(self, ref: Ref) -> dict[str, Any] | None:
        """The object as stored, None when it does not exist."""
        try:
            resource = self.resource(ref.api_version, ref.kind)
            obj = resource.get(
                name=ref.name,
                namespace=ref.namespace if resource.namespaced else None,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ResourceNotFoundError:
            return None
        except ApiException as exc:
            if is_not_found(exc):
                return None
            raise LabkitError(f"cannot read {ref}: {message_of(exc)}") from None
        return _to_dict(obj)

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects of one kind (all namespaces when ``namespace`` is None) matching a label selector."""
        try:
            resource = self.resource(api_version, kind)
            result = resource.get(
                namespace=namespace if resource.namespaced else None,
                label_selector=selector or None,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ResourceNotFoundError:
            return []
        except ApiException as exc:
            if is_not_found(exc):
                return []
            raise LabkitError(f"cannot list {kind} ({api_version}): {message_of(exc)}") from None
        items = _to_dict(result).get("items") or []
        # List responses leave apiVersion/kind off the items; put them back so each item stands alone.
        return [{"apiVersion": api_version, "kind": kind, **item} for item in items]

    def served_kinds(self) -> list[tuple[str, str]]:
        """(apiVersion, kind) of every listable resource the API serves, at its preferred version."""
        found: dict[tuple[str, str], str] = {}
        for resource in self.dynamic.resources.search():
            if isinstance(resource, ResourceList) or "list" not in (resource.verbs or []):
                continue
            key = (resource.group or "", resource.kind)
            if resource.preferred or key not in found:
                found[key] = resource.group_version
        return [(api_version, kind) for (_, kind), api_version in sorted(found.items())]

    def check_kind(self, api_version: str, kind: str) -> None:
        """Raise UnknownKind, with the closest kind API discovery names, unless the API serves ``kind``
        at ``api_version``."""
        try:
            self.resource(api_version, kind)
        except ResourceNotFoundError:
            raise unknown_kind(api_version, kind, self.served_kinds(), CLUSTER_LISTING) from None

    def patch(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        """JSON merge patch (RFC 7386): maps merge, lists are replaced, null deletes a key."""
        try:
            resource = self.resource(ref.api_version, ref.kind)
            result = resource.patch(
                body=dict(patch),
                name=ref.name,
                namespace=ref.namespace if resource.namespaced else None,
                content_type=MERGE_PATCH,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ResourceNotFoundError:
            raise _unknown_kind(ref.api_version, ref.kind) from None
        except ApiException as exc:
            raise LabkitError(
                f"cannot patch {ref}: {message_of(exc)}",
                hint="Apply the object first." if is_not_found(exc) else "",
            ) from None
        return _to_dict(result)
