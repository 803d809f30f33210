"""Stream housekeeping: lag-safe trimming, idle consumer removal, per-group statistics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from sagakit import stream_ids
from sagakit.dead_letters import dlq_stream


@dataclass(frozen=True, slots=True)
class GroupStats:
    stream: str
    group: str
    consumers: int
    pending: int
    lag: int | None
    last_delivered_id: str

    @property
    def backlog(self) -> int:
        """Entries the group has yet to finish: not yet delivered (its lag) plus delivered but
        not acknowledged (pending). When Redis cannot tell the lag (None: an entry deleted
        ahead of the group, or Redis < 7) only the pending entries are counted."""
        return self.pending + (self.lag or 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "group": self.group,
            "consumers": self.consumers,
            "pending": self.pending,
            "lag": self.lag,
            "last_delivered_id": self.last_delivered_id,
        }


def _parse_groups(stream: str, groups: list[dict[str, Any]]) -> list[GroupStats]:
    """XINFO GROUPS' answer as GroupStats (`lag` is None where Redis cannot compute it)."""
    return [
        GroupStats(
            stream=stream,
            group=g["name"],
            consumers=int(g["consumers"]),
            pending=int(g["pending"]),
            lag=None if g.get("lag") is None else int(g["lag"]),
            last_delivered_id=g["last-delivered-id"],
        )
        for g in groups
    ]


async def group_stats(redis: Redis, stream: str) -> list[GroupStats]:
    """Every group on the stream; empty when the stream does not exist."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        return []
    return _parse_groups(stream, groups)


async def group_stats_of(redis: Redis, streams: Iterable[str]) -> dict[str, list[GroupStats]]:
    """`group_stats` of several streams in one pipelined round trip. A stream that does not
    exist has no groups; a lost connection raises."""
    names = list(streams)
    async with redis.pipeline(transaction=False) as pipe:
        for stream in names:
            pipe.xinfo_groups(stream)
        answers = await pipe.execute(raise_on_error=False)
    found: dict[str, list[GroupStats]] = {}
    for stream, answer in zip(names, answers, strict=True):
        if isinstance(answer, ResponseError):  # no such stream (yet)
            found[stream] = []
        elif isinstance(answer, BaseException):
            raise answer
        else:
            found[stream] = _parse_groups(stream, answer)
    return found


async def safe_trim_id(
    redis: Redis, stream: str, required_groups: Iterable[str] = ()
) -> str | None:
    """The MINID below which every group has read and acknowledged everything.

    For each group the bound is its oldest pending entry, or, with nothing pending, the entry
    after the last one delivered to it. None when there is nothing safe to trim: no groups yet,
    or a group that is expected to read this stream does not exist yet.
    """
    stats = await group_stats(redis, stream)
    if not stats or not set(required_groups) <= {s.group for s in stats}:
        return None
    bounds: list[str] = []
    for group in stats:
        oldest_pending: str | None = None
        if group.pending:
            summary = await redis.xpending(stream, group.group)
            oldest_pending = summary.get("min") if summary.get("pending") else None
        bounds.append(oldest_pending or stream_ids.successor(group.last_delivered_id))
    return stream_ids.lowest(bounds)


async def trim_consumed(
    redis: Redis, stream: str, *, required_groups: Iterable[str] = (), exact: bool = False
) -> int:
    """Remove entries every group has consumed; never an unread or pending one."""
    minid = await safe_trim_id(redis, stream, required_groups)
    if minid is None:
        return 0
    return int(await redis.xtrim(stream, minid=minid, approximate=not exact))


# Deletes the consumer only if it owns no pending entry, atomically, so no PEL entry is lost
# even if the consumer received something since it was inspected.
_DELETE_IF_IDLE = """
local owned = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #owned == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""


async def remove_idle_consumers(
    redis: Redis, stream: str, group: str, *, idle_ms: int, keep: str
) -> list[str]:
    """Remove consumers idle longer than `idle_ms` that own nothing (never `keep`, ourselves)."""
    try:
        consumers = await redis.xinfo_consumers(stream, group)
    except ResponseError:
        return []
    removed: list[str] = []
    for consumer in consumers:
        name = consumer["name"]
        if name == keep or int(consumer["pending"]) or int(consumer["idle"]) < idle_ms:
            continue
        result = await redis.eval(_DELETE_IF_IDLE, 1, stream, group, name)
        if result != -1:
            removed.append(name)
    return removed


@dataclass(frozen=True, slots=True)
class StreamOverview:
    stream: str
    length: int
    dead_letters: int
    groups: list[GroupStats]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "length": self.length,
            "dead_letters": self.dead_letters,
            "groups": [group.as_dict() for group in self.groups],
        }


async def overview(redis: Redis, streams: Iterable[str]) -> list[StreamOverview]:
    """Length, dead letters and per-group lag/pending/consumers of each stream (the ops view)."""
    names = list(streams)
    async with redis.pipeline(transaction=False) as pipe:
        for stream in names:
            pipe.xlen(stream)
            pipe.xlen(dlq_stream(stream))
        lengths = await pipe.execute()
    groups = await group_stats_of(redis, names)
    return [
        StreamOverview(stream, int(lengths[2 * i]), int(lengths[2 * i + 1]), groups[stream])
        for i, stream in enumerate(names)
    ]


@dataclass(frozen=True, slots=True)
class ConsumerView:
    name: str
    pending: int
    idle_ms: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pending": self.pending, "idle_ms": self.idle_ms}


async def consumers_of(
    redis: Redis, groups: Iterable[GroupStats]
) -> dict[tuple[str, str], list[ConsumerView]]:
    """Every consumer of each (stream, group), in one pipelined round trip."""
    keys = [(g.stream, g.group) for g in groups]
    async with redis.pipeline(transaction=False) as pipe:
        for stream, group in keys:
            pipe.xinfo_consumers(stream, group)
        answers = await pipe.execute(raise_on_error=False)
    return {
        key: []
        if isinstance(answer, Exception)  # the group vanished since it was listed
        else [ConsumerView(c["name"], int(c["pending"]), int(c["idle"])) for c in answer]
        for key, answer in zip(keys, answers, strict=True)
    }
