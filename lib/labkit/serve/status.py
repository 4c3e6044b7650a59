"""API errors as the API server reports them: a ``Status`` object with an HTTP code and a reason."""

from __future__ import annotations

from typing import Any

from ..errors import Problem
from .resources import Resource


class ApiError(Exception):
    """Raised anywhere in request handling; the handler turns it into a ``Status`` response."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        return failure(self.code, self.reason, self.message, self.details)


def failure(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        status["details"] = details
    return status


def success(details: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        status["details"] = details
    return status


def _details(resource: Resource, name: str) -> dict[str, Any]:
    details = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return details


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource.qualified()} "{name}" not found', _details(resource, name))


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"})


def already_exists(resource: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{resource.qualified()} "{name}" already exists', _details(resource, name))


def conflict(resource: Resource, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource.qualified()} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(resource, name),
    )


def apply_conflict(resource: Resource, name: str, conflicts: list[tuple[str, str]]) -> ApiError:
    """Server-side apply met fields another manager owns: ``[(manager, field path)]``."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f'conflict with "{manager}"', "field": field}
        for manager, field in conflicts
    ]
    lines = "".join(f"\n- {c['message']}: {c['field']}" for c in causes)
    plural = "conflict" if len(conflicts) == 1 else "conflicts"
    return ApiError(
        409,
        "Conflict",
        f"Apply failed with {len(conflicts)} {plural}:{lines}",
        {**_details(resource, name), "causes": causes},
    )


def invalid(resource: Resource, name: str, problems: list[Problem]) -> ApiError:
    """422 Invalid, one cause per problem the strict schema checks found."""
    causes = [
        {
            "reason": _cause_reason(p.message),
            "message": p.message,
            "field": p.path,
        }
        for p in problems
    ]
    shown = [f"{p.path}: {p.message}" if p.path else p.message for p in problems]
    text = shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"
    details = {"name": name, "kind": resource.kind, "causes": causes}
    if resource.group:
        details["group"] = resource.group
    return ApiError(422, "Invalid", f'{resource.kind_qualified()} "{name}" is invalid: {text}', details)


def _cause_reason(message: str) -> str:
    """The metav1 CauseType of a field error, from how apimachinery's field errors begin."""
    if message.startswith("Too long"):
        return "FieldValueTooLong"
    return "FieldValueRequired" if "required" in message.lower() else "FieldValueInvalid"


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)
