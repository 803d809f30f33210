"""Child processes kept running, as Kubernetes keeps a pod's container running.

Each child is started in a session of its own (a terminal's Ctrl-C reaches only the parent,
which stops them in order) and dies with the parent if the parent is killed (the child sets
PR_SET_PDEATHSIG itself, see `service_process`). A child that exits while the supervisor is
running is started again after a backoff that grows with consecutive short-lived runs and
resets once a run has lasted `stable_after_s` — a crash loop slows down, an occasional crash
is repaired at once. `stop()` sends SIGTERM to every child, then SIGKILL to those still
running after the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sagakit.backoff import Backoff
from sagakit.logs import get_logger

log = get_logger("orders_saga.supervisor")

# Kubernetes starts at 10 s and doubles to 5 min; a laptop demo wants its service back sooner.
RESTART_BACKOFF = Backoff(base_s=0.5, cap_s=10.0)


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    url: str  # where it serves HTTP; `<url>/healthz` answers once it is up


@dataclass
class Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def view(self) -> dict[str, Any]:
        running = self.process is not None and self.process.returncode is None
        return {
            "pid": self.process.pid if self.process is not None and running else None,
            "url": self.spec.url,
            "restarts": self.restarts,
        }


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        on_change: Callable[[dict[str, dict[str, Any]]], None] = lambda _: None,
        backoff: Backoff = RESTART_BACKOFF,
        stable_after_s: float = 30.0,
    ) -> None:
        self.children = {spec.name: Child(spec) for spec in specs}
        self._on_change = on_change
        self._backoff = backoff
        self._stable_after_s = stable_after_s
        self._stopping = asyncio.Event()

    def views(self) -> dict[str, dict[str, Any]]:
        """Per child: pid (None while it is not running), url and how often it was restarted."""
        return {name: child.view() for name, child in self.children.items()}

    def launch(self) -> None:
        """Start every child, and start it again whenever it exits, until `stop()`."""
        for child in self.children.values():
            child.task = asyncio.create_task(self._keep_running(child), name=child.spec.name)

    async def start(self, timeout_s: float = 60.0) -> None:
        """Launch every child and wait until each answers `/healthz`."""
        self.launch()
        async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
            try:
                async with asyncio.timeout(timeout_s):
                    await asyncio.gather(
                        *(self._until_healthy(client, c.spec) for c in self.children.values())
                    )
            except TimeoutError:
                raise TimeoutError(
                    f"services not answering /healthz after {timeout_s:.0f} s"
                ) from None

    async def stop(self, timeout_s: float = 8.0) -> None:
        """SIGTERM to every child; SIGKILL to any still running after `timeout_s`."""
        self._stopping.set()
        for child in self.children.values():
            _signal(child.process, signal.SIGTERM)
        tasks = [child.task for child in self.children.values() if child.task is not None]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout_s)
        for child in self.children.values():
            if child.task in late:
                log.warning("service did not stop in time; killing it", service=child.spec.name)
                _signal(child.process, signal.SIGKILL)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep_running(self, child: Child) -> None:
        short_runs = 0
        while not self._stopping.is_set():
            child.process = await asyncio.create_subprocess_exec(
                *child.spec.argv,
                env=dict(child.spec.env),
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno(),  # stdout belongs to `up`'s own messages
                start_new_session=True,
            )
            child.started_at = time.monotonic()
            if self._stopping.is_set():  # stop() came while it was being started
                _signal(child.process, signal.SIGTERM)
            self._on_change(self.views())
            code = await child.process.wait()
            if self._stopping.is_set():
                break
            lived_s = time.monotonic() - child.started_at
            short_runs = 1 if lived_s >= self._stable_after_s else short_runs + 1
            delay = self._backoff.delay(short_runs)
            log.warning(
                "service process exited; restarting it",
                service=child.spec.name,
                exit_code=code,
                lived_s=round(lived_s, 1),
                restart_in_s=round(delay, 2),
            )
            self._on_change(self.views())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            child.restarts += 1
        self._on_change(self.views())

    async def _until_healthy(self, client: httpx.AsyncClient, spec: ChildSpec) -> None:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(spec.url + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


def _signal(process: asyncio.subprocess.Process | None, signum: int) -> None:
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)
