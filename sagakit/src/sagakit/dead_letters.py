"""The dead-letter streams: `dlq.<stream>` holds what a group gave up on, with the reason.

The original entry's fields are kept verbatim (as one JSON field, so any field names survive),
which is what replay appends back to the original stream. Fields that were not UTF-8 are kept
readable there and byte for byte in `fields_base64` (see `undecodable`); replay appends the
original bytes. Dead letters do not pile up for ever: `trim` drops those older than a maximum
age (by their entry id, against Redis' own clock) and the oldest beyond a maximum length.
When the give-up follows an exception, the record also keeps its type, message and last frames
(`FailureDetails`); records written before those fields existed decode with them empty.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from sagakit import stream_ids
from sagakit.envelope import utcnow
from sagakit.failure_details import NO_DETAILS, FailureDetails
from sagakit.metrics import DEAD_LETTERED
from sagakit.replies import entries
from sagakit.undecodable import (
    RAW_FIELDS,
    RawFields,
    encode_raw,
    is_undecodable,
    parse_raw,
    raw_bytes,
    readable_fields,
)

DLQ_PREFIX = "dlq."

# Moves one dead letter back, only if this call removed it: of concurrent replays of the same
# letter exactly one appends it (a MULTI of XADD + XDEL would let every replayer append it).
_REPLAY_ONE = """
if redis.call('XDEL', KEYS[2], ARGV[1]) == 0 then
  return false
