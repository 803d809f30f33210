"""Operator commands: `streams`, `dlq list|replay|purge`, `refill-stock`.

They talk to Redis and MongoDB directly (REDIS_URL, MONGO_URL, MONGO_DB, STREAM_PREFIX), so
they work without the services running: the stock refill CronJob runs `refill-stock`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from orders.refill import StockRefill
from orders.schemas import RefillResult
from orders.store import MenuStore
from saga_contracts.topology import Streams
from sagakit.clock_sync import ClockSync
from sagakit.connections import mongo_client, redis_client
from sagakit.dead_letters import DeadLetters
from sagakit.logs import configure_logging
from sagakit.maintenance import GroupStats, consumers_of, overview
from sagakit.outbox import DocumentStore
from sagakit.publisher import Publisher
from sagakit.settings import ConnectionSettings


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


async def streams_command(connections: ConnectionSettings, *, as_json: bool) -> int:
    redis = redis_client(connections.redis_url)
    try:
        views = await overview(redis, Streams(connections.stream_prefix).all())
        consumers = await consumers_of(redis, [g for view in views for g in view.groups])
    finally:
        await redis.aclose()
    if as_json:
        _print_json(
            [
                {
                    **view.as_dict(),
                    "groups": [
                        {
                            **group.as_dict(),
                            "consumer_list": [
                                c.as_dict() for c in consumers[(view.stream, group.group)]
                            ],
                        }
                        for group in view.groups
                    ],
                }
                for view in views
            ]
        )
        return 0
    print(
        f"{'stream':<28} {'length':>8} {'dlq':>5}  {'group':<15} {'lag':>7} {'pending':>8} "
        f"{'consumers':>9}"
    )
    for view in views:
        groups: list[GroupStats | None] = [*view.groups] or [None]
        for index, group in enumerate(groups):
            head = (
                f"{view.stream:<28} {view.length:>8} {view.dead_letters:>5}"
                if index == 0
                else " " * 43
            )
            if group is None:
                print(f"{head}  {'(no group yet)':<15}")
                continue
            lag = "?" if group.lag is None else str(group.lag)
            print(f"{head}  {group.group:<15} {lag:>7} {group.pending:>8} {group.consumers:>9}")
            for consumer in consumers[(view.stream, group.group)]:
                print(
                    f"{'':<45}  - {consumer.name:<24} pending {consumer.pending:>5}, "
                    f"idle {consumer.idle_ms / 1000:.1f} s"
                )
    return 0


async def dlq_command(
    connections: ConnectionSettings,
    action: str,
    *,
    stream: str | None,
    ids: list[str] | None,
    limit: int,
) -> int:
    redis = redis_client(connections.redis_url)
    letters = DeadLetters(redis)
    try:
        if action == "list":
            names = [stream] if stream else await letters.streams()
            _print_json(
                [
                    letter.as_dict()
                    for name in names
                    for letter in await letters.list(name, count=limit)
                ]
            )
            return 0
        if not stream:
            print("orders-saga dlq: --stream is required for replay and purge", file=sys.stderr)
            return 2
        if action == "replay":
            _print_json({"stream": stream, "replayed": await letters.replay(stream, ids)})
        else:
            _print_json({"stream": stream, "purged": await letters.purge(stream, ids)})
        return 0
    finally:
        await redis.aclose()


async def refill_stock(
    connections: ConnectionSettings,
    *,
    to: int | None = None,
    add: int | None = None,
    item_ids: list[str] | None = None,
    run_id: str | None = None,
) -> RefillResult:
    """One refill run with connections of its own, as the CronJob does."""
    redis = redis_client(connections.redis_url)
    mongo = mongo_client(connections.mongo_url)
    try:
        await ClockSync(redis.time).sync()  # the run's time is compared by other processes
        db = mongo[connections.mongo_db]
        runs = DocumentStore(db.refill_runs, Publisher(redis))
        refill = StockRefill(MenuStore(db.menu_items), runs, Streams(connections.stream_prefix))
        result = await refill.run(to=to, add=add, item_ids=item_ids, run_id=run_id)
        await runs.relay.drain()
        return result
    finally:
        await redis.aclose()
        await mongo.close()


async def refill_command(
    connections: ConnectionSettings,
    *,
    to: int | None,
    add: int | None,
    item_ids: list[str] | None,
    run_id: str | None,
) -> int:
    configure_logging()  # to stderr: stdout is the result's JSON
    result = await refill_stock(connections, to=to, add=add, item_ids=item_ids, run_id=run_id)
    _print_json(result.model_dump())
    return 0
