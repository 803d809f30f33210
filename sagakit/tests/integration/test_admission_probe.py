"""The backlog admission control sees, measured on a real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from sagakit.admission import BacklogProbe
from sagakit.maintenance import group_stats_of
from sagakit.redis_version import parse_version

pytestmark = pytest.mark.every_redis_version


async def test_backlog_is_lag_plus_pending_of_the_watched_groups_only(
    namespace: str, redis: Redis
) -> None:
    commands, events = f"{namespace}.commands", f"{namespace}.events"
    for stream in (commands, events):
        await redis.xgroup_create(stream, "worker", id="0", mkstream=True)
    await redis.xgroup_create(events, "read-side", id="0")
    for n in range(5):
        await redis.xadd(commands, {"n": str(n)})
    for n in range(3):
        await redis.xadd(events, {"n": str(n)})
    await redis.xreadgroup("worker", "c", {commands: ">"}, count=2)  # 2 pending, 3 unread
    probe = BacklogProbe(
        redis,
        {commands: ["worker"], events: ["worker"], f"{namespace}.missing": ["worker"]},
    )
    # Redis 6.2's XINFO GROUPS has no lag: only the pending entries can be counted there
    has_lag = parse_version((await redis.info("server"))["redis_version"]) >= (7,)
    # not the read side's 3, nothing for a missing stream
    assert await probe.sample() == (5 + 3 if has_lag else 2)

    entries = await redis.xreadgroup("worker", "c", {commands: ">"})
    await redis.xack(commands, "worker", *(entry_id for entry_id, _ in entries[0][1]))
    assert await probe.sample() == (2 + 3 if has_lag else 2)  # the first two are still pending


async def test_an_unknown_lag_counts_the_pending_entries_only(namespace: str, redis: Redis) -> None:
    stream = f"{namespace}.commands"
    await redis.xgroup_create(stream, "worker", id="0", mkstream=True)
    ids = [await redis.xadd(stream, {"n": str(n)}) for n in range(4)]
    await redis.xreadgroup("worker", "c", {stream: ">"}, count=1)
    await redis.xdel(stream, ids[2])  # a deleted entry ahead of the group: Redis cannot count
    (stats,) = (await group_stats_of(redis, [stream]))[stream]
    assert stats.lag is None and stats.pending == 1
    assert await BacklogProbe(redis, {stream: ["worker"]}).sample() == 1
