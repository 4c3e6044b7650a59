"""Commands in a simulated pod (issue 10, part 3: "Pods run what the source and istio.io's egress
tasks run inside a pod"). Expected output formats cite busybox (the curl image's userland), POSIX sh
(Shell Command Language) and curl's man page."""

from __future__ import annotations

import re
import time

import pytest

from labkit.backend import ExecResult
from labkit.lab import Lab


def run(lab: Lab, *argv: str) -> ExecResult:
    return lab.driver.exec("default", lab.client_pod("default", "sleep"), "sleep", list(argv), 60.0)


def sh(lab: Lab, script: str) -> ExecResult:
    return run(lab, "sh", "-c", script)


def test_the_seed_tutorial_command_prints_the_code_and_busybox_timing(lab: Lab) -> None:
    # istio.io egress-control task: `kubectl exec "$SOURCE_POD" -c sleep -- time curl -o /dev/null
    # -sS -w "%{http_code}\n" http://httpbin.org/delay/5` prints 200 after about 5 seconds.
    started = time.monotonic()
    r = run(lab, "time", "curl", "-o", "/dev/null", "-s", "-w", "%{http_code}\n", "http://httpbin.org/delay/5")
    assert (r.exit_code, r.stdout) == (0, "200\n")
    # busybox miscutils/time.c: default format "real\t%E\nuser\t%u\nsys\t%T", %E as "%um %u.%02us".
    assert re.fullmatch(r"real\t0m 5\.\d\ds\nuser\t0m 0\.00s\nsys\t0m 0\.00s\n", r.stderr), r.stderr
    assert r.elapsed >= 5.0
    assert time.monotonic() - started < 5.0, "simulated delays cost no real time"


def test_time_reports_a_failing_command_first(lab: Lab) -> None:
    r = run(lab, "time", "curl", "-s", "http://no-such-host.invalid/")
    # curl man page: exit 6 "Could not resolve host"; busybox time prints
    # "Command exited with non-zero status N" before the times and exits with N.
    assert r.exit_code == 6
    assert r.stderr.startswith("Command exited with non-zero status 6\nreal\t0m 0.")


def test_pipeline_with_grep(lab: Lab) -> None:
    r = sh(lab, "curl -s http://httpbin.org/headers | grep -i user-agent")
    # httpbin's /headers echoes the request headers; curl sends User-Agent: curl/VERSION (man page -A).
    assert r.exit_code == 0
    assert re.fullmatch(r'\s*"User-Agent": "curl/[0-9.]+",?\n', r.stdout), r.stdout


@pytest.mark.parametrize(
    ("script", "stdout", "code"),
    [
        # POSIX sh, 2.9.3 Lists: && runs on success, || on failure; the list's status is the last run.
        ("false && echo a || echo b", "b\n", 0),
        ("true || echo a; echo c", "c\n", 0),
        ("echo one; false", "one\n", 1),
        # 2.9.2 Pipelines: the status is the last command's; "!" negates it.
        ("false | true", "", 0),
        ("! true", "", 1),
        # 2.2 Quoting and 2.6.5 Field Splitting: quotes keep blanks, unquoted expansions split.
        ("X='a  b'; echo $X \"$X\" 'c  d' e\\ f", "a b a  b c  d e f\n", 0),
        ("echo \"$UNSET\"x '$HOME'", "x $HOME\n", 0),
        # 2.5.2 Special Parameters: $? is the exit status of the most recent pipeline.
        ("curl -s http://no-such-host.invalid/; echo $?", "6\n", 0),
        ("curl -s http://no-such-host.invalid/ >/dev/null 2>&1 || echo failed", "failed\n", 0),
        # 2.7 Redirection, applied left to right: 2>&1 copies where fd 1 points at that moment.
        ("curl -sS http://no-such-host.invalid/ 2>&1 >/dev/null | wc -l", "1\n", 0),
        ("curl -sS http://no-such-host.invalid/ >/dev/null 2>&1 | wc -l", "0\n", 0),
        ("echo to-stderr >&2 | wc -l", "0\n", 0),
        ("sh -c 'echo $0 $1' first second", "first second\n", 0),
        # busybox grep: -c counts, -v inverts, -o prints matches, -E extended, -q only the status.
        ("echo -e 'a\\nb\\na' | grep -c a", "2\n", 0),
        ("echo abc | grep -o 'b.'", "bc\n", 0),
        ("echo 'x1 x22' | grep -oE 'x[0-9]+'", "x1\nx22\n", 0),
        ("echo abc | grep -v abc", "", 1),
        ("echo abc | grep -q b && echo yes", "yes\n", 0),
        ("echo 'a(b' | grep 'a(b'", "a(b\n", 0),  # ( is literal in a basic expression
        # busybox wc: one count from stdin is printed without padding.
        ("echo -e 'a b\\nc' | wc -l", "2\n", 0),
        ("echo -e 'a b\\nc' | wc -w", "3\n", 0),
        ("echo -n abc | wc -c", "3\n", 0),
        ("echo -e '1\\n2\\n3' | head -n 2 | tail -n 1", "2\n", 0),
        ("echo -e '1\\n2\\n3' | tail -n +2", "2\n3\n", 0),
        ("echo hi | cat", "hi\n", 0),
    ],
)
def test_shell_semantics(lab: Lab, script: str, stdout: str, code: int) -> None:
    r = sh(lab, script)
    assert (r.stdout, r.exit_code) == (stdout, code), r.stderr


