"""Operator routes (X-API-Key): one delivery by order id, and the courier fleet."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict

from delivery.store import Deliveries, Document, Fleet
from sagakit.clock import from_ms
from sagakit.web import operator_only

# Order ids are short tokens; anything else cannot name a delivery and is a plain 404.
ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class DeliveryView(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    status: str
    courier_id: str | None
    address: str | None
    detail: str | None
    version: int
    created_at: str
    updated_at: str


class CourierView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    status: str
    order_id: str | None


def _deliveries(request: Request) -> Deliveries:
    deliveries: Deliveries = request.app.state.deliveries
    return deliveries


def _fleet(request: Request) -> Fleet:
    fleet: Fleet = request.app.state.fleet
    return fleet


DeliveriesDep = Annotated[Deliveries, Depends(_deliveries)]
FleetDep = Annotated[Fleet, Depends(_fleet)]


def operator_router(operator_key: Callable[[], str]) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["operator"], dependencies=[operator_only(operator_key)])

    @router.get("/deliveries/{order_id}", response_model=DeliveryView)
    async def get_delivery(order_id: str, deliveries: DeliveriesDep) -> DeliveryView:
        doc = await deliveries.get(order_id) if ORDER_ID.fullmatch(order_id) else None
        if doc is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no delivery for this order")
        return delivery_view(doc)

    @router.get("/couriers", response_model=list[CourierView])
    async def list_couriers(fleet: FleetDep) -> list[CourierView]:
        return [courier_view(doc) for doc in await fleet.all()]

    return router


def delivery_view(doc: Document) -> DeliveryView:
    return DeliveryView(
        order_id=doc["_id"],
        status=doc["status"],
        courier_id=doc.get("courier_id"),
        address=doc.get("address"),
        detail=doc.get("detail"),
        version=doc["version"],
        created_at=from_ms(doc["created_ms"]).isoformat(),
        updated_at=from_ms(doc["updated_ms"]).isoformat(),
    )


def courier_view(doc: Document) -> CourierView:
    return CourierView(
        id=doc["_id"], name=doc["name"], status=doc["status"], order_id=doc.get("order_id")
    )
