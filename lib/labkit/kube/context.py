"""Which kube context labkit talks to, and whether it may.

The labs change mesh-wide Istio configuration (outbound policy, gateways, sidecar scopes), so labkit
only touches clusters that are obviously lab clusters: kind clusters (contexts named ``kind-*``) or
a context the user named explicitly. The guard runs before any API call.
"""

from __future__ import annotations

import os

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from ..errors import BackendUnavailable, ContextNotAllowed, closest

#: Environment variable naming one extra context labkit may use.
ALLOW_ENV = "LABKIT_ALLOW_CONTEXT"
#: Prefix of the contexts kind writes (``kind create cluster --name x`` -> ``kind-x``).
KIND_PREFIX = "kind-"
DEFAULT_KUBECONFIG = "~/.kube/config"


def kubeconfig_path(kubeconfig: str | None = None) -> str:
    """The kubeconfig to read: the argument, else ``$KUBECONFIG`` (may list several), else the default."""
    return kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG


def list_contexts(kubeconfig: str | None = None) -> tuple[list[str], str | None]:
    """Context names in the kubeconfig and the current one. Raises BackendUnavailable if it can't be read."""
    path = kubeconfig_path(kubeconfig)
    try:
        contexts, current = k8s_config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise BackendUnavailable(
            f"cannot read a kubeconfig from {path}: {exc}",
            hint="Create a lab cluster with `kind create cluster --name istio-labs`, "
            "or pass kubeconfig=... / set KUBECONFIG.",
        ) from None
    names = [c.get("name", "") for c in contexts or [] if isinstance(c, dict)]
    return names, (current or {}).get("name") if isinstance(current, dict) else None


def resolve_context(context: str | None = None, kubeconfig: str | None = None) -> str:
    """The context to use: ``context`` if given (it must exist), else the kubeconfig's current context."""
    names, current = list_contexts(kubeconfig)
    path = kubeconfig_path(kubeconfig)
    if context:
        if context not in names:
            raise unknown_context_error(context, names, path)
        return context
    if not current:
        raise BackendUnavailable(
            f"{path} has no current context",
            hint="Pick one with `kubectl config use-context kind-<name>` or pass context=...",
        )
    return current


def unknown_context_error(context: str, names: list[str], path: str) -> BackendUnavailable:
    """A context the kubeconfig lacks: the closest one it has (in the message, so ``auto``'s one-line
    reason for choosing the simulator shows it too), every one it has, and the fix."""
    guess = closest(context, names)
    known = ", ".join(names) or "none"
    meant = f"; did you mean {guess!r}?" if guess else ""
    return BackendUnavailable(
        f"kube context {context!r} is not in {path} (contexts there: {known}){meant}",
        hint=f"Pass context={guess!r}, as `kubectl config get-contexts` lists it."
        if guess
        else "Check the name with `kubectl config get-contexts`; `kind get clusters` lists kind's clusters, "
        f"whose contexts are {KIND_PREFIX}<cluster>.",
    )


def allowed_because(name: str, allow_context: str | None = None) -> str | None:
    """Why labkit may use context ``name``, or None when it may not."""
    if name.startswith(KIND_PREFIX):
        return "kind cluster"
    if allow_context and name == allow_context:
        return "allowed by allow_context"
    env = (os.environ.get(ALLOW_ENV) or "").strip()
    if env and name == env:
        return f"allowed by {ALLOW_ENV}"
    return None


def not_allowed_error(name: str) -> ContextNotAllowed:
    return ContextNotAllowed(
        f"kube context {name!r} is not a lab cluster. The labs change mesh-wide Istio configuration, "
        f"so labkit only uses kind clusters (contexts named {KIND_PREFIX}*) unless told otherwise.",
        hint=f"If {name!r} really is a throw-away lab cluster, allow it explicitly: pass "
        f"allow_context={name!r}, or run `export {ALLOW_ENV}={name}`.",
    )


def check_allowed(name: str, allow_context: str | None = None) -> str:
    """Return why ``name`` is allowed; raise ContextNotAllowed if it is not."""
    reason = allowed_because(name, allow_context)
    if reason is None:
        raise not_allowed_error(name)
    return reason


def guard(context: str | None = None, kubeconfig: str | None = None, allow_context: str | None = None) -> str:
    """Resolve the context and refuse it unless allowed. Returns the context name. Makes no API call."""
    name = resolve_context(context, kubeconfig)
    check_allowed(name, allow_context)
    return name


def load_configuration(context: str, kubeconfig: str | None = None) -> k8s.Configuration:
    """A fresh client Configuration for ``context`` (never the library's global default)."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=kubeconfig_path(kubeconfig),
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise BackendUnavailable(
            f"cannot load kube context {context!r}: {exc}",
            hint=f"Check it with `kubectl --context {context} cluster-info`.",
        ) from None
    return configuration


def probe(context: str | None = None, kubeconfig: str | None = None, timeout: float = 3.0) -> tuple[bool, str]:
    """Does the cluster behind ``context`` answer ``GET /version`` within ``timeout``? Never raises.

    Only checks reachability; whether labkit may use the context is :func:`guard`'s job.
    """
    try:
        name = resolve_context(context, kubeconfig)
        configuration = load_configuration(name, kubeconfig)
        configuration.retries = 0  # one attempt: this is a quick look, not a connection
        api_client = k8s.ApiClient(configuration)
        try:
            info = k8s.VersionApi(api_client).get_code(_request_timeout=timeout)
        finally:
            api_client.close()
    except BackendUnavailable as exc:
        return False, str(exc).splitlines()[0]
    except Exception as exc:  # any failure means "no": auto mode falls back to the simulator
        return False, f"kube context {context or '(current)'} did not answer: {root_cause(exc)}"
    return True, f"kube context {name} answers (Kubernetes {getattr(info, 'git_version', '?')})"


def root_cause(exc: BaseException) -> str:
    """The root cause in one short line: urllib3 wraps it (MaxRetryError -> NewConnectionError)."""
    for _ in range(5):
        reason = getattr(exc, "reason", None)
        if not isinstance(reason, BaseException):
            break
        exc = reason
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    if text.startswith(("HTTPConnection(", "HTTPSConnection(")) and "): " in text:
        text = text.split("): ", 1)[1]  # drop the connection object's repr: the context names the server
    return text[:200]
