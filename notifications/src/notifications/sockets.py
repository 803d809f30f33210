"""Serving one WebSocket: a sender, a reader that discards what the client sends, and closing
that never hangs on a stalled client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from enum import Enum
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from sagakit.logs import get_logger

log = get_logger("notifications.sockets")

# Close codes (RFC 6455 private range 4000-4999 mirrors the HTTP status).
BAD_REQUEST = 4400
UNAUTHORIZED = 4401
NOT_FOUND = 4404
TRY_AGAIN_LATER = 1013  # a slow client, dropped
INTERNAL_ERROR = 1011


class Ended(Enum):
    CLIENT_LEFT = "client_left"
    SENDER_DONE = "sender_done"
    SENDER_FAILED = "sender_failed"
    DROPPED = "dropped"


async def drain_client(ws: WebSocket) -> None:
    """Read and ignore whatever the client sends (malformed or not) until it disconnects."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def serve(
    ws: WebSocket,
    sender: Coroutine[Any, Any, None],
    *,
    dropped: asyncio.Event | None = None,
) -> Ended:
    """Run `sender` until the client leaves, the sender returns or fails, or `dropped` is set;
    cancel whatever is still running."""
    tasks: dict[asyncio.Task[Any], Ended] = {
        asyncio.create_task(sender): Ended.SENDER_DONE,
        asyncio.create_task(drain_client(ws)): Ended.CLIENT_LEFT,
    }
    if dropped is not None:
        tasks[asyncio.create_task(dropped.wait())] = Ended.DROPPED
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return _outcome({tasks[t]: t for t in done})


def _outcome(done: dict[Ended, asyncio.Task[Any]]) -> Ended:
    if Ended.DROPPED in done:
        return Ended.DROPPED
    sender = done.get(Ended.SENDER_DONE)
    if sender is not None and not sender.cancelled():
        error = sender.exception()
        if error is None:
            return Ended.SENDER_DONE
        if not isinstance(error, WebSocketDisconnect):
            log.warning("websocket sender failed", error=repr(error))
            return Ended.SENDER_FAILED
    return Ended.CLIENT_LEFT


async def close_quietly(ws: WebSocket, code: int, timeout_s: float, reason: str = "") -> None:
    """Close with `code`; give up after `timeout_s` (a client whose buffers are full) or if the
    connection is already gone."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            await ws.close(code=code, reason=reason)
