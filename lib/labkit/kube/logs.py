"""Reading a container's log (access logs of the sidecar or the egress gateway, mostly)."""

from __future__ import annotations

import math
from typing import Any

from kubernetes.client.exceptions import ApiException

from ..errors import LabkitError
from .apierror import message_of

REQUEST_TIMEOUT = 30


def read_lines(
    core: Any,
    namespace: str,
    pod: str,
    container: str,
    since_seconds: float | None = None,
    *,
    kubectl: str = "kubectl",
) -> list[str]:
    """The container's log as lines; ``since_seconds`` limits it to the last N seconds (rounded up)."""
    kwargs: dict[str, Any] = {"container": container, "_request_timeout": REQUEST_TIMEOUT}
    if since_seconds is not None:
        # The API takes whole seconds (at least 1).
        kwargs["since_seconds"] = max(1, math.ceil(since_seconds))
    try:
        text = core.read_namespaced_pod_log(pod, namespace, **kwargs)
    except ApiException as exc:
        raise LabkitError(
            f"cannot read the log of {namespace}/{pod} container {container}: {message_of(exc)}",
            hint=f"Try: {kubectl} -n {namespace} logs {pod} -c {container}",
        ) from None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return (text or "").splitlines()
