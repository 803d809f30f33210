"""A reverse proxy to a service's replicas, as an ASGI app: HTTP through httpx, WebSockets
through `websockets`. `up --processes` puts one in front of each service.

Requests are spread over the replicas in turn; one that cannot be reached (a replica being
restarted) is skipped for the next, since nothing was sent to it. A WebSocket stays with the
replica it reached for its whole life. When no replica can be reached the answer is 503 with
Retry-After (the processes are restarting: try again shortly), one that fails mid-request
502, one too slow 504. A WebSocket whose upstream goes away is closed with 1012 (service
restart), one that cannot reach it with 1013 (try again later), so the client reconnects,
and the tracking contract (`since=<last version>`) makes the reconnection lossless.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterable, Sequence

import httpx
from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from sagakit.logs import describe, get_logger

log = get_logger("orders_saga.proxy")

# Headers about one connection (RFC 9110 §7.6.1), not the message: never forwarded.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)
# Added by the server that answers the client; forwarding the upstream's would duplicate them.
SET_BY_FRONT = frozenset({b"date", b"server"})
# A WebSocket handshake is rebuilt by the websockets client; these belong to the client's one.
WS_HANDSHAKE = frozenset(
    {b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions",
     b"sec-websocket-protocol", b"content-length"}
)  # fmt: skip

SERVICE_RESTART = 1012  # the server is restarting: reconnect
TRY_AGAIN_LATER = 1013  # a temporary condition: reconnect a little later
NO_STATUS_CODES = (None, 1005, 1006)  # not a code that can be sent in a close frame
MAX_BODY_BYTES = 1024 * 1024  # every service has a smaller limit of its own


def http_client() -> httpx.AsyncClient:
    """One pool for every upstream: short connect (a dead process fails fast), long read."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=2.0, pool=10.0),
        limits=httpx.Limits(max_connections=512, max_keepalive_connections=64),
        follow_redirects=False,
        trust_env=False,  # never through an HTTP proxy from the environment
    )


def _forwarded(
    scope: Scope, headers: Iterable[tuple[bytes, bytes]], drop: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name.lower() not in drop]
    client = scope.get("client")
    if client:
        kept.append((b"x-forwarded-for", client[0].encode()))
    secure = scope.get("scheme") in ("https", "wss")
    kept.append((b"x-forwarded-proto", b"https" if secure else b"http"))
    return kept


def _target(scope: Scope) -> str:
    path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return (path + (b"?" + query if query else b"")).decode("latin-1")


class _ClientGone(Exception):
    pass


class _TooLarge(Exception):
    pass


class ReverseProxy:
    """Forwards every HTTP request and WebSocket to one of `base_urls` (`http://host:port`),
    path and query unchanged."""

    def __init__(self, name: str, base_urls: Sequence[str], client: httpx.AsyncClient) -> None:
        if not base_urls:
            raise ValueError(f"{name}: no upstream")
        self.name = name
        self.base_urls = [url.rstrip("/") for url in base_urls]
        self.client = client
        self._turn = itertools.count()

    def _upstreams(self) -> list[str]:
        """Every replica, starting with the next one in turn."""
        start = next(self._turn) % len(self.base_urls)
        return self.base_urls[start:] + self.base_urls[:start]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    # ---- HTTP ------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive)
        except _ClientGone:
            return
        except _TooLarge:
            await _answer(send, 413, f"request body larger than {MAX_BODY_BYTES} bytes")
            return
        response: httpx.Response | None = None
        try:
            for base_url in self._upstreams():
                request = self.client.build_request(
                    scope["method"],
                    base_url + _target(scope),
                    headers=_forwarded(scope, scope["headers"], HOP_BY_HOP),
                    content=body,
                )
                # Nothing reached a replica that refused the connection: the next may answer.
                with contextlib.suppress(httpx.ConnectError, httpx.ConnectTimeout):
                    response = await self.client.send(request, stream=True)
                    break
        except (httpx.InvalidURL, ValueError) as exc:
            await _answer(send, 400, f"malformed request: {exc}")
            return
        except httpx.PoolTimeout:
            response = None
        except httpx.TimeoutException:
            await _answer(send, 504, f"{self.name} did not answer in time")
            return
        except httpx.TransportError as exc:
            log.warning("upstream failed", service=self.name, error=describe(exc))
            await _answer(send, 502, f"{self.name} failed to answer, retry shortly", retry=True)
            return
        if response is None:
            await _answer(send, 503, f"{self.name} is unavailable, retry shortly", retry=True)
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (name, value)
                        for name, value in response.headers.raw
                        if name.lower() not in HOP_BY_HOP | SET_BY_FRONT
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except httpx.TransportError as exc:
            # The status is sent: all that is left is to cut the response short.
            log.warning("upstream failed mid-response", service=self.name, error=describe(exc))
        finally:
            await response.aclose()

    # ---- WebSocket ---------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in _forwarded(scope, scope["headers"], HOP_BY_HOP | WS_HANDSHAKE)
        ]
        upstream: ClientConnection | None = None
        failure: BaseException | None = None
        for base_url in self._upstreams():
            try:
                upstream = await connect(
                    "ws" + base_url.removeprefix("http") + _target(scope),
                    additional_headers=headers,
                    subprotocols=scope.get("subprotocols") or None,
                    open_timeout=5,
                    max_size=None,  # the service decides what it sends
                    ping_interval=None,  # liveness of the upstream is the supervisor's business
                    compression=None,
                    proxy=None,
                    user_agent_header=None,  # the client's own User-Agent is forwarded
                )
                break
            except InvalidStatus:  # the service refused the handshake (e.g. an unknown path)
                await send({"type": "websocket.close"})  # refused here too (403)
                return
            except (OSError, TimeoutError, WebSocketException) as exc:
                failure = exc  # this replica is away: try the next
        if upstream is None:
            # Accepted, then closed with "try again later": a browser sees close codes, never
            # the status of a refused handshake, and reconnects.
            log.info("websocket upstream unavailable", service=self.name, error=describe(failure))
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": "retry"})
            return
        async with upstream:
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
            await _relay(upstream, receive, send)


async def _relay(upstream: ClientConnection, receive: Receive, send: Send) -> None:
    """Both directions until one side closes; then close the other with the same code."""

    async def from_client() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])

    async def from_upstream() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in upstream:
                key = "text" if isinstance(data, str) else "bytes"
                await send({"type": "websocket.send", key: data})

    client_side = asyncio.create_task(from_client())
    upstream_side = asyncio.create_task(from_upstream())
    try:
        done, _ = await asyncio.wait(
            (client_side, upstream_side), return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (client_side, upstream_side):
            task.cancel()
        await asyncio.gather(client_side, upstream_side, return_exceptions=True)
    if client_side in done:
        await upstream.close()
        return
    code, reason = upstream.close_code, upstream.close_reason or ""
    if code in NO_STATUS_CODES:  # the service process went away without closing
        code, reason = SERVICE_RESTART, "service restarting, reconnect"
    with contextlib.suppress(OSError, RuntimeError):  # the client may be gone as well
        await send({"type": "websocket.close", "code": code, "reason": reason})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, detail: str, *, retry: bool = False) -> None:
    response = JSONResponse(
        {"detail": detail}, status_code=status, headers={"Retry-After": "1"} if retry else None
    )
    await response({"type": "http"}, _disconnected, send)


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}
