"""Carrying out a domain decision: one guarded write of the delivery (with its events), then
the courier release the decision asks for.

Every input goes through `advance`: take the delivery's last version this process knows (or
read it), `decide`, write guarded by the status and version decided on (and by the consumed
message id). A write that misses was beaten by a concurrent change (another replica, the
deadline, the assignment sweep) or was decided on a stale version: read again and decide
again. A decision that writes nothing is confirmed on a fresh read before it is acted on, so
what this process remembers only ever saves a read. A crash between the write and the release
leaves a courier booked on an ended delivery; the redelivered message decides the release
again, and the fleet janitor frees it in any case.
"""

from __future__ import annotations

from dataclasses import dataclass

from delivery.domain import CourierReport, Decision, Input, Status, decide
from delivery.emits import Context, emits_for
from delivery.known import KnownDeliveries
from delivery.store import Deliveries, Document, Fleet, state_of
from saga_contracts.topology import Streams
from sagakit.clock import now_ms
from sagakit.deadlines import DEADLINE_AT
from sagakit.envelope import Envelope
from sagakit.outbox import Transition

ATTEMPTS = 6  # a decision on a remembered version may need one more, fresh, try


class ConcurrentUpdates(RuntimeError):
    """The delivery kept changing under us; the message is retried by the worker."""


@dataclass(frozen=True)
class Outcome:
    doc: Document | None  # the delivery after the input (None: there is no such delivery)
    changed: bool
    freed_courier: bool


class DeliveryFlow:
    def __init__(self, deliveries: Deliveries, fleet: Fleet, streams: Streams) -> None:
        self.deliveries = deliveries
        self.fleet = fleet
        self.streams = streams
        self.known = KnownDeliveries()

    async def create(self, doc: Document) -> bool:
        """Insert a new delivery (and remember it); False when one already exists."""
        created = await self.deliveries.create(doc)
        if created:
            self.known.created(doc)
        return created

    async def load(self, order_id: str, *, fresh: bool = False) -> Document | None:
        """The delivery as this process last knew it, or (`fresh`, or unknown) as stored."""
        doc = None if fresh else self.known.get(order_id)
        if doc is None:
            doc = await self.deliveries.get(order_id)
            if doc is not None:
                self.known.put(doc)
        return doc

    async def advance(
        self,
        order_id: str,
        event: Input,
        *,
        consumed: str | None = None,
        causation: Envelope | None = None,
        doc: Document | None = None,
    ) -> Outcome:
        """Apply `event` to the delivery of `order_id`; `doc` is a recent version, if any."""
        fresh = False  # whether `doc` was read from the database by this call
        for _ in range(ATTEMPTS):
            if doc is None:
                doc = None if fresh else self.known.get(order_id)
                if doc is None:
                    doc, fresh = await self.load(order_id, fresh=True), True
                    if doc is None:
                        return Outcome(None, changed=False, freed_courier=False)
            decision = decide(state_of(doc), event)
            if decision.next is None:
                if not fresh:
                    doc, fresh = None, True  # confirm "nothing to write" on the stored version
                    continue
                freed = await self._release(decision, order_id)
                return Outcome(doc, changed=False, freed_courier=freed)
            transition = self._transition(doc, decision, event, consumed, causation)
            written = await self.deliveries.apply(order_id, transition)
            if written is None:
                doc, fresh = None, True  # changed under us (or this message was already applied)
                continue
            self.known.put(written)
            freed = await self._release(decision, order_id)
            return Outcome(written, changed=True, freed_courier=freed)
        raise ConcurrentUpdates(f"delivery {order_id} kept changing; giving up for now")

    async def _release(self, decision: Decision, order_id: str) -> bool:
        return decision.release is not None and await self.fleet.release(decision.release, order_id)

    def _transition(
        self,
        doc: Document,
        decision: Decision,
        event: Input,
        consumed: str | None,
        causation: Envelope | None,
    ) -> Transition:
        assert decision.next is not None
        after = decision.next
        version = int(doc["version"]) + 1
        detail = event.detail if isinstance(event, CourierReport) else ""
        updates: Document = {"status": after.status.value, "updated_ms": now_ms()}
        if after.courier_id is not None:
            updates["courier_id"] = after.courier_id
        if after.status is Status.FAILED and detail:
            updates["detail"] = detail
        context = Context(
            order_id=doc["_id"],
            version=version,
            courier_id=after.courier_id or "",
            address=doc.get("address", ""),
            detail=detail,
            causation=causation,
            request_id=doc.get("request_id"),
            traceparent=doc.get("traceparent"),
        )
        return Transition(
            expect={"status": doc["status"], "version": doc["version"]},
            set=updates,
            # Only `waiting` has a deadline, and no transition leads back to it.
            unset=[DEADLINE_AT],
            inc={"version": 1},
            emit=emits_for(decision.effects, context, self.streams),
            consumed=consumed,
        )
