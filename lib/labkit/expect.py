"""What a curl result should look like. Each field is optional; only the ones given are checked."""

from __future__ import annotations

from dataclasses import dataclass

from .result import CurlResult


@dataclass(frozen=True)
class CurlExpectation:
    status: int | None = None
    statuses: tuple[int, ...] | None = None
    exit_code: int | None = None
    no_response: bool = False
    body_contains: tuple[str, ...] = ()
    body_lacks: tuple[str, ...] = ()
    elapsed: tuple[float, float] | None = None

    def describe(self) -> str:
        parts = []
        if self.statuses is not None:
            parts.append(f"statuses {list(self.statuses)}")
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.no_response:
            parts.append("no HTTP response")
        if self.exit_code is not None:
            parts.append(f"exit {self.exit_code}")
        parts += [f"body has {s!r}" for s in self.body_contains]
        parts += [f"body lacks {s!r}" for s in self.body_lacks]
        if self.elapsed:
            parts.append(f"{self.elapsed[0]:g}–{self.elapsed[1]:g}s")
        return "; ".join(parts) or "any result"

    def mismatches(self, r: CurlResult) -> list[str]:
        """Empty when the result meets every expectation; otherwise what differs."""
        out = []
        if self.statuses is not None and r.statuses != list(self.statuses):
            out.append(f"statuses {r.statuses}")
        if self.status is not None and r.status != self.status:
            out.append(f"status {r.status}")
        if self.no_response and r.responses:
            out.append(f"got an HTTP response ({r.status})")
        if self.exit_code is not None and r.exit_code != self.exit_code:
            out.append(f"exit {r.exit_code}")
        searchable = r.body + r.stdout
        out += [f"body lacks {s!r}" for s in self.body_contains if s.lower() not in searchable.lower()]
        out += [f"body has {s!r}" for s in self.body_lacks if s.lower() in searchable.lower()]
        if self.elapsed and not self.elapsed[0] <= r.elapsed <= self.elapsed[1]:
            out.append(f"took {r.elapsed:.2f}s")
        return out

    def actual(self, r: CurlResult) -> str:
        """What came back, in the terms of the expectation."""
        parts = []
        if self.statuses is not None:
            parts.append(f"statuses {r.statuses}")
        if self.status is not None or self.no_response or self.statuses is None:
            parts.append(f"status {r.status}")
        parts.append(f"exit {r.exit_code}")
        if self.elapsed:
            parts.append(f"{r.elapsed:.2f}s")
        wrong_body = [m for m in self.mismatches(r) if m.startswith("body")]
        parts += wrong_body or ([] if not (self.body_contains or self.body_lacks) else ["body as expected"])
        return "; ".join(parts)
