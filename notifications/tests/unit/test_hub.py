"""The local hub never waits: a full socket queue drops that socket only."""

from __future__ import annotations

from notifications.domain import StatusEntry
from notifications.hub import RESYNC, Hub

ORDER = "a" * 32


def entry(version: int, order_id: str = ORDER) -> StatusEntry:
    return StatusEntry(order_id, version, "paid", None, "2024-01-01T00:00:00+00:00")


async def test_a_full_queue_drops_only_its_socket() -> None:
    hub = Hub()
    slow = hub.subscribe(ORDER, queue_size=2)
    fast = hub.subscribe(ORDER, queue_size=2)
    for version in (1, 2, 3):
        hub.dispatch(entry(version))
        fast.queue.get_nowait()
    assert slow.dropped.is_set()
    assert not fast.dropped.is_set()
    hub.dispatch(entry(4))
    assert fast.queue.get_nowait() == entry(4)
    assert slow.queue.qsize() == 2  # nothing more is queued for a dropped socket
    assert hub.sockets() == 1


async def test_dispatch_reaches_only_the_order_watchers() -> None:
    hub = Hub()
    mine = hub.subscribe(ORDER, queue_size=4)
    other = hub.subscribe("b" * 32, queue_size=4)
    hub.dispatch(entry(1))
    assert mine.queue.qsize() == 1
    assert other.queue.empty()
    hub.unsubscribe(mine)
    hub.unsubscribe(mine)  # twice is harmless
    assert hub.watched_orders() == 1


async def test_resync_reaches_every_socket_without_overflowing() -> None:
    hub = Hub()
    full = hub.subscribe(ORDER, queue_size=1)
    hub.dispatch(entry(1))
    idle = hub.subscribe("b" * 32, queue_size=1)
    hub.resync_all()
    assert idle.queue.get_nowait() is RESYNC
    assert full.queue.get_nowait() == entry(1)
    assert not full.dropped.is_set()
