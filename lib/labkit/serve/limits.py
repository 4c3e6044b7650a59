"""The API server's size limits on ConfigMaps and Secrets, which the simulator's schema does not check.

kube-apiserver's ``ValidateConfigMap`` adds up every key and value of ``data`` and ``binaryData``
and ``ValidateSecret`` every key and decoded value of ``data``; past ``MaxSecretSize`` (1 MiB) the
object is Invalid with ``Too long: must have at most 1048576 bytes``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..errors import Problem

#: core.MaxSecretSize, which ConfigMaps share.
MAX_SIZE = 1024 * 1024
TOO_LONG = f"Too long: must have at most {MAX_SIZE} bytes"


def _decoded_length(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value))  # not base64: the schema says so; count it as sent


def problems(obj: dict[str, Any]) -> list[Problem]:
    kind = obj.get("kind")
    if kind == "ConfigMap":
        data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
        if not isinstance(data, dict) or not isinstance(binary, dict):
            return []  # a wrong shape is the schema's to report
        size = sum(len(str(k)) + len(str(v)) for k, v in data.items())
        size += sum(len(str(k)) + _decoded_length(v) for k, v in binary.items())
        return [Problem("", "[]", TOO_LONG)] if size > MAX_SIZE else []
    if kind == "Secret":
        data = obj.get("data") or {}
        if not isinstance(data, dict):
            return []
        size = sum(len(str(k)) + _decoded_length(v) for k, v in data.items())
        return [Problem("", "data", TOO_LONG)] if size > MAX_SIZE else []
    return []
