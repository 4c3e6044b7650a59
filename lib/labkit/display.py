"""Showing labkit objects: HTML and clean plain text in Jupyter, colours in a terminal.

Objects that render through ``__rich__`` inherit ``RichDisplay`` so IPython (and papermill's logged
output) gets a text/plain version without escape codes and a text/html version for the notebook.

Also here, because they decide what a learner sees while a lab runs:

- ``LiveStatus``: what a retrying check waits for, updated in place in JupyterLab;
- ``ManifestView``: the YAML a lab is about to apply, highlighted and collapsed;
- ``install_error_display``: failed checks and other labkit errors without a Python traceback.
"""

from __future__ import annotations

import functools
import html
import io
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml
from rich.console import Console, RenderableType
from rich.panel import Panel
from rich.status import Status
from rich.text import Text

WIDTH = 120
# Rich's own Jupyter <pre> style: line-height normal keeps box-drawing characters joined up.
PRE_STYLE = (
    "white-space:pre;overflow-x:auto;line-height:normal;margin:0;"
    "font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace"
)
#: A live status pushes at most one update per this many real seconds, so a long wait on a real
#: cluster doesn't flood the kernel's output channel.
UPDATE_EVERY = 1.0


def _render(obj: Any, html_output: bool) -> str:
    width = getattr(obj, "render_width", WIDTH)
    console = Console(file=io.StringIO(), record=True, width=width, force_jupyter=False, color_system="truecolor")
    console.print(obj)
    if html_output:
        return console.export_html(inline_styles=True, code_format=f'<pre style="{PRE_STYLE}">{{code}}</pre>')
    return console.export_text(styles=False)


def plain_text(obj: Any) -> str:
    """How an object reads in papermill's log and in text-only viewers: no escape codes."""
    return _render(obj, html_output=False).rstrip("\n")


class RichDisplay:
    """Mixin: IPython shows ``__rich__`` as HTML, with a plain-text twin for logs.

    Subclasses may override ``_html`` (e.g. for a collapsible block) and ``_text``, and set
    ``render_width`` (columns) for output that must fit a narrow notebook without scrolling.
    """

    render_width: int = WIDTH

    def _html(self) -> str:
        return _render(self, html_output=True)

    def _text(self) -> str:
        return plain_text(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self._text(), "text/html": self._html()}

    def __repr__(self) -> str:
        """What a terminal or ``python -i`` shows: the same readable text, never the object's fields."""
        return self._text()


def notebook_console() -> Console:
    """The console a lab prints through. In a kernel, rich sends what it prints as HTML plus a text
    twin; without a colour system that twin has no escape codes, so papermill's log stays clean,
    while the HTML keeps its colours (rich renders it from the styles, not the colour system)."""
    return Console(color_system=None) if in_ipython() else Console()


def in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


