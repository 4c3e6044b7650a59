"""ConfigMap and Secret data as the API server checks it (the simulator's schema does not):

* ``data`` of a Secret and ``binaryData`` of a ConfigMap are base64; anything else cannot even be
  decoded: 400 ``Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte N``;
* every key is a valid config key (``IsConfigMapKey``: ``[-._a-zA-Z0-9]+``, at most 253 characters,
  not ``.`` or ``..``, not starting with ``..``), else 422 Invalid;
* the data adds up to at most 1 MiB (``MaxSecretSize``), else 422 ``Too long: must have at most 1048576 bytes``.

No message quotes a value: a Secret's values are secret.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from typing import Any

from ..errors import Problem
from .status import bad_request

#: core.MaxSecretSize, which ConfigMaps share.
MAX_SIZE = 1024 * 1024
TOO_LONG = f"Too long: must have at most {MAX_SIZE} bytes"
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/")


def _bad_base64_at(text: str) -> int | None:
    """Where Go's base64.StdEncoding stops decoding ``text`` (it skips newlines), or None when it decodes."""
    chars = [(i, c) for i, c in enumerate(text) if c not in "\r\n"]
    padding = 0
    while padding < 2 and padding < len(chars) and chars[len(chars) - padding - 1][1] == "=":
        padding += 1
    for i, c in chars[: len(chars) - padding]:
        if c not in _ALPHABET:
            return i
    if len(chars) % 4:
        return chars[len(chars) - len(chars) % 4][0]  # the incomplete last quantum
    return None


def _decoded_length(value: str) -> int:
    try:
        return len(base64.b64decode(value))
    except (binascii.Error, ValueError):
        return len(value)


def decode(obj: dict[str, Any]) -> None:
    """Raise the 400 the API server answers when a Secret's ``data`` (a ConfigMap's ``binaryData``) is not base64."""
    kind = obj.get("kind")
    field = {"Secret": "data", "ConfigMap": "binaryData"}.get(str(kind))
    data = obj.get(field) if field else None
    if not isinstance(data, dict):
        return
    for value in data.values():
        at = _bad_base64_at(value) if isinstance(value, str) else 0
        if at is not None:
            raise bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data at input byte {at}'
            )


def _key_problems(field: str, data: dict[str, Any]) -> list[Problem]:
    found = []
    for key in data:
        text = str(key)
        if len(text) > 253 or not _KEY.fullmatch(text) or text in (".", "..") or text.startswith(".."):
            found.append(Problem("", f"{field}[{text}]", f'Invalid value: "{text}": {_KEY_RULE}'))
    return found


def problems(obj: dict[str, Any]) -> list[Problem]:
    """Key names and total size of a ConfigMap's or Secret's data (after ``decode`` passed)."""
    kind = obj.get("kind")
    if kind not in ("ConfigMap", "Secret"):
        return []
    fields = ("data", "binaryData") if kind == "ConfigMap" else ("data", "stringData")
    maps: dict[str, dict[str, Any]] = {f: obj[f] for f in fields if isinstance(obj.get(f), dict)}
    found = [p for f, data in maps.items() for p in _key_problems(f, data)]
    if found:
        return found
    size = 0
    for field, data in maps.items():
        binary = field == "binaryData" or (kind == "Secret" and field == "data")
        size += sum(int(len(str(k)) + (_decoded_length(str(v)) if binary else len(str(v)))) for k, v in data.items())
    if size > MAX_SIZE:
        return [Problem("", "[]" if kind == "ConfigMap" else "data", TOO_LONG)]
    return []