def test_programs_by_their_full_path(lab: Lab) -> None:
    # kubectl exec POD -- /bin/sh -c ...: busybox installs sh in /bin, the curl image curl in /usr/bin.
    r = run(lab, "/bin/sh", "-c", "/usr/bin/curl -s -o /dev/null -w '%{http_code}' http://httpbin.org/get")
    assert (r.exit_code, r.stdout) == (0, "200")
    assert run(lab, "/opt/tool").exit_code == 127


def test_curl_exit_code_and_http_code_through_a_pipeline(lab: Lab) -> None:
    r = sh(lab, 'curl -sS -o /dev/null -w "%{http_code}\\n" http://httpbin.org/status/418 | grep 418')
    # httpbin /status/418 answers 418; curl -w %{http_code} prints it (man page, -w).
    assert (r.exit_code, r.stdout) == (0, "418\n")


def test_sleep_advances_the_simulated_clock(lab: Lab) -> None:
    before = lab.driver.now()
    started = time.monotonic()
    r = sh(lab, "sleep 3; echo done")
    assert (r.exit_code, r.stdout) == (0, "done\n")
    assert lab.driver.now() - before == pytest.approx(3.0, abs=0.5)  # plus the little real time that passed
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("argv", [["openssl", "s_client"], ["sh", "-c", "nslookup httpbin.org"]])
def test_other_programs_exit_127_and_say_so(lab: Lab, argv: list[str]) -> None:
    r = run(lab, *argv)
    # issue 10: "Anything else exits 127 with a message saying the simulated pod doesn't have it";
    # 127 is POSIX sh's status for a command that is not found (2.8.2).
    assert r.exit_code == 127
    assert "not found" in r.stderr and "kind cluster" in r.stderr


@pytest.mark.parametrize(
    "script",
    [
        "echo $(date)",
        "echo `date`",
        "sleep 1 &",
        "curl -s http://x > /tmp/out",
        "(echo a)",
        "if true; then sleep 1; fi",
    ],
)
def test_syntax_the_shell_does_not_model_is_refused_by_name(lab: Lab, script: str) -> None:
    before = lab.driver.now()
    r = sh(lab, script)
    # issue 10 / project rule: not modelled means refused with a clear error, and nothing runs.
    assert r.exit_code == 2 and "not modelled by the offline simulator" in r.stderr
    assert lab.driver.now() - before < 0.5  # no simulated sleep ran (only real time passed)


def test_grep_options_it_does_not_model_are_refused(lab: Lab) -> None:
    r = sh(lab, "echo a | grep -P a")
    assert r.exit_code == 2 and "grep: option -P: not modelled" in r.stderr


def test_files_curl_writes_can_be_read_by_later_commands(lab: Lab) -> None:
    # curl man page: -o writes the body to the file, -D writes the received headers to it.
    r = sh(lab, "curl -s -o /tmp/body.json -D /tmp/headers.txt http://httpbin.org/headers")
    assert (r.exit_code, r.stdout) == (0, "")
    r = sh(lab, 'head -n 1 /tmp/headers.txt; grep -c \'"Host": "httpbin.org"\' /tmp/body.json')
    assert (r.exit_code, r.stdout) == (0, "HTTP/1.1 200 OK\r\n1\n")
    r = sh(lab, "cat /tmp/never-written")
    # busybox cat: "can't open 'FILE': No such file or directory", exit 1.
    assert (r.exit_code, r.stderr) == (1, "cat: can't open '/tmp/never-written': No such file or directory\n")
