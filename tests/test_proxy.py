"""The reverse proxy of `up --processes`, between real servers: what it forwards, and what a
client sees when the upstream is away or dies mid-request or mid-socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI, Request, Response, WebSocket
from starlette.types import ASGIApp
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed

from orders_saga_cli.proxy import MAX_BODY_BYTES, ReverseProxy, http_client
from sagakit.embedded.redis import free_port


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def proxied(upstream_url: str) -> AsyncIterator[str]:
    client = http_client()
    try:
        async with serving(ReverseProxy("upstream", [upstream_url], client)) as url:
            yield url
    finally:
        await client.aclose()


def upstream_app() -> FastAPI:
    app = FastAPI()

    @app.api_route("/echo/{rest:path}", methods=["GET", "POST", "PATCH"])
    async def echo(rest: str, request: Request) -> Response:
        body = await request.body()
        response = Response(
            json.dumps(
                {
                    "method": request.method,
                    "raw_path": request.scope["raw_path"].decode(),
                    "query": request.scope["query_string"].decode(),
                    "body": body.decode(),
                    "headers": {k: v for k, v in request.headers.items()},
                }
            ),
            status_code=207,
            media_type="application/json",
        )
        response.headers.append("x-upstream", "one")
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    @app.websocket("/ws/echo")
    async def ws_echo(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "close please":
                await ws.close(4404, "gone away")
                return
            if message.get("text") is not None:
                await ws.send_text("echo:" + message["text"])
            else:
                await ws.send_bytes(b"echo:" + message["bytes"])

    return app


async def test_http_is_forwarded_as_sent_and_answered_as_answered() -> None:
    async with (
        serving(upstream_app()) as upstream,
        proxied(upstream) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.post(
            "/echo/a%2Fb/c",
            params={"x": "1 2", "y": "ü"},
            content=b'{"k": "v"}',
            headers={"Idempotency-Key": "k-1", "Authorization": "Bearer t"},
        )
    assert response.status_code == 207
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["raw_path"] == "/echo/a%2Fb/c"  # encoded slashes stay encoded
    assert seen["query"] == "x=1+2&y=%C3%BC"
    assert seen["body"] == '{"k": "v"}'
    assert seen["headers"]["idempotency-key"] == "k-1"
    assert seen["headers"]["authorization"] == "Bearer t"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert response.headers["x-upstream"] == "one"
    assert response.headers.get_list("set-cookie") == [
        "a=1; Path=/; SameSite=lax",
        "b=2; Path=/; SameSite=lax",
    ]
    assert len(response.headers.get_list("date")) == 1
    assert len(response.headers.get_list("server")) == 1


async def test_an_upstream_away_answers_503_with_retry_after() -> None:
    async with (
        proxied(f"http://127.0.0.1:{free_port()}") as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.get("/api/menu")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "unavailable" in response.json()["detail"]


async def test_an_upstream_dying_mid_request_answers_502() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request arrived; the process dies
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        proxied(f"http://127.0.0.1:{port}") as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.post("/api/orders", json={})
    assert response.status_code == 502
    assert response.headers["retry-after"] == "1"


async def test_a_body_over_the_limit_is_refused_without_forwarding() -> None:
    async with (
        serving(upstream_app()) as upstream,
        proxied(upstream) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.post("/echo/x", content=b"x" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413


async def test_websocket_messages_and_close_codes_go_both_ways() -> None:
    async with serving(upstream_app()) as upstream, proxied(upstream) as url:
        async with websockets.connect(url.replace("http", "ws") + "/ws/echo") as socket:
            await socket.send("hello")
            assert await socket.recv() == "echo:hello"
            await socket.send(b"\x00\x01")
            assert await socket.recv() == b"echo:\x00\x01"
            await socket.send("close please")
            with pytest.raises(ConnectionClosed):
                await socket.recv()
        assert (socket.close_code, socket.close_reason) == (4404, "gone away")


async def test_websocket_to_an_upstream_away_is_closed_try_again_later() -> None:
    async with (
        proxied(f"http://127.0.0.1:{free_port()}") as url,
        websockets.connect(url.replace("http", "ws") + "/ws/tracking/x") as socket,
    ):
        with pytest.raises(ConnectionClosed):
            await socket.recv()
    assert socket.close_code == 1013


async def test_websocket_whose_upstream_dies_is_closed_service_restart() -> None:
    async def die(connection: ServerConnection) -> None:
        await connection.send("first")
        await connection.recv()
        connection.transport.abort()  # no close frame: the process is gone

    async with ws_serve(die, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with (
            proxied(f"http://127.0.0.1:{port}") as url,
            websockets.connect(url.replace("http", "ws") + "/ws/x") as socket,
        ):
            assert await socket.recv() == "first"
            await socket.send("now")
            with pytest.raises(ConnectionClosed):
                await socket.recv()
    assert socket.close_code == 1012


def named_replica(name: str) -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    async def who() -> dict[str, str]:
        return {"replica": name}

    @app.websocket("/ws/who")
    async def ws_who(ws: WebSocket) -> None:
        await ws.accept()
        while (await ws.receive())["type"] != "websocket.disconnect":
            await ws.send_text(name)

    return app


@contextlib.asynccontextmanager
async def proxied_replicas(upstream_urls: list[str]) -> AsyncIterator[str]:
    client = http_client()
    try:
        async with serving(ReverseProxy("replicated", upstream_urls, client)) as url:
            yield url
    finally:
        await client.aclose()


async def test_requests_are_spread_over_every_replica() -> None:
    async with (
        serving(named_replica("a")) as a,
        serving(named_replica("b")) as b,
        proxied_replicas([a, b]) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        answered = [(await client.get("/who")).json()["replica"] for _ in range(6)]
    assert sorted(answered) == ["a", "a", "a", "b", "b", "b"]


async def test_a_replica_away_is_skipped_without_an_error() -> None:
    away = f"http://127.0.0.1:{free_port()}"
    async with (
        serving(named_replica("live")) as live,
        proxied_replicas([away, live]) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        responses = [await client.get("/who") for _ in range(4)]
        async with websockets.connect(url.replace("http", "ws") + "/ws/who") as socket:
            await socket.send("?")
            assert await socket.recv() == "live"
    assert [r.status_code for r in responses] == [200] * 4
    assert {r.json()["replica"] for r in responses} == {"live"}


async def test_a_websocket_stays_with_the_replica_it_reached() -> None:
    async with (
        serving(named_replica("a")) as a,
        serving(named_replica("b")) as b,
        proxied_replicas([a, b]) as url,
    ):
        seen: list[set[str]] = []
        for _ in range(2):
            async with websockets.connect(url.replace("http", "ws") + "/ws/who") as socket:
                answers = set()
                for _ in range(5):
                    await socket.send("?")
                    answers.add(await socket.recv())
                seen.append(answers)
    assert all(len(answers) == 1 for answers in seen)  # one replica per socket
    assert set().union(*seen) == {"a", "b"}  # the next socket went to the other one
