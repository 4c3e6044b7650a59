"""Check records: what ran, what was expected, what came back. They render as rich tables."""

from __future__ import annotations

import html
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import yaml
from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .display import RichDisplay, redact
from .errors import LabkitError


@dataclass(repr=False)
class Check(RichDisplay):
    title: str
    command: str
    expected: str
    actual: str
    passed: bool
    attempts: int = 1
    seconds: float = 0.0
    hint: str = ""
    simulated: bool = False
    skipped: bool = False  # not applicable here (e.g. the cluster can't enforce what the step shows)

    @property
    def result(self) -> str:
        return "N/A" if self.skipped else "PASS" if self.passed else "FAIL"

    def __rich__(self) -> RenderableType:
        style = {"PASS": "bold green", "FAIL": "bold red", "N/A": "bold yellow"}[self.result]
        mark = Text({"PASS": "✔ ", "FAIL": "✘ ", "N/A": "– "}[self.result] + self.result, style=style)
        line = Text.assemble(mark, " ", (self.title, "bold"))
        if self.simulated:
            line.append("  [simulated]", style="magenta")
        if self.attempts > 1:  # the wait is part of the lesson: config takes time to reach the proxies
            clock = "virtual clock" if self.simulated else "real time"
            line.append(f"  ({self.attempts} tries, {self.seconds:.1f}s {clock})", style="cyan")
        if self.result == "FAIL":  # what the learner needs to compare stands out; a pass stays quiet
            line.append(f"\n    ran:      {self.command}", style="dim")
            line.append(f"\n    expected: {self.expected}")
            line.append(f"\n    got:      {self.actual}", style="red")
        else:
            line.append(f"\n    expected: {self.expected}\n    got:      {self.actual}", style="dim")
        if (self.skipped or not self.passed) and self.hint:
            line.append(f"\n    hint:     {self.hint}", style="yellow")
        return line


class CheckTable(RichDisplay):
    """All checks of a lab, as one table.

    In a notebook the table stays live: a check made after it was shown (the cleanup check in the
    last cell) is added to it, so its count is the one the runner's summary gives for the lab.
    """

    def __init__(self, checks: list[Check], title: str = "Checks") -> None:
        self.checks = checks
        self.title = title

    def _ipython_display_(self) -> None:
        # A display id lets ``record`` redraw this output; Jupyter and papermill (nbclient) both
        # apply the update to the cell that showed the table.
        from IPython.display import display

        handle = display(self._repr_mimebundle_(), raw=True, display_id=True)
        if handle is not None:
            _shown_tables[id(self.checks)] = (self, handle)

    @property
    def passed(self) -> bool:
        return all(c.passed or c.skipped for c in self.checks)

    def __rich__(self) -> RenderableType:
        simulated = any(c.simulated for c in self.checks)
        title = f"{self.title} — simulated mesh" if simulated else self.title
        table = Table(title=title, box=box.SIMPLE_HEAVY, show_lines=False, expand=False)
        table.add_column("#", justify="right", style="dim")
        table.add_column("check")
        table.add_column("ran", style="cyan", overflow="fold")
        table.add_column("expected", overflow="fold")
        table.add_column("got", overflow="fold")
        table.add_column("result")
        for i, c in enumerate(self.checks, 1):
            style = {"PASS": "bold green", "FAIL": "bold red", "N/A": "bold yellow"}[c.result]
            result = Text(c.result, style=style)
            if c.attempts > 1:
                result.append(f" ({c.attempts} tries)", style="dim")
            table.add_row(str(i), c.title, c.command, c.expected, c.actual, result)
        table.caption = self.caption()
        return table

    def caption(self) -> str:
        passed = sum(c.passed for c in self.checks)
        na = sum(c.skipped for c in self.checks)
        return f"{passed}/{len(self.checks) - na} passed" + (f", {na} not applicable" if na else "")

    def _html(self) -> str:
        """A real HTML table in notebooks: it wraps to the window and takes JupyterLab's table style,
        where a 120-column text table would need sideways scrolling."""
        simulated = any(c.simulated for c in self.checks)
        title = html.escape(self.title) + (' <span style="color:#b000b0">— simulated mesh</span>' if simulated else "")
        head = "".join(f'<th style="{_CELL}">{h}</th>' for h in ("#", "check", "ran", "expected", "got", "result"))
        rows = []
        for i, c in enumerate(self.checks, 1):
            tries = ""
            if c.attempts > 1:
                tries = f' <small style="opacity:.7">({c.attempts} tries, {c.seconds:.1f}s)</small>'
            got = html.escape(c.actual)
            if (c.skipped or not c.passed) and c.hint:
                got += f'<br><small style="color:{_COLORS["N/A"]}">hint: {html.escape(c.hint)}</small>'
            cells = [
                f'<td style="{_CELL};opacity:.7">{i}</td>',
                f'<td style="{_CELL}">{html.escape(c.title)}</td>',
                f'<td style="{_CELL}"><code style="overflow-wrap:break-word">{html.escape(c.command)}</code></td>',
                f'<td style="{_CELL}">{html.escape(c.expected)}</td>',
                f'<td style="{_CELL}">{got}</td>',
                f'<td style="{_CELL};white-space:nowrap">'
                f'<b style="color:{_COLORS[c.result]}">{c.result}</b>{tries}</td>',
            ]
            rows.append(f'<tr class="labkit-check" data-result="{c.result}">{"".join(cells)}</tr>')
        return (
            '<table class="labkit-checks" style="border-collapse:collapse;margin:0">'
            f'<caption style="caption-side:top;text-align:left;font-weight:bold;padding:4px 0">{title}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            f'<tfoot><tr><td colspan="6" style="{_CELL};font-style:italic">{self.caption()}</td></tr></tfoot></table>'
        )


