"""Before a request, wait until the proxies it passes hold the mesh config labkit just wrote.

A write to Istio config reaches the proxies a moment later: istiod debounces changes, then pushes
new xDS to the proxies the change concerns, and each Envoy acknowledges it. A request sent in that
window meets the old config (lab 01's 3 s timeout rule let a ``/delay/5`` run under the old rules).
So, as ``istioctl proxy-status`` does, labkit reads istiod's ``/debug/syncz`` (``syncstate``):

- before a write of mesh config it notes, for each proxy the write concerns, the nonces istiod had
  sent it so far (a proxy already waiting for an earlier write keeps that earlier note);
- before the next request from a pod, it polls until that pod's proxy, and every gateway waiting
  too, got a push newer than the note and acknowledged all of it (SYNCED for every type).

Polling is bounded: istiod pushes at the latest ``SYNC_TIMEOUT`` seconds after a change, so a proxy
that got nothing new by then was not concerned by it, and the request runs. When istiod's state cannot
be read (no exec rights on its pod, no istiod pod, an Istio without ``/debug/syncz``) labkit says so
once and sends requests right away, as before; the checks' retries then absorb the push delay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..display import LiveStatus, Waiting
from .syncstate import ROUTER, ProxySync, SyncStateUnreadable, proxy_id

if TYPE_CHECKING:
    from rich.console import Console

#: istiod's longest debounce before it pushes (PILOT_DEBOUNCE_MAX, 10 s by default: pilot/pkg/features).
SYNC_TIMEOUT = 10.0
#: Seconds between two reads of istiod's state (each is one exec into istiod).
POLL_INTERVAL = 0.25
#: A read this recent still tells what proxies hold before a write: a burst of writes (a lab's cleanup
#: deleting its objects) costs one read, not one per object. Proxies already waiting keep their older note.
FRESH = 1.0


class ConfigSync:
    """What labkit wrote that some proxies may not hold yet, and the wait for it."""

    def __init__(
        self,
        read: Callable[[], dict[str, ProxySync]],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        console: Callable[[], Console],
        timeout: float = SYNC_TIMEOUT,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self._read = read
        self._clock, self._sleep, self._console = clock, sleep, console
        self.timeout, self.interval = timeout, interval
        #: proxy ID -> its state before the first write it has not seen yet (the nonces sent so far)
        self.waiting: dict[str, ProxySync] = {}
        #: why istiod's state cannot be read; set once, then labkit no longer tries
        self.unavailable: str | None = None
        self.notes: list[str] = []
        self._last: tuple[float, dict[str, ProxySync]] | None = None  # (when, what) of the latest read

    def before_write(self, proxy_types: frozenset[str]) -> None:
        """Note what each concerned proxy holds now, before a write of mesh config reaches it."""
        if not proxy_types or self.unavailable:
            return
        fresh = self._last is not None and self._clock() - self._last[0] < FRESH
        state = self._last[1] if fresh and self._last is not None else self._state()
        if state is None:
            return
        for pid, sync in state.items():
            if sync.proxy_type in proxy_types and pid not in self.waiting:
                self.waiting[pid] = sync

    def before_request(self, namespace: str, pod: str) -> None:
        """Wait until the pod's proxy, and any gateway, holds what was written since its last request."""
        own = proxy_id(namespace, pod)
        if self.unavailable or not any(self._concerns(pid, own) for pid in self.waiting):
            return
        start = self._clock()
        view = Waiting(
            f"the new mesh config reaches {own}", "SYNCED, after a push newer than the write", self.timeout, False
        )
        live = LiveStatus(self._console(), view, clock=self._clock)
        attempts = 0
        behind: list[str] = []
        while True:
            attempts += 1
            state = self._state()
            if state is None:
                break
            behind = self._behind(state, own)
            elapsed = self._clock() - start
            if not behind or elapsed + self.interval > self.timeout:
                break
            live.waiting(attempts, elapsed, "; ".join(f"{p}: {state[p].describe()}" for p in behind))
            self._sleep(self.interval)
        if behind and state is not None:
            self._give_up(behind, state)
        if live.started:
            live.finish(attempts, self._clock() - start, not behind)

    def _give_up(self, behind: list[str], state: dict[str, ProxySync]) -> None:
        """The timeout passed: say what each proxy still waited for, and stop waiting for it."""
        for pid in behind:
            noted = self.waiting.pop(pid)
            if dict(state[pid].sent) != dict(noted.sent):
                why = (
                    f"istiod pushed new config to {pid} but it was not acknowledged within {self.timeout:g}s "
                    f"({state[pid].describe()}; a rejected config stays STALE: `istioctl proxy-status` shows it)"
                )
            else:
                why = (
                    f"istiod pushed nothing newer to {pid} within {self.timeout:g}s of the config change; istiod "
                    "pushes a proxy only the config it depends on, so the change likely does not concern it"
                )
            self._note(f"{why}; the request runs now")

    def _behind(self, state: dict[str, ProxySync], own: str) -> list[str]:
        """The proxies this request waits for that have not yet acknowledged a newer push; the ones that
        have (or that left istiod: no proxy any more) are done."""
        behind = []
        for pid, noted in list(self.waiting.items()):
            if not self._concerns(pid, own):
                continue
            sync = state.get(pid)
            if sync is None or (sync.synced and dict(sync.sent) != dict(noted.sent)):
                del self.waiting[pid]
            else:
                behind.append(pid)
        return behind

    def _concerns(self, pid: str, own: str) -> bool:
        """A request passes its own pod's proxy, and may pass any gateway."""
        return pid == own or self.waiting[pid].proxy_type == ROUTER

    def _state(self) -> dict[str, ProxySync] | None:
        try:
            state = self._read()
        except SyncStateUnreadable as exc:
            self.unavailable = str(exc)
            self.waiting.clear()
            self._note(
                f"cannot read istiod's config sync state ({exc}); requests run without waiting for new mesh "
                "config to reach the proxies, and the checks' retries absorb the delay"
            )
            return None
        self._last = (self._clock(), state)
        return state

    def _note(self, text: str) -> None:
        self.notes.append(text)
        self._console().print(f"[yellow]note:[/] {text}", highlight=False)
