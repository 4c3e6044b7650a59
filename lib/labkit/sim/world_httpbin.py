"""httpbin.org: the endpoints the labs and istio.io's egress tasks use, answered as httpbin answers them.

Facts from httpbin's source (postmanlabs/httpbin, ``httpbin/core.py`` and ``httpbin/helpers.py``) and
the Flask/Werkzeug stack it runs on:
- routes and their methods; a GET route also answers HEAD and OPTIONS, any other method gets 405
  with an ``Allow`` header; an unknown path gets Werkzeug's 404 page;
- JSON bodies are sorted, indented by two spaces and end with a newline (istio.io shows the shape);
- ``headers`` are the request headers in Werkzeug's Title-Case, without the proxy headers httpbin hides
  (``ENV_HEADERS``) unless the query has ``show_env``; httpbin.org's load balancer adds
  ``X-Amzn-Trace-Id`` and ``X-Forwarded-For``, so ``origin`` is the client's public address;
- ``args`` and ``form`` keep one value as a string and several as a list; ``data`` is the raw body
  unless it was a form; ``json`` is the body parsed as JSON, or null;
- ``/delay/N`` waits min(N, 10) seconds; ``/status/a,b:w`` picks a code at random by weight;
  ``/redirect/N`` → ``/relative-redirect/N-1`` → ... → ``/get`` with 302s.
Status lines use Werkzeug's upper-case reason phrases ("404 NOT FOUND").
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

from .messages import Reply, Request
from .world_behaviours import Visit, finish, reason, split_target

SERVER = "gunicorn/19.9.0"
MAX_DELAY = 10.0  # httpbin: delay = min(float(delay), 10)
REDIRECT_LOCATION = "/redirect/1"  # where /status/3xx points

#: Headers httpbin removes from what it echoes (helpers.ENV_HEADERS).
ENV_HEADERS = frozenset(
    h.lower()
    for h in (
        "X-Varnish",
        "X-Request-Start",
        "X-Heroku-Queue-Depth",
        "X-Real-Ip",
        "X-Forwarded-Proto",
        "X-Forwarded-Protocol",
        "X-Forwarded-Ssl",
        "X-Heroku-Queue-Wait-Time",
        "X-Forwarded-For",
        "X-Heroku-Dynos-In-Use",
        "X-Forwarded-Port",
        "X-Request-Id",
        "Via",
        "Total-Route-Time",
        "Connect-Time",
    )
)

#: Analytics cookies httpbin leaves out of /cookies (core.ENV_COOKIES).
ENV_COOKIES = frozenset(
    {
        "_gauges_unique",
        "_gauges_unique_year",
        "_gauges_unique_month",
        "_gauges_unique_day",
        "_gauges_unique_hour",
        "__utmz",
        "__utma",
        "__utmb",
    }
)

_TEAPOT = """
    -=[ teapot ]=-

       _...._
     .'  _ _ `.
    | ."` ^ `". _,
    \\_;`"---"`|//
      |       ;/
      \\_     _/
        `\"\"\"`
"""

_PAGE = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
    "<title>{code} {title}</title>\n<h1>{title}</h1>\n<p>{text}</p>\n"
)
_NOT_FOUND_TEXT = (
    "The requested URL was not found on the server.  "
    "If you entered the URL manually please check your spelling and try again."
)
_NOT_ALLOWED_TEXT = "The method is not allowed for the requested URL."
_SERVER_ERROR_TEXT = (
    "The server encountered an internal error and was unable to complete your request.  "
    "Either the server is overloaded or there is an error in the application."
)

ANY = ("GET", "POST", "PUT", "DELETE", "PATCH", "TRACE")  # httpbin's list for /anything, /status, /delay


class _ServerError(Exception):
    """What makes httpbin's Flask app answer 500 (a failed assert, float("abc"), a missing header)."""


def _status_line(status: int) -> str:
    """Werkzeug's reason phrase: the standard one in upper case, or UNKNOWN."""
    return reason(status).upper() or "UNKNOWN"


def _reply(status: int, content_type: str, body: str, *extra: tuple[str, str], request: Request) -> Reply:
    origin = request.header("origin") or "*"
    headers = (
        ("content-type", content_type),
        ("content-length", str(len(body.encode()))),
        *extra,
        ("server", SERVER),
        ("access-control-allow-origin", origin),
        ("access-control-allow-credentials", "true"),
    )
    return Reply(status, _status_line(status), headers, body)


