"""Following an order over a WebSocket, against a scripted server: reconnects resume from the
last version seen, gaps are caught, a refusal ends tracking."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson
from websockets.asyncio.server import ServerConnection, serve

from simulator.load.contents import OrderContents
from simulator.load.invariants import Kind, Violation
from simulator.load.records import Errors, OrderRecord, Placement
from simulator.load.tracker import Clock, SocketSettings, follow

STATUSES = ("placed", "paid", "preparing", "ready", "courier_assigned", "picked_up", "delivered")
Script = Callable[[ServerConnection, int], Awaitable[None]]


def status(version: int) -> dict[str, Any]:
    return {"type": "status", "order_id": "o", "status": STATUSES[version - 1], "version": version}


def snapshot(*versions: int) -> dict[str, Any]:
    timeline = [{"status": STATUSES[v - 1], "version": v, "reason": None} for v in versions]
    return {"type": "snapshot", "version": versions[-1] if versions else 0, "timeline": timeline}


async def send(socket: ServerConnection, *messages: dict[str, Any]) -> None:
    for message in messages:
        await socket.send(orjson.dumps(message).decode())


@contextlib.asynccontextmanager
async def server(script: Script, since: list[str]) -> AsyncIterator[str]:
    async def handler(socket: ServerConnection) -> None:
        assert socket.request is not None
        since.append(parse_qs(urlparse(socket.request.path).query)["since"][0])
        await script(socket, len(since))

    async with serve(handler, "127.0.0.1", 0) as running:
        port = next(iter(running.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def accepted_order() -> OrderRecord:
    record = OrderRecord(0, 0.0, OrderContents({}, "k"), tracked=True)
    record.placement, record.order_id, record.token = Placement.ACCEPTED, "o" * 32, "token"
    return record


async def track(script: Script) -> tuple[OrderRecord, Errors, list[str]]:
    record, errors = accepted_order(), Errors()
    since: list[str] = []
    async with server(script, since) as url:
        await follow(record, url, Clock(), errors, SocketSettings(idle_timeout_s=5))
    return record, errors, since


async def test_a_dropped_socket_is_reopened_from_the_last_version_seen() -> None:
    async def script(socket: ServerConnection, connection: int) -> None:
        if connection == 1:
            await send(socket, snapshot(1), status(2))
            await socket.close(1012)  # e.g. the service restarts
        else:
            heartbeat = {"type": "heartbeat", "at": "2025-01-01T00:00:00Z"}
            await send(socket, snapshot(3), heartbeat, *(status(v) for v in range(4, 8)))
            await socket.wait_closed()

    record, errors, since = await track(script)
    assert since == ["0", "2"]
    assert errors.reconnects == 1
    assert errors.websocket == {"dropped (1012)": 1}
    assert record.sequence.violations == []
    assert sorted(record.observed) == list(range(1, 8))
    assert record.socket_terminal is not None
    assert record.socket_terminal.status == "delivered"


async def test_a_skipped_version_on_the_wire_is_caught() -> None:
    async def script(socket: ServerConnection, connection: int) -> None:
        await send(socket, snapshot(1), status(2), status(4), status(3), *map(status, (5, 6, 7)))
        await socket.wait_closed()

    record, _, _ = await track(script)
    assert record.sequence.violations == [
        Violation(Kind.GAP, 3, 4),
        Violation(Kind.REWIND, 5, 3),
    ]
    assert record.socket_terminal is not None


async def test_a_refused_socket_ends_tracking_without_retrying() -> None:
    async def script(socket: ServerConnection, connection: int) -> None:
        await socket.close(4404, "order not found")

    record, errors, since = await track(script)
    assert since == ["0"]
    assert record.socket_given_up
    assert errors.websocket == {"refused 4404": 1}
    assert errors.reconnects == 0
