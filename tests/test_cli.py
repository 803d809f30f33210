"""The operator commands as the CronJob and an operator run them: real processes, real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from orders.menu import DEFAULT_MENU
from orders.store import MenuStore
from saga_contracts.topology import Streams
from sagakit.connections import mongo_client, redis_client
from sagakit.dead_letters import DeadLetters
from sagakit.failure_details import FailureDetails

CLI = Path(sys.executable).parent / "orders-saga"


def run(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [str(CLI), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def env(redis_url: str, mongo_url: str, namespace: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "MONGO_URL": mongo_url,
        "MONGO_DB": f"t_{uuid.uuid4().hex[:10]}",
        "STREAM_PREFIX": f"{namespace}.",
    }


async def test_refill_stock_is_idempotent_per_run_and_announced(env: dict[str, str]) -> None:
    mongo = mongo_client(env["MONGO_URL"])
    redis = redis_client(env["REDIS_URL"])
    try:
        await MenuStore(mongo[env["MONGO_DB"]].menu_items).seed(DEFAULT_MENU, 10)
        first = run(env, "refill-stock", "--to", "25", "--run-id", "cron-7")
        assert first["changed"] == {item["id"]: 15 for item in DEFAULT_MENU}
        again = run(env, "refill-stock", "--to", "25", "--run-id", "cron-7")  # a retried Job
        assert again["changed"] == {}
        added = run(env, "refill-stock", "--add", "5", "--item", "espresso")
        assert added["changed"] == {"espresso": 5} and added["levels"] == {"espresso": 30}
        events = await redis.xrange(Streams(env["STREAM_PREFIX"]).orders_events)
        assert [fields["type"] for _, fields in events] == ["stock.refilled"] * 2
    finally:
        await redis.aclose()
        await mongo.close()


async def test_streams_and_dead_letter_commands(env: dict[str, str]) -> None:
    stream = Streams(env["STREAM_PREFIX"]).payments_events
    redis = redis_client(env["REDIS_URL"])
    try:
        await redis.xgroup_create(stream, "orders", id="0", mkstream=True)
        entry = await redis.xadd(stream, {"garbage": "1"})
        await DeadLetters(redis).send(
            stream=stream,
            group="orders",
            entry_id=entry,
            fields={"garbage": "1"},
            reason="unparseable",
            error="test",
            deliveries=1,
            failure=FailureDetails.of(ValueError("not an envelope")),
        )
        await redis.xreadgroup("orders", "orders-2", {stream: ">"}, count=1)
        views = {v["stream"]: v for v in run(env, "streams", "--json")}
        assert views[stream]["dead_letters"] == 1
        assert [g["group"] for g in views[stream]["groups"]] == ["orders"]
        (consumer,) = views[stream]["groups"][0]["consumer_list"]
        assert (consumer["name"], consumer["pending"]) == ("orders-2", 1)

        (letter,) = run(env, "dlq", "list", "--stream", stream)
        assert (letter["reason"], letter["fields"]) == ("unparseable", {"garbage": "1"})
        assert (letter["error_type"], letter["error_message"]) == ("ValueError", "not an envelope")
        assert run(env, "dlq", "replay", "--stream", stream) == {"stream": stream, "replayed": 1}
        assert await redis.xlen(stream) == 2  # the original and its replay
        await DeadLetters(redis).send(
            stream=stream,
            group="orders",
            entry_id=entry,
            fields={},
            reason="x",
            error="",
            deliveries=1,
        )
        assert run(env, "dlq", "purge", "--stream", stream) == {"stream": stream, "purged": 1}
        assert await DeadLetters(redis).count(stream) == 0
    finally:
        await redis.aclose()
