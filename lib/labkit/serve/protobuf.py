"""Reading the protobuf bodies ``kubectl create`` sends, for the kinds the tutorials create that way.

kubectl (1.26 and later at least) sends built-in objects from its typed clients as protobuf: ``kubectl
create namespace``, ``create secret``, ``create configmap``, ``create serviceaccount``, ``create role``
and ``create rolebinding`` among them, and it does not fall back to JSON when refused. The Kubernetes
encoding is the magic ``k8s\\x00`` and a ``runtime.Unknown`` (type meta, then the object's own protobuf
bytes). No Python package carries Kubernetes' protobuf schemas, so the few messages needed are listed
here by field number, from Kubernetes' ``generated.proto``; fields not listed (status, uid, ...) are
skipped, as the API server would ignore or overwrite them on create anyway. Other kinds are refused
with 415 and a hint.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from .status import ApiError

MAGIC = b"k8s\x00"

STRING, BYTES, BOOL = "string", "bytes", "bool"
#: field number -> (JSON name, type): a scalar type, a nested Schema, ("map", value type) or ("repeated", type)
Schema = dict[int, tuple[str, Any]]

OBJECT_META: Schema = {
    1: ("name", STRING),
    2: ("generateName", STRING),
    3: ("namespace", STRING),
    11: ("labels", ("map", STRING)),
    12: ("annotations", ("map", STRING)),
    14: ("finalizers", ("repeated", STRING)),
}
#: The kinds ``kubectl create <kind>`` makes that the labs' tutorials use.
KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", ("repeated", STRING))})},
    ("v1", "ConfigMap"): {
        1: ("metadata", OBJECT_META),
        2: ("data", ("map", STRING)),
        3: ("binaryData", ("map", BYTES)),
        4: ("immutable", BOOL),
    },
    ("v1", "Secret"): {
        1: ("metadata", OBJECT_META),
        2: ("data", ("map", BYTES)),
        3: ("type", STRING),
        4: ("stringData", ("map", STRING)),
        5: ("immutable", BOOL),
    },
    ("v1", "ServiceAccount"): {1: ("metadata", OBJECT_META), 4: ("automountServiceAccountToken", BOOL)},
}
# k8s.io/api/rbac/v1 generated.proto, and the label selector of apimachinery's meta/v1.
_POLICY_RULE: Schema = {
    1: ("verbs", ("repeated", STRING)),
    2: ("apiGroups", ("repeated", STRING)),
    3: ("resources", ("repeated", STRING)),
    4: ("resourceNames", ("repeated", STRING)),
    5: ("nonResourceURLs", ("repeated", STRING)),
}
_SUBJECT: Schema = {1: ("kind", STRING), 2: ("apiGroup", STRING), 3: ("name", STRING), 4: ("namespace", STRING)}
_ROLE_REF: Schema = {1: ("apiGroup", STRING), 2: ("kind", STRING), 3: ("name", STRING)}
_LABEL_SELECTOR: Schema = {
    1: ("matchLabels", ("map", STRING)),
    2: (
        "matchExpressions",
        ("repeated", {1: ("key", STRING), 2: ("operator", STRING), 3: ("values", ("repeated", STRING))}),
    ),
}
_RBAC = "rbac.authorization.k8s.io/v1"
_BINDING: Schema = {1: ("metadata", OBJECT_META), 2: ("subjects", ("repeated", _SUBJECT)), 3: ("roleRef", _ROLE_REF)}
KINDS.update(
    {
        (_RBAC, "Role"): {1: ("metadata", OBJECT_META), 2: ("rules", ("repeated", _POLICY_RULE))},
        (_RBAC, "ClusterRole"): {
            1: ("metadata", OBJECT_META),
            2: ("rules", ("repeated", _POLICY_RULE)),
            3: ("aggregationRule", {1: ("clusterRoleSelectors", ("repeated", _LABEL_SELECTOR))}),
        },
        (_RBAC, "RoleBinding"): _BINDING,
        (_RBAC, "ClusterRoleBinding"): _BINDING,
    }
)
TYPE_META: Schema = {1: ("apiVersion", STRING), 2: ("kind", STRING)}


class DecodeError(Exception):
    pass


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data):
            raise DecodeError("truncated varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            yield number, value
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise DecodeError("truncated field")
            yield number, data[i : i + size]
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4  # fixed-size numbers: none of the fields read here
        else:
            raise DecodeError(f"unsupported wire type {wire}")


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind == BOOL:
        return bool(value)
    if not isinstance(value, bytes):
        raise DecodeError(f"expected a {kind}, got a number")
    return value.decode() if kind == STRING else base64.b64encode(value).decode()  # JSON carries bytes as base64


def _message(data: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, dict):
            if not isinstance(value, bytes):
                raise DecodeError(f"{name}: expected a message")
            out[name] = _message(value, kind)
        elif isinstance(kind, tuple) and kind[0] == "map":
            entry = _message(value, {1: ("key", STRING), 2: ("value", kind[1])}) if isinstance(value, bytes) else {}
            out.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "")
        elif isinstance(kind, tuple) and kind[0] == "repeated" and isinstance(kind[1], dict):
            if not isinstance(value, bytes):
                raise DecodeError(f"{name}: expected a message")
            out.setdefault(name, []).append(_message(value, kind[1]))
        elif isinstance(kind, tuple) and kind[0] == "repeated":
            out.setdefault(name, []).append(_scalar(kind[1], value))
        else:
            out[name] = _scalar(kind, value)
    # Go writes empty strings and messages too; JSON (omitempty) would not.
    return {k: v for k, v in out.items() if v not in ("", {}, [], False)}


def decode(body: bytes) -> dict[str, Any]:
    """The object in a ``application/vnd.kubernetes.protobuf`` body, as the JSON the API would accept."""
    unsupported = ApiError(
        415,
        "UnsupportedMediaType",
        "labkit serve reads protobuf only for "
        + ", ".join(kind for _, kind in KINDS)
        + "; send other kinds as JSON or YAML (kubectl apply -f ...)",
    )
    if not body.startswith(MAGIC):
        raise unsupported
    try:
        # runtime.Unknown: 1 = type meta, 2 = the object's own bytes
        type_meta: dict[str, Any] = {}
        raw = b""
        for number, value in _fields(body[len(MAGIC) :]):
            if number == 1 and isinstance(value, bytes):
                type_meta = _message(value, TYPE_META)
            elif number == 2 and isinstance(value, bytes):
                raw = value
        key = (type_meta.get("apiVersion", ""), type_meta.get("kind", ""))
        if key not in KINDS:
            raise unsupported
        return {"apiVersion": key[0], "kind": key[1], **_message(raw, KINDS[key])}
    except DecodeError as exc:
        raise ApiError(400, "BadRequest", f"the protobuf body could not be read: {exc}") from None
