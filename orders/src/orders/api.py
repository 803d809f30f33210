"""HTTP routes of the orders service (DESIGN.md §6)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status

from orders.domain import Signal
from orders.placement import (
    KeyInFlight,
    KeyReusedWithOtherBody,
    OrderPlacement,
    OutOfStock,
    UnknownItem,
)
from orders.refill import StockRefill
from orders.saga import Outcome, Saga
from orders.schemas import (
    ITEM_ID_PATTERN,
    ORDER_ID,
    CustomerOut,
    LineOut,
    MenuItem,
    MenuItemCreate,
    MenuItemPatch,
    OrderCreated,
    OrderView,
    PlaceOrderRequest,
    RefillRequest,
    RefillResult,
)
from orders.store import MenuStore
from saga_contracts.messages import OrderStatus
from saga_contracts.tokens import token_matches
from sagakit.admission import AdmissionControl
from sagakit.web import operator_only, shed_when_overloaded


@dataclass(frozen=True)
class OrdersContext:
    placement: OrderPlacement
    saga: Saga
    menu: MenuStore
    refill: StockRefill
    tracking_secret: str


def orders_context(request: Request) -> OrdersContext:
    context: OrdersContext = request.app.state.orders
    return context


Context = Annotated[OrdersContext, Depends(orders_context)]
# Epoch milliseconds beyond year 9999 are not times, and would overflow MongoDB's 64-bit ints.
MAX_EPOCH_MS = 253_402_300_799_999


def _error(code: int, detail: dict[str, Any]) -> HTTPException:
    return HTTPException(code, detail=detail)


def not_found() -> HTTPException:
    return _error(status.HTTP_404_NOT_FOUND, {"code": "not_found"})


async def authorized_order_id(
    order_id: str,
    context: Context,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """The order id, if the request holds its tracking token: 401 without one, 404 otherwise."""
    if not ORDER_ID.match(order_id):
        raise not_found()
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "missing_token"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not token_matches(context.tracking_secret, order_id, token.strip()):
        raise not_found()
    return order_id


AuthorizedOrderId = Annotated[str, Depends(authorized_order_id)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]


def order_view(order: dict[str, Any]) -> OrderView:
    return OrderView(
        id=order["_id"],
        status=OrderStatus(order["status"]),
        reason=order.get("reason"),
        version=order["version"],
        items=[LineOut(**line) for line in order["lines"]],
        total_cents=order["total_cents"],
        customer=CustomerOut(**order["customer"]),
        created_at=order["created_at"],
        updated_at=order["updated_at"],
    )


def menu_item(doc: dict[str, Any]) -> MenuItem:
    return MenuItem(
        id=doc["_id"],
        name=doc["name"],
        description=doc.get("description", ""),
        category=doc["category"],
        price_cents=doc["price_cents"],
        stock=doc["stock"],
    )


def customer_router(admission: AdmissionControl) -> APIRouter:
    """Customer routes. Only placing an order is ever shed (503 `overloaded`, before anything
    is read or written); reads and cancels are always served."""
    router = APIRouter(prefix="/api", tags=["customer"])

    @router.get("/menu", response_model=list[MenuItem])
    async def get_menu(context: Context) -> list[MenuItem]:
        return [menu_item(doc) for doc in await context.menu.menu()]

    @router.post(
        "/orders",
        status_code=status.HTTP_201_CREATED,
        response_model=OrderCreated,
        dependencies=[shed_when_overloaded(admission)],
        responses={503: {"description": "overloaded (code `overloaded`): retry after Retry-After"}},
    )
    async def place_order(
        body: PlaceOrderRequest, context: Context, idempotency_key: IdempotencyKey = None
    ) -> OrderCreated:
        try:
            return await context.placement.place(body, idempotency_key)
        except UnknownItem as exc:
            raise _error(422, {"code": "unknown_item", "item_id": exc.item_id}) from exc
        except OutOfStock as exc:
            raise _error(409, {"code": "out_of_stock", "item_id": exc.item_id}) from exc
        except KeyReusedWithOtherBody as exc:
            raise _error(422, {"code": "idempotency_key_reused", "message": str(exc)}) from exc
        except KeyInFlight as exc:
            raise _error(409, {"code": "idempotency_key_in_flight", "message": str(exc)}) from exc

    @router.get("/orders/{order_id}", response_model=OrderView)
    async def get_order(order_id: AuthorizedOrderId, context: Context) -> OrderView:
        order = await context.saga.orders.collection.find_one({"_id": order_id})
        if order is None:
            raise not_found()
        return order_view(order)

    @router.post(
        "/orders/{order_id}/cancel",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=OrderView,
        responses={409: {"description": "the order can no longer be cancelled"}},
    )
    async def cancel_order(order_id: AuthorizedOrderId, context: Context) -> OrderView:
        result = await context.saga.advance(order_id, Signal.CUSTOMER_CANCEL)
        if result.outcome is Outcome.NOT_FOUND or result.order is None:
            raise not_found()
        if result.outcome is not Outcome.APPLIED:
            raise _error(409, {"code": "not_cancellable", "status": result.order["status"]})
        return order_view(result.order)

    return router


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48]
    return slug or uuid.uuid4().hex[:12]


def operator_router(operator_key: str) -> APIRouter:
    router = APIRouter(
        prefix="/api", tags=["operator"], dependencies=[operator_only(lambda: operator_key)]
    )

    @router.post("/menu/items", status_code=status.HTTP_201_CREATED, response_model=MenuItem)
    async def create_item(body: MenuItemCreate, context: Context) -> MenuItem:
        item_id = body.id or _slug(body.name)
        fields = body.model_dump(exclude={"id"})
        if not await context.menu.create(item_id, fields):
            raise _error(409, {"code": "item_exists", "item_id": item_id})
        return MenuItem(id=item_id, **fields)

    @router.patch("/menu/items/{item_id}", response_model=MenuItem)
    async def patch_item(item_id: str, body: MenuItemPatch, context: Context) -> MenuItem:
        if not re.match(ITEM_ID_PATTERN, item_id):
            raise not_found()
        doc = await context.menu.patch(item_id, body.model_dump(exclude_none=True))
        if doc is None:
            raise not_found()
        return menu_item(doc)

    @router.get("/stock/refills", response_model=list[RefillResult])
    async def refill_runs(
        context: Context, since_ms: Annotated[int, Query(ge=0, le=MAX_EPOCH_MS)] = 0
    ) -> list[RefillResult]:
        return await context.refill.runs_since(since_ms)

    @router.post("/stock/refill", response_model=RefillResult)
    async def refill_stock(body: RefillRequest, context: Context) -> RefillResult:
        return await context.refill.run(
            to=body.to, add=body.add, item_ids=body.item_ids, run_id=body.run_id
        )

    return router
