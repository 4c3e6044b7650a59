"""``labkit serve`` against hostile and careless clients: no token, wrong Host, big or smuggled bodies,
clients that stop reading, bursts of connections. Every test is bounded in count and time, on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from labkit.manifests import Ref
from labkit.serve import ApiServer
from labkit.serve.body import MAX_BODY
from labkit.serve.watch import KEEP_BYTES, Journal, stream

from .conftest import Http

NAMESPACES = "/api/v1/namespaces"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@contextmanager
def tls_socket(server: ApiServer, timeout: float = 10) -> Iterator[ssl.SSLSocket]:
    plain = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock = server.client_context().wrap_socket(plain, server_hostname="127.0.0.1")
    try:
        yield sock
    finally:
        sock.close()


def head(server: ApiServer, method: str, path: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {server.address}", f"Authorization: Bearer {server.token}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_all(sock: ssl.SSLSocket, limit: float = 10) -> bytes:
    """Everything the server sends until it closes the connection (or ``limit`` seconds pass)."""
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError, ssl.SSLError):
        pass
    return data


def statuses(raw: bytes) -> list[int]:
    return [int(line.split()[1]) for line in raw.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def config_map(name: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_a_host_other_than_the_served_address_is_refused(http: Http) -> None:
    # DNS rebinding: a page whose own name now resolves to 127.0.0.1 sends its own name as Host.
    # RFC 9112 section 3.2: a Host the server does not accept as its own is answered 400 (Bad Request).
    reply = http("GET", NAMESPACES, headers={"Host": "attacker.example:80"})
    assert reply.status == 400
    assert http("GET", NAMESPACES).status == 200


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"])
def test_bodies_a_browser_form_can_send_are_refused(http: Http, server: ApiServer, media: str) -> None:
    # https://kubernetes.io/docs/reference/using-api/api-concepts/ : the API server answers 415
    # Unsupported Media Type to a body in a format it does not accept.
    reply = http("POST", CONFIGMAPS, json.dumps(config_map("form", {})), content_type=media)
    assert reply.status == 415
    assert server.sim.get(Ref("v1", "ConfigMap", "default", "form")) is None


def test_a_body_over_the_request_limit_is_refused_before_it_is_read(server: ApiServer, http: Http) -> None:
    # kube-apiserver's request body limit is 3 MiB: larger bodies get 413 with the message
    # "Request entity too large: limit is 3145728", as `helm install` users meet it (Error: create: failed to create:
    # Request entity too large: limit is 3145728) and as Config Sync's documentation quotes it.
    with tls_socket(server) as sock:
        sock.sendall(head(server, "POST", CONFIGMAPS, "Content-Type: application/json", "Content-Length: 104857600"))
        answer = read_all(sock)
    assert statuses(answer) == [413]
    assert f"Request entity too large: limit is {MAX_BODY}".encode() in answer
    assert http("GET", NAMESPACES).status == 200


def test_a_chunked_body_over_the_limit_is_refused(server: ApiServer) -> None:
    with tls_socket(server) as sock:
        sock.sendall(head(server, "POST", CONFIGMAPS, "Content-Type: application/json", "Transfer-Encoding: chunked"))
        chunk = b"x" * (1024 * 1024)
        try:
            for _ in range(4):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except OSError:
            pass  # the server may close as soon as the limit is passed
        assert statuses(read_all(sock)) == [413]


def test_a_chunked_body_is_decoded(http: Http, server: ApiServer) -> None:
    # RFC 9112 section 7.1: the body is the chunks' data, in order, up to the zero-size last chunk.
    body = json.dumps(config_map("chunky", {"a": "1"})).encode()
    with tls_socket(server) as sock:
        sock.sendall(head(server, "POST", CONFIGMAPS, "Content-Type: application/json", "Transfer-Encoding: chunked"))
        sock.sendall(f"{len(body[:10]):x}\r\n".encode() + body[:10] + b"\r\n")
        sock.sendall(f"{len(body[10:]):x}\r\n".encode() + body[10:] + b"\r\n0\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(65536).startswith(b"HTTP/1.1 201 ")
    assert server.sim.get(Ref("v1", "ConfigMap", "default", "chunky"))["data"] == {"a": "1"}


def _smuggled_delete(server: ApiServer) -> bytes:
    return head(server, "DELETE", f"{CONFIGMAPS}/victim")


@pytest.mark.parametrize("framing", ["chunked-with-length", "chunked-ignored", "unknown-coding"])
def test_a_smuggled_request_is_never_run(http: Http, server: ApiServer, framing: str) -> None:
    # RFC 9112 section 6.3: a message with both Transfer-Encoding and Content-Length, or a transfer coding
    # the server does not understand, must not be processed as if it were framed; the connection is closed.
    assert http("POST", CONFIGMAPS, config_map("victim", {"keep": "me"})).status == 201
    smuggled = _smuggled_delete(server)
    if framing == "chunked-with-length":
        extra = ("Transfer-Encoding: chunked", "Content-Length: 4")
        body = b"0\r\n\r\n" + smuggled
    elif framing == "chunked-ignored":  # a server that ignored chunked would read the chunk data as a request
        extra = ("Transfer-Encoding: chunked",)
        body = f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"
    else:
        extra = ("Transfer-Encoding: gzip, chunked",)
        body = b"0\r\n\r\n" + smuggled
    with tls_socket(server) as sock:
        sock.sendall(head(server, "POST", CONFIGMAPS, "Content-Type: application/json", *extra) + body)
        answer = read_all(sock, 5)
    codes = statuses(answer)
    assert len(codes) == 1 and codes[0] in (400, 411, 501), answer[:200]
    assert server.sim.get(Ref("v1", "ConfigMap", "default", "victim")) is not None


@pytest.mark.parametrize("length", ["abc", "-1", "1, 2", "0x10"])
def test_a_bad_content_length_is_answered_400(server: ApiServer, length: str) -> None:
    # RFC 9112 section 6.3 (item 5): an invalid Content-Length makes the framing invalid; a server MUST
    # answer 400 (Bad Request) and close the connection.
    with tls_socket(server) as sock:
        sock.sendall(head(server, "POST", CONFIGMAPS, "Content-Type: application/json", f"Content-Length: {length}"))
        assert statuses(read_all(sock, 5)) == [400]


def test_deep_nesting_is_a_bad_request_not_a_crash(http: Http) -> None:
    # The API server's JSON decoder (sigs.k8s.io/json) refuses documents nested past its maximum depth as a
    # decoding error, 400 Bad Request, not as a server fault.
    deep = "[" * 100_000 + "]" * 100_000
    reply = http("POST", CONFIGMAPS, deep)
    assert reply.status == 400 and reply.json()["reason"] == "BadRequest"
    assert http("GET", NAMESPACES).status == 200


def test_a_yaml_alias_bomb_is_refused_quickly(http: Http) -> None:
    # CVE-2019-11253 (kubernetes/kubernetes#83253, fixed by #83261): the API server and kubectl refuse a YAML
    # "billion laughs" ConfigMap instead of expanding it.
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "".join(f"  {x}\n" for x in levels)
    start = time.monotonic()
    reply = http("PATCH", f"{CONFIGMAPS}/bomb?fieldManager=t", bomb, content_type="application/apply-patch+yaml")
    assert reply.status == 400 and "aliases" in reply.json()["message"]
    assert time.monotonic() - start < 2


def test_a_config_map_over_1_mib_is_refused_with_the_api_servers_message(http: Http) -> None:
    # ValidateConfigMap: total size over MaxSecretSize (1 MiB) gives 422 `[]: Too long: must have at most 1048576 bytes`
    # (as reported from a real cluster in estafette/estafette-vulnerability-scanner#3 and kubernetes#83955).
    reply = http("POST", CONFIGMAPS, config_map("big", {"blob": "x" * (1024 * 1024 + 1)}))
    assert reply.status == 422
    assert reply.json()["message"] == 'ConfigMap "big" is invalid: []: Too long: must have at most 1048576 bytes'


def test_idle_connections_are_closed() -> None:
    # RFC 9112 section 9.5: a server may close an idle connection; it must, to free it for other clients.
    with ApiServer(idle_timeout=0.5) as server, tls_socket(server) as sock:
        sock.settimeout(5)
        start = time.monotonic()
        assert sock.recv(1) == b""  # the server hung up
        assert time.monotonic() - start < 3


def test_connections_past_the_cap_are_answered_429() -> None:
    # https://kubernetes.io/docs/concepts/cluster-administration/flow-control/ : an overloaded API server
    # answers 429 Too Many Requests rather than queueing without bound.
    with ApiServer(max_connections=2) as server, tls_socket(server), tls_socket(server):
        time.sleep(0.3)  # both held connections are being served
        with tls_socket(server) as third:
            third.sendall(head(server, "GET", NAMESPACES))
            assert statuses(read_all(third, 5)) == [429]


def test_a_client_that_stops_reading_holds_up_no_one(server: ApiServer, http: Http) -> None:
    big = "y" * (900 * 1024)
    for i in range(12):  # a list answer of about 11 MB: far more than the socket buffers hold
        assert http("POST", CONFIGMAPS, config_map(f"big-{i}", {"blob": big})).status == 201
    with tls_socket(server) as stalled:
        stalled.sendall(head(server, "GET", CONFIGMAPS))  # and never read the answer
        time.sleep(0.5)
        for _ in range(5):
            start = time.monotonic()
            assert http("GET", f"{NAMESPACES}/default").status == 200
            assert time.monotonic() - start < 1


def test_500_concurrent_gets_all_succeed_within_5_seconds(server: ApiServer, http: Http) -> None:
    barrier = threading.Barrier(500, timeout=30)

    def one(_: int) -> int:
        barrier.wait()
        return http("GET", f"{NAMESPACES}/default").status

    start = time.monotonic()
    with ThreadPoolExecutor(500) as pool:
        codes = list(pool.map(one, range(500)))
    took = time.monotonic() - start
    assert codes.count(200) == 500, {c: codes.count(c) for c in set(codes)}
    assert took < 5, f"500 concurrent GETs took {took:.1f}s"


def test_the_watch_journal_does_not_keep_deleted_bodies_without_bound(http: Http, server: ApiServer) -> None:
    big = "z" * (900 * 1024)
    for i in range(100):  # 180 MB of bodies through the journal (each ConfigMap created, then deleted)
        assert http("POST", CONFIGMAPS, config_map(f"churn-{i}", {"blob": big})).status == 201
        assert http("DELETE", f"{CONFIGMAPS}/churn-{i}").status == 200
    assert server.objects.journal.retained_bytes <= KEEP_BYTES


def test_a_watch_behind_the_journal_gets_410_expired() -> None:
    # https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes : a watch
    # from a resourceVersion the server no longer keeps gets an ERROR event with 410 Gone; the client lists again.
    journal = Journal(keep=2)
    for i in range(5):
        journal.append("ADDED", ("", "ConfigMap", "default", f"cm-{i}"), {"metadata": {"name": f"cm-{i}"}})
    sent: list[dict] = []
    stream(
        journal, 1, [], lambda change: {"type": change.type}, sent.append, since="1", timeout=1, stop=threading.Event()
    )
    assert sent and sent[0]["type"] == "ERROR" and sent[0]["object"]["code"] == 410
    assert sent[0]["object"]["reason"] == "Expired"


SECRETS = "/api/v1/namespaces/default/secrets"


def secret(name: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}


def test_secret_data_that_is_not_base64_cannot_be_decoded(http: Http) -> None:
    # Secret data is base64 (liggitt in kubernetes/kubernetes#7817); "billy" fails at byte 4 and "bill"
    # decodes (kubernetes/kubernetes#31548); the API server's words are quoted in kubernetes/kubernetes#10309
    # and sergelogvinov/proxmox-csi-plugin#269: `Secret in version "v1" cannot be handled as a Secret: ...`.
    reply = http("POST", SECRETS, secret("creds", {"username": "billy"}))
    assert (reply.status, reply.json()["reason"]) == (400, "BadRequest")
    message = reply.json()["message"]
    assert message == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'
    assert http("POST", SECRETS, secret("creds", {"username": "bill"})).status == 201


def test_a_secret_key_that_is_not_a_config_key_is_invalid(http: Http) -> None:
    # IsConfigMapKey (quoted in kubernetes/kubernetes#87119): keys match [-._a-zA-Z0-9]+.
    reply = http("POST", SECRETS, secret("creds", {"bad key": "YQ=="}))
    assert reply.status == 422
    assert reply.json()["message"] == (
        'Secret "creds" is invalid: data[bad key]: Invalid value: "bad key": a valid config key must consist of '
        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
        "for validation is '[-._a-zA-Z0-9]+')"
    )


def test_an_apply_does_not_scan_the_whole_store(http: Http, server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Linear apply cost (the 1,000 vs 2,000 ServiceEntries): the API layer's bookkeeping for one
    # write (watch journal, pod birth times) must not read every stored object. The simulator's own
    # controllers are left out of the count: they are the simulator's business.
    store = server.sim.mesh.store
    scans: list[tuple[str, str]] = []
    select = store.select

    def counting(group: str, kind: str, *args: object, **kwargs: object) -> list:
        scans.append((group, kind))
        return select(group, kind, *args, **kwargs)

    monkeypatch.setattr(server.sim.mesh.cluster, "reconcile", lambda: None)
    monkeypatch.setattr(store, "select", counting)
    entry = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "one-more", "namespace": "default"},
        "spec": {"hosts": ["one.example.com"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]},
    }
    path = "/apis/networking.istio.io/v1/namespaces/default/serviceentries/one-more?fieldManager=t"
    assert http("PATCH", path, json.dumps(entry), content_type="application/apply-patch+yaml").status == 201
    assert scans == []


def test_keep_alive_requests_are_not_held_back(server: ApiServer) -> None:
    # With Nagle's algorithm on, each small answer waited for the client's delayed ACK (about 40 ms on
    # Linux, tcp(7) TCP_NODELAY / TCP_QUICKACK): 100 requests took over 4 s. With TCP_NODELAY they take milliseconds.
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=server.client_context())
    headers = {"Authorization": f"Bearer {server.token}"}
    start = time.monotonic()
    for _ in range(100):
        conn.request("GET", f"{NAMESPACES}/default", headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    took = time.monotonic() - start
    conn.close()
    assert took < 2, f"100 keep-alive GETs took {took:.2f}s"
