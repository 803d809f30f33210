"""`kill -9` of random replicas at random moments, planned from a seed before the run starts
(so a failing run can be repeated with the same plan), carried out while load runs.

Each service's kills are carried out in turn: a replica is killed only once the replica killed
before it (of the same service) was started again and answers `/readyz`, so at most one
replica per service is down at a time and no replica is killed before its replacement works.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from .system import System


@dataclass(frozen=True)
class Kill:
    at_s: float  # planned, seconds after the load started
    replica: str


@dataclass(frozen=True)
class Killed:
    planned: Kill
    at_s: float  # when it happened (later than planned when a restart took long)
    pid: int
    back_after_s: float  # until the replacement answered /readyz


def kill_plan(
    seed: int, replicas: Mapping[str, Sequence[str]], kills: int, window_s: tuple[float, float]
) -> dict[str, list[Kill]]:
    """`kills` moments per service, uniform in `window_s`, each on a random replica."""
    rng = random.Random(seed)
    plan: dict[str, list[Kill]] = {}
    for service, names in sorted(replicas.items()):
        moments = sorted(rng.uniform(*window_s) for _ in range(kills))
        plan[service] = [Kill(round(at, 2), rng.choice(list(names))) for at in moments]
    return plan


async def until_ready(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} not ready within {timeout_s}s")


async def carry_out(
    system: System, kills: Sequence[Kill], started: float, done: list[Killed]
) -> None:
    """One service's kills, in turn; `started` is the load's start (monotonic)."""
    for kill in kills:
        await asyncio.sleep(max(0.0, started + kill.at_s - time.monotonic()))
        at = time.monotonic()
        pid = system.kill_service(kill.replica)
        await system.until_restarted(kill.replica, pid, timeout_s=60)
        await until_ready(system.runtime()["processes"][kill.replica]["url"], timeout_s=90)
        done.append(Killed(kill, round(at - started, 2), pid, round(time.monotonic() - at, 2)))
