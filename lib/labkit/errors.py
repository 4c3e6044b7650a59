"""Errors that labkit raises on purpose. Each says what went wrong and what to do next."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class LabkitError(Exception):
    """Base class: an expected failure with a message meant for the learner."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint or self.hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  → {self.hint}" if self.hint else base


def closest(value: object, choices: Iterable[str]) -> str | None:
    """The choice a mistyped ``value`` most likely meant, or None when none is close."""
    import difflib

    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.5)
    return close[0] if close else None


def did_you_mean(value: object, choices: Iterable[str], fix: str = "") -> str:
    """A hint: "did you mean 'x'?" when a choice is close, then ``fix`` (or the choices to use)."""
    options = list(choices)
    guess = closest(value, options)
    text = f"did you mean {guess!r}? {fix}" if guess else fix
    return text.strip() or (f"use one of {', '.join(map(repr, options))}" if options else "")


class UnknownChoice(LabkitError, ValueError):
    """A value that is not one of the accepted ones; the hint names the closest and the rest.
    It is a ValueError too, so callers that caught the plain error keep working."""

    def __init__(self, what: str, value: str, choices: list[str] | tuple[str, ...], fix: str = "") -> None:
        message = f"{what} {value!r} is not one of {', '.join(choices)}" if choices else f"no {what} {value!r}"
        super().__init__(message, hint=did_you_mean(value, choices, fix))


class UnknownKind(LabkitError, ValueError):
    """A kind (or a kind at an apiVersion) the API does not serve; a ValueError too, like UnknownChoice.
    ``labkit.kinds.unknown_kind`` words it."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one manifest document."""

    document: str  # e.g. "document 2 (VirtualService/direct-cnn)"
    path: str  # e.g. "spec.tls[0].match[0].sniHosts[0]"
    message: str

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.document}{where}: {self.message}"


class ManifestError(LabkitError):
    """A manifest failed to load or validate. Nothing was applied."""

    hint = "Fix the field named above and apply again; nothing was changed."

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"invalid manifest{f' {source}' if source else ''}"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{head}:\n{lines}")


class ContextNotAllowed(LabkitError):
    """The kube context is not a lab cluster and the user did not allow it."""


class BackendUnavailable(LabkitError):
    """The requested backend can't be reached."""


class NotReady(LabkitError):
    """Something did not become ready before its deadline."""
