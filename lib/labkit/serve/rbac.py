"""RBAC objects are stored and listed, never enforced; the one rule the API server keeps for them on an
update: a binding's roleRef cannot change (delete and re-create the binding instead)."""

from __future__ import annotations

from typing import Any

from ..errors import Problem

BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})


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
