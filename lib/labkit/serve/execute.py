"""What a command run with ``pods/exec`` prints, answered by the simulator.

Simulated pods run only curl. Besides ``curl ARGS...`` itself this module understands the one shell
script labkit's kube backend sends (``labkit.curl.remote.build_command``): ``sh -c SCRIPT sh HDR
ARGS...``, which runs curl with ``-D <tempfile>`` and prints a marker line with curl's exit code and
the header dump after curl's stdout. It lives here, not in ``SimBackend.exec``, because only the wire
carries that script: on the sim backend ``SimBackend.curl`` is called directly, and the sim should
not grow a shell. Any other script is refused like any other program (exit 127), so a change to the
script that this emulation does not know fails loudly instead of being half-understood.
"""

from __future__ import annotations

from ..backend import ExecResult
from ..curl.headers import format_block
from ..curl.remote import MARKER, SCRIPT
from ..sim import SimBackend

#: Seconds a simulated command may say it ran (curl's own limits keep it far below this).
EXEC_TIMEOUT = 3600.0


def is_curl_wrapper(argv: list[str]) -> bool:
    return len(argv) >= 5 and argv[:4] == ["sh", "-c", SCRIPT, "sh"]


def run(sim: SimBackend, namespace: str, pod: str, container: str, argv: list[str]) -> ExecResult:
    """Run ``argv`` in the simulated container (the pod and container must exist)."""
    if not is_curl_wrapper(argv):
        return sim.exec(namespace, pod, container, list(argv), EXEC_TIMEOUT)
    hdr, args = argv[4], argv[5:]
    result = sim.curl(namespace, pod, container, list(args), EXEC_TIMEOUT)
    # What the script prints: curl's stdout, the marker with its exit code, then the header dump,
    # which holds exactly the header blocks curl received (the same text curl writes with -D).
    out = f"{result.stdout}\n{MARKER} rc={result.exit_code}\n"
    if hdr:
        out += "".join(format_block(response) for response in result.responses)
    return ExecResult(out, result.stderr, result.exit_code, result.elapsed)
