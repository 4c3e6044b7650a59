"""Read a curl command line the way curl 8 does.

Both backends need the same reading: the simulator to know what to do, the real-cluster backend to
know where curl printed the headers. Syntax follows curl's own parser: bundled short flags
(``-sSL``), attached values (``-o/dev/null``, ``-m5``), ``--long value`` and ``--long=value``,
``--no-`` for booleans, ``--`` to end options, the URL anywhere, the last of a repeated option wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

from . import optable
from .errors import TRY_HELP, CurlUnsupported, CurlUsageError, transfer_error, usage_error
from .urls import parse_url, split_url

__all__ = [
    "CurlOptions",
    "CurlUnsupported",
    "CurlUsageError",
    "Token",
    "iter_options",
    "parse_args",
    "parse_args_lenient",
    "split_url",
]

_SECONDS = re.compile(r"^(\d+(\.\d+)?|\.\d+)$")
_RESOLVE = re.compile(r"^\+?(?P<host>[^:]+):(?P<port>\d+):(?P<addrs>.+)$")
_RESOLVE_REMOVE = re.compile(r"^-[^:]+:\d+$")
_INFO = {"help", "version", "manual"}
_DATA = {"data", "data-ascii", "data-binary", "data-raw", "data-urlencode", "json"}


@dataclass
class CurlOptions:
    """What a curl command line asks for. Fields not given keep curl's defaults."""

    url: str = ""  # "" only when an informational option (--help, --version, --manual) ran instead
    method: str | None = None  # -X/--request
    head: bool = False  # -I/--head
    include: bool = False  # -i/--include/--show-headers
    silent: bool = False  # -s
    show_error: bool = False  # -S
    follow: bool = False  # -L/--location
    max_redirs: int = 50  # --max-redirs; -1 means unlimited
    output: str | None = None  # -o/--output
    dump_header: str | None = None  # -D/--dump-header
    write_out: str | None = None  # -w/--write-out
    max_time: float | None = None  # -m/--max-time, seconds
    connect_timeout: float | None = None  # --connect-timeout, seconds
    resolve: list[tuple[str, int, str]] = field(default_factory=list)  # --resolve host:port:addr
    cacert: str | None = None
    cert: str | None = None  # --cert/-E
    key: str | None = None
    insecure: bool = False  # -k
    verbose: bool = False  # -v
    headers: list[tuple[str, str]] = field(default_factory=list)  # -H, in order
    data: str | None = None  # -d and friends; several are joined with "&" as curl does
    user_agent: str | None = None  # -A
    fail: bool = False  # -f
    http1_1: bool = False  # --http1.1 (the last HTTP version option given decides)
    # Beyond the common set: options that change what curl prints or sends.
    fail_with_body: bool = False  # --fail-with-body: exit 22 but still write the body
    no_progress_meter: bool = False  # --no-progress-meter: no meter, errors still shown
    http_version: str | None = None  # "1.0", "1.1", "2", "2-prior-knowledge", "3", "3-only"
    get: bool = False  # -G: send -d data as a query string with GET
    json: bool = False  # --json: -d plus JSON Content-Type and Accept headers
    info: str | None = None  # "help", "version" or "manual" when curl would print that and exit 0
    #: Valid curl options labkit does not act on, as (long name, value); "no-x" when switched off.
    extras: list[tuple[str, str | None]] = field(default_factory=list)

    referer: str | None = None  # -e/--referer
    empty_headers: set[str] = field(default_factory=set)  # lower-case names given as "-H 'Name;'"
    proxy: str | None = None  # -x/--proxy, as written
    proxytunnel: bool = False  # -p: CONNECT through the proxy even for http:// URLs
    noproxy: str | None = None  # --noproxy: hosts reached directly, overriding NO_PROXY
    connect_to: list[str] = field(default_factory=list)  # --connect-to HOST1:PORT1:HOST2:PORT2
    #: Every option as curl read it, in order, for the simulator's modelled-or-refused check.
    tokens: list[Token] = field(default_factory=list)

    @property
    def effective_method(self) -> str:
        """The request method curl uses for the first request (``request.method`` owns the rule)."""
        from .request import method

        return method(self)

    @property
    def show_progress(self) -> bool:
        """curl draws its meter on stderr unless silenced (stdout is never a terminal here)."""
        return not self.silent and not self.no_progress_meter

    @property
    def show_errors(self) -> bool:
        """``curl: (N) ...`` lines appear unless -s without -S."""
        return not self.silent or self.show_error

    @property
    def headers_in_output(self) -> bool:
        """-i and -I write the header blocks into the body stream (stdout unless -o)."""
        return self.include or self.head


