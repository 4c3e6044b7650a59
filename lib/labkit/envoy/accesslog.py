"""Istio's default access log, as istiod configures it for ``meshConfig.accessLogFile: /dev/stdout``.

The format string is Istio's ``EnvoyTextLogFormat`` (pilot/pkg/model/telemetry_logging.go); a translator
puts ``stdout_access_log()`` on every HttpConnectionManager and TcpProxy it writes, so the real proxy's
log lines carry the same fields, in the same order, as a mesh's. ``parse`` reads a real line back into
the simulator's ``LogEntry``, so the two backends' log lines compare field by field.
"""

from __future__ import annotations

import re
from typing import Any

from ..sim.accesslog import LogEntry

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


_LINE = re.compile(
    r'\[(?P<start>[^\]]*)\] "(?P<method>\S+) (?P<path>\S+) (?P<protocol>\S+)" (?P<code>\d+) (?P<flags>\S+) '
    r'(?P<details>\S+) (?P<termination>\S+) "(?P<transport>[^"]*)" (?P<rx>\d+) (?P<tx>\d+) (?P<duration>\d+) '
    r'(?P<service_time>\S+) "(?P<xff>[^"]*)" "(?P<ua>[^"]*)" "(?P<rid>[^"]*)" "(?P<authority>[^"]*)" '
    r'"(?P<upstream_host>[^"]*)" (?P<cluster>\S+) (?P<upstream_local>\S+) (?P<downstream_local>\S+) '
    r"(?P<downstream_remote>\S+) (?P<sni>\S+) (?P<route>\S+)"
)


def parse(line: str) -> LogEntry:
    """One line in Istio's text format; ValueError names a line that is not in that format."""
    m = _LINE.fullmatch(line.rstrip("\n"))
    if m is None:
        raise ValueError(f"not an access-log line in Istio's text format: {line!r}")
    g = m.groupdict()
    return LogEntry(
        start_time=g["start"], method=g["method"], path=g["path"], protocol=g["protocol"],
        response_code=int(g["code"]), flags=g["flags"], details=g["details"], termination=g["termination"],
        transport_failure=g["transport"], bytes_received=int(g["rx"]), bytes_sent=int(g["tx"]),
        duration_ms=int(g["duration"]), upstream_service_time=g["service_time"], forwarded_for=g["xff"],
        user_agent=g["ua"], request_id=g["rid"], authority=g["authority"], upstream_host=g["upstream_host"],
        upstream_cluster=g["cluster"], upstream_local=g["upstream_local"], downstream_local=g["downstream_local"],
        downstream_remote=g["downstream_remote"], server_name=g["sni"], route_name=g["route"],
    )  # fmt: skip
