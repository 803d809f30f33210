"""Every message on the streams, as typed payloads. The envelope key is always the order id.

Amounts are integer cents. Times are aware UTC datetimes (ISO-8601 on the wire).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from sagakit.envelope import Message


class OrderStatus(StrEnum):
    PLACED = "placed"
    PAID = "paid"
    PREPARING = "preparing"
    READY = "ready"
    COURIER_ASSIGNED = "courier_assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)


class CancelReason(StrEnum):
    PAYMENT_DECLINED = "payment_declined"
    KITCHEN_REJECTED = "kitchen_rejected"
    TIMEOUT = "timeout"
    NO_COURIER = "no_courier"
    DELIVERY_FAILED = "delivery_failed"
    CUSTOMER_CANCELLED = "customer_cancelled"


class Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    item_id: str
    name: str
    quantity: int


# ---- orders.events ---------------------------------------------------------------------------


class OrderStatusChanged(Message):
    message_type = "order.status_changed"
    order_id: str
    status: OrderStatus
    version: int
    reason: CancelReason | None = None
    at: datetime


class StockRefilled(Message):
    message_type = "stock.refilled"
    run_id: str
    levels: dict[str, int]


# ---- orders.commands -------------------------------------------------------------------------


class RepublishStatuses(Message):
    """Publish again every recorded `order.status_changed` of the order above `after_version`
    (asked by notifications when a version never arrived)."""

    message_type = "order.republish_statuses"
    order_id: str
    after_version: int


# ---- payments ------------------------------------------------------------------------------


class AuthorizePayment(Message):
    message_type = "payment.authorize"
    order_id: str
    amount_cents: int


class VoidPayment(Message):
    message_type = "payment.void"
    order_id: str


class RefundPayment(Message):
    message_type = "payment.refund"
    order_id: str
    amount_cents: int


class CapturePayment(Message):
    message_type = "payment.capture"
    order_id: str
    amount_cents: int


class PaymentAuthorized(Message):
    message_type = "payment.authorized"
    order_id: str
    payment_id: str


class PaymentDeclined(Message):
    message_type = "payment.declined"
    order_id: str
    detail: str = ""


class PaymentSettled(Message):
    """A void, refund or capture was carried out (for the record; the saga does not wait)."""

    message_type = "payment.settled"
    order_id: str
    action: str


# ---- kitchen -------------------------------------------------------------------------------


class PrepareOrder(Message):
    message_type = "kitchen.prepare"
    order_id: str
    lines: list[Line]


class CancelTicket(Message):
    message_type = "kitchen.cancel"
    order_id: str


class KitchenAccepted(Message):
    message_type = "kitchen.accepted"
    order_id: str


class KitchenRejected(Message):
    message_type = "kitchen.rejected"
    order_id: str
    detail: str = ""


class KitchenReady(Message):
    message_type = "kitchen.ready"
    order_id: str


# ---- delivery ------------------------------------------------------------------------------


class RequestDelivery(Message):
    message_type = "delivery.request"
    order_id: str
    address: str


class CancelDelivery(Message):
    message_type = "delivery.cancel"
    order_id: str


class CourierAssigned(Message):
    message_type = "delivery.courier_assigned"
    order_id: str
    courier_id: str


class DeliveryPickedUp(Message):
    message_type = "delivery.picked_up"
    order_id: str
    courier_id: str


class DeliveryDelivered(Message):
    message_type = "delivery.delivered"
    order_id: str
    courier_id: str


class DeliveryFailed(Message):
    message_type = "delivery.failed"
    order_id: str
    detail: str = ""


class NoCourier(Message):
    message_type = "delivery.no_courier"
    order_id: str


# ---- couriers (delivery service <-> the simulator's courier actors) -----------------------


class DispatchCourier(Message):
    message_type = "courier.dispatch"
    order_id: str
    courier_id: str
    address: str


class CourierPickedUp(Message):
    message_type = "courier.picked_up"
    order_id: str
    courier_id: str


class CourierDelivered(Message):
    message_type = "courier.delivered"
    order_id: str
    courier_id: str


class CourierFailed(Message):
    message_type = "courier.failed"
    order_id: str
    courier_id: str
    detail: str = ""


ALL_MESSAGES: tuple[type[Message], ...] = (
    OrderStatusChanged,
    StockRefilled,
    RepublishStatuses,
    AuthorizePayment,
    VoidPayment,
    RefundPayment,
    CapturePayment,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentSettled,
    PrepareOrder,
    CancelTicket,
    KitchenAccepted,
    KitchenRejected,
    KitchenReady,
    RequestDelivery,
    CancelDelivery,
    CourierAssigned,
    DeliveryPickedUp,
    DeliveryDelivered,
    DeliveryFailed,
    NoCourier,
    DispatchCourier,
    CourierPickedUp,
    CourierDelivered,
    CourierFailed,
)
