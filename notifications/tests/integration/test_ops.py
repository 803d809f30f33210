"""The operator read side: streams, dead letters, recent orders, outcomes and the live feed."""

from __future__ import annotations

from typing import Any

from websockets.asyncio.client import connect

from saga_contracts.messages import CancelReason, OrderStatus
from sagakit.dead_letters import DeadLetters, dlq_stream
from sagakit.failure_details import FailureDetails
from sagakit.testing.services import uvicorn_server
from sagakit.testing.waiting import eventually

from ..conftest import (
    OPERATOR,
    OPERATOR_KEY,
    Notifications,
    StartNotifications,
    close_code,
    new_order_id,
    next_message,
    status_event,
    ws_url,
)

OPS_READS = ["/api/ops/streams", "/api/ops/dlq", "/api/ops/orders/recent", "/api/ops/outcomes"]


async def dead_letter(app: Notifications, order_id: str) -> None:
    """An OrderStatusChanged v1 that the notifications group gave up on."""
    await DeadLetters(app.service.runtime.redis).send(
        stream=app.streams.orders_events,
        group="notifications",
        entry_id="0-1",
        fields=status_event(order_id, 1).to_fields(),
        reason="max_deliveries",
        error="RuntimeError: boom",
        deliveries=5,
        failure=FailureDetails.of(crash_in_a_handler()),
    )


def crash_in_a_handler() -> RuntimeError:
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        return exc


async def test_ops_routes_need_the_operator_key(start_notifications: StartNotifications) -> None:
    app = await start_notifications()
    for headers in ({}, {"X-API-Key": "wrong-key-wrong-key"}):
        for path in OPS_READS:
            assert (await app.client.get(path, headers=headers)).status_code == 401, path
        for path in ("/api/ops/dlq/replay", "/api/ops/dlq/purge"):
            body = {"stream": app.streams.orders_events}
            response = await app.client.post(path, json=body, headers=headers)
            assert response.status_code == 401, path
    for path in OPS_READS:
        assert (await app.client.get(path, headers=OPERATOR)).status_code == 200, path


