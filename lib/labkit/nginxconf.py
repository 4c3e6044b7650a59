"""An external mTLS nginx for a lab: its configuration template, rendered with checked values.

The template lives with the lab that uses it (``labs/<lab>/nginx.conf``) so learners read the real file;
the lab passes its path (``template=lab_file(lab, "nginx.conf")``). This module only fills in its
``${placeholders}`` (``string.Template``) and refuses values that would break the configuration or
change its meaning. Without ``template``, the one ``nginx.conf`` among the labs is used.
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path
from typing import Any

from . import paths
from .errors import LabkitError

TEMPLATE_NAME = "nginx.conf"

# What each placeholder holds, so a bad value is refused with the reason instead of a cryptic nginx error.
PATH_PARAMS = frozenset(
    {"pid_path", "error_log_path", "access_log_path", "temp_dir", "server_cert", "server_key", "ca_cert"}
)
_ADDRESS = re.compile(r"\*|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")
_SERVER_NAME = re.compile(r"[A-Za-z0-9*_.-]+(?: [A-Za-z0-9*_.-]+)*")
# Paths are written inside double quotes; these characters would end the string or (``$``) make nginx
# treat the path as a variable, which it then resolves per request.
_PATH_FORBIDDEN = re.compile(r'["\\$\x00-\x1f]')


class NginxConfError(LabkitError):
    """The nginx template could not be rendered with the given values."""

    hint = ""


def default_template() -> Path:
    """The one ``<lab>/nginx.conf`` among the labs (``paths.labs_dir()``, then the project's ``labs/``)."""
    roots = list(dict.fromkeys([paths.labs_dir(), paths.LABS]))
    found = sorted({p for root in roots if root.is_dir() for p in root.glob(f"*/{TEMPLATE_NAME}") if p.is_file()})
    if len(found) != 1:
        where = ", ".join(str(p) for p in found) or f"no lab under {', '.join(map(str, roots))} has one"
        raise NginxConfError(
            f"cannot tell which {TEMPLATE_NAME} to render ({where})",
            hint=f'Pass the lab\'s template: template=labkit.lab_file("<lab>", "{TEMPLATE_NAME}").',
        )
    return found[0]


def template_text(template: Path | None = None) -> str:
    """The template as it is on disk."""
    path = Path(template) if template is not None else default_template()
    if not path.is_file():
        raise NginxConfError(f"nginx template not found: {path}", hint="Is the checkout complete?")
    return path.read_text()


def parameters(text: str | None = None, *, template: Path | None = None) -> tuple[str, ...]:
    """The placeholder names in the template (or in ``text``), in order of first use."""
    text = template_text(template) if text is None else text
    names: list[str] = []
    # string.Template.get_identifiers() is Python 3.11+; the pattern gives the same names on 3.10.
    for match in string.Template.pattern.finditer(text):
        name = match.group("named") or match.group("braced")
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _check(name: str, value: Any) -> str:
    if name == "listen_port":
        port = value
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise NginxConfError(f"listen_port must be a port number 1-65535, not {value!r}")
        return str(port)
    if name in PATH_PARAMS:
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise NginxConfError(f"{name} must be a file path, not {value!r}")
        text = str(Path(value)) if isinstance(value, os.PathLike) else value
        if _PATH_FORBIDDEN.search(text):
            raise NginxConfError(f'{name} {text!r} contains a quote, backslash, "$" or control character')
        return text
    text = str(value)
    if name == "listen_address" and not _ADDRESS.fullmatch(text):
        raise NginxConfError(f"listen_address {text!r} is not an address (e.g. 127.0.0.1, *, [::1])")
    if name == "server_name" and not _SERVER_NAME.fullmatch(text):
        raise NginxConfError(f"server_name {text!r} must be host names separated by single spaces")
    return text


def render_nginx_conf(*, template: Path | None = None, **params: Any) -> str:
    """The lab's nginx.conf (``template``) with every ``${name}`` replaced; ``NginxConfError`` names any
    missing or unknown one.

    Parameters: ``listen_address``, ``listen_port``, ``server_name``, ``server_cert``, ``server_key``,
    ``ca_cert``, ``pid_path``, ``error_log_path``, ``access_log_path``, ``temp_dir``. ``pod_params()`` gives
    the values for the cluster.
    """
    path = Path(template) if template is not None else default_template()
    text = template_text(path)
    expected = parameters(text)
    missing = [n for n in expected if n not in params]
    unknown = sorted(set(params) - set(expected))
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing parameter{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        raise NginxConfError(
            f"{path.name}: {'; '.join(parts)}\n  the template needs: {', '.join(expected)}",
            hint="Pass every parameter the template needs (pod_params() has the cluster values).",
        )
    values = {name: _check(name, params[name]) for name in expected}
    try:
        return string.Template(text).substitute(values)
    except ValueError as exc:  # a stray "$" in the template itself
        raise NginxConfError(f"{path}: {exc}", hint='Write a literal "$" as "$$" in the template.') from None


def pod_params(**overrides: Any) -> dict[str, Any]:
    """Values for nginx in the cluster: the Secrets mounted as in the Istio task, logs to the container output.

    The server certificate Secret (``tls.crt``/``tls.key``) is mounted at ``/etc/nginx-server-certs`` and the
    CA Secret (``ca.crt``) at ``/etc/nginx-ca-certs``; writable state goes to ``/tmp``.
    """
    params: dict[str, Any] = {
        "listen_address": "0.0.0.0",
        "listen_port": 443,
        "server_name": "my-nginx.mesh-external.svc.cluster.local",
        "server_cert": "/etc/nginx-server-certs/tls.crt",
        "server_key": "/etc/nginx-server-certs/tls.key",
        "ca_cert": "/etc/nginx-ca-certs/ca.crt",
        "pid_path": "/tmp/nginx.pid",
        "error_log_path": "stderr",  # nginx's keyword for the container log
        "access_log_path": "/dev/stdout",
        "temp_dir": "/tmp",  # nginx creates only the last path component, so use a directory that exists
    }
    params.update(overrides)
    return params


def configmap(name: str = "nginx-configmap", *, template: Path | None = None, **params: Any) -> dict[str, Any]:
    """A ConfigMap holding the rendered ``nginx.conf``, as the lab's nginx Deployment mounts it at /etc/nginx."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {TEMPLATE_NAME: render_nginx_conf(template=template, **pod_params(**params))},
    }
