"""Command lines curl rejects before it sends anything."""

from __future__ import annotations

from ..errors import LabkitError
from ..result import CurlResult

#: The second line curl prints after a usage error (curl 8 built without the manual).
TRY_HELP = "curl: try 'curl --help' for more information\n"


class CurlUsageError(LabkitError):
    """curl refused the command line.

    ``exit_code`` is what curl exits with (2 for a bad option or no URL, 3 for a malformed URL, ...)
    and ``stderr`` is exactly what curl prints, which is empty when ``-s`` silenced it.
    """

    def __init__(
        self, message: str, exit_code: int = 2, stderr: str | None = None, hint: str = "", detail: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code
        self.stderr = message + "\n" if stderr is None else stderr
        #: For ``curl: (N) text`` errors: the text alone, as ``%{errormsg}`` would show it.
        self.detail = detail

    def as_result(self, args: list[str], simulated: bool = False) -> CurlResult:
        """The CurlResult of a curl run that stopped at this error."""
        return CurlResult(argv=["curl", *args], exit_code=self.exit_code, stderr=self.stderr, simulated=simulated)


def usage_error(text: str) -> CurlUsageError:
    """A bad option: curl prints the reason and the ``--help`` pointer even with ``-s``."""
    line = f"curl: {text}"
    return CurlUsageError(line, exit_code=2, stderr=f"{line}\n{TRY_HELP}")


def transfer_error(code: int, text: str, silent: bool = False, show_error: bool = False) -> CurlUsageError:
    """A URL or setting curl only rejects when it starts the transfer: ``curl: (N) text``, muted by -s."""
    line = f"curl: ({code}) {text}"
    shown = not silent or show_error
    return CurlUsageError(line, exit_code=code, stderr=f"{line}\n" if shown else "", detail=text)


class CurlUnsupported(CurlUsageError):
    """Valid curl that labkit does not run (several URLs in one call, ``--next``)."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            exit_code=2,
            stderr=f"labkit: {message}\n",
            hint="Call curl once per URL.",
        )


class NotModelled(CurlUnsupported):
    """Valid curl the offline simulator does not reproduce: exit 2, naming the option, like a bad option."""

    def __init__(self, option: str, why: str, instead: str) -> None:
        line = f"curl: option {option}: not modelled by the offline simulator ({why}); {instead}"
        CurlUsageError.__init__(self, line, exit_code=2, hint=f"Leave out {option}, or {instead}.")
        self.option = option