def _json(payload: object, request: Request, status: int = 200) -> Reply:
    body = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    return _reply(status, "application/json", body, request=request)


def _error_page(status: int, text: str, request: Request, *extra: tuple[str, str]) -> Reply:
    title = reason(status)
    body = _PAGE.format(code=status, title=title, text=text)
    return _reply(status, "text/html", body, *extra, request=request)


# -- what httpbin reads from a request (helpers.get_dict) -------------------------------------------


def semiflatten(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """One value stays a string, several become a list (httpbin's semiflatten)."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}


def echoed_headers(request: Request, args: Mapping[str, object]) -> dict[str, str]:
    """The request headers as httpbin shows them: Title-Case, repeats joined, proxy headers hidden."""
    joined: dict[str, str] = {}
    for name, value in request.headers:
        key = name.title()  # Werkzeug's EnvironHeaders: HTTP_X_B3_TRACEID → X-B3-Traceid
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    if not any(k.lower() == "host" for k in joined):
        joined["Host"] = request.authority
    if "show_env" not in args:
        joined = {k: v for k, v in joined.items() if k.lower() not in ENV_HEADERS}
    return joined


def _trace_id(visit: Visit) -> str:
    """httpbin.org's load balancer stamps each request with an X-Amzn-Trace-Id."""
    return f"Root=1-{visit.rng.getrandbits(32):08x}-{visit.rng.getrandbits(96):024x}"


def _body_fields(request: Request) -> tuple[dict[str, object], str, dict[str, object], object]:
    """(form, data, files, json) as Werkzeug parses the body for httpbin."""
    content_type = (request.header("content-type") or "").strip()
    mimetype = content_type.split(";", 1)[0].strip().lower()
    if mimetype == "application/x-www-form-urlencoded":
        return dict(semiflatten(parse_qsl(request.body, keep_blank_values=True))), "", {}, None
    if mimetype == "multipart/form-data":
        form, files = _multipart(content_type, request.body)
        return form, "", files, None
    try:
        parsed = json.loads(request.body)
    except ValueError:
        parsed = None
    return {}, request.body, {}, parsed


def _multipart(content_type: str, body: str) -> tuple[dict[str, object], dict[str, object]]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n{body}".encode())
    form: list[tuple[str, str]] = []
    files: list[tuple[str, str]] = []
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True)
        value = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload or "")
        target = files if part.get_filename() is not None else form
        target.append((str(name), value))
    return dict(semiflatten(form)), dict(semiflatten(files))


def request_dict(request: Request, visit: Visit, *keys: str) -> dict[str, object]:
    """httpbin's get_dict: the named parts of what it saw."""
    _, query = split_target(request.path)
    args = semiflatten(parse_qsl(query, keep_blank_values=True))
    headers = echoed_headers(request, args)
    headers.setdefault("X-Amzn-Trace-Id", _trace_id(visit))
    forwarded = request.header("x-forwarded-for")
    origin = f"{forwarded}, {visit.client_address}" if forwarded else visit.client_address
    form, data, files, parsed = _body_fields(request) if request.body else ({}, "", {}, None)
    scheme = "https" if visit.tls else "http"
    everything: dict[str, object] = {
        "url": f"{scheme}://{request.authority}{request.path}",
        "args": args,
        "form": form,
        "data": data,
        "origin": origin,
        "headers": headers,
        "files": files,
        "json": parsed,
        "method": request.method,
    }
    return {k: everything[k] for k in keys}


# -- the endpoints ------------------------------------------------------------------------------------

Endpoint = Callable[[Request, Visit, "re.Match[str]"], Reply]
_WITH_BODY = ("url", "args", "form", "data", "origin", "headers", "files", "json")


def _echo(*keys: str) -> Endpoint:
    return lambda request, visit, _m: _json(request_dict(request, visit, *keys), request)


