"""Istio's default access log, as istiod configures it for ``meshConfig.accessLogFile: /dev/stdout``.

The format string is Istio's ``EnvoyTextLogFormat`` (pilot/pkg/model/telemetry_logging.go); a translator
puts ``stdout_access_log()`` on every HttpConnectionManager and TcpProxy it writes, so the real proxy's
log lines carry the same fields, in the same order, as a mesh's.
"""

from __future__ import annotations

from typing import Any

ISTIO_TEXT_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% '
    '%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" '
    '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" '
    "%UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% "
    "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"
)


def stdout_access_log() -> list[dict[str, Any]]:
    """The ``access_log`` list for a filter: Istio's text format, written to the proxy's stdout."""
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": "/dev/stdout",
                "log_format": {"text_format_source": {"inline_string": ISTIO_TEXT_FORMAT}},
            },
        }
    ]