class Rendered(RichDisplay):
    """Any rich renderable (a Text, a Table...) with labkit's notebook rendering."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich__(self) -> RenderableType:
        return self.renderable


def show(obj: Any, console: Console) -> None:
    """Display in a notebook (HTML + clean text), print in a terminal."""
    if in_ipython():
        from IPython.display import display

        # Not rich's own notebook output (console.print, or the _repr_mimebundle_ every rich renderable
        # has): its text twin is full of escape codes, and its HTML has wide margins.
        display(obj if isinstance(obj, RichDisplay) else Rendered(obj))
    else:
        console.print(obj)


# -- live status of a check that retries


class Waiting(RichDisplay):
    """What a retrying check waits for: the expectation, the tries so far, and the last result."""

    def __init__(self, title: str, expected: str, within: float, simulated: bool) -> None:
        self.title, self.expected, self.within, self.simulated = title, expected, within, simulated
        self.attempts = 0
        self.elapsed = 0.0
        self.last = ""
        self.done = False
        self.passed = False

    @property
    def clock(self) -> str:
        # On the simulator nobody waits: time is virtual, so say so next to every duration.
        return "virtual clock" if self.simulated else "real time"

    def __rich__(self) -> RenderableType:
        if self.done:
            # The check's own line follows with the tries and the time; this adds what the misses got.
            if self.passed:
                return Text(f"↻ the try before it held got: {self.last}", style="cyan")
            return Text(f"↻ gave up after {_tries(self.attempts)}, {self.elapsed:.1f}s ({self.clock})", style="cyan")
        return Text.assemble(
            ("↻ waiting: ", "bold cyan"),
            (self.title, "bold"),
            (f"\n    for:      {self.expected}", "dim"),
            (f"\n    so far:   {_tries(self.attempts)}, {self.elapsed:.1f}s of {self.within:g}s ({self.clock})", "dim"),
            (f"\n    last try: {self.last}", "dim"),
        )

    def _text(self) -> str:
        # One line: papermill logs the first frame of every wait, and a log should stay scannable.
        if self.done:
            return plain_text(self)
        return (
            f"↻ waiting up to {self.within:g}s ({self.clock}): {self.title}: "
            f"want {self.expected}; try {self.attempts} got {self.last}"
        )


def _tries(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


class LiveStatus:
    """Shows a ``Waiting`` while ``Lab.verify`` retries.

    In a notebook it is one output updated in place (``display_id``): JupyterLab shows the tries as
    they happen, while papermill logs only the first frame, as update messages aren't logged. In a
    terminal it is a spinner that disappears. Anywhere else (CI logs) it stays silent and the check's
    own line reports the tries.
    """

    def __init__(
        self,
        console: Console,
        view: Waiting,
        *,
        clock: Callable[[], float] = time.monotonic,
        notebook: bool | None = None,
    ) -> None:
        self.console, self.view, self.clock = console, view, clock
        self.notebook = in_ipython() if notebook is None else notebook
        self._handle: Any = None
        self._status: Status | None = None
        self._pushed = 0.0
        self.frames = 0  # how many frames were sent: the first display plus updates

    @property
    def started(self) -> bool:
        return self._handle is not None or self._status is not None

    def waiting(self, attempts: int, elapsed: float, last: str) -> None:
        """Called after each try that did not hold yet."""
        self.view.attempts, self.view.elapsed, self.view.last = attempts, elapsed, last
        now = self.clock()
        if self.notebook:
            from IPython.display import display

            if self._handle is None:
                self._handle = display(self.view, display_id=True)
            elif now - self._pushed >= UPDATE_EVERY:
                self._handle.update(self.view)
            else:
                return
            self._pushed = now
            self.frames += 1
        elif self.console.is_terminal and not self.console.is_jupyter:
            line = f"waiting: {self.view.title} (try {attempts}, {elapsed:.1f}s of {self.view.within:g}s)"
            if self._status is None:
                self._status = self.console.status(line)
                self._status.start()
            else:
                self._status.update(line)
            self.frames += 1

    def finish(self, attempts: int, elapsed: float, passed: bool) -> None:
        """The check is decided: turn the live output into a summary of the wait (or remove the spinner)."""
        self.view.attempts, self.view.elapsed, self.view.done, self.view.passed = attempts, elapsed, True, passed
        if self._handle is not None:
            self._handle.update(self.view)
            self.frames += 1
        if self._status is not None:
            self._status.stop()


# -- manifests


@functools.cache
def _yaml_style() -> type:
    """Pygments colours from JupyterLab's own editor theme, so YAML looks like the code cells in
    light and dark themes alike; the fallbacks apply where those variables are undefined."""
    from pygments.style import Style
    from pygments.token import Comment, Name, Number, Punctuation, String, Token

    def var(name: str, fallback: str) -> str:
        return f"var(--jp-mirror-editor-{name}-color,{fallback})"  # no spaces: pygments splits on them

    class JupyterYaml(Style):
        background_color = ""
        styles = {  # noqa: RUF012 - pygments reads a class attribute
            Comment: "italic " + var("comment", "#408080"),
            Name.Tag: var("property", "#0055aa"),
            Name.Namespace: var("meta", "#aa22ff"),
            Token.Literal.Scalar: var("string", "#ba2121"),
            String: var("string", "#ba2121"),
            Number: var("number", "#008800"),
            Punctuation: var("punctuation", "#0055aa"),
        }

    return JupyterYaml


def highlight_yaml_html(text: str) -> str:
    """YAML as highlighted HTML with inline styles (a notebook output can't rely on a stylesheet)."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import YamlLexer
    except ImportError:  # pygments comes with IPython; without it, plain but readable
        return f'<pre style="{PRE_STYLE}">{html.escape(text)}</pre>'
    formatter = HtmlFormatter(noclasses=True, nobackground=True, style=_yaml_style(), prestyles=PRE_STYLE)
    return highlight(text, YamlLexer(), formatter)


def redact(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to show and to save in a notebook: Secret values become their size only."""
    shown = dict(doc)
    if doc.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(doc.get(field), Mapping):
                shown[field] = {k: f"<{len(str(v))} characters, not shown>" for k, v in doc[field].items()}
    return shown


def describe_objects(docs: Sequence[Mapping[str, Any]]) -> str:
    """``ServiceEntry/a, VirtualService/b in default``: what a set of objects is, in one line."""
    if not docs:
        return "nothing"
    objects = ", ".join(f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}" for d in docs)
    namespaces = sorted({str((d.get("metadata") or {}).get("namespace")) for d in docs} - {"None"})
    return objects + (f" in {', '.join(namespaces)}" if namespaces else "")


class Deleted(RichDisplay):
    """What ``lab.delete`` removed: one line, in the notebook as in the log."""

    def __init__(self, docs: Sequence[Mapping[str, Any]], deleted: int, source: str = "") -> None:
        self.docs, self.deleted, self.source = docs, deleted, source

    def __rich__(self) -> RenderableType:
        source = f" {self.source}:" if self.source else ""
        gone = len(self.docs) - self.deleted
        note = f" ({gone} already gone)" if gone else ""
        return Text(f"deleted{source} {describe_objects(self.docs)}{note}", style="dim")


class QuietList(list):  # type: ignore[type-arg]
    """A list that IPython does not echo as a cell's value, for calls that already showed their result."""

    def _ipython_display_(self) -> None:
        return None


class ManifestView(RichDisplay):
    """What ``lab.apply`` sends, shown just before it is applied.

    Notebook: a one-line summary that expands to the highlighted YAML. Logs and terminals: the
    summary line only, so papermill's output stays a readable account of what happened.
    """

    def __init__(self, docs: list[dict[str, Any]], source: str = "", verb: str = "applying") -> None:
        self.docs, self.source, self.verb = docs, source, verb

    def summary(self) -> str:
        source = f" {self.source}:" if self.source else ""
        return f"{self.verb}{source} {describe_objects(self.docs)}"

    def yaml_text(self) -> str:
        return yaml.safe_dump_all([redact(d) for d in self.docs], sort_keys=False, explicit_start=len(self.docs) > 1)

    def __rich__(self) -> RenderableType:
        return Text(self.summary(), style="dim")

    def _html(self) -> str:
        summary = html.escape(self.summary())
        head, sep, rest = summary.partition(": ")
        label = f"<b>{head}</b>{sep}{rest}" if sep else summary
        return (
            '<details class="labkit-manifest"><summary style="cursor:pointer">'
            f"{label} <small>(show YAML)</small></summary>"
            f'<div style="margin-left:1.2em">{highlight_yaml_html(self.yaml_text())}</div></details>'
        )


# -- errors


class ErrorView(RichDisplay):
    """A labkit error as the learner should see it: what went wrong and what to do, no stack frames."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __rich__(self) -> RenderableType:
        message = Exception.__str__(self.error)  # without the hint: it gets its own line
        body = Text(message)
        hint = getattr(self.error, "hint", "")
        if hint:
            body.append(f"\n→ {hint}", style="yellow")
        return Panel(body, title=type(self.error).__name__, title_align="left", border_style="red")


_ANSI_RED, _ANSI_RESET = "\x1b[1;31m", "\x1b[0m"


def error_lines(error: BaseException) -> list[str]:
    """The short 'traceback' a notebook shows for a labkit error: its type and first line."""
    check = getattr(error, "check", None)
    if check is not None:  # ExpectationFailed: the check's own row above has expected, got and hint
        headline = f"check failed: {check.title} (expected {check.expected}; details above)"
    else:
        headline = (Exception.__str__(error).splitlines() or [""])[0] + " (details above)"
    return [f"{_ANSI_RED}{type(error).__name__}{_ANSI_RESET}: {headline}"]


def install_error_display(shell: Any) -> None:
    """Show labkit's own errors without a traceback in this IPython shell.

    A failed check or a refused manifest is the lab working as intended, not a bug: the learner needs
    the expectation, what came back and the hint, which labkit displays. IPython still reports the
    cell as failed (the execute reply is an error with the exception's name and message), so papermill
    stops the run and ``post_run_cell`` handlers such as the lab's cleanup still fire. Any other
    exception keeps its full traceback.
    """
    from .errors import LabkitError

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
        from IPython.display import display

        if getattr(value, "check", None) is None:
            display(ErrorView(value))  # a failing check was displayed by verify() already
        # IPython drops what a custom handler returns; ``_showtraceback`` is what publishes the error
        # output (ipykernel) or prints it (terminal). Without an error output papermill would report
        # a nameless "CellExecutionError" instead of ExpectationFailed and its message.
        shell._showtraceback(etype, value, error_lines(value))

    shell.set_custom_exc((LabkitError,), handler)

