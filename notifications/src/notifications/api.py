"""HTTP and WebSocket routes: customer tracking and the operator read side (DESIGN.md §6).

WebSockets are always accepted and then, when the request is not acceptable, closed with a code
that mirrors the HTTP status: 4400 malformed `since`, 4401 missing token or operator key, 4404
wrong token or malformed order id. A slow client is closed with 1013.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, WebSocket, status
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from notifications.domain import is_order_id, parse_since
from notifications.hub import Hub
from notifications.ops import OpsView, UnknownStream, stats_message
from notifications.schemas import (
    DeadLetterSelection,
    DeadLetterView,
    HeadView,
    Outcomes,
    Purged,
    Replayed,
    StreamView,
    TimelineItem,
    TrackingView,
    dump,
)
from notifications.settings import NotificationsSettings
from notifications.sockets import (
    BAD_REQUEST,
    NOT_FOUND,
    UNAUTHORIZED,
    close_quietly,
    serve,
)
from notifications.store import Head, TrackingStore
from notifications.tracking import TrackingSession
from saga_contracts.secrets import Secrets
from saga_contracts.tokens import token_matches
from sagakit.logs import get_logger
from sagakit.web import operator_only

log = get_logger("notifications.api")

NOT_FOUND_DETAIL = "order not found"


@dataclass(frozen=True)
class Services:
    store: TrackingStore
    hub: Hub
    ops: OpsView
    settings: NotificationsSettings
    secrets: Secrets

    def token_ok(self, order_id: str, token: str | None) -> bool:
        return token_matches(self.secrets.tracking_secret.get_secret_value(), order_id, token)

    def operator_key_ok(self, key: str | None) -> bool:
        expected = self.secrets.operator_api_key.get_secret_value()
        return bool(key) and hmac.compare_digest(str(key).encode(), expected.encode())


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="tracking token required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def get_services(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def authorized_order(
    order_id: str, token: Annotated[str, Depends(bearer_token)], services: ServicesDep
) -> str:
    # A malformed id and a wrong token look like an unknown order: nothing is revealed.
    if not is_order_id(order_id) or not services.token_ok(order_id, token):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NOT_FOUND_DETAIL)
    return order_id


AuthorizedOrder = Annotated[str, Depends(authorized_order)]


tracking = APIRouter(tags=["tracking"])


@tracking.get("/api/tracking/{order_id}")
async def get_tracking(order_id: AuthorizedOrder, services: ServicesDep) -> TrackingView:
    tracked = await services.store.tracked(order_id)
    if tracked is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NOT_FOUND_DETAIL)
    head = tracked.head
    return TrackingView.model_validate(
        {
            "order_id": order_id,
            "status": head.status,
            "version": head.version,
            "reason": head.reason,
            "timeline": [TimelineItem.of(e) for e in tracked.timeline],
        }
    )


@tracking.websocket("/ws/tracking/{order_id}")
async def track(
    ws: WebSocket,
    order_id: str,
    services: ServicesDep,
    token: str | None = None,
    since: str | None = None,
) -> None:
    await ws.accept()
    close_s = services.settings.ws_close_timeout_s
    refusal = _access_refusal(services, order_id, token)
    if refusal is not None:
        code, reason = refusal
        await close_quietly(ws, code, close_s, reason)
        return
    since_version = parse_since(since)
    if since_version is None:
        await close_quietly(ws, BAD_REQUEST, close_s, "since must be a version >= 0")
        return
    session = TrackingSession(
        ws,
        order_id,
        since_version,
        store=services.store,
        hub=services.hub,
        settings=services.settings,
    )
    await session.run()


def _access_refusal(services: Services, order_id: str, token: str | None) -> tuple[int, str] | None:
    """The close code and reason for a socket that may not see the order; None if it may."""
    if not is_order_id(order_id):
        return NOT_FOUND, NOT_FOUND_DETAIL
    if not token:
        return UNAUTHORIZED, "token required"
    if not services.token_ok(order_id, token):
        return NOT_FOUND, NOT_FOUND_DETAIL
    return None


def ops_router(secrets: Secrets) -> APIRouter:
    """The operator HTTP routes, all behind `X-API-Key`."""
    router = APIRouter(
        prefix="/api/ops",
        tags=["ops"],
        dependencies=[operator_only(lambda: secrets.operator_api_key.get_secret_value())],
    )

    @router.get("/streams")
    async def streams(services: ServicesDep) -> list[StreamView]:
        return await services.ops.stream_views()

    @router.get("/dlq")
    async def dead_letters(
        services: ServicesDep,
        stream: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[DeadLetterView]:
        return await services.ops.dead_letters(stream or None, limit)

    @router.post("/dlq/replay")
    async def replay(selection: DeadLetterSelection, services: ServicesDep) -> Replayed:
        return Replayed(replayed=await services.ops.replay(selection.stream, selection.ids))

    @router.post("/dlq/purge")
    async def purge(selection: DeadLetterSelection, services: ServicesDep) -> Purged:
        return Purged(purged=await services.ops.purge(selection.stream, selection.ids))

    @router.get("/orders/recent")
    async def recent_orders(
        services: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> list[HeadView]:
        return [_head_view(head) for head in await services.store.recent(limit)]

    @router.get("/outcomes")
    async def outcomes(services: ServicesDep) -> Outcomes:
        return await services.ops.outcomes()

    return router


ops_feed = APIRouter(tags=["ops"])


@ops_feed.websocket("/ws/ops")
async def stream_stats(ws: WebSocket, services: ServicesDep, key: str | None = None) -> None:
    """Every `ops_tick_s`: streams, groups, dead letters, throughput and outcomes."""
    await ws.accept()
    if not services.operator_key_ok(key):
        await close_quietly(
            ws, UNAUTHORIZED, services.settings.ws_close_timeout_s, "operator key required"
        )
        return
    sampler = services.ops.sampler()

    async def send_stats() -> None:
        while True:
            try:
                stats = await stats_message(services.ops, sampler)
            except Exception as exc:  # Redis or MongoDB away: skip this tick, keep the feed
                log.warning("ops stats failed", error=repr(exc))
            else:
                await ws.send_json(dump(stats))
            await asyncio.sleep(services.settings.ops_tick_s)

    await serve(ws, send_stats())


def _head_view(head: Head) -> HeadView:
    return HeadView.model_validate(
        {
            "order_id": head.order_id,
            "status": head.status,
            "version": head.version,
            "reason": head.reason,
            "at": head.at,
            "updated_ms": head.updated_ms,
        }
    )


async def unknown_stream(request: Request, exc: Exception) -> JSONResponse:
    """A stream outside this deployment's topology is not found (ops routes)."""
    assert isinstance(exc, UnknownStream)
    return JSONResponse({"detail": f"unknown stream: {exc.args[0]}"}, status_code=404)
