"""httpbin.org in the simulated world answers as httpbin answers.

Sources, cited per test:
- [core] httpbin's routes: postmanlabs/httpbin, httpbin/core.py (methods per route, get_dict keys,
  /delay's min(delay, 10), /status's weighted choice and "Invalid status code", /redirect chain,
  /response-headers loop);
- [helpers] postmanlabs/httpbin, httpbin/helpers.py (ENV_HEADERS hidden, semiflatten, status_code's
  bodies and headers, X-Forwarded-For as origin);
- [werkzeug] Flask/Werkzeug, which httpbin runs on: GET routes answer HEAD and OPTIONS, other methods
  get 405 with Allow; form bodies go to ``form`` and leave ``data`` empty; upper-case reason phrases;
- [istio-egress] istio.io, tasks/traffic-management/egress/egress-control (its doc test snips.sh):
  ``curl http://httpbin.org/headers`` output shape, ``/delay/5`` taking five seconds.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from labkit.lab import Lab
from labkit.sim.messages import Request
from labkit.sim.world import World

HOST = "httpbin.org"


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def ask(
    world: World, method: str, target: str, *headers: tuple[str, str], body: str = "", tls: bool = False
) -> tuple[int, dict[str, str], str, float]:
    request = Request(method, HOST, target, (("Host", HOST), ("User-Agent", "curl/8.16.0"), *headers), body=body)
    reply = world.answer(HOST, 443 if tls else 80, tls, request)
    return reply.status, dict(reply.headers), reply.body, reply.delay


def ask_json(world: World, method: str, target: str, *headers: tuple[str, str], body: str = "") -> dict:
    status, _, text, _ = ask(world, method, target, *headers, body=body)
    assert status == 200, text
    return json.loads(text)


def test_get_echoes_url_args_headers_origin(world: World) -> None:
    data = ask_json(world, "GET", "/get?a=1&a=2&b=")
    # [core] view_get: get_dict('url', 'args', 'headers', 'origin')
    assert set(data) == {"url", "args", "headers", "origin"}
    # [helpers] semiflatten: one value stays a string, repeated keys become a list
    assert data["args"] == {"a": ["1", "2"], "b": ""}
    assert data["url"] == "http://httpbin.org/get?a=1&a=2&b="
    assert data["origin"] == world.client_address
    assert data["headers"]["User-Agent"] == "curl/8.16.0"


def test_url_follows_the_connection_scheme(world: World) -> None:
    # [helpers] get_url takes the scheme from X-Forwarded-Proto, which httpbin.org's load balancer sets
    _, _, text, _ = ask(world, "GET", "/get", tls=True)
    assert json.loads(text)["url"] == "https://httpbin.org/get"


def test_json_is_sorted_indented_and_ends_with_a_newline(world: World) -> None:
    # [istio-egress] the /headers output: two-space indent, keys in order ("Accept", "Host", ...)
    # [core] jsonify appends "\n" when the body lacks one
    _, headers, text, _ = ask(world, "GET", "/headers", ("Accept", "*/*"))
    assert text.startswith('{\n  "headers": {\n    "Accept": "*/*",\n    "Host": "httpbin.org",')
    assert text.endswith("}\n")
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(text.encode()))


def test_headers_are_title_case_and_proxy_headers_hidden(world: World) -> None:
    sent = (("x-b3-traceid", "abc"), ("x-envoy-decorator-operation", "httpbin.org:80/*"), ("x-request-id", "r1"))
    shown = ask_json(world, "GET", "/headers", *sent)["headers"]
    # Werkzeug's EnvironHeaders title-cases names; istio.io shows "X-Envoy-Decorator-Operation" [istio-egress]
    assert shown["X-B3-Traceid"] == "abc"
    assert shown["X-Envoy-Decorator-Operation"] == "httpbin.org:80/*"
    # [helpers] X-Request-Id is one of ENV_HEADERS, hidden unless ?show_env is given
    assert "X-Request-Id" not in shown
    assert ask_json(world, "GET", "/headers?show_env=1", *sent)["headers"]["X-Request-Id"] == "r1"


def test_ip_and_origin_come_from_x_forwarded_for(world: World) -> None:
    # [helpers]/[core] origin = X-Forwarded-For; httpbin.org's AWS load balancer appends the client's
    # address to any X-Forwarded-For it receives (AWS docs: "HTTP headers and Application Load Balancers")
    assert ask_json(world, "GET", "/ip") == {"origin": world.client_address}
    data = ask_json(world, "GET", "/ip", ("X-Forwarded-For", "10.244.0.7"))
    assert data == {"origin": f"10.244.0.7, {world.client_address}"}


def test_user_agent(world: World) -> None:
    # [core] view_user_agent: {"user-agent": ...}
    assert ask_json(world, "GET", "/user-agent") == {"user-agent": "curl/8.16.0"}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_body_methods_echo_form_data_files_json(world: World, method: str) -> None:
    form = ("Content-Type", "application/x-www-form-urlencoded")
    data = ask_json(world, method, f"/{method.lower()}?q=1", form, body="a=b&a=c&d=")
    # [core] view_post/put/patch/delete: url, args, form, data, origin, headers, files, json
    assert set(data) == {"url", "args", "form", "data", "origin", "headers", "files", "json"}
    # [werkzeug] a form body is parsed into form; request.data stays empty, so json is null
    assert (data["form"], data["data"], data["json"], data["args"]) == (
        {"a": ["b", "c"], "d": ""},
        "",
        None,
        {"q": "1"},
    )


def test_json_body_is_data_and_json(world: World) -> None:
    body = '{"name": "istio", "n": 2}'
    data = ask_json(world, "POST", "/post", ("Content-Type", "application/json"), body=body)
    # [helpers] get_dict: data is the raw body, json is json.loads(data)
    assert (data["data"], data["json"], data["form"]) == (body, {"name": "istio", "n": 2}, {})


def test_plain_text_body_is_data_and_json_null(world: World) -> None:
    data = ask_json(world, "POST", "/post", ("Content-Type", "text/plain"), body="hello")
    # [helpers] json.loads fails → None
    assert (data["data"], data["json"]) == ("hello", None)


def test_multipart_form_splits_fields_and_files(world: World) -> None:
    body = (
        '--XyZ\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n'
        '--XyZ\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\n'
        "Content-Type: text/plain\r\n\r\nfile text\r\n--XyZ--\r\n"
    )
    data = ask_json(world, "POST", "/post", ("Content-Type", "multipart/form-data; boundary=XyZ"), body=body)
    # [helpers] get_files: file parts go to files; [werkzeug] the other parts go to form
    assert (data["form"], data["files"], data["data"]) == ({"field": "value"}, {"upload": "file text"}, "")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_anything_takes_every_method_and_echoes_it(world: World, method: str) -> None:
    data = ask_json(world, method, "/anything/some/path?x=y")
    # [core] /anything and /anything/<path>: methods GET, POST, PUT, DELETE, PATCH, TRACE, plus "method"
    assert data["method"] == method
    assert data["url"] == "http://httpbin.org/anything/some/path?x=y"
    assert {"form", "data", "files", "json", "args", "headers", "origin"} <= set(data)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/post", {"POST", "OPTIONS"}),
        ("POST", "/get", {"GET", "HEAD", "OPTIONS"}),
        ("DELETE", "/headers", {"GET", "HEAD", "OPTIONS"}),
        ("PUT", "/response-headers", {"GET", "HEAD", "POST", "OPTIONS"}),
    ],
)
def test_wrong_method_is_405_with_allow(world: World, method: str, path: str, allowed: set[str]) -> None:
    status, headers, text, _ = ask(world, method, path)
    # [werkzeug] MethodNotAllowed: 405 with the route's methods (GET brings HEAD and OPTIONS) in Allow
    assert status == 405
    assert {m.strip() for m in headers["allow"].split(",")} == allowed
    assert "<title>405 Method Not Allowed</title>" in text


def test_head_answers_like_get_without_a_body(world: World) -> None:
    _, get_headers, get_body, _ = ask(world, "GET", "/get")
    status, headers, body, _ = ask(world, "HEAD", "/get")
    # [werkzeug] HEAD runs the GET view and drops the body; RFC 9110 9.3.2: same headers as GET
    assert (status, body) == (200, "")
    assert headers["content-length"] == get_headers["content-length"] == str(len(get_body.encode()))


def test_options_is_a_cors_preflight(world: World) -> None:
    status, headers, _, _ = ask(world, "OPTIONS", "/get", ("Access-Control-Request-Headers", "x-test"))
    # [core] set_cors_headers: on OPTIONS, Allow-Methods, Max-Age 3600 and the requested headers
    assert status == 200
    assert headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE, PATCH, OPTIONS"
    assert (headers["access-control-max-age"], headers["access-control-allow-headers"]) == ("3600", "x-test")


def test_unknown_path_is_404(world: World) -> None:
    status, _, text, _ = ask(world, "GET", "/no-such-endpoint")
    # [werkzeug] NotFound page
    assert status == 404 and "<title>404 Not Found</title>" in text


@pytest.mark.parametrize(
    ("code", "header", "value"),
    [
        (418, "x-more-info", "http://tools.ietf.org/html/rfc2324"),
        (401, "www-authenticate", 'Basic realm="Fake Realm"'),
        (302, "location", "/redirect/1"),
        (503, None, None),
    ],
)
def test_status_codes(world: World, code: int, header: str | None, value: str | None) -> None:
    status, headers, text, _ = ask(world, "GET", f"/status/{code}")
    # [helpers] status_code: 3xx point at /redirect/1, 401 asks for Basic auth, 418 is a teapot
    assert status == code
    if header:
        assert headers[header] == value
    if code == 418:
        assert "-=[ teapot ]=-" in text


def test_status_accepts_every_body_method(world: World) -> None:
    # [core] /status/<codes>: methods GET, POST, PUT, DELETE, PATCH, TRACE
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert ask(world, method, "/status/201")[0] == 201


def test_status_with_several_codes_picks_by_weight(world: World) -> None:
    # [core] weighted_choice over "code:weight" pairs; a weight of 0 is never picked
    assert {ask(world, "GET", "/status/200:0,201:1")[0] for _ in range(20)} == {201}
    seen = {ask(world, "GET", "/status/202,204")[0] for _ in range(40)}
    assert seen == {202, 204}


def test_status_rejects_a_non_number(world: World) -> None:
    status, _, text, _ = ask(world, "GET", "/status/abc")
    # [core] view_status_code: Response("Invalid status code", status=400)
    assert (status, text) == (400, "Invalid status code")


@pytest.mark.parametrize(("asked", "waited"), [("2", 2.0), ("0.5", 0.5), ("30", 10.0)])
def test_delay_waits_at_most_ten_seconds(world: World, asked: str, waited: float) -> None:
    status, _, text, delay = ask(world, "GET", f"/delay/{asked}")
    # [core] delay_response: delay = min(float(delay), 10); then the get_dict without method/json
    assert (status, delay) == (200, waited)
    assert set(json.loads(text)) == {"url", "args", "form", "data", "origin", "headers", "files"}


def test_delay_that_is_not_a_number_is_a_server_error(world: World) -> None:
    # [core] float("abc") raises inside the view: Flask answers 500
    assert ask(world, "GET", "/delay/abc")[0] == 500


def test_redirect_chain_ends_at_get(world: World) -> None:
    # [core] /redirect/n → /relative-redirect/n-1 → ... → /get, each a 302
    hops = []
    target = "/redirect/3"
    while True:
        status, headers, _, _ = ask(world, "GET", target)
        if status != 302:
            break
        target = headers["location"]
        hops.append(target)
    assert hops == ["/relative-redirect/2", "/relative-redirect/1", "/get"]
    assert status == 200


def test_absolute_redirect(world: World) -> None:
    # [core] ?absolute=true redirects through /absolute-redirect with full URLs
    _, headers, _, _ = ask(world, "GET", "/redirect/2?absolute=true")
    assert headers["location"] == "http://httpbin.org/absolute-redirect/1"


def test_response_headers_sets_and_lists_them(world: World) -> None:
    status, headers, text, _ = ask(world, "GET", "/response-headers?X-Test=1&Cache-Control=no-store")
    data = json.loads(text)
    # [core] response_headers: the query becomes headers; the body lists every header, Content-Length
    # included, recomputed until the body stops changing (so it matches the real length)
    assert status == 200
    assert (headers["x-test"], headers["cache-control"]) == ("1", "no-store")
    assert data["X-Test"] == "1" and data["Content-Type"] == "application/json"
    assert data["Content-Length"] == headers["content-length"] == str(len(text.encode()))


def test_reason_phrases_are_werkzeugs(world: World) -> None:
    request = Request("GET", HOST, "/status/404", (("Host", HOST),))
    # [werkzeug] Response status: f"{code} {HTTP_STATUS_CODES[code].upper()}"
    assert world.answer(HOST, 80, False, request).reason == "NOT FOUND"


# -- through curl in the mesh -----------------------------------------------------------------------


def test_headers_through_the_sidecar(lab: Lab) -> None:
    r = lab.curl("http://httpbin.org/headers", "-sS")
    # [istio-egress] "Accept": "*/*", "Host": "httpbin.org", then the sidecar's X-Envoy-* headers
    assert r.status == 200
    shown = json.loads(r.body)["headers"]
    assert (shown["Accept"], shown["Host"]) == ("*/*", "httpbin.org")


def test_delay_five_takes_five_seconds(lab: Lab) -> None:
    r = lab.curl("http://httpbin.org/delay/5", "-o", "/dev/null", "-sS", "-w", "%{http_code}\n")
    # [istio-egress] prints 200 after real 0m5.024s
    assert (r.exit_code, r.stdout) == (0, "200\n")
    assert 5.0 <= r.elapsed < 5.5


def test_redirects_followed_by_curl(lab: Lab) -> None:
    r = lab.curl("http://httpbin.org/redirect/2", "-sSL")
    # [core] two 302s, then /get; curl -L follows relative Locations (curl man page, --location)
    assert [x.status for x in r.responses] == [302, 302, 200]
    assert json.loads(r.body)["url"] == "http://httpbin.org/get"


# -- httpbin's smaller endpoints, and the ones the simulator refuses ---------------------------------


def test_landing_page_is_200(world: World) -> None:
    status, headers, text, _ = ask(world, "GET", "/")
    # [core] view_landing_page renders index.html (HTML, 200)
    assert status == 200 and headers["content-type"].startswith("text/html") and "<title>httpbin.org</title>" in text


def test_uuid(world: World) -> None:
    value = ask_json(world, "GET", "/uuid")["uuid"]
    # [core] view_uuid: jsonify(uuid=str(uuid.uuid4()))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value)


def test_base64_decodes(world: World) -> None:
    # [core] decode_base64; the route's default value decodes to "HTTPBIN is awesome"
    status, _, text, _ = ask(world, "GET", "/base64/SFRUUEJJTiBpcyBhd2Vzb21l")
    assert (status, text) == (200, "HTTPBIN is awesome")


def test_redirect_to_uses_the_url_and_a_3xx_status(world: World) -> None:
    status, headers, _, _ = ask(world, "GET", "/redirect-to?url=https://example.com/x&status_code=307")
    # [core] redirect_to: Location is the url argument as given; status_code is used when 300-399
    assert (status, headers["location"]) == (307, "https://example.com/x")
    assert ask(world, "GET", "/redirect-to?url=/get&status_code=200")[0] == 302


def test_basic_auth(world: World) -> None:
    good = ("Authorization", "Basic " + base64.b64encode(b"user:pass").decode())
    # [core] basic_auth: 200 {"authenticated": true, "user": ...}, else [helpers] status_code(401)
    assert ask_json(world, "GET", "/basic-auth/user/pass", good) == {"authenticated": True, "user": "user"}
    status, headers, _, _ = ask(world, "GET", "/basic-auth/user/other", good)
    assert (status, headers["www-authenticate"]) == (401, 'Basic realm="Fake Realm"')
    # [core] hidden_basic_auth answers 404 instead of 401
    assert ask(world, "GET", "/hidden-basic-auth/user/other", good)[0] == 404


def test_bearer(world: World) -> None:
    # [core] bearer_auth: 401 with "WWW-Authenticate: Bearer" without a token
    status, headers, _, _ = ask(world, "GET", "/bearer")
    assert (status, headers["www-authenticate"]) == (401, "Bearer")
    assert ask_json(world, "GET", "/bearer", ("Authorization", "Bearer abc"))["token"] == "abc"


def test_cookies_hide_analytics_cookies(world: World) -> None:
    # [core] view_cookies drops ENV_COOKIES such as __utma unless ?show_env
    data = ask_json(world, "GET", "/cookies", ("Cookie", "session=s1; __utma=x"))
    assert data == {"cookies": {"session": "s1"}}


def test_cache_n_sets_cache_control(world: World) -> None:
    _, headers, _, _ = ask(world, "GET", "/cache/60")
    # [core] cache_control: "public, max-age={value}"
    assert headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize("path", ["/json", "/image/png", "/gzip", "/bytes/10", "/drip", "/stream/3", "/xml"])
def test_other_httpbin_endpoints_are_refused_by_name(world: World, path: str) -> None:
    status, _, text, _ = ask(world, "GET", path)
    # [core] these routes exist on httpbin; right or refused by name (project rules), never a false 404
    assert status == 501
    assert text.startswith(f"not modelled by the offline simulator: httpbin's {path};")
