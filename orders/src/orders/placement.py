"""Placing an order: price it on the server, reserve its stock, create it with its first events.

The order document is created with `order.status_changed` (version 1) and the payment
authorisation already in its outbox, and with the payment deadline set, in one insert. The
reservations before it are one conditional update per item; if the process dies between them
and the insert, the reservation janitor returns stock held for an order that never appeared.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from orders.domain import INITIAL_EFFECTS, INITIAL_STATUS
from orders.saga import HISTORY, Saga, history_entry, iso_now
from orders.schemas import LineOut, OrderCreated, PlaceOrderRequest
from orders.settings import OrdersSettings
from orders.store import Claim, IdempotencyStore, MenuStore
from saga_contracts.messages import OrderStatus, OrderStatusChanged
from saga_contracts.tokens import tracking_token
from saga_contracts.topology import Streams
from sagakit.clock import now_ms
from sagakit.deadlines import DEADLINE_AT
from sagakit.outbox import Document, DocumentStore, Emit
from sagakit.version_keys import version_key


@dataclass(frozen=True)
class PricedLine:
    item_id: str
    name: str
    quantity: int
    unit_price_cents: int


class PlacementError(Exception):
    """A request the API answers with a 4xx; nothing was changed."""


class UnknownItem(PlacementError):
    def __init__(self, item_id: str) -> None:
        super().__init__(f"unknown item {item_id}")
        self.item_id = item_id


class OutOfStock(PlacementError):
    def __init__(self, item_id: str, held: Sequence[PricedLine] = ()) -> None:
        super().__init__(f"{item_id} is out of stock")
        self.item_id = item_id
        self.held = list(held)  # the lines reserved for the order before it, to give back


class KeyReusedWithOtherBody(PlacementError):
    pass


class KeyInFlight(PlacementError):
    pass


def body_hash(request: PlaceOrderRequest) -> str:
    canonical = orjson.dumps(request.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def new_order_id() -> str:
    return uuid.uuid4().hex


class OrderPlacement:
    def __init__(
        self,
        *,
        menu: MenuStore,
        orders: DocumentStore,
        keys: IdempotencyStore,
        saga: Saga,
        streams: Streams,
        settings: OrdersSettings,
        tracking_secret: str,
    ) -> None:
        self._menu = menu
        self._orders = orders
        self._keys = keys
        self._saga = saga
        self._streams = streams
        self._settings = settings
        self._secret = tracking_secret

    async def place(
        self, request: PlaceOrderRequest, idempotency_key: str | None = None
    ) -> OrderCreated:
        if idempotency_key is None:
            return await self._attempt(new_order_id(), request, owner=None, resumed=False)
        claim = await self._keys.claim(
            idempotency_key,
            body_hash(request),
            new_order_id(),
            stale_after_ms=int(self._settings.idempotency_in_flight_s * 1000),
        )
        match claim.claim:
            case Claim.MISMATCH:
                raise KeyReusedWithOtherBody(
                    "this Idempotency-Key was used with a different request body"
                )
            case Claim.IN_FLIGHT:
                raise KeyInFlight("a request with this Idempotency-Key is still in flight")
            case Claim.DONE:
                assert claim.response is not None
                return OrderCreated.model_validate_json(claim.response)
        owner = (idempotency_key, claim.attempt)
        created = await self._attempt(
            claim.order_id, request, owner=owner, resumed=claim.claim is Claim.TAKEN_OVER
        )
        await self._keys.complete(idempotency_key, created.id, created.model_dump_json())
        return created

    async def _attempt(
        self,
        order_id: str,
        request: PlaceOrderRequest,
        *,
        owner: tuple[str, str] | None,
        resumed: bool,
    ) -> OrderCreated:
        """Create the order; on a 4xx give the key up and the stock back, unless another
        attempt took the key over meanwhile: that one owns the order id and its stock now."""
        try:
            return await self._create(order_id, request, owner=owner, resumed=resumed)
        except PlacementError as failure:
            if owner is not None and not await self._keys.abandon(*owner):
                raise KeyInFlight(
                    "another request with this Idempotency-Key has taken it over"
                ) from failure
            if isinstance(failure, OutOfStock):
                for line in failure.held:
                    await self._menu.release(line.item_id, order_id, line.quantity)
            raise

    async def _create(
        self,
        order_id: str,
        request: PlaceOrderRequest,
        *,
        owner: tuple[str, str] | None,
        resumed: bool,
    ) -> OrderCreated:
        if resumed:  # the first attempt died: it may have created the order already
            existing = await self._orders.collection.find_one({"_id": order_id})
            if existing is not None:
                return self.created_view(existing)
        lines = await self._price(request)
        await self._reserve(order_id, lines)
        if owner is not None and not await self._keys.owns(*owner):
            # Superseded (taken over, or given up by the attempt that took it over): creating
            # the order now could make a second one for the key. What it reserved is the new
            # owner's, or the reservation janitor's to return.
            raise KeyInFlight("another request with this Idempotency-Key has taken it over")
        order = self._new_order(order_id, request, lines)
        if await self._orders.insert(order, emit=self._first_events(order)):
            self._saga.known.put(order)
        else:
            order = await self._orders.collection.find_one({"_id": order_id}) or order
        return self.created_view(order)

    async def _price(self, request: PlaceOrderRequest) -> list[PricedLine]:
        quantities: dict[str, int] = {}
        for line in request.items:  # the same item twice is one line with the sum
            quantities[line.item_id] = quantities.get(line.item_id, 0) + line.quantity
        items = await self._menu.by_ids(list(quantities))
        for item_id in quantities:
            if item_id not in items:
                raise UnknownItem(item_id)
        return [
            PricedLine(item_id, items[item_id]["name"], quantity, items[item_id]["price_cents"])
            for item_id, quantity in quantities.items()
        ]

    async def _reserve(self, order_id: str, lines: list[PricedLine]) -> None:
        reserved: list[PricedLine] = []
        for line in sorted(lines, key=lambda line: line.item_id):
            if not await self._menu.reserve(line.item_id, order_id, line.quantity):
                raise OutOfStock(line.item_id, held=reserved)
            reserved.append(line)

    def _new_order(
        self, order_id: str, request: PlaceOrderRequest, lines: list[PricedLine]
    ) -> Document:
        now = iso_now()
        timeout_ms = self._settings.timeout_ms(INITIAL_STATUS)
        assert timeout_ms is not None
        return {
            "_id": order_id,
            "status": INITIAL_STATUS.value,
            "version": 1,
            "lines": [line.__dict__ for line in lines],
            "total_cents": sum(line.quantity * line.unit_price_cents for line in lines),
            "customer": request.customer.model_dump(),
            "created_at": now,
            "updated_at": now,
            "created_ms": now_ms(),
            DEADLINE_AT: now_ms() + timeout_ms,
            HISTORY: {version_key(1): history_entry(INITIAL_STATUS, None, now)},
        }

    def _first_events(self, order: Document) -> list[Emit]:
        placed = OrderStatusChanged(
            order_id=order["_id"],
            status=OrderStatus.PLACED,
            version=1,
            at=order["created_at"],
        )
        emit = [Emit(self._streams.orders_events, placed.envelope(key=order["_id"], version=1))]
        for effect in INITIAL_EFFECTS:
            stream, command = self._saga.command(effect, order)
            emit.append(Emit(stream, command.envelope(key=order["_id"], version=1)))
        return emit

    def created_view(self, order: Document) -> OrderCreated:
        return OrderCreated(
            id=order["_id"],
            status=OrderStatus.PLACED,
            version=1,
            items=[LineOut(**line) for line in order["lines"]],
            total_cents=order["total_cents"],
            created_at=order["created_at"],
            tracking_token=tracking_token(self._secret, order["_id"]),
        )
