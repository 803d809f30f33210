"""Following one order over `WS /ws/tracking/{id}` until it is terminal.

Every status version is recorded with the time it was received (entries of a snapshot with
the snapshot's receive time) and checked: versions must come one after another. A socket that
drops before the order is terminal is reopened with `since=<last version seen>`, so nothing is
received twice and nothing may be missing; each reopening is counted. A refusal (close code
4400/4401/4404) ends tracking; so do too many failures in a row, and the order is then checked
over HTTP like an untracked one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from simulator.load.records import Errors, OrderRecord

REFUSED = frozenset({4400, 4401, 4404})


class Clock:
    """Seconds since the run started (monotonic)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.started


@dataclass(frozen=True, slots=True)
class SocketSettings:
    open_timeout_s: float = 10.0
    # nothing at all (not even a heartbeat, sent every 15 s by default) for this long: dropped
    idle_timeout_s: float = 45.0
    max_failures_in_a_row: int = 8


class _Refused(Exception):
    pass


class _Idle(Exception):
    pass


def websocket_base(target: str) -> str:
    scheme, _, rest = target.rstrip("/").partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"


async def follow(
    record: OrderRecord,
    ws_base: str,
    clock: Clock,
    errors: Errors,
    settings: SocketSettings,
) -> None:
    """Track `record` (an accepted order) until its terminal status arrives or tracking ends."""
    failures = 0
    opened = 0
    while record.socket_terminal is None:
        if failures >= settings.max_failures_in_a_row:
            errors.websocket["gave up after repeated failures"] += 1
            record.socket_given_up = True
            return
        if failures:
            await asyncio.sleep(min(2.0, 0.1 * 2**failures))
        if opened:
            errors.reconnects += 1
        opened += 1
        before = len(record.observed)
        try:
            await _session(record, ws_base, clock, settings)
        except _Refused as exc:
            errors.websocket[str(exc)] += 1
            record.socket_given_up = True
            return
        except (WebSocketException, OSError, TimeoutError, _Idle) as exc:
            errors.websocket[_describe(exc)] += 1
        except (ValueError, KeyError, TypeError):  # not the contract's JSON: start again
            errors.websocket["malformed message"] += 1
        failures = 1 if len(record.observed) > before else failures + 1


async def _session(
    record: OrderRecord, ws_base: str, clock: Clock, settings: SocketSettings
) -> None:
    query = urlencode({"token": record.token, "since": record.sequence.last})
    url = f"{ws_base}/ws/tracking/{record.order_id}?{query}"
    async with connect(
        url,
        open_timeout=settings.open_timeout_s,
        ping_interval=None,  # the server sends heartbeats
        close_timeout=1,
        compression=None,  # small messages; deflate would only cost CPU on both ends
    ) as socket:
        while True:
            try:
                async with asyncio.timeout(settings.idle_timeout_s):
                    raw = await socket.recv()
            except TimeoutError as exc:
                raise _Idle("no message (idle timeout)") from exc
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code in REFUSED:
                    raise _Refused(f"refused {code}") from exc
                raise
            if _receive(record, orjson.loads(raw), clock.now()):
                return


def _receive(record: OrderRecord, message: dict[str, Any], at: float) -> bool:
    """Record a message; whether the order is now terminal."""
    kind = message.get("type")
    if kind == "snapshot":
        for entry in message.get("timeline", []):
            record.observe(entry["version"], entry["status"], entry.get("reason"), at)
        record.sequence.head(int(message["version"]))
    elif kind == "status":
        record.observe(message["version"], message["status"], message.get("reason"), at)
    return record.socket_terminal is not None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InvalidStatus):
        return f"handshake {exc.response.status_code}"
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else "without close frame"
        return f"dropped ({code})"
    if isinstance(exc, _Idle):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "open timeout"
    return type(exc).__name__
