"""What runs in a simulated pod: the commands the labs and istio.io's egress tasks run there.

``kubectl exec POD -- ARGV`` runs ARGV without a shell; ``sh -c SCRIPT`` runs a POSIX shell script.
Both are understood here, over a small set of programs: ``curl`` (the simulated one), busybox's
``time`` (its timing lines on stderr), ``sleep`` (advances the simulated clock), ``sh -c``, and the
text tools in ``shell_tools``. The script syntax covers what those tasks use: words with '...',
"..." and backslash quoting, ``$VAR``/``${VAR}``/``$?``/``$1`` expansion, pipelines ``|``, lists
with ``&&``, ``||``, ``;`` and newlines, ``!``, ``VAR=value`` assignments, and redirections of
stdout/stderr to /dev/null or to each other. Anything else (command substitution, background
jobs, subshells, redirections to files, other programs) is refused by name: a program the pod does
not have exits 127, other syntax exits 2.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..backend import ExecResult
from .shell_tools import TOOLS, FileReader, Io

#: Programs a simulated pod has, for the "not found" message.
PROGRAMS = ("curl", "time", "sleep", "sh", "grep", "head", "tail", "cat", "wc", "echo", "true", "false")
KIND_CLUSTER = "run it on a kind cluster (scripts/cluster-up.sh, then --backend kube)"


class ShellSyntaxError(Exception):
    """Script syntax the simulated shell does not model."""


@dataclass
class Pod:
    """The container a command runs in, and what the shell can reach there."""

    #: Runs simulated curl with extra environment variables: stdout, stderr, exit code.
    curl: Callable[[list[str], dict[str, str]], tuple[str, str, int]]
    now: Callable[[], float]
    sleep: Callable[[float], None]
    read: FileReader
    env: dict[str, str] = field(default_factory=dict)
    #: Envoy's admin API, in the istio-proxy container only: path -> (body, exit code).
    admin: Callable[[str], tuple[str, str, int]] | None = None
    #: istiod's debug API, in istiod's pod only: path -> (body, stderr, exit code).
    discovery: Callable[[str], tuple[str, str, int]] | None = None


# -- reading a script ----------------------------------------------------------------------------

#: POSIX reserved words (2.4): compound commands the simulated shell does not model.
RESERVED = {"if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "{", "}", "in"}
_OPERATORS = ("&&", "||", ";;", ">>", ">&", "<<", "|", ";", "&", "(", ")", "<", ">")


@dataclass
class Word:
    """A shell word as written: literal text and parameter expansions, expanded when the command
    runs (so ``$?`` sees the command before). Only unquoted expansions split on blanks."""

    parts: list[tuple[str, str, bool]] = field(default_factory=list)  # (literal text | $name, kind, quoted)
    quoted: bool = False  # any quoting: an empty quoted word still counts

    def add(self, text: str) -> None:
        if self.parts and self.parts[-1][1] == "text":
            self.parts[-1] = (self.parts[-1][0] + text, "text", True)
        else:
            self.parts.append((text, "text", True))

    def add_variable(self, name: str, quoted: bool) -> None:
        self.parts.append((name, "var", quoted))

    def fields(self, variables: Callable[[str], str]) -> list[str]:
        chars: list[tuple[str, bool]] = []
        for text, kind, quoted in self.parts:
            value = variables(text) if kind == "var" else text
            chars += [(c, kind == "var" and not quoted) for c in value]
        out: list[str] = []
        current, have = "", self.quoted
        for c, splittable in chars:
            if splittable and c in " \t\n":
                if current or have:
                    out.append(current)
                current, have = "", False
            else:
                current += c
                have = True
        if current or have:
            out.append(current)
        return out

    @property
    def text(self) -> str:
        """The literal text (for operators and assignments, which only use unexpanded words)."""
        return "".join(t if kind == "text" else f"${{{t}}}" for t, kind, _ in self.parts)

    @property
    def literal(self) -> bool:
        return all(kind == "text" for _, kind, _ in self.parts)


Token = Word | str  # a word, or an operator


def tokenize(script: str) -> list[Token]:
    """Split a script into words (expanded, not yet split into fields) and operators."""
    tokens: list[Token] = []
    word: Word | None = None
    i = 0

    def finish() -> None:
        nonlocal word
        if word is not None:
            tokens.append(word)
            word = None

    while i < len(script):
        c = script[i]
        if c in " \t":
            finish()
            i += 1
        elif c == "\n":
            finish()
            tokens.append("\n")
            i += 1
        elif c == "#" and word is None:
            while i < len(script) and script[i] != "\n":
                i += 1
        elif c == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated quoted string")
            word = word or Word()
            word.quoted = True
            word.add(script[i + 1 : end])
            i = end + 1
        elif c == '"':
            word = word or Word()
            word.quoted = True
            i = _double_quoted(script, i + 1, word)
        elif c == "\\":
            word = word or Word()
            if i + 1 < len(script) and script[i + 1] != "\n":
                word.add(script[i + 1])
                word.quoted = True
            i += 2
        elif c == "$":
            word = word or Word()
            i = _expansion(script, i, word, quoted=False)
        elif c == "`":
            raise ShellSyntaxError("command substitution (`...`)")
        elif c.isdigit() and word is None and script[i + 1 : i + 2] in ("<", ">"):
            tokens.append(c)  # the file descriptor of a redirection, as in 2>&1
            redirection = _operator(script, i + 1)
            tokens.append(redirection)
            i += 1 + len(redirection)
        elif any(script.startswith(op, i) for op in _OPERATORS):
            finish()
            op = _operator(script, i)
            tokens.append(op)
            i += len(op)
        else:
            word = word or Word()
            word.add(c)
            i += 1
    finish()
    return tokens


def _operator(script: str, i: int) -> str:
    return next(op for op in _OPERATORS if script.startswith(op, i))


def _double_quoted(script: str, i: int, word: Word) -> int:
    while i < len(script):
        c = script[i]
        if c == '"':
            return i + 1
        if c == "\\" and i + 1 < len(script) and script[i + 1] in '$`"\\\n':
            if script[i + 1] != "\n":
                word.add(script[i + 1])
            i += 2
        elif c == "$":
            i = _expansion(script, i, word, quoted=True)
        elif c == "`":
            raise ShellSyntaxError("command substitution (`...`)")
        else:
            word.add(c)
            i += 1
    raise ShellSyntaxError("unterminated quoted string")


def _expansion(script: str, i: int, word: Word, quoted: bool) -> int:
    """``$NAME``, ``${NAME}``, ``$?``, ``$1``...; a lone ``$`` stays itself. Returns the next index."""
    rest = script[i + 1 :]
    if rest.startswith("("):
        raise ShellSyntaxError("command substitution ($(...))")
    if rest.startswith("{"):
        end = rest.find("}")
        name = rest[1:end] if end > 0 else ""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?#@*$]", name):
            raise ShellSyntaxError(f"parameter expansion ${{{name}}}")
        word.add_variable(name, quoted)
        return i + end + 2
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?#@*$]", rest)
    if match is None:
        word.add("$")
        return i + 1
    word.add_variable(match.group(0), quoted)
    return i + 1 + match.end()


# -- the grammar: list of and-or chains of pipelines of simple commands ------------------------


@dataclass
class Command:
    words: list[Word]
    assignments: list[tuple[str, Word]] = field(default_factory=list)
    # Where fd 1 and fd 2 end up: "out" (the pipe, or the script's stdout), "err" (the script's
    # stderr) or "null". Redirections apply left to right, so 2>&1 copies fd 1 as it is then.
    stdout: str = "out"
    stderr: str = "err"


@dataclass
class Pipeline:
    commands: list[Command]
    negated: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)  # ("&&" | "||", pipeline)


def parse(tokens: list[Token]) -> list[AndOr]:
    chains: list[AndOr] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in (";", "\n"):
            i += 1
            continue
        pipeline, i = _pipeline(tokens, i)
        chain = AndOr(pipeline)
        while i < len(tokens) and tokens[i] in ("&&", "||"):
            op = tokens[i]
            i += 1
            while i < len(tokens) and tokens[i] == "\n":  # a list may continue on the next line
                i += 1
            pipeline, i = _pipeline(tokens, i)
            chain.rest.append((str(op), pipeline))
        if i < len(tokens):
            if tokens[i] == "&":
                raise ShellSyntaxError("background jobs (&)")
            near = tokens[i]
            if near not in (";", "\n"):
                raise ShellSyntaxError(f"syntax near {near if isinstance(near, str) else near.text!r}")
        chains.append(chain)
    return chains


def _pipeline(tokens: list[Token], i: int) -> tuple[Pipeline, int]:
    negated = False
    first = tokens[i] if i < len(tokens) else None
    if isinstance(first, Word) and first.text == "!" and not first.quoted:
        negated, i = True, i + 1
    commands = []
    while True:
        command, i = _command(tokens, i)
        commands.append(command)
        if i < len(tokens) and tokens[i] == "|":
            i += 1
            while i < len(tokens) and tokens[i] == "\n":
                i += 1
            continue
        return Pipeline(commands, negated), i


def _command(tokens: list[Token], i: int) -> tuple[Command, int]:
    cmd = Command([])
    while i < len(tokens):
        tok = tokens[i]
        if isinstance(tok, Word):
            first = tok.parts[0][0] if tok.parts and tok.parts[0][1] == "text" else ""
            name, eq, value_start = first.partition("=")
            if not cmd.words and tok.literal and not tok.quoted and tok.text in RESERVED:
                raise ShellSyntaxError(f"'{tok.text}' (compound commands)")
            if not cmd.words and eq and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                value = Word([(value_start, "text", True), *tok.parts[1:]], quoted=True)
                cmd.assignments.append((name, value))
            else:
                cmd.words.append(tok)
            i += 1
        elif tok.isdigit() or tok in (">", ">>", ">&", "<", "<<"):
            i = _redirect(tokens, i, cmd)
        elif tok in ("(", ")"):
            raise ShellSyntaxError("subshells and groups ( )")
        else:
            break
    if not cmd.words and not cmd.assignments:
        raise ShellSyntaxError(f"a missing command before {tokens[i] if i < len(tokens) else 'the end'!r}")
    return cmd, i


def _redirect(tokens: list[Token], i: int, cmd: Command) -> int:
    fd = 1
    token = tokens[i]
    if isinstance(token, str) and token.isdigit():
        fd, i = int(token), i + 1
    op = tokens[i]
    target = tokens[i + 1] if i + 1 < len(tokens) else None
    if op in ("<", "<<") or fd not in (1, 2) or not isinstance(target, Word) or not target.literal:
        raise ShellSyntaxError("this redirection")
    where = target.text
    if op == ">&" and where in ("1", "2"):
        dest = cmd.stdout if where == "1" else cmd.stderr  # a copy of that descriptor as it is now
    elif op in (">", ">>") and where == "/dev/null":
        dest = "null"
    elif op in (">", ">>") and where in ("/dev/stderr", "/dev/stdout"):
        dest = "out" if where == "/dev/stdout" else "err"
    else:
        raise ShellSyntaxError(f"redirection to {where} (writing files)")
    if fd == 1:
        cmd.stdout = dest
    else:
        cmd.stderr = dest
    return i + 2


# -- running -------------------------------------------------------------------------------------


class Shell:
    """A shell session in one container: variables, the last exit code, output so far."""

    def __init__(self, pod: Pod, positional: list[str] | None = None) -> None:
        self.pod = pod
        self.vars = dict(pod.env)
        self.positional = positional or ["sh"]
        self.status = 0
        self.exited = False

    def variable(self, name: str) -> str:
        if name == "?":
            return str(self.status)
        if name == "$":
            return "1"
        if name == "#":
            return str(len(self.positional) - 1)
        if name in ("@", "*"):
            return " ".join(self.positional[1:])
        if name.isdigit():
            index = int(name)
            return self.positional[index] if index < len(self.positional) else ""
        return self.vars.get(name, "")

    def script(self, text: str) -> Io:
        try:
            chains = parse(tokenize(text))
        except ShellSyntaxError as err:
            return Io("", f"sh: {err}: not modelled by the offline simulator; {KIND_CLUSTER}\n", 2)
        out = Io()
        for chain in chains:
            result = self._and_or(chain)
            out.stdout += result.stdout
            out.stderr += result.stderr
            if self.exited:
                break
        out.code = self.status
        return out

    def _and_or(self, chain: AndOr) -> Io:
        result = self._pipeline(chain.first)
        for op, pipeline in chain.rest:
            if self.exited or (op == "&&") != (self.status == 0):
                continue
            more = self._pipeline(pipeline)
            result = Io(result.stdout + more.stdout, result.stderr + more.stderr, more.code)
        return result

    def _pipeline(self, pipeline: Pipeline) -> Io:
        data, errors = "", ""
        code = 0
        for index, command in enumerate(pipeline.commands):
            stdin = data if index else ""
            res = self._simple(command, stdin)
            to = {"out": "", "err": "", "null": ""}
            to[command.stdout] += res.stdout
            to[command.stderr] += res.stderr
            data, errors, code = to["out"], errors + to["err"], res.code
        if pipeline.negated:
            code = 0 if code else 1
        self.status = code
        return Io(data, errors, code)

    def _simple(self, command: Command, stdin: str) -> Io:
        values = {name: "".join(word.fields(self.variable)) for name, word in command.assignments}
        argv = [f for word in command.words for f in word.fields(self.variable)]
        if not argv:
            self.vars.update(values)  # NAME=value alone sets a shell variable
            return Io()
        return self.run(argv, stdin, values)

    def run(self, argv: list[str], stdin: str = "", env: dict[str, str] | None = None) -> Io:
        """Run one program (or shell builtin) by name; ``env`` holds ``VAR=value`` given before it,
        which only curl reads (its proxy variables, as in istio.io's external-proxy task)."""
        env = env or {}
        name, args = _program(argv[0]), argv[1:]
        if name == "exit":
            self.exited = True
            code = int(args[0]) if args and args[0].isdigit() else self.status
            return Io("", "", code)
        if name in ("true", ":"):
            return Io()
        if name == "false":
            return Io("", "", 1)
        if name == "curl":
            stdout, stderr, code = self.pod.curl(args, env)
            return Io(stdout, stderr, code)
        if name == "sleep":
            return self._sleep(args)
        if name == "time":
            return self._time(args, stdin, env)
        if name == "sh":
            return self._sh(args)
        if name == "pilot-agent" and self.pod.admin is not None:
            return self._pilot_agent(args)
        if name == "pilot-discovery" and self.pod.discovery is not None:
            return self._request(["pilot-discovery", *args], self.pod.discovery)
        tool = TOOLS.get(name)
        if tool is not None:
            return tool(args, stdin, self.pod.read)
        return not_found(name)

    def _sleep(self, args: list[str]) -> Io:
        """busybox sleep: a number of seconds, with an optional s/m/h/d suffix; several add up."""
        total = 0.0
        for arg in args:
            match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", arg)
            if match is None:
                return Io("", f"sleep: invalid number '{arg}'\n", 1)
            total += float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        if not args:
            return Io("", "Usage: sleep [N]...\n", 1)
        self.pod.sleep(total)
        return Io()

    def _time(self, args: list[str], stdin: str, env: dict[str, str]) -> Io:
        """busybox time (miscutils/time.c): runs PROG, then on stderr "real\\t0m 5.01s", user, sys
        in its default format ("%um %u.%02us", hundredths cut, not rounded), or -p's "real 5.01"."""
        posix = False
        while args and args[0].startswith("-") and args[0] != "-":
            if args[0] == "-p":
                posix = True
            elif args[0] != "--":
                return Io("", f"time: option {args[0]}: not modelled by the offline simulator\n", 2)
            args = args[1:]
        if not args:
            return Io("", "Usage: time [-vpa] [-f FMT] [-o FILE] PROG ARGS\n", 1)
        start = self.pod.now()
        result = self.run(args, stdin, env)
        elapsed_ms = round((self.pod.now() - start) * 1000)
        lines = ""
        if result.code:
            lines += f"Command exited with non-zero status {result.code}\n"
        if posix:
            lines += f"real {elapsed_ms // 1000}.{elapsed_ms // 10 % 100:02d}\nuser 0.00\nsys 0.00\n"
        else:
            seconds = elapsed_ms // 1000
            real = f"{seconds // 60}m {seconds % 60}.{elapsed_ms // 10 % 100:02d}s"
            if seconds >= 3600:
                real = f"{seconds // 3600}h {seconds % 3600 // 60}m {seconds % 60:02d}s"
            lines += f"real\t{real}\nuser\t0m 0.00s\nsys\t0m 0.00s\n"
        return Io(result.stdout, result.stderr + lines, result.code)

    def _pilot_agent(self, args: list[str]) -> Io:
        """``pilot-agent request GET <path>``: what istioctl proxy-config runs in the istio-proxy
        container to read Envoy's admin API (istioctl/pkg/util/handlers)."""
        assert self.pod.admin is not None
        return self._request(["pilot-agent", *args], self.pod.admin)

    def _request(self, argv: list[str], answer: Callable[[str], tuple[str, str, int]]) -> Io:
        """``pilot-agent|pilot-discovery request GET <path>``: the one subcommand modelled."""
        args = argv[1:]
        if len(args) < 3 or args[0] != "request" or args[1].upper() != "GET":
            what = " ".join(argv)
            return Io("", f"{what}: only `{argv[0]} request GET <path>` is modelled; {KIND_CLUSTER}\n", 2)
        stdout, stderr, code = answer(args[2])
        return Io(stdout, stderr, code)

    def _sh(self, args: list[str]) -> Io:
        if len(args) >= 2 and args[0] == "-c":
            nested = Shell(self.pod, args[2:] if len(args) > 2 else ["sh"])
            return nested.script(args[1])
        what = "sh without -c SCRIPT" if not args or args[0] != "-c" else "sh -c without a script"
        return Io("", f"sh: {what}: not modelled by the offline simulator; {KIND_CLUSTER}\n", 2)


#: Where busybox installs its applets and the curl image its curl.
_BIN_DIRS = {"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}


def _program(word: str) -> str:
    """``/bin/sh`` and ``/usr/bin/curl`` are the same programs as ``sh`` and ``curl``."""
    directory, _, base = word.rpartition("/")
    return base if directory in _BIN_DIRS else word


def not_found(name: str, by: str = "sh") -> Io:
    """A program the simulated pod does not have: exit 127, as a shell reports it."""
    have = ", ".join(PROGRAMS)
    text = f"{by}: {name}: not found (the simulated pod has only {have}); {KIND_CLUSTER}\n"
    return Io("", text, 127)


def execute(pod: Pod, argv: list[str]) -> ExecResult:
    """Run an exec's argv in the pod (no shell around it, as kubectl exec runs it)."""
    start = pod.now()
    if not argv:
        return ExecResult("", "error: you must specify at least one command for the container\n", 1, 0.0)
    shell = Shell(pod)
    program = _program(argv[0])
    known = (
        program in PROGRAMS
        or program in TOOLS
        or (program == "pilot-agent" and pod.admin is not None)
        or (program == "pilot-discovery" and pod.discovery is not None)
    )
    result = shell.run(list(argv)) if known else not_found(argv[0], by="exec")
    return ExecResult(result.stdout, result.stderr, result.code, round(pod.now() - start, 3))
