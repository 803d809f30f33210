"""HTTP request and response models (separate from what is stored and what goes on streams)."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from saga_contracts.messages import CancelReason, OrderStatus

ORDER_ID = re.compile(r"^[0-9a-f]{32}$")
ITEM_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"

ItemId = Annotated[str, StringConstraints(pattern=ITEM_ID_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ().-]{2,29}$")
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Quantity = Annotated[StrictInt, Field(ge=1, le=50)]
Cents = Annotated[StrictInt, Field(ge=0, le=10_000_000)]
StockLevel = Annotated[StrictInt, Field(ge=0, le=1_000_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- customer side -------------------------------------------------------------------------


class CustomerIn(Strict):
    name: Name
    address: Address
    phone: Phone


class LineIn(Strict):
    item_id: ItemId
    quantity: Quantity


class PlaceOrderRequest(Strict):
    customer: CustomerIn
    items: Annotated[list[LineIn], Field(min_length=1, max_length=20)]


class LineOut(BaseModel):
    item_id: str
    name: str
    quantity: int
    unit_price_cents: int


class CustomerOut(BaseModel):
    name: str
    address: str
    phone: str


class OrderCreated(BaseModel):
    id: str
    status: OrderStatus
    version: int
    items: list[LineOut]
    total_cents: int
    created_at: str
    tracking_token: str


class OrderView(BaseModel):
    id: str
    status: OrderStatus
    reason: CancelReason | None
    version: int
    items: list[LineOut]
    total_cents: int
    customer: CustomerOut
    created_at: str
    updated_at: str


class MenuItem(BaseModel):
    id: str
    name: str
    description: str
    category: str
    price_cents: int
    stock: int


# ---- operator side -------------------------------------------------------------------------


class MenuItemCreate(Strict):
    id: ItemId | None = None
    name: Name
    description: Description = ""
    category: Category
    price_cents: Cents
    stock: StockLevel


class MenuItemPatch(Strict):
    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    price_cents: Cents | None = None
    stock: StockLevel | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_dump(exclude_none=True):
            raise ValueError("give at least one field to change")
        return self


class RefillRequest(Strict):
    to: StockLevel | None = None
    add: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None
    item_ids: Annotated[list[ItemId], Field(min_length=1, max_length=1000)] | None = None
    run_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,100}$")] | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        if (self.to is None) == (self.add is None):
            raise ValueError("give exactly one of `to` and `add`")
        return self


class RefillResult(BaseModel):
    run_id: str
    changed: dict[str, int]
    levels: dict[str, int]
