"""The text tools a simulated pod has besides curl: grep, head, tail, cat, wc and echo.

They behave like the busybox applets in the curl image the labs use as their client (output
formats from busybox's coreutils/wc.c, coreutils/head.c and findutils/grep.c). Options that are not
listed here are refused by name with exit 2, like an unknown option, instead of being ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: Reads a file in the pod: its bytes, or None when it does not exist.
FileReader = Callable[[str], "bytes | None"]


@dataclass
class Io:
    """What one command printed and how it exited."""

    stdout: str = ""
    stderr: str = ""
    code: int = 0


def not_modelled(tool: str, what: str) -> Io:
    text = f"{tool}: {what}: not modelled by the offline simulator; run it on a kind cluster\n"
    return Io("", text, 2)


def _lines(text: str) -> list[str]:
    """Lines without their newline; a last line without one still counts (as the tools read it)."""
    return text.splitlines()


def _inputs(tool: str, files: list[str], stdin: str, read: FileReader) -> tuple[list[str], str, int]:
    """The text of each input (stdin when no files, or "-"), the error messages and the exit code."""
    texts: list[str] = []
    errors, code = "", 0
    for name in files or ["-"]:
        if name == "-":
            texts.append(stdin)
            continue
        data = read(name)
        if data is None:
            errors += f"{tool}: can't open '{name}': No such file or directory\n"
            code = 1
            continue
        texts.append(data.decode(errors="replace"))
    return texts, errors, code


# -- echo ------------------------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "a": "\a", "b": "\b", "r": "\r", "v": "\v", "f": "\f"}


def echo(args: list[str], stdin: str, read: FileReader) -> Io:
    """busybox echo: -n drops the newline, -e interprets backslash escapes (\\c stops output)."""
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        for flag in args[0][1:]:
            newline = newline and flag != "n"
            escapes = {"e": True, "E": False}.get(flag, escapes)
        args = args[1:]
    text = " ".join(args)
    if escapes:
        out, i = "", 0
        while i < len(text):
            if text[i] == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                if nxt == "c":
                    return Io(out)
                out += _ESCAPES.get(nxt, "\\" + nxt)
                i += 2
            else:
                out += text[i]
                i += 1
        text = out
    return Io(text + ("\n" if newline else ""))


# -- cat -------------------------------------------------------------------------------------------


def cat(args: list[str], stdin: str, read: FileReader) -> Io:
    if any(a.startswith("-") and a != "-" for a in args):
        return not_modelled("cat", f"option {next(a for a in args if a.startswith('-') and a != '-')}")
    texts, errors, code = _inputs("cat", args, stdin, read)
    return Io("".join(texts), errors, code)


# -- head and tail ---------------------------------------------------------------------------------


def _count_option(tool: str, args: list[str]) -> tuple[int, bool, bool, list[str]] | Io:
    """-n N, -nN, -N, and for tail -n +N; -c N counts bytes. Returns (count, bytes, from_start, files)."""
    count, by_bytes, from_start, files = 10, False, False, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-n", "-c") or re.fullmatch(r"-[nc]\+?\d+", arg):
            by_bytes = arg.startswith("-c")
            value = arg[2:] if len(arg) > 2 else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if len(arg) > 2 else 2
        elif re.fullmatch(r"-\d+", arg):
            value = arg[1:]
            i += 1
        elif arg.startswith("-") and arg != "-":
            return not_modelled(tool, f"option {arg}")
        else:
            files.append(arg)
            i += 1
            continue
        from_start = tool == "tail" and value.startswith("+")
        if not re.fullmatch(r"[+-]?\d+", value):
            return Io("", f"{tool}: invalid number '{value}'\n", 1)
        count = abs(int(value))
    return count, by_bytes, from_start, files


def head(args: list[str], stdin: str, read: FileReader) -> Io:
    parsed = _count_option("head", args)
    if isinstance(parsed, Io):
        return parsed
    count, by_bytes, _, files = parsed
    texts, errors, code = _inputs("head", files, stdin, read)
    if by_bytes:
        return Io("".join(t.encode()[:count].decode(errors="replace") for t in texts), errors, code)
    return Io("".join("".join(t.splitlines(keepends=True)[:count]) for t in texts), errors, code)


def tail(args: list[str], stdin: str, read: FileReader) -> Io:
    if "-f" in args or "-F" in args:
        return not_modelled("tail", "following a file (-f)")
    parsed = _count_option("tail", args)
    if isinstance(parsed, Io):
        return parsed
    count, by_bytes, from_start, files = parsed
    texts, errors, code = _inputs("tail", files, stdin, read)
    out = ""
    for text in texts:
        if by_bytes:
            data = text.encode()
            part = data[count - 1 :] if from_start else data[-count:] if count else b""
            out += part.decode(errors="replace")
            continue
        lines = text.splitlines(keepends=True)
        chosen = lines[max(count - 1, 0) :] if from_start else lines[-count:] if count else []
        out += "".join(chosen)
    return Io(out, errors, code)


# -- wc --------------------------------------------------------------------------------------------


def wc(args: list[str], stdin: str, read: FileReader) -> Io:
    """busybox wc: one count and stdin prints just the number; otherwise "%9u" columns."""
    flags, files = "", []
    for arg in args:
        if re.fullmatch(r"-[lwc]+", arg):
            flags += arg[1:]
        elif arg.startswith("-") and arg != "-":
            return not_modelled("wc", f"option {arg}")
        else:
            files.append(arg)
    wanted = [k for k in "lwc" if k in flags] or ["l", "w", "c"]
    names = files or ["-"]
    out, errors, code = "", "", 0
    for name in names:
        texts, err, status = _inputs("wc", [name], stdin, read)
        errors, code = errors + err, max(code, status)
        if not texts:
            continue
        text = texts[0]
        counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(text.encode())}
        values = [counts[k] for k in wanted]
        one = len(values) == 1 and len(names) == 1  # busybox: a single count is printed unpadded
        cells = [str(values[0])] if one else [f"{v:9d}" for v in values]
        out += " ".join(cells) + ("\n" if name == "-" and not files else f" {name}\n")
    return Io(out, errors, code)


# -- grep ------------------------------------------------------------------------------------------

_POSIX_CLASSES = {
    "[:digit:]": r"0-9",
    "[:alpha:]": r"A-Za-z",
    "[:alnum:]": r"A-Za-z0-9",
    "[:upper:]": r"A-Z",
    "[:lower:]": r"a-z",
    "[:space:]": r" \t\n\r\f\v",
    "[:blank:]": r" \t",
    "[:xdigit:]": r"0-9A-Fa-f",
    "[:punct:]": r"!-/:-@\[-`{-~",
}


def _posix_regex(pattern: str, extended: bool) -> str:
    """A POSIX basic or extended regular expression as a Python one.

    In a basic expression ``( ) { } | + ?`` are literal and their backslashed forms are operators
    (the GNU and busybox extension); in an extended one it is the other way round.
    """
    for name, chars in _POSIX_CLASSES.items():
        pattern = pattern.replace(name, chars)
    if extended:
        return pattern
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out += nxt if nxt in "(){}|+?" else "\\" + nxt
            i += 2
            continue
        out += "\\" + c if c in "(){}|+?" else c
        i += 1
    return out


def grep(args: list[str], stdin: str, read: FileReader) -> Io:
    """grep with -i -v -c -q -E -F -o -n -e; exit 0 when a line matched, 1 when none, 2 on error."""
    flags: set[str] = set()
    patterns: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i + 1 :]
            break
        if arg == "-e":
            if i + 1 >= len(args):
                return Io("", "grep: option requires an argument -- 'e'\n", 2)
            patterns.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 1:
            for flag in arg[1:]:
                if flag not in "ivcqEFon":
                    return not_modelled("grep", f"option -{flag}")
                flags.add(flag)
            i += 1
            continue
        rest.append(arg)
        i += 1
    if not patterns:
        if not rest:
            return Io("", "Usage: grep [-ivcqEFon] PATTERN [FILE]...\n", 2)
        patterns, rest = [rest[0]], rest[1:]
    parts = [re.escape(p) if "F" in flags else _posix_regex(p, "E" in flags) for p in patterns]
    try:
        regex = re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE if "i" in flags else 0)
    except re.error as err:
        return Io("", f"grep: bad regex '{patterns[0]}': {err}\n", 2)
    texts, errors, code = _inputs("grep", rest, stdin, read)
    prefix_names = len(rest) > 1
    out, matched = "", 0
    for name, text in zip(rest or ["-"], texts, strict=False):
        count = 0
        for number, line in enumerate(_lines(text), start=1):
            hit = regex.search(line) is not None
            if hit == ("v" in flags):
                continue
            count += 1
            if "q" in flags or "c" in flags:
                continue
            lead = (f"{name}:" if prefix_names else "") + (f"{number}:" if "n" in flags else "")
            if "o" in flags and "v" not in flags:
                out += "".join(f"{lead}{m.group(0)}\n" for m in regex.finditer(line) if m.group(0))
            else:
                out += f"{lead}{line}\n"
        matched += count
        if "c" in flags and "q" not in flags:
            out += (f"{name}:" if prefix_names else "") + f"{count}\n"
    if "q" in flags and matched:
        return Io("", "", 0)  # -q: exit 0 on a match, even when a file was missing
    return Io(out, errors, code * 2 if code else (0 if matched else 1))


#: Every tool by the name a shell finds it under.
TOOLS: dict[str, Callable[[list[str], str, FileReader], Io]] = {
    "echo": echo,
    "cat": cat,
    "head": head,
    "tail": tail,
    "wc": wc,
    "grep": grep,
}
