"""Envoy access log lines in Istio's default text format (meshConfig.accessLogFile set, no format).

The format is Istio's default::

  [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
  %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
  "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
  %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
  "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
  %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
  %REQUESTED_SERVER_NAME% %ROUTE_NAME%

TCP connections print ``"- - -"`` and ``0`` for the HTTP fields.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LogEntry:
    start_time: str
    method: str = "-"
    path: str = "-"
    protocol: str = "-"
    response_code: int = 0
    flags: str = "-"
    details: str = "-"
    termination: str = "-"
    transport_failure: str = "-"
    bytes_received: int = 0
    bytes_sent: int = 0
    duration_ms: int = 0
    upstream_service_time: str = "-"
    forwarded_for: str = "-"
    user_agent: str = "-"
    request_id: str = "-"
    authority: str = "-"
    upstream_host: str = "-"
    upstream_cluster: str = "-"
    upstream_local: str = "-"
    downstream_local: str = "-"
    downstream_remote: str = "-"
    server_name: str = "-"
    route_name: str = "-"

    def format(self) -> str:
        return (
            f'[{self.start_time}] "{self.method} {self.path} {self.protocol}" {self.response_code} '
            f'{self.flags} {self.details} {self.termination} "{self.transport_failure}" '
            f"{self.bytes_received} {self.bytes_sent} {self.duration_ms} {self.upstream_service_time} "
            f'"{self.forwarded_for}" "{self.user_agent}" "{self.request_id}" "{self.authority}" '
            f'"{self.upstream_host}" {self.upstream_cluster} {self.upstream_local} {self.downstream_local} '
            f"{self.downstream_remote} {self.server_name} {self.route_name}"
        )
