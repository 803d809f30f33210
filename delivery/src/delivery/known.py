"""What this process remembers about recent deliveries, so that the common path reads nothing.

`KnownDeliveries` keeps the last version of each delivery this process created, read or wrote.
`DeliveryFlow.advance` decides on it without reading first; the write is still guarded by the
status and version it was decided on, and a miss reloads from the database and decides again.
A stale entry (another replica moved the delivery) therefore costs one retry, never a wrong
transition: correctness never depends on what is remembered here.

It also remembers which deliveries this process created and has not yet claimed a courier
for: no courier can hold such an order from an earlier attempt of this process, so the first
attempt may skip looking for one (see `Assigner.assign`).
"""

from __future__ import annotations

from delivery.domain import Status
from delivery.store import Document
from sagakit.outbox import CONSUMED, OUTBOX, OUTBOX_HEAD, OUTBOX_SINCE
from sagakit.recent import Recent

CAPACITY = 20_000
# The outbox and the consumed ids are never needed to decide; keeping them would cost memory.
_NOT_REMEMBERED = frozenset({OUTBOX, OUTBOX_SINCE, OUTBOX_HEAD, CONSUMED})


class KnownDeliveries:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._docs: Recent[str, Document] = Recent(capacity)
        self._unclaimed: Recent[str, bool] = Recent(capacity)

    def get(self, order_id: str) -> Document | None:
        return self._docs.get(order_id)

    def put(self, doc: Document) -> None:
        """Remember `doc` as the latest version (an ended delivery is forgotten instead)."""
        order_id: str = doc["_id"]
        if Status(doc["status"]).ended:
            self.forget(order_id)
            return
        self._docs.put(order_id, {k: v for k, v in doc.items() if k not in _NOT_REMEMBERED})

    def created(self, doc: Document) -> None:
        """This process has just inserted `doc`: nothing can have claimed a courier for it."""
        self.put(doc)
        self._unclaimed.put(doc["_id"], True)

    def take_unclaimed(self, order_id: str) -> bool:
        """True (once) when no attempt of this process has claimed a courier for the order."""
        return self._unclaimed.pop(order_id) is not None

    def still_unclaimed(self, order_id: str) -> None:
        """An attempt that took the mark claimed nothing after all."""
        self._unclaimed.put(order_id, True)

    def forget(self, order_id: str) -> None:
        self._docs.pop(order_id)
        self._unclaimed.pop(order_id)
