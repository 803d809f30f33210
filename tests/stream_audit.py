"""After a run, what the streams and the stores say about effects that must happen at most
once, read from Redis and MongoDB (never from logs).

A message published again (outbox sweeper, a redelivered command answered again) keeps its
id, so an effect is counted as the distinct message ids of its type per order: two ids mean
the system decided it twice. Streams must not be trimmed during the run
(STREAMS_TRIM_INTERVAL_S far beyond it) for the counts to be complete.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, cast

import orjson
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from saga_contracts.topology import Streams
from sagakit.dead_letters import DLQ_PREFIX

Entry = dict[str, str]
Readers = Mapping[str, Sequence[str]]  # stream -> its consumer groups (Streams.readers())
PAGE = 1_000


async def stream_entries(redis: Redis, stream: str) -> list[Entry]:
    """Every entry of `stream`, oldest first."""
    found: list[Entry] = []
    start = "-"
    while page := cast(
        list[tuple[str, Entry]], await redis.xrange(stream, min=start, max="+", count=PAGE)
    ):
        found += [fields for _, fields in page]
        start = f"({page[-1][0]}"
    return found


def ids_by_order(entries: Iterable[Entry], *types: str) -> dict[str, set[str]]:
    """Per order (the envelope key), the distinct message ids of the given types."""
    found: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.get("type") in types:
            found[entry["key"]].add(entry["id"])
    return found


def reached(order: Mapping[str, Any], status: str) -> bool:
    return any(entry.get("status") == status for entry in (order.get("history") or {}).values())


async def check_payments(redis: Redis, db: AsyncDatabase[Any], streams: Streams) -> dict[str, int]:
    """Each order asked for one authorisation and got at most one, exactly one if it was
    paid; at most one capture or refund per order, a capture exactly for delivered orders.
    Returns what was counted."""
    commands = await stream_entries(redis, streams.payments_commands)
    events = await stream_entries(redis, streams.payments_events)
    authorize = ids_by_order(commands, "payment.authorize")
    authorized = ids_by_order(events, "payment.authorized")
    captures = ids_by_order(commands, "payment.capture")
    refunds = ids_by_order(commands, "payment.refund")
    orders = {doc["_id"]: doc async for doc in db.orders.find({}, {"status": 1, "history": 1})}
    problems: list[str] = []
    for order_id, order in orders.items():
        asked, got = len(authorize[order_id]), len(authorized[order_id])
        settled = captures[order_id] | refunds[order_id]
        if asked != 1:
            problems.append(f"{order_id}: {asked} payment.authorize commands")
        if got > 1 or (reached(order, "paid") and got != 1):
            problems.append(f"{order_id} ({order['status']}): {got} payment.authorized")
        if len(settled) > 1:
            problems.append(f"{order_id}: {len(settled)} captures/refunds")
        if (order["status"] == "delivered") != bool(captures[order_id]):
            problems.append(f"{order_id} ({order['status']}): {len(captures[order_id])} captures")
    strays = (set(authorize) | set(authorized) | set(captures) | set(refunds)) - set(orders)
    problems += [f"{order_id}: payment messages for an order not stored" for order_id in strays]
    assert not problems, f"{len(problems)} payment problems: {problems[:10]}"
    return {
        "payment.authorize": sum(map(len, authorize.values())),
        "payment.authorized": sum(map(len, authorized.values())),
        "payment.capture": sum(map(len, captures.values())),
        "payment.refund": sum(map(len, refunds.values())),
    }


async def check_courier_dispatches(
    redis: Redis, db: AsyncDatabase[Any], streams: Streams
) -> dict[str, int]:
    """At most one courier per order: one dispatch (one message id, one courier) per order,
    and it is the courier its delivery document records; a delivery with a courier was
    dispatched. Returns what was counted."""
    dispatched: dict[str, set[tuple[str, str]]] = defaultdict(set)  # order -> (id, courier)
    for entry in await stream_entries(redis, streams.couriers_commands):
        if entry.get("type") == "courier.dispatch":
            courier = orjson.loads(entry["payload"])["courier_id"]
            dispatched[entry["key"]].add((entry["id"], courier))
    recorded = {
        doc["_id"]: doc.get("courier_id") async for doc in db.deliveries.find({}, {"courier_id": 1})
    }
    problems: list[str] = []
    for order_id, sent in dispatched.items():
        if len(sent) != 1:
            problems.append(f"{order_id}: dispatched {sorted(sent)}")
        couriers = {courier for _, courier in sent}
        if {recorded.get(order_id)} != couriers:
            problems.append(
                f"{order_id}: dispatched {couriers}, delivery records {recorded.get(order_id)}"
            )
    for order_id, courier in recorded.items():
        if courier is not None and order_id not in dispatched:
            problems.append(f"{order_id}: delivery records {courier}, never dispatched")
    assert not problems, f"{len(problems)} courier problems: {problems[:10]}"
    return {"courier.dispatch": len(dispatched), "deliveries": len(recorded)}


async def check_stock_documents(db: AsyncDatabase[Any]) -> None:
    """No item holds a reservation once every order ended, and no stock is negative."""
    left = [
        (doc["_id"], doc.get("stock"), sorted(doc.get("reservations") or {})[:3])
        async for doc in db.menu_items.find({}, {"stock": 1, "reservations": 1})
        if doc.get("reservations") or doc.get("stock", 0) < 0
    ]
    assert not left, f"items with reservations left or negative stock: {left}"


async def check_no_dead_letters(redis: Redis, streams: Streams) -> None:
    """Every dead-letter stream of the deployment is empty (or absent)."""
    pattern = f"{DLQ_PREFIX}{streams.prefix}*"
    lengths = {name: await redis.xlen(name) async for name in redis.scan_iter(pattern)}
    dead = {name: length for name, length in lengths.items() if length}
    samples = {name: (await stream_entries(redis, name))[:2] for name in dead}
    assert not dead, f"dead letters: {dead}; first of each: {samples}"


async def check_nothing_pending_past(redis: Redis, readers: Readers, idle_ms: int) -> None:
    """No entry of any group has been pending longer than `idle_ms` (the claim threshold):
    nothing was left behind by a dead consumer or forgotten by a live one."""
    stale = {
        (stream, group): entries
        for stream, groups in readers.items()
        for group in groups
        if (entries := await redis.xpending_range(stream, group, "-", "+", 10, idle=idle_ms))
    }
    assert not stale, f"entries pending longer than {idle_ms} ms: {stale}"


async def check_consumers(redis: Redis, readers: Readers, expected: Collection[str]) -> None:
    """Every group's consumers are exactly the replicas' consumer names: a restarted replica
    took its name back, and no consumer of a dead process was left over."""
    wrong = {}
    for stream, groups in readers.items():
        for group in groups:
            names = {c["name"] for c in await redis.xinfo_consumers(stream, group)}
            if names != set(expected):
                wrong[(stream, group)] = sorted(names)
    assert not wrong, f"consumers other than {sorted(expected)}: {wrong}"
