"""Rate-limited tracebacks: a storm of one error logs its traceback once in a while, not per
failure.

A key is (stream, exception type, location: the innermost frame that raised it). The first
failure of a key logs its traceback; the next ones within `every_s` are only counted, and the
next traceback logged for that key says how many were left out meanwhile.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

TracebackKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    log_traceback: bool
    suppressed: int  # tracebacks of this key left out since the last one logged


def location_of(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    innermost = frames[-1]
    return f"{innermost.filename}:{innermost.lineno}"


class TracebackLimiter:
    def __init__(
        self,
        every_s: float,
        *,
        max_keys: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._every_s = every_s
        self._max_keys = max_keys
        self._clock = clock
        self._last: dict[TracebackKey, float] = {}
        self._suppressed: dict[TracebackKey, int] = {}

    def admit(self, stream: str, exc: BaseException) -> Verdict:
        key = (stream, type(exc).__qualname__, location_of(exc))
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._every_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return Verdict(False, 0)
        self._forget_old(now)
        self._last[key] = now
        return Verdict(True, self._suppressed.pop(key, 0))

    def _forget_old(self, now: float) -> None:
        """Bound the memory: many distinct keys forget those whose interval has passed (their
        next failure logs a traceback anyway; only the count of left-out ones is lost)."""
        if len(self._last) < self._max_keys:
            return
        for key, at in list(self._last.items()):
            if now - at >= self._every_s:
                del self._last[key]
                self._suppressed.pop(key, None)
        if len(self._last) >= self._max_keys:  # all recent: drop the oldest
            oldest = min(self._last, key=self._last.__getitem__)
            del self._last[oldest]
            self._suppressed.pop(oldest, None)

    def log_fields(self, stream: str, exc: BaseException) -> dict[str, object]:
        """Fields to add to the log line of a failure: its traceback (structlog `exc_info`)
        and how many were left out before it, or nothing while the key is limited."""
        verdict = self.admit(stream, exc)
        if not verdict.log_traceback:
            return {}
        return {"exc_info": exc, "tracebacks_suppressed": verdict.suppressed}
