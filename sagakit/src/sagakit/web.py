"""HTTP pieces every service shares (extra `sagakit[web]`): health routes, metrics with route
templates as labels, a request body limit, the operator key, load shedding (admission control)
and 5xx-proof error handling."""

from __future__ import annotations

import contextlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sagakit.admission import AdmissionControl, Refusal
from sagakit.connections import TRANSIENT_ERRORS
from sagakit.health import Health
from sagakit.logs import describe, get_logger
from sagakit.service import ServiceRuntime

log = get_logger("sagakit.web")

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
UNMATCHED = "<unmatched>"
# The largest WebSocket message a client may send (uvicorn `--ws-max-size`); bigger ones close
# the socket with 1009. Our sockets only push to the client, so anything large is abuse;
# uvicorn's default (16 MiB) would let one client make the server buffer that much per frame.
WS_MAX_MESSAGE_BYTES = 64 * 1024


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/orders/{order_id}`), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return (scope.get("root_path") or "") + path
    return UNMATCHED


class MetricsMiddleware:
    """Counts and times HTTP requests labelled by route template (WebSockets are not timed)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = route_template(scope)
            HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status_code)).inc()
            HTTP_SECONDS.labels(self.service, scope["method"], route).observe(
                time.perf_counter() - started
            )


class BodyLimitMiddleware:
    """Answers 413 to a request body larger than `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._too_large(send)
                    return
        received = 0
        overflowed = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    overflowed = True
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if overflowed:
                # The app may catch the error while parsing and answer (FastAPI: 400, "error
                # parsing the body"); the client must learn that the body was too large.
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await self._too_large(send)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.max_bytes} bytes"},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        )
        await response({"type": "http"}, _no_receive, send)


class _BodyTooLarge(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def health_router(health: Health) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        report = health.report()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def operator_key_dependency(expected: Callable[[], str]) -> Callable[..., Awaitable[None]]:
    """A dependency that answers 401 unless `X-API-Key` equals the operator key."""

    async def require_operator_key(
        x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    ) -> None:
        if not x_api_key or not hmac.compare_digest(x_api_key.encode(), expected().encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing or wrong operator key (X-API-Key)",
                headers={"WWW-Authenticate": "X-API-Key"},
            )

    return require_operator_key


def operator_only(expected: Callable[[], str]) -> Any:
    """`dependencies=[operator_only(...)]` for a router or route."""
    return Depends(operator_key_dependency(expected))


def admission_dependency(control: AdmissionControl) -> Callable[[], AsyncIterator[None]]:
    """A dependency answering `503 {"detail": {"code": "overloaded", "retry_after_s": N}}` with
    `Retry-After: N` when `control` refuses (a backlog, or a standing queue of requests); it
    runs before the route does anything, and counts the request in flight until it ends."""

    async def admit() -> AsyncIterator[None]:
        ticket = control.admit()
        if isinstance(ticket, Refusal):
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail={"code": "overloaded", "retry_after_s": control.retry_after_s},
                headers={"Retry-After": str(control.retry_after_s)},
            )
        try:
            yield
        finally:
            control.done(ticket)

    return admit


def shed_when_overloaded(control: AdmissionControl) -> Any:
    """`dependencies=[shed_when_overloaded(control)]` for a route that starts new work.

    Scope "function": the request leaves the in-flight count before its answer is sent, so a
    client that sends its next request on receiving the answer is never counted twice."""
    return Depends(admission_dependency(control), scope="function")


def install_common(app: FastAPI, *, service: str, health: Health, max_body_bytes: int) -> None:
    """Health routes, metrics, body limit, and errors that never leak as 5xx for bad input."""
    app.include_router(health_router(health))
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(MetricsMiddleware, service=service)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, TRANSIENT_ERRORS):  # a database away or too slow: try again soon
            log.warning("dependency unavailable", path=request.url.path, error=describe(exc))
            return JSONResponse(
                {"detail": "temporarily unavailable, retry shortly"},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)


class ServiceApp:
    """A service: its runtime (consumers, schedulers, connections) and its HTTP app.

    `start()`/`stop()` run the runtime; `asgi()` gives the app with a lifespan that does the
    same, for uvicorn. Several services can share one process by starting each runtime and
    mounting their apps (mounted apps' lifespans do not run, hence the explicit start/stop).
    """

    def __init__(self, runtime: ServiceRuntime, app: FastAPI) -> None:
        self.runtime = runtime
        self.app = app
        app.state.runtime = runtime

    async def start(self) -> None:
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()

    def asgi(self) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        self.app.router.lifespan_context = lifespan
        return self.app
