"""The whole saga with several replicas per service (`up --replicas N`) under open-loop load
(`orders-saga simulate`), while `kill -9` hits random replicas of every service at random
moments; afterwards correctness is read from MongoDB and Redis.

What must hold:

- every accepted order is terminal (simulate's verdict, and every stored order), each stored
  once (the stored orders are exactly the accepted ones);
- each order's timeline is gap-free, and what every WebSocket client saw never skipped or
  went back, across the reconnections the kills force (simulate's versions check: gaps,
  repeats and rewinds);
- stock is conserved per item (simulate's check), no item keeps a reservation, none is
  negative;
- exactly one payment authorisation per paid order, at most one capture or refund per
  order, one courier per delivered order and never one courier on two orders at once
  (tests/stream_audit.py, tests/courier_watch.py);
- nothing dead-lettered, nothing pending past the claim threshold, and every group's
  consumers are exactly the replicas' stable names (a restarted replica took its name back).

`REPLICA_SOAK_S=600` runs the load longer (more kills); `REPLICAS_SYSTEM_3=1` also runs it with
three replicas per service; `REPLICA_KILL_SEED` picks another kill plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orders_saga_cli.replicas import consumer_name, replica_names
from saga_contracts.topology import Streams
from sagakit.connections import mongo_client, redis_client
from sagakit.settings import WorkerSettings

from .courier_watch import CourierWatch
from .invariants import TERMINAL, eventually, stores_settled
from .replica_kills import Killed, carry_out, kill_plan
from .stream_audit import (
    check_consumers,
    check_courier_dispatches,
    check_no_dead_letters,
    check_nothing_pending_past,
    check_payments,
    check_stock_documents,
)
from .system import CLI, FAST_ACTORS, System, wait_ready

SERVICES = ("orders", "delivery", "notifications", "actors")
RATE = 20  # orders per second, open loop
DURATION_S = float(os.environ.get("REPLICA_SOAK_S", "60"))
KILL_EVERY_S = 20  # per service, on average; at least two kills each
KILLS_PER_SERVICE = max(2, int(DURATION_S // KILL_EVERY_S))
KILL_WINDOW_S = (3.0, DURATION_S - 5.0)
SEED = int(os.environ.get("REPLICA_KILL_SEED", "14"))
DRAIN_S = 90  # after the last order is sent, for every order to end
RESTOCK_TO = 1_000_000  # no order is refused for stock: every one runs the saga

# A bound, not an expectation: a quiet machine runs the test in about 90 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(int(DURATION_S + DRAIN_S + 300))]

ENV = {
    **FAST_ACTORS,
    # No trimming during the run: the payment and courier streams are counted afterwards.
    "STREAMS_TRIM_INTERVAL_S": str(int(DURATION_S + DRAIN_S + 3600)),
    # STREAMS_CONSUMER_CLEANUP_IDLE_MS stays at its default (an hour): a consumer left over
    # by a dead process must still be there to be seen, not be cleaned up before the check.
    "STREAM_PREFIX": "",
}


@pytest.fixture(
    params=[
        2,
        pytest.param(
            3,
            marks=pytest.mark.skipif(
                os.environ.get("REPLICAS_SYSTEM_3") != "1",
                reason="three replicas of every service (13 processes) is opt-in: "
                "REPLICAS_SYSTEM_3=1",
            ),
        ),
    ],
    ids=lambda n: f"{n}-replicas",
)
def replicas(request: pytest.FixtureRequest) -> int:
    count: int = request.param
    return count


@pytest.fixture
def system(tmp_path: Path, replicas: int) -> Iterator[System]:
    running = System(tmp_path / "data", env=ENV, args=("--replicas", str(replicas)))
    yield running
    running.stop()


async def simulate(system: System, out: Path) -> dict[str, Any]:
    """`orders-saga simulate` against the system; its JSON report."""
    report = out / "simulate.json"
    with (out / "simulate.log").open("w") as log:
        process = await asyncio.create_subprocess_exec(
            str(CLI),
            "simulate",
            *("--rate", str(RATE), "--duration", str(DURATION_S), "--target", system.url),
            *("--seed", str(SEED), "--drain-timeout", str(DRAIN_S), "--json", str(report)),
            *("--operator-key", system.operator_key, "--restock-to", str(RESTOCK_TO)),
            stdout=log,
            stderr=log,
        )
        try:
            async with asyncio.timeout(DURATION_S + DRAIN_S + 180):
                code = await process.wait()
        finally:
            if process.returncode is None:  # the test failed or timed out meanwhile
                process.kill()
                await process.wait()
    assert report.exists(), f"simulate exited {code} without a report: see {out / 'simulate.log'}"
    result: dict[str, Any] = json.loads(report.read_text())
    return result


async def test_kill_9_of_random_replicas_under_load_keeps_the_saga_correct(
    system: System, replicas: int, tmp_path: Path
) -> None:
    system.start(timeout_s=240)
    names = {service: replica_names(service, replicas) for service in SERVICES}
    plan = kill_plan(SEED, names, KILLS_PER_SERVICE, KILL_WINDOW_S)
    runtime = system.runtime()
    mongo = mongo_client(runtime["mongo_url"])
    redis = redis_client(runtime["redis_url"])
    db = mongo[runtime["mongo_db"]]
    watch = CourierWatch(db)
    done: list[Killed] = []
    try:
        async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
            await wait_ready(client, timeout_s=120)
        load = asyncio.create_task(simulate(system, tmp_path))
        started = time.monotonic()
        watching = asyncio.create_task(watch.run())
        try:
            await asyncio.gather(*(carry_out(system, plan[s], started, done) for s in SERVICES))
        except BaseException:
            load.cancel()
            await asyncio.gather(load, return_exceptions=True)
            raise
        report = await load
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        (tmp_path / "kills.json").write_text(
            json.dumps([k.__dict__ | {"planned": k.planned.__dict__} for k in done], indent=2)
        )
        print(f"\nkills ({len(done)}):", *done, sep="\n  ")
        print(
            "simulate:", report["last_line"], json.dumps(report["orders"] | {"accepted_ids": "…"})
        )
        print("errors:", json.dumps(report["errors"]))

        checks = {check["name"]: check for check in report["invariants"]["checks"]}
        failed = {n: (c["summary"], c["details"][:10]) for n, c in checks.items() if not c["ok"]}
        assert not failed, failed
        assert set(checks) == {
            "every accepted order terminal",
            "versions gap-free",
            "stock conserved",
        }
        accepted = report["orders"]["accepted_ids"]
        assert len(accepted) == report["orders"]["accepted"] > RATE * DURATION_S / 4, report[
            "orders"
        ]
        assert report["orders"]["tracked"] == len(accepted)  # every order followed live

        statuses = {doc["_id"]: doc["status"] async for doc in db.orders.find({}, {"status": 1})}
        assert not {o: s for o, s in statuses.items() if s not in TERMINAL}
        await stores_settled(runtime, accepted)  # stored once, deadlines, deliveries, couriers
        # The fleet (FAST_ACTORS: 50 couriers) is about five times what this load keeps on the
        # road: a kill may delay an assignment, never cost an order its courier.
        no_courier = await db.orders.count_documents({"reason": "no_courier"})
        assert no_courier == 0, f"{no_courier} orders cancelled for want of a courier"

        streams = Streams()
        counted: dict[str, int] = {}

        async def effects_once() -> None:
            counted.update(await check_payments(redis, db, streams))
            counted.update(await check_courier_dispatches(redis, db, streams))

        await eventually(effects_once)
        print("counted:", json.dumps(counted))
        assert counted["payment.authorized"] > 0 and counted["courier.dispatch"] > 0
        await eventually(lambda: check_stock_documents(db))

        assert watch.seen_on_the_road > 0, "the courier watch never saw a delivery on the road"
        assert not watch.double_bookings, watch.double_bookings
        print(f"courier watch: {watch.samples} samples, {watch.seen_on_the_road} on the road")

        await check_no_dead_letters(redis, streams)
        await check_nothing_pending_past(redis, streams.readers(), WorkerSettings().claim_idle_ms)
        await check_consumers(
            redis, streams.readers(), [consumer_name("local", i) for i in range(1, replicas + 1)]
        )

        assert len(done) == KILLS_PER_SERVICE * len(SERVICES)
        restarts = {name: info["restarts"] for name, info in system.runtime()["processes"].items()}
        assert sum(restarts.values()) == len(done), restarts
    finally:
        await redis.aclose()
        await mongo.close()
