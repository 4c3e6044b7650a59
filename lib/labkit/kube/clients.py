"""The API clients one backend needs, all built from one client Configuration.

Two ApiClients: one for ordinary calls (typed and dynamic), one only for exec streams, because
``kubernetes.stream.stream`` patches the request method of the client it streams through.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s


class Clients:
    """Typed APIs, the dynamic client (built on first use: it runs API discovery) and the exec API."""

    def __init__(self, api_client: Any, *, owned: bool = True) -> None:
        self.api_client = api_client
        self._owned = owned
        self.exec_api_client = k8s.ApiClient(api_client.configuration)
        self.core = k8s.CoreV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.version = k8s.VersionApi(api_client)
        self.exec_core = k8s.CoreV1Api(self.exec_api_client)
        self._dynamic: Any = None

    def dynamic(self) -> Any:
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            self._dynamic = DynamicClient(self.api_client)
        return self._dynamic

    def serialize(self, obj: Any) -> Any:
        """A typed model as the plain dict the API server sent (camelCase keys, no nulls)."""
        return self.api_client.sanitize_for_serialization(obj)

    def close(self) -> None:
        """Release connections: the exec client always, the main one only if built here."""
        self.exec_api_client.close()
        if self._owned:
            self.api_client.close()
