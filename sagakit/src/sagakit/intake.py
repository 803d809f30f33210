"""Turning stream entries into work: parse them, skip what is held, give up on what cannot run.

The read loop and the claim loop both hand their entries here. An entry becomes either a
`Delivery` (handled by its key's drain task, in order) or a `GiveUp` (dead-lettered without
running a handler: it is not UTF-8, it cannot be parsed, or it was delivered too often already).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sagakit.consumer import ConsumerState
from sagakit.envelope import Envelope, PoisonMessage
from sagakit.keyed import KeyedScheduler
from sagakit.routing import Delivery
from sagakit.undecodable import is_undecodable

# Give-ups are queued under a key of their own, so they never wait behind an order's work.
POISON_KEY = "\x00dead-letter"


@dataclass(frozen=True, slots=True)
class GiveUp:
    """An entry that goes to the dead-letter stream without being handled."""

    stream: str
    entry_id: str
    fields: Mapping[str, str] | None
    reason: str
    error: str
    deliveries: int
    exception: BaseException | None = None  # what made it give up, when something raised


Work = Delivery | GiveUp


class Intake:
    def __init__(self, state: ConsumerState, scheduler: KeyedScheduler[Work]) -> None:
        self._state = state
        self._scheduler = scheduler

    def accept(
        self, stream: str, entry_id: str, fields: Mapping[str, str] | None, *, attempt: int
    ) -> None:
        ref = (stream, entry_id)
        if ref in self._state.in_flight:
            return
        if not fields:  # deleted while pending (redis-py reads the nil as None or {})
            self._state.ack_deleted(stream, [entry_id])
            return
        self._state.in_flight.add(ref)
        if is_undecodable(fields):
            self._scheduler.submit(
                POISON_KEY,
                GiveUp(stream, entry_id, fields, "undecodable", "fields are not UTF-8", attempt),
            )
            return
        try:
            envelope = Envelope.from_fields(fields)
        except PoisonMessage as exc:
            self._scheduler.submit(
                POISON_KEY, GiveUp(stream, entry_id, fields, "unparseable", str(exc), attempt)
            )
            return
        self._scheduler.submit(envelope.key, Delivery(stream, entry_id, envelope, fields, attempt))

    async def accept_redelivered(
        self, stream: str, entries: Sequence[tuple[str, Mapping[str, str] | None]]
    ) -> None:
        """Accept entries delivered before (recovered or claimed), giving up on those whose
        delivery count is past the limit: a message that crashes its process must not
        crash-loop the fleet."""
        # An id of None is a deleted entry as Redis 6.2's claims report it: its caller, which
        # knows the ids it asked for, acknowledges it.
        fresh = [
            (i, f) for i, f in entries if i is not None and (stream, i) not in self._state.in_flight
        ]
        if not fresh:
            return
        counts = await self.delivery_counts(stream, [i for i, _ in fresh])
        for entry_id, fields in fresh:
            deliveries = counts.get(entry_id, 1)
            if (
                fields
                and deliveries > self._state.settings.max_deliveries
                and not is_undecodable(fields)  # which `accept` gives up on with its reason
            ):
                self._state.in_flight.add((stream, entry_id))
                self._scheduler.submit(
                    POISON_KEY,
                    GiveUp(
                        stream,
                        entry_id,
                        fields,
                        "max_deliveries",
                        "delivered too often without an acknowledgement",
                        deliveries,
                    ),
                )
            else:
                self.accept(stream, entry_id, fields, attempt=deliveries)

    async def delivery_counts(self, stream: str, entry_ids: Sequence[str]) -> dict[str, int]:
        """Redis' own delivery count of each entry still pending for the group."""
        async with self._state.redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.xpending_range(stream, self._state.group, min=entry_id, max=entry_id, count=1)
            rows = await pipe.execute()
        return {row[0]["message_id"]: int(row[0]["times_delivered"]) for row in rows if row}
