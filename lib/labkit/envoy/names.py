"""Names of everything one run creates, so parallel runs never collide and a reset can find leftovers.

Every network namespace is called ``lk-<run>-<role>``: ``<run>`` is six hex digits drawn per run, ``<role>``
is ``fabric``, ``internet`` or ``pod-<name>``. Interfaces live inside those namespaces, so their names only
need to be unique there.
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "lk-"
_RUN_ID = re.compile(r"[0-9a-f]{6}")
_NS_NAME = re.compile(r"lk-(?P<run>[0-9a-f]{6})-(?P<role>[a-z0-9][a-z0-9-]*)")
_POD_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def new_run_id() -> str:
    return secrets.token_hex(3)


def is_run_id(text: str) -> bool:
    return bool(_RUN_ID.fullmatch(text))


def netns_name(run_id: str, role: str) -> str:
    if not is_run_id(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    if not _POD_NAME.fullmatch(role.replace("pod-", "", 1)):
        raise ValueError(f"not a namespace role: {role!r}")
    return f"{PREFIX}{run_id}-{role}"


def pod_role(pod: str) -> str:
    """``pod-<name>`` for a pod name such as ``sleep`` or ``default.sleep`` (dots become dashes). A name
    longer than 40 characters (a Deployment's pod in istio-system, say) keeps its first 31 and a digest."""
    name = pod.lower().replace(".", "-")
    if not _POD_NAME.fullmatch(name):
        raise ValueError(f"pod name {pod!r} must be lower-case letters, digits, '-' or '.'")
    if len(name) > 40:
        name = f"{name[:31].rstrip('-')}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return f"pod-{name}"


def run_of(netns: str) -> str | None:
    """The run id in a namespace name this package made, or None for any other name."""
    m = _NS_NAME.fullmatch(netns)
    return m.group("run") if m else None
