"""Are this process's servers reachable right now? Pings with a short timeout, briefly cached.

A handler's failure is only waited out (without counting a delivery) while a dependency fails
its ping; otherwise it counts toward `max_deliveries` (retries.py). The pings go through the
same clients, pools and event loop as the handlers, so a server too loaded, or a pool too
busy, to answer a ping within `timeout_s` counts as unreachable too: that is overload, and a
failure then says nothing about the message.

A storm of failures costs one round of pings: concurrent callers share the one in flight, and
an answer is reused for `fresh_for_s`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from sagakit.logs import describe

Ping = Callable[[], Awaitable[object]]


class DependencyCheck:
    def __init__(
        self,
        pings: Mapping[str, Ping],
        *,
        timeout_s: float = 2.0,
        fresh_for_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pings = dict(pings)
        self._timeout_s = timeout_s
        self._fresh_for_s = fresh_for_s
        self._clock = clock
        self._down: dict[str, str] = {}
        self._checked_at: float | None = None
        self._running: asyncio.Future[dict[str, str]] | None = None

    @property
    def names(self) -> list[str]:
        return list(self._pings)

    async def unreachable(self) -> str | None:
        """The first dependency that does not answer its ping, or None when all answer."""
        return next(iter(await self.down()), None)

    async def down(self) -> dict[str, str]:
        """The dependencies that do not answer their ping, each with why."""
        if self._checked_at is not None and self._clock() - self._checked_at < self._fresh_for_s:
            return dict(self._down)
        if self._running is None:
            self._running = asyncio.ensure_future(self._check())
        # shielded: a caller cancelled while waiting must not cancel the round others share
        return dict(await asyncio.shield(self._running))

    async def _check(self) -> dict[str, str]:
        try:
            answers = await asyncio.gather(*(self._ping(n, p) for n, p in self._pings.items()))
            self._down = {name: why for name, why in answers if why is not None}
            self._checked_at = self._clock()
            return self._down
        finally:
            self._running = None

    async def _ping(self, name: str, ping: Ping) -> tuple[str, str | None]:
        try:
            async with asyncio.timeout(self._timeout_s):
                await ping()
        except TimeoutError:
            return name, f"{name}: no answer to a ping within {self._timeout_s:g} s"
        except Exception as exc:
            return name, f"{name}: {describe(exc)}"
        return name, None