@dataclass(frozen=True)
class Token:
    """One option as curl understood it: ``arg`` is the command-line word it came from."""

    arg: str
    name: str  # the long name, "url" for a bare URL
    value: str | None
    toggle: bool = True


def iter_options(argv: list[str]) -> Iterator[Token]:
    """Split argv into options and URLs; raise CurlUsageError on an unknown or incomplete option."""
    i = 0
    still_flags = True
    while i < len(argv):
        arg = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if not (still_flags and arg.startswith("-")):
            yield Token(arg, "url", arg)
            i += 1
        elif arg == "--":
            still_flags = False  # what follows is a URL even when it starts with "-"
            i += 1
        else:
            used = yield from (_long(arg, nxt) if arg.startswith("--") else _short(arg, nxt))
            i += 2 if used else 1


def _long(arg: str, nxt: str | None) -> Generator[Token, None, bool]:
    word, toggle, negated = arg[2:], True, False
    if word.startswith("no-"):
        word, toggle, negated = word[3:], False, True
    elif word.startswith("expand-"):
        word = word[7:]  # variable expansion is not modelled; the value is used as written
    word, eq, inline = word.partition("=")  # curl 8.15+ accepts --name=value
    kind = optable.kind(word)
    if kind is None:
        raise usage_error(f"option {arg}: is unknown")
    if negated and kind != "flag":
        raise usage_error(f"option {arg}: the given option cannot be reversed with a --no- prefix")
    name = optable.ALIASES.get(word, word)
    if kind != "arg" or name == "help":
        yield Token(arg, name, None, toggle)
        return False
    if eq:
        yield Token(arg, name, inline)
        return False
    if nxt is None:
        raise usage_error(f"option {arg}: requires parameter")
    yield Token(arg, name, nxt)
    return True


def _short(arg: str, nxt: str | None) -> Generator[Token, None, bool]:
    letters = arg[1:] or "\0"  # a lone "-" is an unknown option to curl
    for pos, letter in enumerate(letters):
        name = optable.SHORT.get(letter)
        if name is None:
            raise usage_error(f"option {arg}: is unknown")
        if optable.kind(name) != "arg" or name == "help":
            yield Token(arg, name, None, letter not in optable.SHORT_NEGATES)
            continue
        rest = letters[pos + 1 :]
        if rest:  # -o/dev/null, -m5: the rest of the word is the value
            yield Token(arg, name, rest)
            return False
        if nxt is None:
            raise usage_error(f"option {arg}: requires parameter")
        yield Token(arg, name, nxt)
        return True
    return False


def parse_args(argv: list[str]) -> CurlOptions:
    """Parse curl's arguments (without the leading "curl") into CurlOptions.

    Raises CurlUsageError carrying curl's exit code and stderr: 2 for a bad option or no URL,
    3 for a malformed URL, 1 for an unsupported scheme, 49 for a bad --resolve entry.
    """
    if not argv:
        raise CurlUsageError("curl: no arguments", exit_code=2, stderr=TRY_HELP)
    builder = _Builder()
    for token in iter_options(argv):
        builder.apply(token)
        if builder.opts.info:
            return builder.opts  # --help/--version stop curl before anything else
    return builder.finish()


def parse_args_lenient(argv: list[str]) -> CurlOptions:
    """Best-effort reading that never raises, for interpreting output of a curl that already ran.

    Stops at the first option curl would reject (curl stopped there too); keeps the first URL when
    there are several; skips the URL and --resolve checks.
    """
    builder = _Builder()
    try:
        for token in iter_options(argv):
            builder.apply(token)
    except CurlUsageError:
        pass
    for entry in builder.resolve_raw:
        try:
            builder.add_resolve(entry)
        except CurlUsageError:
            continue
    builder.opts.url = builder.urls[0] if builder.urls else ""
    return builder.opts