# JupyterLab right-aligns table cells (for numbers in data frames); text reads better from the left.
_CELL = "text-align:left;vertical-align:top;padding:2px 8px"
# JupyterLab's own status colours, with fallbacks for other HTML viewers.
_COLORS = {
    "PASS": "var(--jp-success-color1,#2e7d32)",
    "FAIL": "var(--jp-error-color1,#c62828)",
    "N/A": "var(--jp-warn-color1,#e65100)",
}


class ExpectationFailed(LabkitError):
    """A check did not hold before its deadline. Raised so papermill fails the notebook."""

    def __init__(self, check: Check) -> None:
        self.check = check
        super().__init__(
            f"check failed: {check.title}\n  ran:      {check.command}\n"
            f"  expected: {check.expected}\n  got:      {check.actual} (after {check.attempts} tries)",
            hint=check.hint,
        )

    def __rich__(self) -> RenderableType:
        return self.check.__rich__()


def _record_path(lab: str, suffix: str) -> Path | None:
    """Where the runner asked for records (``LABKIT_RECORD_DIR``), or None when it did not.

    Records hold what the cluster returned, so the directory is the user's alone (0700).
    """
    directory = os.environ.get("LABKIT_RECORD_DIR")
    if not directory:
        return None
    path = Path(directory) / f"{lab}{suffix}"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _open_private(path: Path, mode: str) -> IO[str]:
    """Open a record for writing with mode 0600, whatever the umask, also when it already existed."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, mode, encoding="utf-8")


def record_applied(docs: list[dict], lab: str) -> None:
    """Append what a lab applied, so tests can validate every manifest a notebook really sends.

    Secrets are recorded as the notebook shows them (``display.redact``): keys and sizes, never values.
    """
    path = _record_path(lab, ".applied.yaml")
    if path is not None:
        with _open_private(path, "a") as out:
            yaml.safe_dump_all([redact(d) for d in docs], out, explicit_start=True, sort_keys=False)


#: The last table shown for each list of checks, with the handle that redraws it.
_shown_tables: dict[int, tuple[CheckTable, Any]] = {}


def refresh_shown_table(checks: list[Check]) -> None:
    """Redraw the table already shown for ``checks``, so it counts every check made since."""
    shown = _shown_tables.get(id(checks))
    if shown is not None and shown[0].checks is checks:
        table, handle = shown
        handle.update(table._repr_mimebundle_(), raw=True)


def record(checks: list[Check], lab: str) -> None:
    """Write the checks for the runner's JUnit report when it asked for them, and bring a table
    already shown for them up to date."""
    refresh_shown_table(checks)
    path = _record_path(lab, ".checks.json")
    if path is not None:
        with _open_private(path, "w") as out:
            out.write(json.dumps([asdict(c) for c in checks], indent=1))
