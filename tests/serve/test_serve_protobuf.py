"""The protobuf bodies of ``kubectl create``: Kubernetes' envelope around the object's own message."""

from __future__ import annotations

import base64

import pytest

from labkit.serve import protobuf
from labkit.serve.status import ApiError


def varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return (
        protobuf.MAGIC + field(1, field(1, api_version) + field(2, kind)) + field(2, raw) + field(3, "") + field(4, "")
    )


def test_a_secret_as_kubectl_create_secret_sends_it() -> None:
    # Go writes empty strings and empty messages too (generateName, uid, creationTimestamp...).
    meta = field(1, "client-credential") + field(2, "") + field(3, "istio-system") + field(8, b"") + field(7, 0)
    meta += field(11, field(1, "app") + field(2, "nginx"))
    raw = field(1, meta) + field(2, field(1, "tls.crt") + field(2, b"\x00PEM")) + field(3, "Opaque") + field(9, "x")
    assert protobuf.decode(envelope("v1", "Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "client-credential", "namespace": "istio-system", "labels": {"app": "nginx"}},
        "data": {"tls.crt": base64.b64encode(b"\x00PEM").decode()},
        "type": "Opaque",
    }


def test_a_config_map_and_a_namespace() -> None:
    cm = field(1, field(1, "nginx-configmap")) + field(2, field(1, "nginx.conf") + field(2, "events {}\n"))
    assert protobuf.decode(envelope("v1", "ConfigMap", cm))["data"] == {"nginx.conf": "events {}\n"}
    ns = field(1, field(1, "test-egress")) + field(2, b"") + field(3, field(1, ""))
    assert protobuf.decode(envelope("v1", "Namespace", ns)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "test-egress"},
    }


def test_other_kinds_are_refused_with_a_hint() -> None:
    with pytest.raises(ApiError) as refused:
        protobuf.decode(envelope("apps/v1", "Deployment", field(1, field(1, "d"))))
    assert refused.value.code == 415 and "kubectl apply -f" in refused.value.message


def test_a_broken_body_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as broken:
        protobuf.decode(protobuf.MAGIC + b"\x0a\x7f\x01")
    assert broken.value.code == 400