class _Builder:
    def __init__(self) -> None:
        self.opts = CurlOptions()
        self.urls: list[str] = []
        self.next_used = False
        self.resolve_raw: list[str] = []

    def apply(self, tok: Token) -> None:
        self.opts.tokens.append(tok)
        handler = _HANDLERS.get(tok.name)
        if handler is not None:
            handler(self, tok)
        elif tok.name == "next":
            self.next_used = True
        elif tok.name in _INFO and tok.toggle:
            self.opts.info = tok.name
        else:
            self.opts.extras.append((tok.name if tok.toggle else f"no-{tok.name}", tok.value))

    def finish(self) -> CurlOptions:
        opts = self.opts
        if opts.head and opts.data is not None and not opts.get:
            raise _method_conflict(opts)  # curl checks once all options are read: -G may come last
        if self.next_used:
            from .support import not_modelled

            raise not_modelled("--next", "several transfers in one curl call are not simulated")
        if len(self.urls) > 1:
            raise CurlUnsupported(f"one URL per curl call, got {len(self.urls)}: {' '.join(self.urls)}")
        for entry in self.resolve_raw:
            self.add_resolve(entry)
        if not self.urls:
            raise usage_error("(2) no URL specified")
        opts.url = self.urls[0]
        try:
            parse_url(opts.url)
        except CurlUsageError as err:
            raise transfer_error(err.exit_code, err.detail, opts.silent, opts.show_error) from None
        return opts

    def add_resolve(self, entry: str) -> None:
        if _RESOLVE_REMOVE.match(entry):
            return  # "-host:port" removes an earlier entry; nothing was added here
        m = _RESOLVE.match(entry)
        if not m or int(m["port"]) > 65535:
            text = f"Couldn't parse CURLOPT_RESOLVE entry '{entry}'"
            raise transfer_error(49, text, self.opts.silent, self.opts.show_error)
        for addr in m["addrs"].split(","):
            bare = addr[1:-1] if addr.startswith("[") and addr.endswith("]") else addr
            self.opts.resolve.append((m["host"], int(m["port"]), bare))


_CONFLICT = "You can only select one HTTP request method! You asked for both POST (-d, --data) and HEAD (-I, --head)."


def _warning(text: str, width: int = 79) -> str:
    """curl's warnf: "Warning: " on every line, wrapped at the last blank before column 79."""
    prefix = "Warning: "
    room = width - len(prefix)
    out = []
    while text:
        if len(text) > room:
            cut = room - 1
            while cut and text[cut] not in " \t":
                cut -= 1
            cut = cut or room - 1
            out.append(prefix + text[: cut + 1])
            text = text[cut + 1 :]
        else:
            out.append(prefix + text)
            text = ""
    return "".join(line + "\n" for line in out)


# -- option handlers ------------------------------------------------------------------------------

Handler = Callable[[_Builder, Token], None]


def _flag(attr: str) -> Handler:
    def handle(b: _Builder, tok: Token) -> None:
        setattr(b.opts, attr, tok.toggle)

    return handle


def _string(attr: str) -> Handler:
    def handle(b: _Builder, tok: Token) -> None:
        setattr(b.opts, attr, tok.value)

    return handle


def _seconds(attr: str) -> Handler:
    def handle(b: _Builder, tok: Token) -> None:
        value = tok.value or ""
        if not _SECONDS.match(value):
            raise usage_error(f"option {tok.arg}: expected a proper numerical parameter")
        setattr(b.opts, attr, float(value))

    return handle


def _max_redirs(b: _Builder, tok: Token) -> None:
    value = tok.value or ""
    if not re.fullmatch(r"-?\d+", value) or int(value) < -1:
        raise usage_error(f"option {tok.arg}: expected a proper numerical parameter")
    b.opts.max_redirs = int(value)


def _url(b: _Builder, tok: Token) -> None:
    b.urls.append(tok.value or "")


