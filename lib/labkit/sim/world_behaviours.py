"""How an external server answers: a small set of named behaviours, each a pure function Request → Reply.

A behaviour sees only the request and the facts of the visit (port, TLS, the client's public address,
the date), so a real HTTP server can serve the very same answers. ``build(name, settings)`` makes one
from the data file's ``behaviour`` and ``with`` fields and refuses unknown names and settings.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import LabkitError
from .messages import Reply, Request

#: Reason phrases that differ from Python's table (RFC 2324's teapot as most servers spell it).
_REASONS = {418: "I'm a teapot"}


def reason(status: int) -> str:
    """The standard reason phrase for a status code, or "" for a code without one."""
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class WorldError(LabkitError):
    """The outside world's data, or a change to it, is wrong. Nothing was changed."""

    hint = "fix the field named above; help(lab.world.add_host) and labs/common/world.yaml describe the format"


@dataclass(frozen=True)
class Visit:
    """What a server knows about a request besides the request itself."""

    port: int
    tls: bool
    client_address: str  # the address the connection comes from, as the server sees it
    date: str  # the HTTP Date header value
    rng: random.Random  # for answers that are random on the real server (httpbin's /status/a,b)


Behaviour = Callable[[Request, Visit], Reply]


def split_target(target: str) -> tuple[str, str]:
    """``/path?query`` → (``/path``, ``query``)."""
    path, _, query = target.partition("?")
    return path or "/", query


def finish(reply: Reply, request: Request, visit: Visit) -> Reply:
    """What every HTTP server does last: a Date header, and no body for HEAD (the length stays)."""
    headers = reply.headers
    if reply.header("date") is None:
        headers = (("date", visit.date), *headers)
    body = "" if request.method == "HEAD" else reply.body
    return Reply(reply.status, reply.reason, headers, body, reply.http_version, reply.delay)


# -- settings of each behaviour, as the data file writes them ----------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _refuse(headers: dict[str, str], names: tuple[str, ...], why: str) -> dict[str, str]:
    for name in headers:
        if name.lower() in names:
            raise ValueError(f"{name}: {why}")
    return headers


class Page(_Strict):
    status: int = Field(200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = ""

    @field_validator("headers")
    @classmethod
    def _no_length(cls, value: dict[str, str]) -> dict[str, str]:
        return _refuse(value, ("content-length",), "computed from the body; leave it out")

    def reply(self) -> Reply:
        headers = tuple((k.lower(), v) for k, v in self.headers.items())
        length = str(len(self.body.encode()))
        return Reply(self.status, reason(self.status), (*headers, ("content-length", length)), self.body)


class SitePage(Page):
    path: str = Field(pattern=r"^/")
    host: str | None = None  # only for this Host; any host when unset


class SiteSettings(_Strict):
    pages: list[SitePage] = Field(min_length=1)
    not_found: Page = Page(status=404, headers={"content-type": "text/html"}, body="Not Found\n")

    @field_validator("pages")
    @classmethod
    def _each_once(cls, value: list[SitePage]) -> list[SitePage]:
        seen = set()
        for page in value:
            key = (page.host.lower() if page.host else None, page.path)
            if key in seen:
                raise ValueError(f"two pages for {page.host or 'any host'} {page.path}")
            seen.add(key)
        return value


class RedirectSettings(_Strict):
    status: int = Field(301, ge=300, le=399)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _no_location(cls, value: dict[str, str]) -> dict[str, str]:
        return _refuse(value, ("location", "content-length"), "set by the redirect itself; leave it out")


class NoSettings(_Strict):
    pass


# -- the behaviours --------------------------------------------------------------------------------


def _static_page(settings: Page) -> Behaviour:
    reply = settings.reply()

    def answer(request: Request, visit: Visit) -> Reply:
        return finish(reply, request, visit)

    return answer


def _redirect_to_https(settings: RedirectSettings) -> Behaviour:
    extra = tuple((k.lower(), v) for k, v in settings.headers.items())

    def answer(request: Request, visit: Visit) -> Reply:
        host = request.authority.rsplit(":", 1)[0] if not request.authority.endswith("]") else request.authority
        location = f"https://{host}{request.path}"
        headers = (*extra, ("location", location), ("content-length", "0"))
        return finish(Reply(settings.status, reason(settings.status), headers), request, visit)

    return answer


def _site(settings: SiteSettings) -> Behaviour:
    pages = {(p.host.lower() if p.host else None, p.path): p.reply() for p in settings.pages}
    missing = settings.not_found.reply()

    def answer(request: Request, visit: Visit) -> Reply:
        path, _ = split_target(request.path)
        host = request.authority.rsplit(":", 1)[0].lower()
        reply = pages.get((host, path)) or pages.get((None, path)) or missing
        return finish(reply, request, visit)

    return answer


def _httpbin(settings: NoSettings) -> Behaviour:
    from .world_httpbin import httpbin

    return httpbin


#: name → (settings model, factory). The data file's ``behaviour`` picks one, ``with`` sets it up.
BEHAVIOURS: dict[str, tuple[type[_Strict], Callable[[Any], Behaviour]]] = {
    "httpbin": (NoSettings, _httpbin),
    "redirect-to-https": (RedirectSettings, _redirect_to_https),
    "static-page": (Page, _static_page),
    "site": (SiteSettings, _site),
}


def build(name: str, settings: dict[str, Any] | None, where: str) -> Behaviour:
    """The behaviour ``name`` set up with ``settings``; ``where`` names the place in the data for errors."""
    if name not in BEHAVIOURS:
        known = ", ".join(sorted(BEHAVIOURS))
        raise WorldError(f"{where}.behaviour: unknown behaviour {name!r} (known: {known})")
    model, factory = BEHAVIOURS[name]
    try:
        parsed = model.model_validate(settings or {})
    except ValidationError as exc:
        raise WorldError(f"{describe(exc, f'{where}.with')} (behaviour {name})") from None
    return factory(parsed)


def describe(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: the field path (``hosts[2].ports[1].with.status``) and pydantic's message."""
    parts = []
    for err in exc.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        where = f"{prefix}{path}".lstrip(".")
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
