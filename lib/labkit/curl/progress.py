"""curl's progress meter, the way it looks when stderr is not a terminal (kubectl exec, pipes).

curl redraws the meter in place with ``\\r``; captured, that reads as a two-line header, a first
all-zero line, then one line per response ending in a newline.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = (
    "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
    "                                 Dload  Upload   Total   Spent    Left  Speed\n"
)

_KB = 1024
_MB = 1024 * _KB
_GB = 1024 * _MB


@dataclass(frozen=True)
class Sample:
    """The numbers behind one meter line."""

    downloaded: int = 0
    download_size: int | None = None  # from Content-Length; None when unknown
    uploaded: int = 0
    upload_size: int | None = None
    spent: float = 0.0  # seconds since the transfer started


def size5(value: int) -> str:
    """At most five columns: 13, 97.6k and 1024M style, like curl's max5data()."""
    if value < 100000:
        return f"{value:5d}"
    if value < 10000 * _KB:
        return f"{value // _KB:4d}k"
    if value < 100 * _MB:
        return f"{value // _MB:2d}.{(value % _MB) // (_MB // 10)}M"
    if value < 10000 * _MB:
        return f"{value // _MB:4d}M"
    if value < 100 * _GB:
        return f"{value // _GB:2d}.{(value % _GB) // (_GB // 10)}G"
    return f"{value // _GB:4d}G"


def clock(seconds: int) -> str:
    """Eight columns: ``--:--:--`` for nothing yet, `` 0:00:03`` otherwise (curl's time2str)."""
    if seconds <= 0:
        return "--:--:--"
    hours = seconds // 3600
    if hours <= 99:
        minutes, secs = divmod(seconds - hours * 3600, 60)
        return f"{hours:2d}:{minutes:02d}:{secs:02d}"
    days, hours = divmod(hours, 24)
    return f"{days:3d}d {hours:02d}h" if days <= 999 else f"{days:7d}d"


def _percent(done: int, total: int) -> int:
    if total > 10000:
        return done // (total // 100)
    return done * 100 // total if total > 0 else 0


def line(sample: Sample) -> str:
    """One meter line, without the leading ``\\r``."""
    dl_total = sample.download_size if sample.download_size is not None else sample.downloaded
    ul_total = sample.upload_size if sample.upload_size is not None else sample.uploaded
    spent = int(sample.spent)
    dl_speed = int(sample.downloaded / sample.spent) if sample.spent > 0 else 0
    ul_speed = int(sample.uploaded / sample.spent) if sample.spent > 0 else 0
    dl_pct = _percent(sample.downloaded, dl_total) if sample.download_size is not None else 0
    ul_pct = _percent(sample.uploaded, ul_total) if sample.upload_size is not None else 0
    # Estimated total time: only known when the size is known and data is flowing.
    estimates = [0]
    if sample.download_size is not None and dl_speed:
        estimates.append(sample.download_size // dl_speed)
    if sample.upload_size is not None and ul_speed:
        estimates.append(sample.upload_size // ul_speed)
    total_secs = max(estimates)
    left = total_secs - spent if total_secs > 0 else 0
    total_pct = _percent(sample.downloaded + sample.uploaded, dl_total + ul_total)
    return (
        f"{total_pct:3d} {size5(dl_total + ul_total)}  "
        f"{dl_pct:3d} {size5(sample.downloaded)}  "
        f"{ul_pct:3d} {size5(sample.uploaded)}  "
        f"{size5(dl_speed)}  {size5(ul_speed)} "
        f"{clock(total_secs)} {clock(spent)} {clock(left)} {size5(dl_speed)}"
    )


def start() -> str:
    """What curl prints before anything arrives: the header and an all-zero line, no newline."""
    return HEADER + "\r" + line(Sample())


def finish(sample: Sample) -> str:
    """The closing line of one response (or of a failed attempt)."""
    return "\r" + line(sample) + "\n"