end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
"""


def dlq_stream(stream: str) -> str:
    return f"{DLQ_PREFIX}{stream}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dlq_id: str
    stream: str
    original_id: str
    group: str
    reason: str
    error: str
    deliveries: int
    at: str
    fields: dict[str, str]
    raw_fields: RawFields | None = None  # base64 of fields that were not UTF-8
    failure: FailureDetails = NO_DETAILS

    def as_dict(self) -> dict[str, Any]:
        listed = {
            "dlq_id": self.dlq_id,
            "stream": self.stream,
            "original_id": self.original_id,
            "group": self.group,
            "reason": self.reason,
            "error": self.error,
            "deliveries": self.deliveries,
            "at": self.at,
            "fields": self.fields,
            **self.failure.as_record(),
        }
        if self.raw_fields is not None:
            listed[RAW_FIELDS] = [list(pair) for pair in self.raw_fields]
        return listed


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _decode(stream: str, dlq_id: str, raw: Mapping[str, str]) -> DeadLetter:
    try:
        fields = orjson.loads(raw.get("fields", "{}"))
    except orjson.JSONDecodeError:
        fields = {}
    return DeadLetter(
        dlq_id=dlq_id,
        stream=stream,
        original_id=raw.get("original_id", ""),
        group=raw.get("group", ""),
        reason=raw.get("reason", ""),
        error=raw.get("error", ""),
        deliveries=_int(raw.get("deliveries")),
        at=raw.get("at", ""),
        fields=fields if isinstance(fields, dict) else {},
        raw_fields=parse_raw(raw[RAW_FIELDS]) if RAW_FIELDS in raw else None,
        failure=FailureDetails.from_record(raw),
    )


class DeadLetters:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._replay_one = redis.register_script(_REPLAY_ONE)

    async def send(
        self,
        *,
        stream: str,
        group: str,
        entry_id: str,
        fields: Mapping[str, str] | None,
        reason: str,
        error: str,
        deliveries: int,
        failure: FailureDetails = NO_DETAILS,
    ) -> None:
        """Append to the dead-letter stream and acknowledge the original, atomically."""
        record = {
            "original_id": entry_id,
            "group": group,
            "reason": reason,
            "error": error[:2000],
            "deliveries": str(deliveries),
            "at": utcnow().isoformat(),
            "fields": orjson.dumps(readable_fields(fields or {})).decode(),
        }
        if fields and is_undecodable(fields):
            record[RAW_FIELDS] = encode_raw(fields)
        if failure != NO_DETAILS:
            record.update(failure.as_record())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dlq_stream(stream), record)  # type: ignore[arg-type]
            pipe.xack(stream, group, entry_id)
            await pipe.execute()
        DEAD_LETTERED.labels(stream, group, reason).inc()

    async def streams(self) -> list[str]:
        """Original stream names that have a dead-letter stream."""
        found: list[str] = []
        async for key in self._redis.scan_iter(match=f"{DLQ_PREFIX}*", _type="stream"):
            found.append(key.removeprefix(DLQ_PREFIX))
        return sorted(found)

    async def count(self, stream: str) -> int:
        return int(await self._redis.xlen(dlq_stream(stream)))

    async def list(self, stream: str, *, count: int = 100, after: str = "-") -> list[DeadLetter]:
        found = entries(
            await self._redis.xrange(dlq_stream(stream), min=after, max="+", count=count)
        )
        return [_decode(stream, dlq_id, raw or {}) for dlq_id, raw in found]

    async def replay(self, stream: str, dlq_ids: Sequence[str] | None = None) -> int:
        """Append entries back to the original stream and remove them from the dead letters;
        how many this call moved.

        Each entry moves in one script, atomically, so a crash never loses or doubles it, and
        of several concurrent replays (other replicas, operators) only the one that removes
        an entry appends it. An entry without fields cannot be appended and stays.
        """
        replayed = 0
        for letter in await self._select(stream, dlq_ids):
            original = raw_bytes(letter.raw_fields) if letter.raw_fields else letter.fields
            if not original:
                continue
            flat = [part for pair in original.items() for part in pair]
            moved = await self._replay_one(
                keys=[stream, dlq_stream(stream)], args=[letter.dlq_id, *flat]
            )
            if moved is not None:
                replayed += 1
        return replayed

    async def oldest_ages_ms(self, streams: Sequence[str]) -> dict[str, int | None]:
        """How old each stream's oldest dead letter is (its id against Redis' clock), in one
        round trip; None where there is none."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            for stream in streams:
                pipe.xrange(dlq_stream(stream), count=1)
            (seconds, micros), *firsts = await pipe.execute()
        redis_now_ms = int(seconds) * 1000 + int(micros) // 1000
        ages: dict[str, int | None] = {}
        for stream, first in zip(streams, firsts, strict=True):
            found = entries(first)
            ages[stream] = (
                max(0, redis_now_ms - stream_ids.parse(found[0][0])[0]) if found else None
            )
        return ages

    async def trim(self, stream: str, *, max_age_ms: int, max_len: int) -> int:
        """Drop dead letters older than `max_age_ms` and the oldest beyond `max_len`; how many.

        An entry's age is its id's millisecond part against Redis' clock (TIME), never this
        node's. Idempotent, so every replica may run it.
        """
        seconds, micros = await self._redis.time()
        redis_now_ms = seconds * 1000 + micros // 1000
        minid = f"{max(0, redis_now_ms - max_age_ms)}-0"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xtrim(dlq_stream(stream), minid=minid, approximate=False)
            pipe.xtrim(dlq_stream(stream), maxlen=max_len, approximate=False)
            by_age, by_length = await pipe.execute()
        return int(by_age) + int(by_length)

    async def purge(self, stream: str, dlq_ids: Sequence[str] | None = None) -> int:
        if dlq_ids is None:
            removed = int(await self._redis.xlen(dlq_stream(stream)))
            await self._redis.delete(dlq_stream(stream))
            return removed
        return int(await self._redis.xdel(dlq_stream(stream), *dlq_ids)) if dlq_ids else 0

    async def _select(
        self, stream: str, dlq_ids: Sequence[str] | None
    ) -> builtins.list[DeadLetter]:
        if dlq_ids is None:
            letters: builtins.list[DeadLetter] = []
            after = "-"
            while True:
                page = await self.list(stream, count=500, after=after)
                letters.extend(page)
                if len(page) < 500:
                    return letters
                after = "(" + page[-1].dlq_id
        wanted: builtins.list[DeadLetter] = []
        for dlq_id in dlq_ids:
            found = entries(await self._redis.xrange(dlq_stream(stream), min=dlq_id, max=dlq_id))
            wanted.extend(_decode(stream, i, raw or {}) for i, raw in found)
        return wanted