async def test_streams_show_groups_and_dead_letters(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    await app.publish(status_event(order_id, 1), status_event(order_id, 2))
    await app.wait_head(order_id, 2)
    await dead_letter(app, new_order_id())

    async def all_acknowledged() -> bool:
        response = await app.client.get("/api/ops/streams", headers=OPERATOR)
        assert response.status_code == 200
        by_name.update({s["stream"]: s for s in response.json()})
        return all(g["pending"] == 0 for g in by_name[app.streams.orders_events]["groups"])

    by_name: dict[str, Any] = {}
    await eventually(all_acknowledged, what="entries acknowledged")
    assert set(by_name) == set(app.streams.all())
    orders_events = by_name[app.streams.orders_events]
    assert orders_events["length"] == 2
    assert orders_events["dead_letters"] == 1
    (group,) = orders_events["groups"]
    assert group["group"] == "notifications"
    assert group["consumers"] == 1
    assert group["lag"] in (0, None)  # Redis < 7 does not report lag
    assert by_name[app.streams.kitchen_events] == {
        "stream": app.streams.kitchen_events,
        "length": 0,
        "dead_letters": 0,
        "dead_letters_oldest_age_s": None,
        "dead_letters_max_age_s": 7 * 24 * 3600,
        "dead_letters_max_len": 100_000,
        "groups": [],
    }


async def test_streams_show_how_old_the_oldest_dead_letter_is_by_redis_time(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    redis = app.service.runtime.redis
    seconds, _ = await redis.time()
    two_hours_ago_ms = (int(seconds) - 2 * 3600) * 1000
    await redis.xadd(
        dlq_stream(app.streams.orders_events), {"fields": "{}"}, id=f"{two_hours_ago_ms}-0"
    )
    await dead_letter(app, new_order_id())  # a younger one

    response = await app.client.get("/api/ops/streams", headers=OPERATOR)

    by_name = {view["stream"]: view for view in response.json()}
    orders_events = by_name[app.streams.orders_events]
    assert orders_events["dead_letters"] == 2
    assert 2 * 3600 <= orders_events["dead_letters_oldest_age_s"] < 3 * 3600
    assert orders_events["dead_letters_max_age_s"] == 7 * 24 * 3600
    assert orders_events["dead_letters_max_len"] == 100_000


async def test_dead_letters_can_be_listed_replayed_and_purged(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    stream = app.streams.orders_events
    replayed_order, purged_order = new_order_id(), new_order_id()
    await dead_letter(app, replayed_order)
    await dead_letter(app, purged_order)

    listed = await app.client.get("/api/ops/dlq", headers=OPERATOR, params={"stream": stream})
    assert listed.status_code == 200
    letters = listed.json()
    assert [letter["fields"]["key"] for letter in letters] == [replayed_order, purged_order]
    assert letters[0]["reason"] == "max_deliveries"
    assert letters[0]["deliveries"] == 5
    assert (letters[0]["error_type"], letters[0]["error_message"]) == ("RuntimeError", "boom")
    assert "in crash_in_a_handler" in letters[0]["traceback"]
    everywhere = await app.client.get("/api/ops/dlq", headers=OPERATOR, params={"limit": 1})
    assert [letter["dlq_id"] for letter in everywhere.json()] == [letters[0]["dlq_id"]]

    replay = await app.client.post(
        "/api/ops/dlq/replay",
        headers=OPERATOR,
        json={"stream": stream, "ids": [letters[0]["dlq_id"]]},
    )
    assert replay.status_code == 200
    assert replay.json() == {"replayed": 1}
    await app.wait_head(replayed_order, 1)  # the replayed event was consumed again
    assert await app.head_version(purged_order) == 0

    purge = await app.client.post("/api/ops/dlq/purge", headers=OPERATOR, json={"stream": stream})
    assert purge.json() == {"purged": 1}
    remaining = await app.client.get("/api/ops/dlq", headers=OPERATOR, params={"stream": stream})
    assert remaining.json() == []


async def test_bad_dead_letter_requests_are_refused(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    await dead_letter(app, new_order_id())
    bad: list[tuple[str, dict[str, Any]]] = [
        ("/api/ops/dlq/replay", {"stream": "some.other.key"}),
        ("/api/ops/dlq/replay", {"stream": app.streams.orders_events, "ids": ["not-an-id"]}),
        ("/api/ops/dlq/purge", {"stream": app.streams.orders_events, "extra": 1}),
        ("/api/ops/dlq/purge", {"ids": []}),
    ]
    for path, body in bad:
        response = await app.client.post(path, headers=OPERATOR, json=body)
        assert response.status_code in (404, 422), (path, body, response.status_code)
    unknown = await app.client.get("/api/ops/dlq", headers=OPERATOR, params={"stream": "x"})
    assert unknown.status_code == 404
    too_many = await app.client.get("/api/ops/dlq", headers=OPERATOR, params={"limit": 10**6})
    assert too_many.status_code == 422
    assert await DeadLetters(app.service.runtime.redis).count(app.streams.orders_events) == 1


async def test_recent_orders_and_outcomes(start_notifications: StartNotifications) -> None:
    app = await start_notifications()
    delivered, declined, placed = new_order_id(), new_order_id(), new_order_id()
    await app.publish(*(status_event(delivered, v) for v in range(1, 8)))
    await app.wait_head(delivered, 7)
    await app.publish(
        status_event(declined, 1),
        status_event(declined, 2, OrderStatus.CANCELLED, CancelReason.PAYMENT_DECLINED),
    )
    await app.wait_head(declined, 2)
    await app.publish(status_event(placed, 1))
    await app.wait_head(placed, 1)

    recent = await app.client.get("/api/ops/orders/recent", headers=OPERATOR, params={"limit": 2})
    assert [(o["order_id"], o["status"], o["reason"]) for o in recent.json()] == [
        (placed, "placed", None),
        (declined, "cancelled", "payment_declined"),
    ]
    outcomes = (await app.client.get("/api/ops/outcomes", headers=OPERATOR)).json()
    assert outcomes["total"] == 3
    assert outcomes["by_status"]["delivered"] == 1
    assert outcomes["by_status"]["placed"] == 1
    assert outcomes["by_status"]["paid"] == 0
    assert outcomes["cancelled_by_reason"]["payment_declined"] == 1
    assert outcomes["cancelled_by_reason"]["timeout"] == 0


async def test_ops_feed_streams_stats_to_operators_only(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications(ops_tick_s=0.2)
    async with uvicorn_server(app.service.app) as base:
        async with connect(ws_url(base, "/ws/ops?key=wrong")) as refused:
            assert await close_code(refused) == 4401
        async with connect(ws_url(base, "/ws/ops")) as refused:
            assert await close_code(refused) == 4401

        async with connect(ws_url(base, f"/ws/ops?key={OPERATOR_KEY}")) as ws:
            first = await next_message(ws)
            assert first["type"] == "stats"
            assert {s["stream"] for s in first["streams"]} == set(app.streams.all())
            assert first["outcomes"]["total"] == 0
            orders_events = app.streams.orders_events
            assert first["throughput"][orders_events] == {"notifications": None}

            order_id = new_order_id()
            await app.publish(*(status_event(order_id, v) for v in range(1, 5)))
            await app.wait_head(order_id, 4)
            rates: list[float] = []
            ready = 0
            for _ in range(50):  # until ticks have seen the deliveries and the new head
                stats = await next_message(ws)
                rates.append(stats["throughput"][orders_events]["notifications"])
                ready = stats["outcomes"]["by_status"]["ready"]
                if sum(rates) > 0 and ready == 1:
                    break
            assert ready == 1
            assert sum(rates) > 0
            assert all(rate >= 0 for rate in rates)
