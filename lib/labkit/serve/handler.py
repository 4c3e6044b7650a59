"""HTTP requests to Kubernetes API calls: routing, authentication, bodies, and the response formats."""

from __future__ import annotations

import contextlib
import json
import logging
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from . import aggregated, gate, openapi, podexec, rbac, resources, tables, watch
from . import body as bodies
from .objects import APPLY_PATCH, parse_body
from .resources import Resource
from .selectors import field_matcher, label_matcher
from .status import ApiError, bad_request, failure

if TYPE_CHECKING:
    from .server import ApiServer

log = logging.getLogger("labkit.serve")

JSON = "application/json"
#: The longest watch a client may ask for (the real API server also caps it).
MAX_WATCH = 1800.0
#: Methods that write an object (create, replace, patch).
_WRITES = frozenset({"POST", "PUT", "PATCH"})


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return (query.get(name) or [""])[-1].lower() in ("true", "1")


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _manager_from_agent(agent: str) -> str:
    """The default field manager: the User-Agent up to its first '/' (``kubectl``, ``OpenAPI-Generator``)."""
    return (agent.split("/", 1)[0] or "unknown")[:128]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "labkit-sim-apiserver"

    @property
    def app(self) -> ApiServer:
        return self.server.app  # type: ignore[attr-defined]

    # -- plumbing
    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, code: int, payload: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        for warning in getattr(self, "_warnings", ()):
            self.send_header("Warning", warning)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, code: int, obj: Any, content_type: str = JSON) -> None:
        self._send(code, json.dumps(obj).encode(), content_type)

    def _dispatch(self, method: str) -> None:
        self.app.record(method, self.path, self.headers)
        self._warnings: list[str] = []
        read = False
        try:
            gate.check(self.headers, self.app.token, self.app.address)
            body = bodies.read(self.headers, self.rfile)
            read = True
            url = urlsplit(self.path)
            self._route(method, url.path, parse_qs(url.query, keep_blank_values=True), body)
        except ApiError as exc:
            if not read or isinstance(exc, bodies.Unframed):
                # The body is unread or unframed: its bytes must never be taken for the next request.
                self.close_connection = True
            with contextlib.suppress(OSError):  # a client that sent garbage may be gone already
                self._json(exc.code, exc.status())
        except OSError:  # the client hung up, stopped reading past the timeout, or broke TLS: nothing to answer
            self.close_connection = True
        except Exception as exc:  # a bug here must answer 500, not hang the client
            log.error("internal error on %s %s\n%s", method, self.path, traceback.format_exc())
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._json(500, failure(500, "InternalError", f"Internal error occurred: {type(exc).__name__}"))

    def _served(self) -> tuple[Resource, ...]:
        """What is served now; read under the lock, since the CRDs that add kinds are in the simulator's store."""
        with self.app.locked():
            return self.app.objects.catalog.resources()

    # -- routing
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        parts = [p for p in path.split("/") if p]
        if method == "GET" and path in ("/healthz", "/livez", "/readyz"):
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        if method == "GET" and parts == ["version"]:
            self._json(200, resources.version_info())
            return
        if method == "GET" and parts[:1] == ["openapi"]:
            self._openapi(parts[1:])
            return
        if parts[:1] == ["api"]:
            if len(parts) == 1 and method == "GET":
                if aggregated.wanted(self.headers.get("Accept", "")):
                    self._json(200, aggregated.document(self._served(), core=True), aggregated.CONTENT_TYPE)
                else:
                    self._json(200, resources.api_versions(self.app.address))
                return
            if parts[1:2] == ["v1"]:
                self._resource_route(method, "", "v1", parts[2:], query, body)
                return
        if parts[:1] == ["apis"]:
            if len(parts) == 1 and method == "GET":
                # Aggregated discovery when asked for it (kubectl >= 1.30), else the legacy APIGroupList.
                if aggregated.wanted(self.headers.get("Accept", "")):
                    self._json(200, aggregated.document(self._served(), core=False), aggregated.CONTENT_TYPE)
                else:
                    self._json(200, resources.api_group_list(self._served()))
                return
            versions = resources.groups(self._served()).get(parts[1]) if len(parts) > 1 else None
            if versions and len(parts) == 2 and method == "GET":
                self._json(200, resources.api_group(parts[1], versions))
                return
            if versions and len(parts) >= 3 and parts[2] in versions:
                self._resource_route(method, parts[1], parts[2], parts[3:], query, body)
                return
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _openapi(self, parts: list[str]) -> None:
        if parts == ["v2"]:
            if openapi.V2_PROTOBUF in self.headers.get("Accept", ""):
                self._send(200, b"", "application/octet-stream")  # as kube-openapi answers protobuf
            else:
                self._json(200, openapi.v2_document())
            return
        if parts == ["v3"]:
            self._json(200, openapi.root(self._served()))
            return
        doc = None
        served = self._served()
        if parts[:2] == ["v3", "api"] and len(parts) == 3:
            doc = openapi.document(served, "", parts[2])
        elif parts[:2] == ["v3", "apis"] and len(parts) == 4:
            doc = openapi.document(served, parts[2], parts[3])
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self._json(200, doc)

    def _resource_route(
        self, method: str, group: str, version: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> None:
        if not rest:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on a group version")
            self._json(200, resources.resource_list(self._served(), group, version))
            return
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        r = resources.lookup(self._served(), group, version, plural)
        if r is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if namespace is not None and not r.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        for deprecated, warning in r.deprecated:
            if deprecated == version:  # kubectl prints it as "Warning: ..." (RFC 7234 warn-code 299)
                self._warnings.append(f'299 - "{warning}"')
        ignored = rbac.not_enforced_warning(r.group, r.kind) if method in _WRITES else None
        if ignored is not None:
            self._warnings.append(f'299 - "{ignored}"')
        if sub is not None:
            self._subresource(method, r, namespace, name or "", sub, query)
        elif name is None:
            self._collection(method, r, version, namespace, query, body)
        else:
            self._item(method, r, version, namespace, name, query, body)

    # -- collections and items
    def _collection(
        self, method: str, r: Resource, version: str, namespace: str | None, query: dict[str, list[str]], body: bytes
    ) -> None:
        labels, fields_ = _one(query, "labelSelector"), _one(query, "fieldSelector")
        if method == "GET" and _flag(query, "watch"):
            self._watch(r, version, namespace, query)
            return
        app = self.app
        if method == "GET":
            with app.locked():  # answers are built under the lock and sent after it: a slow reader holds up no one
                if tables.wants_table(self.headers.get("Accept", "")):
                    items = app.objects.items(r, version, namespace, labels, fields_)
                    include = _one(query, "includeObject") or "Metadata"
                    reply = tables.table(r, items, include, app.objects.resource_version())
                else:
                    reply = app.objects.list(r, version, namespace, labels, fields_)
            self._json(200, reply)
            return
        if r.namespaced and namespace is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} needs a namespace for {r.plural}")
        if method == "POST":
            sent = parse_body(body, gate.media_type(self.headers) or JSON)  # parsed before taking the lock
            with app.locked():
                created = app.objects.create(r, version, namespace, sent, self._manager(query), self._dry_run(query))
            self._json(201, created)
            return
        if method == "DELETE":
            with app.locked():
                doomed = app.objects.items(r, version, namespace, labels, fields_)
                for obj in doomed:
                    app.objects.delete(r, version, namespace, obj["metadata"]["name"], self._dry_run(query))
            listing = {
                "kind": f"{r.kind}List",
                "apiVersion": r.api_version(version),
                "metadata": {},
                "items": doomed,
            }
            self._json(200, listing)
            return
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on a collection")

    def _item(
        self,
        method: str,
        r: Resource,
        version: str,
        namespace: str | None,
        name: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        if r.namespaced and namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        app = self.app
        content_type = gate.media_type(self.headers) or JSON
        sent = parse_body(body, content_type) if method in ("PUT", "PATCH") else None  # before the lock
        code = 200
        with app.locked():  # the answer is built under the lock and sent after it
            if method == "GET":
                obj = app.objects.get(r, version, namespace, name)
                if tables.wants_table(self.headers.get("Accept", "")):
                    include = _one(query, "includeObject") or "Metadata"
                    reply = tables.table(r, [obj], include, app.objects.resource_version())
                else:
                    reply = obj
            elif method == "PUT":
                reply = app.objects.update(
                    r, version, namespace, name, sent, self._manager(query), self._dry_run(query)
                )
            elif method == "PATCH":
                manager = _one(query, "fieldManager")
                if content_type != APPLY_PATCH:
                    manager = manager or _manager_from_agent(self.headers.get("User-Agent", ""))
                reply, created = app.objects.patch(
                    r,
                    version,
                    namespace,
                    name,
                    content_type,
                    sent,
                    manager,
                    force=_flag(query, "force"),
                    dry_run=self._dry_run(query),
                )
                code = 201 if created else 200
            elif method == "DELETE":
                reply = app.objects.delete(r, version, namespace, name, self._dry_run(query))
            else:
                raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {r.plural}/{name}")
        self._json(code, reply)

    def _manager(self, query: dict[str, list[str]]) -> str:
        return _one(query, "fieldManager") or _manager_from_agent(self.headers.get("User-Agent", ""))

    @staticmethod
    def _dry_run(query: dict[str, list[str]]) -> bool:
        return "All" in (query.get("dryRun") or [])

    def _watch(self, r: Resource, version: str, namespace: str | None, query: dict[str, list[str]]) -> None:
        app = self.app
        labels, fields_ = _one(query, "labelSelector"), _one(query, "fieldSelector")
        by_label, by_field = label_matcher(labels), field_matcher(fields_)  # a bad selector fails before the 200
        as_table = tables.wants_table(self.headers.get("Accept", ""))
        include = _one(query, "includeObject") or "Metadata"
        try:
            timeout = min(float(_one(query, "timeoutSeconds") or MAX_WATCH), MAX_WATCH)
        except ValueError:
            raise bad_request("timeoutSeconds must be a number") from None
        with app.locked():
            start = app.objects.journal.position
            initial = app.objects.items(r, version, namespace, labels, fields_)
        self.send_response(200)
        self.send_header("Content-Type", JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True

        def event(change: watch.Change) -> dict[str, Any] | None:
            group, kind, ns, _ = change.key
            if (group, kind) != (r.group, r.kind) or (namespace is not None and ns != namespace):
                return None
            with app.locked():
                shown = app.objects.show(change.obj, r, version)
            if not (by_label(shown) and by_field(shown)):
                return None
            return {"type": change.type, "object": shown}

        def send(event: dict[str, Any]) -> None:
            if as_table:
                event = {**event, "object": tables.table(r, [event["object"]], include, "")}
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        watch.stream(
            app.objects.journal,
            start,
            initial,
            event,
            send,
            since=_one(query, "resourceVersion"),
            timeout=timeout,
            stop=app.stopping,
        )
        self.wfile.write(b"0\r\n\r\n")

    # -- pods/log and pods/exec
    def _pod_container(self, namespace: str | None, name: str, container: str | None) -> tuple[dict[str, Any], str]:
        pods = resources.lookup(self._served(), "", "v1", "pods")
        assert pods is not None
        with self.app.locked():
            pod = self.app.objects.get(pods, "v1", namespace, name)
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        if not container:
            if len(names) != 1:
                raise bad_request(
                    f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
                )
            container = names[0]
        if container not in names:
            raise bad_request(f"container {container} is not valid for pod {name}")
        return pod, container

    def _subresource(
        self, method: str, r: Resource, namespace: str | None, name: str, sub: str, query: dict[str, list[str]]
    ) -> None:
        if r.kind != "Pod" or sub not in r.subresources or namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub == "log" and method == "GET":
            self._logs(namespace, name, query)
        elif sub == "exec" and method in ("GET", "POST"):
            self._exec(namespace, name, query)
        else:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on pods/{sub}")

    def _logs(self, namespace: str, name: str, query: dict[str, list[str]]) -> None:
        _, container = self._pod_container(namespace, name, _one(query, "container"))
        since_text = _one(query, "sinceSeconds")
        try:
            since = float(since_text) if since_text else None
            tail = int(_one(query, "tailLines") or -1)
        except ValueError:
            raise bad_request("sinceSeconds and tailLines must be numbers") from None
        with self.app.locked():
            lines = self.app.sim.logs(namespace, name, container, since)
        if tail >= 0:
            lines = lines[len(lines) - tail :] if tail else []
        self._send(200, "".join(f"{line}\n" for line in lines).encode(), "text/plain")

    def _exec(self, namespace: str, name: str, query: dict[str, list[str]]) -> None:
        _, container = self._pod_container(namespace, name, _one(query, "container"))
        argv = query.get("command") or []
        if not argv:
            raise bad_request("you must specify at least 1 command")
        self.close_connection = True  # an upgraded connection is the exec's alone
        podexec.serve(self, self.app, namespace, name, container, argv, {k: _flag(query, k) for k in podexec.FLAGS})