def _headers(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    return _json(request_dict(request, visit, "headers"), request)


def _ip(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    return _json(request_dict(request, visit, "origin"), request)


def _user_agent(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    agent = request.header("user-agent")
    if agent is None:  # httpbin indexes headers['user-agent'] and fails without one
        raise _ServerError("no User-Agent header")
    return _json({"user-agent": agent}, request)


def _delay(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    try:
        asked = float(m.group(1))
    except ValueError:
        raise _ServerError("float() of a non-number") from None
    delay = min(asked, MAX_DELAY)
    if math.isnan(delay) or delay < 0:  # time.sleep() refuses these
        raise _ServerError("sleep length must be non-negative")
    reply = _json(request_dict(request, visit, *_WITH_BODY[:-1]), request)
    return Reply(reply.status, reply.reason, reply.headers, reply.body, delay=delay)


def _status(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    codes = m.group(1)
    choices: list[tuple[int, float]] = []
    for choice in codes.split(","):
        code, _, weight = choice.partition(":")
        try:
            choices.append((int(code), float(weight) if weight else 1.0))
        except ValueError:
            body = "Invalid status code"
            return _reply(400, "text/html; charset=utf-8", body, request=request)
    code = choices[0][0] if len(choices) == 1 else _weighted(choices, visit)
    return _status_reply(code, request)


def _weighted(choices: list[tuple[int, float]], visit: Visit) -> int:
    """httpbin's weighted_choice: a code drawn with probability proportional to its weight."""
    cumulative: list[float] = []
    total = 0.0
    for _, weight in choices:
        total += weight
        cumulative.append(total)
    index = bisect.bisect(cumulative, visit.rng.random() * total)
    return choices[min(index, len(choices) - 1)][0]


def _status_reply(code: int, request: Request) -> Reply:
    """helpers.status_code: the bodies and headers httpbin gives a few codes."""
    html = "text/html; charset=utf-8"
    if code in (301, 302, 303, 305, 307):
        return _reply(code, html, "", ("location", REDIRECT_LOCATION), request=request)
    if code == 401:
        return _reply(code, html, "", ("www-authenticate", 'Basic realm="Fake Realm"'), request=request)
    if code == 402:
        return _reply(code, html, "Fuck you, pay me!", ("x-more-info", "http://vimeo.com/22053820"), request=request)
    if code == 406:
        body = json.dumps(
            {
                "message": "Client did not request a supported media type.",
                "accept": ["image/webp", "image/svg+xml", "image/jpeg", "image/png", "image/*"],
            }
        )
        return _reply(code, "application/json", body, request=request)
    if code == 407:
        return _reply(code, html, "", ("proxy-authenticate", 'Basic realm="Fake Realm"'), request=request)
    if code == 418:
        return _reply(code, html, _TEAPOT, ("x-more-info", "http://tools.ietf.org/html/rfc2324"), request=request)
    return _reply(code, html, "", request=request)


def _redirect_page(location: str, request: Request) -> Reply:
    """Werkzeug's redirect(): 302 with a short HTML page naming the target."""
    body = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<title>Redirecting...</title>\n'
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to target URL: "
        f'<a href="{location}">{location}</a>.  If not click the link.'
    )
    return _reply(302, "text/html; charset=utf-8", body, ("location", location), request=request)


def _redirect(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    n = int(m.group(1))
    if n <= 0:  # assert n > 0
        raise _ServerError("assert n > 0")
    _, query = split_target(request.path)
    absolute = dict(parse_qsl(query)).get("absolute", "false").lower() == "true"
    base = f"{'https' if visit.tls else 'http'}://{request.authority}" if absolute else ""
    if n == 1:
        return _redirect_page(f"{base}/get", request)
    kind = "absolute" if absolute else "relative"
    return _redirect_page(f"{base}/{kind}-redirect/{n - 1}", request)


def _relative_redirect(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    n = int(m.group(1))
    if n <= 0:
        raise _ServerError("assert n > 0")
    location = "/get" if n == 1 else f"/relative-redirect/{n - 1}"
    return _reply(302, "text/html; charset=utf-8", "", ("location", location), request=request)


def _absolute_redirect(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    n = int(m.group(1))
    if n <= 0:
        raise _ServerError("assert n > 0")
    base = f"{'https' if visit.tls else 'http'}://{request.authority}"
    return _redirect_page(f"{base}/get" if n == 1 else f"{base}/absolute-redirect/{n - 1}", request)


def _response_headers(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    """The query becomes response headers, and the body lists every response header (its own
    Content-Length included, so httpbin recomputes until the body stops changing)."""
    _, query = split_target(request.path)
    extra = parse_qsl(query, keep_blank_values=True)
    body = ""
    while True:
        listed = [("Content-Type", "application/json"), ("Content-Length", str(len(body.encode()))), *extra]
        everything: dict[str, object] = {}
        for key, _ in listed:
            values = [v for k, v in listed if k.lower() == key.lower()]
            everything[key] = values[0] if len(values) == 1 else values
        new = json.dumps(everything, indent=2, sort_keys=True) + "\n"
        if new == body:
            break
        body = new
    return _reply(200, "application/json", body, *((k.lower(), v) for k, v in extra), request=request)


def _landing(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    """The landing page (the real one is a long Swagger UI page; the title is the same)."""
    body = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n    <title>httpbin.org</title>\n</head>\n<body></body>\n</html>\n'
    )
    return _reply(200, "text/html; charset=utf-8", body, request=request)


def _uuid(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    return _json({"uuid": str(uuid.UUID(int=visit.rng.getrandbits(128), version=4))}, request)


def _robots(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    return _reply(200, "text/plain", "User-agent: *\nDisallow: /deny\n", request=request)


def _base64(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    try:
        text = base64.urlsafe_b64decode(m.group(1).encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = "Incorrect Base64 data try: SFRUUEJJTiBpcyBhd2Vzb21l"
    return _reply(200, "text/html; charset=utf-8", text, request=request)


def _redirect_to(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    _, query = split_target(request.path)
    args = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
    if "url" not in args:  # httpbin reads args['url'] and fails without it
        raise _ServerError("no url argument")
    status = 302
    if "status_code" in args:
        try:
            asked = int(args["status_code"])
        except ValueError:
            raise _ServerError("int() of a non-number") from None
        status = asked if 300 <= asked < 400 else 302
    return _reply(status, "text/html; charset=utf-8", "", ("location", args["url"]), request=request)


def _basic_auth(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    user, password = m.group(1), m.group(2)
    if _basic_credentials(request) == (user, password):
        return _json({"authenticated": True, "user": user}, request)
    return _status_reply(401, request)


def _hidden_basic_auth(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    user, password = m.group(1), m.group(2)
    if _basic_credentials(request) == (user, password):
        return _json({"authenticated": True, "user": user}, request)
    return _status_reply(404, request)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.header("authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _bearer(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    header = request.header("authorization")
    if not (header and header.startswith("Bearer ")):
        return _reply(401, "text/html; charset=utf-8", "", ("www-authenticate", "Bearer"), request=request)
    return _json({"authenticated": True, "token": header[len("Bearer ") :]}, request)


def _cookies(request: Request, visit: Visit, _m: re.Match[str]) -> Reply:
    jar: dict[str, str] = {}
    for header in (v for k, v in request.headers if k.lower() == "cookie"):
        for pair in header.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep:
                jar[name] = value
    _, query = split_target(request.path)
    if "show_env" not in dict(parse_qsl(query, keep_blank_values=True)):
        jar = {k: v for k, v in jar.items() if k not in ENV_COOKIES}
    return _json({"cookies": jar}, request)


def _cache_for(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    reply = _json(request_dict(request, visit, "url", "args", "headers", "origin"), request)
    return reply.with_headers(("cache-control", f"public, max-age={int(m.group(1))}"))


def _not_modelled(request: Request, visit: Visit, m: re.Match[str]) -> Reply:
    """httpbin has this endpoint, the simulated one doesn't: say so instead of a wrong answer."""
    path, _ = split_target(request.path)
    body = (
        f"not modelled by the offline simulator: httpbin's {path}; the simulated httpbin.org answers "
        f"{', '.join(MODELLED)}. Run this on a kind cluster for the real one.\n"
    )
    return Reply(501, "Not Implemented", (("content-type", "text/plain"), ("content-length", str(len(body)))), body)


#: (path pattern, methods, endpoint). GET routes also answer HEAD and OPTIONS, as in Flask.
ROUTES: list[tuple[re.Pattern[str], tuple[str, ...], Endpoint]] = [
    (re.compile(r"/get"), ("GET",), _echo("url", "args", "headers", "origin")),
    (re.compile(r"/post"), ("POST",), _echo(*_WITH_BODY)),
    (re.compile(r"/put"), ("PUT",), _echo(*_WITH_BODY)),
    (re.compile(r"/patch"), ("PATCH",), _echo(*_WITH_BODY)),
    (re.compile(r"/delete"), ("DELETE",), _echo(*_WITH_BODY)),
    (re.compile(r"/anything(?:/.+)?"), ANY, _echo("method", *_WITH_BODY)),
    (re.compile(r"/headers"), ("GET",), _headers),
    (re.compile(r"/ip"), ("GET",), _ip),
    (re.compile(r"/user-agent"), ("GET",), _user_agent),
    (re.compile(r"/status/([^/]+)"), ANY, _status),
    (re.compile(r"/delay/([^/]+)"), ANY, _delay),
    (re.compile(r"/redirect/(\d+)"), ("GET",), _redirect),
    (re.compile(r"/relative-redirect/(\d+)"), ("GET",), _relative_redirect),
    (re.compile(r"/absolute-redirect/(\d+)"), ("GET",), _absolute_redirect),
    (re.compile(r"/response-headers"), ("GET", "POST"), _response_headers),
    (re.compile(r"/"), ("GET",), _landing),
    (re.compile(r"/uuid"), ("GET",), _uuid),
    (re.compile(r"/robots\.txt"), ("GET",), _robots),
    (re.compile(r"/base64/([^/]+)"), ("GET",), _base64),
    (re.compile(r"/redirect-to"), ANY, _redirect_to),
    (re.compile(r"/basic-auth/([^/]+)/([^/]+)"), ("GET",), _basic_auth),
    (re.compile(r"/hidden-basic-auth/([^/]+)/([^/]+)"), ("GET",), _hidden_basic_auth),
    (re.compile(r"/bearer"), ("GET",), _bearer),
    (re.compile(r"/cookies"), ("GET",), _cookies),
    (re.compile(r"/cache/(\d+)"), ("GET",), _cache_for),
]

#: The endpoints answered above, for the refusal below.
MODELLED = (
    "/get",
    "/post",
    "/put",
    "/patch",
    "/delete",
    "/anything",
    "/headers",
    "/ip",
    "/user-agent",
    "/status/N",
    "/delay/N",
    "/redirect/N",
    "/relative-redirect/N",
    "/absolute-redirect/N",
    "/response-headers",
    "/",
    "/uuid",
    "/robots.txt",
    "/base64/V",
    "/redirect-to",
    "/basic-auth/U/P",
    "/hidden-basic-auth/U/P",
    "/bearer",
    "/cookies",
    "/cache/N",
)

#: httpbin's other endpoints (core.py): answered with a clear refusal, not a wrong 404.
NOT_MODELLED = re.compile(
    r"/(html|deny|gzip|deflate|brotli|stream/\d+|cookies/.+|forms/post|digest-auth/.+|drip|cache|etag/[^/]+"
    r"|encoding/utf8|bytes/\d+|stream-bytes/\d+|range/\d+|links/\d+(/\d+)?|image(/(png|jpeg|webp|svg))?|xml|json"
    r"|spec\.json)"
)


def _allowed(methods: tuple[str, ...]) -> tuple[str, ...]:
    extra = ("HEAD",) if "GET" in methods else ()
    return tuple(sorted({*methods, *extra, "OPTIONS"}))


def httpbin(request: Request, visit: Visit) -> Reply:
    """One request to httpbin.org."""
    path, _ = split_target(request.path)
    for pattern, methods, endpoint in ROUTES:
        m = pattern.fullmatch(path)
        if m is None:
            continue
        allowed = _allowed(methods)
        method = request.method.upper()
        if method not in allowed:
            reply = _error_page(405, _NOT_ALLOWED_TEXT, request, ("allow", ", ".join(allowed)))
        elif method == "OPTIONS":  # Flask's automatic answer, with httpbin's CORS preflight headers
            reply = _options(request, allowed)
        else:
            try:  # HEAD runs the GET view; finish() drops the body and keeps its length, as Flask does
                reply = endpoint(request, visit, m)
            except _ServerError:
                reply = _error_page(500, _SERVER_ERROR_TEXT, request)
        return finish(reply, request, visit)
    m = NOT_MODELLED.fullmatch(path)
    if m is not None:
        return finish(_not_modelled(request, visit, m), request, visit)
    return finish(_error_page(404, _NOT_FOUND_TEXT, request), request, visit)


def _options(request: Request, allowed: tuple[str, ...]) -> Reply:
    reply = _reply(200, "text/html; charset=utf-8", "", ("allow", ", ".join(allowed)), request=request)
    preflight = [
        ("access-control-allow-methods", "GET, POST, PUT, DELETE, PATCH, OPTIONS"),
        ("access-control-max-age", "3600"),
    ]
    asked = request.header("access-control-request-headers")
    if asked is not None:
        preflight.append(("access-control-allow-headers", asked))
    return reply.with_headers(*preflight)
