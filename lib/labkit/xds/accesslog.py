"""Istio's default access log: meshConfig.accessLogFile with no accessLogFormat.

The format is the one lib/labkit/sim/accesslog.py documents (Istio's model/telemetry_logging.go
EnvoyTextLogFormat), so a real Envoy writes the same fields the simulator writes.
"""

from __future__ import annotations

from typing import Any

from .envoy import TYPE, Obj

FILE_ACCESS_LOG = TYPE + "envoy.extensions.access_loggers.file.v3.FileAccessLog"

ISTIO_TEXT_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% '
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" '
    '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% '
    "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% "
    "%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"
)


def access_logs(mesh: dict[str, Any]) -> list[Obj]:
    """The listener access log istiod adds when accessLogFile is set (none otherwise).
    An explicit accessLogFormat or JSON encoding is refused by the caller, not approximated."""
    path = mesh.get("accessLogFile")
    if not path:
        return []
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": FILE_ACCESS_LOG,
                "path": path,
                "log_format": {"text_format_source": {"inline_string": ISTIO_TEXT_FORMAT}},
            },
        }
    ]


def listener_access_logs(mesh: dict[str, Any]) -> list[Obj]:
    """The listener-level log (core/accesslog.go listenerAccessLogFilter): only connections no filter
    chain took (response flag NR); everything else is logged by the HCM or tcp_proxy."""
    return [{**log, "filter": {"response_flag_filter": {"flags": ["NR"]}}} for log in access_logs(mesh)]
