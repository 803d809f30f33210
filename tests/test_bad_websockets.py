"""Malformed WebSocket query strings, frames and handshakes against a running `orders-saga up`:
each is refused with a clear close code or HTTP status, none gets an internal error, and a
well-behaved tracking socket keeps receiving its order's changes meanwhile."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .invariants import TERMINAL, place
from .system import FAST_ACTORS, System, wait_ready

pytestmark = pytest.mark.slow

REFUSALS = {4400, 4401, 4404}
MESSAGE_TOO_BIG = 1009
STAYED_OPEN = 0  # not a close code: the server kept the socket open (it was a valid request)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(Path(tmp_path_factory.mktemp("bad-ws")) / "data", env=FAST_ACTORS)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def order(system: System) -> dict[str, Any]:
    async def first_order() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
            await wait_ready(client)
            response = await place(client, 0)
            assert response.status_code == 201, response.text
            created: dict[str, Any] = response.json()
            return created

    return asyncio.run(first_order())


def ws_base(system: System) -> str:
    return f"ws://127.0.0.1:{system.port}"


async def closed_with(ws: Any, quiet_s: float = 5) -> int | None:
    """The code the server closes with, reading past what it sends; STAYED_OPEN if it says
    nothing more for `quiet_s`; None if the connection dropped without a close frame."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), quiet_s)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return STAYED_OPEN


async def close_code(url: str) -> int | None:
    async with websockets.connect(url, open_timeout=10) as ws:
        return await closed_with(ws)


query_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
)


@given(
    token=st.one_of(st.none(), query_text),
    since=st.one_of(
        st.none(),
        query_text,
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
    ),
    order_id=st.one_of(st.just("own"), query_text.filter(lambda s: s.strip("/.") != "")),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_query_string_is_answered_with_a_snapshot_or_a_refusal_code(
    system: System, order: dict[str, Any], token: str | None, since: str | None, order_id: str
) -> None:
    path_id = order["id"] if order_id == "own" else quote(order_id, safe="")
    query = "&".join(
        f"{name}={quote(value, safe='')}"
        for name, value in (("token", token), ("since", since))
        if value is not None
    )
    url = f"{ws_base(system)}/ws/tracking/{path_id}?{query}"
    try:
        code = asyncio.run(close_code(url))
    except InvalidStatus as refused:  # refused at the handshake: a client error, never 5xx
        status = refused.response.status_code
        assert 400 <= status < 500, status
    else:
        assert code == STAYED_OPEN or code in REFUSALS, f"closed with {code} for {url}"


@pytest.fixture
async def watcher(system: System, order: dict[str, Any]) -> AsyncIterator[Any]:
    """A well-behaved client of the same order, open during the abuse."""
    url = f"{ws_base(system)}/ws/tracking/{order['id']}?token={order['tracking_token']}&since=0"
    async with websockets.connect(url) as ws:
        snapshot = json.loads(await ws.recv())
        assert snapshot["type"] == "snapshot"
        yield ws


async def test_garbage_frames_are_ignored_and_a_huge_one_closes_only_its_socket(
    system: System, order: dict[str, Any], watcher: Any
) -> None:
    url = f"{ws_base(system)}/ws/tracking/{order['id']}?token={order['tracking_token']}&since=0"
    async with websockets.connect(url, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "snapshot"
        for frame in (b"\x00\xff\xfe garbage", "{not json", json.dumps({"type": "status"})):
            await ws.send(frame)
        await ws.ping()  # still open after the garbage
        await ws.send("x" * (1024 * 1024))
        assert await closed_with(ws) == MESSAGE_TOO_BIG

    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        assert (await client.get("/readyz")).status_code == 200
    pong = await watcher.ping()
    await asyncio.wait_for(pong, 5)


def raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


@pytest.mark.parametrize(
    "request_bytes",
    [
        # an upgrade without a key, and one with a version nobody speaks
        b"GET /ws/tracking/x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
        b"GET /ws/ops HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n",
        # not HTTP at all
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
    ],
    ids=["no-key", "wrong-version", "tls-hello"],
)
def test_broken_handshakes_get_a_client_error_or_a_closed_connection(
    system: System, request_bytes: bytes
) -> None:
    answer = raw_exchange(system.port, request_bytes)
    if answer:
        status_line = answer.split(b"\r\n", 1)[0]
        status = int(status_line.split()[1])
        assert 400 <= status < 500, status_line


async def test_the_order_still_completes_and_its_watcher_sees_every_version(
    system: System, order: dict[str, Any]
) -> None:
    url = f"{ws_base(system)}/ws/tracking/{order['id']}?token={order['tracking_token']}&since=0"
    async with websockets.connect(url) as ws:
        snapshot = json.loads(await ws.recv())
        seen = [entry["version"] for entry in snapshot["timeline"]]
        status = snapshot["status"]
        while status not in TERMINAL:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message["type"] == "status":
                seen.append(message["version"])
                status = message["status"]
    assert seen == list(range(1, seen[-1] + 1))
