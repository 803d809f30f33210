"""What one MongoDB operation costs the embedded server (nx-27017), in its own CPU time.

    uv run python bench/nx_ops.py [--docs 1000 20000] [--ops 1000]

Starts a private nx-27017, fills a collection with order-like documents (~1.2 KB) and measures
the server process's CPU per operation for the shapes the services use: a single command
(one round trip each) and the same writes sent 100 to a `bulk_write`. The figure bounds the
orders/s the embedded server can carry: (writes per order) x (CPU per write) per core.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymongo
from harness import cpu_seconds
from pymongo.collection import Collection

from sagakit.embedded.redis import free_port

NX = Path(sys.executable).parent / "nx-27017"


def order_like(n: int) -> dict[str, Any]:
    return {
        "_id": f"o{n}",
        "status": "placed",
        "version": 1,
        "lines": [{"item_id": "funghi", "name": "Pizza Funghi", "quantity": 1, "price": 1050}],
        "customer": {"name": "Ada", "address": "1 Main St", "phone": "+1 555 0100"},
        "history": {"v000001": {"status": "placed", "at": "2026-11-21T16:31:30.538+00:00"}},
        "outbox": {"e1": {"stream": "orders.events", "fields": "x" * 300}},
        "outbox_head": "e1",
        "consumed": {"c1": 1, "c2": 1},
        "pad": "x" * 300,
    }


def transition(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A guarded saga step as the services write it: status and version guard, consumed
    event, history entry, new outbox entry, previous one removed, version bumped."""
    return (
        {"_id": f"o{n}", "status": "placed", "version": 1, "consumed.c9": {"$exists": False}},
        {
            "$set": {
                "status": "paid",
                "consumed.c9": 1,
                "history.v000002": {"status": "paid", "at": "2026-11-21T16:31:30.756+00:00"},
                "outbox.e2": {"stream": "orders.events", "fields": "y" * 300},
                "outbox_head": "e2",
            },
            "$unset": {"outbox.e1": ""},
            "$inc": {"version": 1},
        },
    )


Orders = Collection[dict[str, Any]]


def find_each(collection: Orders, picks: list[int]) -> None:
    for n in picks:
        collection.find_one({"_id": f"o{n}"})


def update_each(collection: Orders, picks: list[int]) -> None:
    for n in picks:
        collection.update_one(*transition(n))


def update_in_bulks(collection: Orders, picks: list[int]) -> None:
    batch = [pymongo.UpdateOne(*transition(n)) for n in picks]
    for i in range(0, len(batch), 100):
        collection.bulk_write(batch[i : i + 100], ordered=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--ops", type=int, default=1000)
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nx-") as data:
        server = subprocess.Popen(
            [
                str(NX),
                "--data-dir",
                data,
                "-p",
                str(port),
                "--log-file",
                "/dev/null",
                "--pid-file",
                f"{data}/nx.pid",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
                f"mongodb://127.0.0.1:{port}", directConnection=True, retryWrites=False
            )
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.admin.command("ping")
                    break
                except pymongo.errors.PyMongoError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            collection = client.bench.orders

            def per_op(run: Callable[[Orders, list[int]], None], picks: list[int]) -> float:
                before = cpu_seconds(server.pid)
                run(collection, picks)
                return 1000 * (cpu_seconds(server.pid) - before) / len(picks)

            for size in args.docs:
                collection.drop()
                for start in range(0, size, 1000):
                    collection.insert_many(
                        [order_like(n) for n in range(start, min(size, start + 1000))]
                    )
                picks = [n * (size // args.ops) for n in range(args.ops)]
                rows = {
                    "find_one by _id": per_op(find_each, picks),
                    "update_one (a transition)": per_op(update_each, picks),
                }
                collection.update_many({}, {"$set": {"status": "placed", "version": 1}})
                collection.update_many({}, {"$unset": {"consumed.c9": ""}})
                rows["bulk_write of 100 transitions, per write"] = per_op(update_in_bulks, picks)
                for name, ms in rows.items():
                    print(f"{size:>6} documents  {name:<42} {ms:.3f} ms CPU per operation")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