def _method_conflict(opts: CurlOptions) -> CurlUsageError:
    """-I together with -d: curl warns (unless -s) and stops with exit 2."""
    return CurlUsageError(
        "curl: You can only select one HTTP request method!",
        exit_code=2,
        stderr="" if opts.silent else _warning(_CONFLICT),
    )


def _header(b: _Builder, tok: Token) -> None:
    raw = tok.value or ""
    if raw.startswith("@"):
        b.opts.extras.append(("header", raw))  # headers read from a file are not modelled
        return
    name, sep, value = raw.partition(":")
    if not sep and name.endswith(";"):
        name = name[:-1]  # "Name;" sends the header with an empty value
        b.opts.empty_headers.add(name.strip().lower())
    b.opts.headers.append((name.strip(), value.strip()))


def _data(b: _Builder, tok: Token) -> None:
    value = tok.value or ""
    if tok.name == "data-urlencode":
        value = _urlencode(value)
    opts = b.opts
    if tok.name == "json":
        opts.json = True
        opts.data = value if opts.data is None else opts.data + value
    else:
        opts.data = value if opts.data is None else f"{opts.data}&{value}"


def _urlencode(value: str) -> str:
    """--data-urlencode: "content", "=content" or "name=content"; only content is encoded.

    curl escapes all but unreserved characters and writes a space as "+" (curl 7.88 sends
    ``n=a+b%26c`` for ``--data-urlencode 'n=a b&c'``).
    """
    if value.startswith("@") or re.match(r"^[^=@]+@", value):
        return value  # "@file" and "name@file" read a file; the simulator refuses them

    def encode(text: str) -> str:
        return quote(text, safe="").replace("%20", "+")

    name, sep, content = value.partition("=")
    if not sep:
        return encode(value)
    return f"{name}={encode(content)}" if name else encode(content)


def _http_version(version: str) -> Handler:
    def handle(b: _Builder, tok: Token) -> None:
        b.opts.http_version = version
        b.opts.http1_1 = version == "1.1"

    return handle


def _resolve(b: _Builder, tok: Token) -> None:
    b.resolve_raw.append(tok.value or "")  # curl checks entries when the transfer starts


def _connect_to(b: _Builder, tok: Token) -> None:
    b.opts.connect_to.append(tok.value or "")


def _out_null(b: _Builder, tok: Token) -> None:
    b.opts.output = "/dev/null" if tok.toggle else None  # --out-null: discard the body, like -o /dev/null


def _progress_meter(b: _Builder, tok: Token) -> None:
    b.opts.no_progress_meter = not tok.toggle


_HANDLERS: dict[str, Handler] = {
    "url": _url,
    "request": _string("method"),
    "head": _flag("head"),
    "show-headers": _flag("include"),
    "silent": _flag("silent"),
    "show-error": _flag("show_error"),
    "location": _flag("follow"),
    "max-redirs": _max_redirs,
    "output": _string("output"),
    "dump-header": _string("dump_header"),
    "write-out": _string("write_out"),
    "max-time": _seconds("max_time"),
    "connect-timeout": _seconds("connect_timeout"),
    "resolve": _resolve,
    "cacert": _string("cacert"),
    "cert": _string("cert"),
    "key": _string("key"),
    "insecure": _flag("insecure"),
    "verbose": _flag("verbose"),
    "header": _header,
    "user-agent": _string("user_agent"),
    "fail": _flag("fail"),
    "fail-with-body": _flag("fail_with_body"),
    "get": _flag("get"),
    "referer": _string("referer"),
    "proxy": _string("proxy"),
    "proxytunnel": _flag("proxytunnel"),
    "noproxy": _string("noproxy"),
    "connect-to": _connect_to,
    "out-null": _out_null,
    "progress-meter": _progress_meter,
    "http1.0": _http_version("1.0"),
    "http1.1": _http_version("1.1"),
    "http2": _http_version("2"),
    "http2-prior-knowledge": _http_version("2-prior-knowledge"),
    "http3": _http_version("3"),
    "http3-only": _http_version("3-only"),
    **{name: _data for name in _DATA},
}
