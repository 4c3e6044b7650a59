"""RBAC objects are stored and listed, never enforced; the one rule the API server keeps for them on an
update: a binding's roleRef cannot change (delete and re-create the binding instead)."""

from __future__ import annotations

from typing import Any

from ..errors import Problem

BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})

#: Groups whose objects the practice cluster keeps but does not enforce on API requests: every request
#: is allowed, and no admission policy runs. A write to one gets a warning saying so (kubectl prints it as
#: "Warning: ..."), with what the simulator does read of them.
NOT_ENFORCED = {
    "rbac.authorization.k8s.io": (
        "RBAC is not enforced on API requests (every request is allowed); the simulator reads RoleBindings only "
        "to decide whether a Gateway API gateway may read its credentialName Secrets, as istiod does"
    ),
    "admissionregistration.k8s.io": "admission policies are not run: no request is checked by them",
}


def not_enforced_warning(group: str, kind: str) -> str | None:
    """The warning for a write of ``kind`` in ``group``, or None when the cluster enforces that kind."""
    why = NOT_ENFORCED.get(group)
    if why is None:
        return None
    return f"labkit serve stores {kind} objects: {why}; try the rest on a kind cluster"


def update_problems(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[Problem]:
    """kubernetes pkg/apis/rbac/validation ValidateRoleBindingUpdate: ``cannot change roleRef``."""
    if kind not in BINDINGS or (new.get("roleRef") or {}) == (old.get("roleRef") or {}):
        return []
    ref = new.get("roleRef") or {}
    fields = ", ".join(
        f'{go}:"{ref.get(key, "")}"' for go, key in (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))
    )
    shown = f"rbac.RoleRef{{{fields}}}"  # how Go's %#v prints the new value
    return [Problem("", "roleRef", f"Invalid value: {shown}: cannot change roleRef")]
