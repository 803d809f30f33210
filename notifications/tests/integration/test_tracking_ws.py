"""WS /ws/tracking/{id}: snapshot, then every change once, in order, across replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from websockets.asyncio.client import connect

from saga_contracts.messages import OrderStatus, OrderStatusChanged
from sagakit.testing.services import uvicorn_server

from ..conftest import (
    HAPPY_PATH,
    Notifications,
    StartNotifications,
    close_code,
    new_order_id,
    next_message,
    next_messages,
    recv_json,
    status_event,
    token,
    ws_url,
)


def tracking_path(order_id: str, since: int | None = None, **extra: str) -> str:
    query = {"token": token(order_id), **extra}
    if since is not None:
        query["since"] = str(since)
    return f"/ws/tracking/{order_id}?" + "&".join(f"{k}={v}" for k, v in query.items())


async def applied(app: Notifications, order_id: str, versions: range) -> None:
    await app.publish(*(status_event(order_id, v) for v in versions))
    await app.wait_head(order_id, versions[-1])


def versions(messages: list[dict[str, Any]]) -> list[int]:
    return [m["version"] for m in messages]


async def test_snapshot_then_each_change_in_order(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    await applied(app, order_id, range(1, 3))
    async with (
        uvicorn_server(app.service.app) as base,
        connect(ws_url(base, tracking_path(order_id))) as ws,
    ):
        snapshot = await next_message(ws)
        assert snapshot["type"] == "snapshot"
        assert (snapshot["order_id"], snapshot["status"], snapshot["version"]) == (
            order_id,
            "paid",
            2,
        )
        assert snapshot["reason"] is None
        assert versions(snapshot["timeline"]) == [1, 2]

        await app.publish(status_event(order_id, 4), status_event(order_id, 3))
        live = await next_messages(ws, 2)
        assert [(m["type"], m["version"], m["status"]) for m in live] == [
            ("status", 3, "preparing"),
            ("status", 4, "ready"),
        ]
        assert all(m["order_id"] == order_id and m["at"] for m in live)

        # A replayed and a duplicated old version never rewind the view.
        await app.publish(status_event(order_id, 2), status_event(order_id, 3))
        await app.publish(status_event(order_id, 5))
        assert versions([await next_message(ws)]) == [5]

        # Client frames, malformed or not, are ignored.
        await ws.send("{not json")
        await ws.send(b"\x00\xff")
        await app.publish(status_event(order_id, 6))
        assert versions([await next_message(ws)]) == [6]


async def test_resume_with_since_gets_only_later_versions(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    await applied(app, order_id, range(1, 5))
    async with (
        uvicorn_server(app.service.app) as base,
        connect(ws_url(base, tracking_path(order_id, since=2))) as ws,
    ):
        snapshot = await next_message(ws)
        assert snapshot["version"] == 4
        assert versions(snapshot["timeline"]) == [3, 4]
        await app.publish(status_event(order_id, 5))
        assert versions([await next_message(ws)]) == [5]


async def test_an_order_not_seen_yet_starts_empty_and_goes_live(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    async with (
        uvicorn_server(app.service.app) as base,
        connect(ws_url(base, tracking_path(order_id))) as ws,
    ):
        snapshot = await next_message(ws)
        assert (snapshot["status"], snapshot["version"], snapshot["timeline"]) == (None, 0, [])
        await app.publish(status_event(order_id, 2), status_event(order_id, 1))
        assert versions(await next_messages(ws, 2)) == [1, 2]


async def test_a_lost_fanout_message_is_repaired_on_the_heartbeat(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications(heartbeat_s=0.3)
    order_id = new_order_id()
    await applied(app, order_id, range(1, 2))
    store = app.service.app.state.services.store
    async with (
        uvicorn_server(app.service.app) as base,
        connect(ws_url(base, tracking_path(order_id))) as ws,
    ):
        assert (await next_message(ws))["version"] == 1
        # Applied without any pub/sub message, as if the fan-out had lost it.
        for version in (2, 3):
            event = OrderStatusChanged(
                order_id=order_id,
                status=HAPPY_PATH[version - 1],
                version=version,
                at=datetime.now(UTC),
            )
            assert [e.version for e in await store.record(event)] == [version]
        heartbeat = await recv_json(ws)
        assert heartbeat["type"] == "heartbeat"
        assert versions(await next_messages(ws, 2)) == [2, 3]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/ws/tracking/{id}", 4401),
        ("/ws/tracking/{id}?token=nope", 4404),
        ("/ws/tracking/{id}?token={other}", 4404),
        ("/ws/tracking/NOT-AN-ID?token={token}", 4404),
        ("/ws/tracking/{id}?token={token}&since=-1", 4400),
        ("/ws/tracking/{id}?token={token}&since=two", 4400),
    ],
)
async def test_bad_requests_are_closed_with_a_code(
    start_notifications: StartNotifications, path: str, code: int
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    await applied(app, order_id, range(1, 2))
    url = path.format(id=order_id, token=token(order_id), other=token(new_order_id()))
    async with uvicorn_server(app.service.app) as base, connect(ws_url(base, url)) as ws:
        assert await close_code(ws) == code


async def test_every_replica_sees_every_change(start_notifications: StartNotifications) -> None:
    # A long heartbeat: within the test only the pub/sub fan-out can deliver.
    first = await start_notifications(heartbeat_s=60)
    second = await start_notifications(heartbeat_s=60)
    order_id = new_order_id()
    await applied(first, order_id, range(1, 2))
    async with (
        uvicorn_server(first.service.app) as base_1,
        uvicorn_server(second.service.app) as base_2,
        connect(ws_url(base_1, tracking_path(order_id))) as ws_1,
        connect(ws_url(base_2, tracking_path(order_id))) as ws_2,
    ):
        for ws in (ws_1, ws_2):
            assert (await next_message(ws))["version"] == 1
        for version in range(2, 8):  # one at a time: the two consumers take turns
            await first.publish(status_event(order_id, version))
            await first.wait_head(order_id, version)
        for ws in (ws_1, ws_2):
            received = await next_messages(ws, 6)
            assert versions(received) == list(range(2, 8))
            assert received[-1]["status"] == OrderStatus.DELIVERED.value


class StallSendsAfterSnapshot:
    """What a client that stopped reading looks like to the app: once the snapshot is out,
    sends on its socket never complete (uvicorn waits for the transport to drain)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or b"stall=1" not in scope.get("query_string", b""):
            await self.app(scope, receive, send)
            return
        sent = 0

        async def stalled(message: Message) -> None:
            nonlocal sent
            if message["type"] == "websocket.send":
                sent += 1
                if sent > 1:
                    await asyncio.Event().wait()
            await send(message)

        await self.app(scope, receive, stalled)


async def test_a_slow_client_is_dropped_and_others_keep_receiving(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications(ws_queue_size=2)
    app.service.app.add_middleware(StallSendsAfterSnapshot)
    order_id = new_order_id()
    await applied(app, order_id, range(1, 2))
    async with (
        uvicorn_server(app.service.app) as base,
        connect(ws_url(base, tracking_path(order_id))) as fast,
        connect(ws_url(base, tracking_path(order_id, stall="1"))) as slow,
    ):
        assert (await next_message(fast))["version"] == 1
        assert (await next_message(slow))["version"] == 1
        # One stuck in send, two queued, the next overflows the slow client's queue.
        for version in range(2, 7):
            await app.publish(status_event(order_id, version))
            assert versions([await next_message(fast)]) == [version]
        assert await close_code(slow) == 1013
        await app.publish(status_event(order_id, 7))
        assert versions([await next_message(fast)]) == [7]
