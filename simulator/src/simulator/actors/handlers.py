"""The actors' stream handlers: each command gets its plan, and the plan goes out as replies.

A handler returns (and its command is acknowledged) only after the answers due now are
published and the later ones are scheduled in Redis; see `replies.py`.
"""

from __future__ import annotations

from prometheus_client import Counter

from saga_contracts.messages import (
    AuthorizePayment,
    CancelTicket,
    CapturePayment,
    DispatchCourier,
    PrepareOrder,
    RefundPayment,
    VoidPayment,
)
from saga_contracts.topology import Streams
from sagakit.envelope import Message
from sagakit.logs import get_logger
from sagakit.routing import Delivery, Router
from simulator.actors.behaviour import Couriers, Kitchen, PaymentGateway, Plan
from simulator.actors.replies import ScheduledReplies

log = get_logger("simulator.actors")

DECISIONS = Counter(
    "simulator_decisions_total", "What the actors decided, per command", ["command", "outcome"]
)


def _count(command: Message, plan: Plan) -> None:
    DECISIONS.labels(command.message_type, plan.outcome).inc()
    log.debug("decided", outcome=plan.outcome, answers=len(plan.answers))


async def _answer(
    replies: ScheduledReplies, events: str, command: Message, delivery: Delivery, plan: Plan
) -> None:
    """Count the decision and schedule its answers under a timer named after the command."""
    _count(command, plan)
    timer = f"{command.message_type}:{delivery.envelope.id}"
    await replies.send(timer, delivery.envelope, events, plan.answers)


def payment_router(streams: Streams, gateway: PaymentGateway, replies: ScheduledReplies) -> Router:
    router = Router()
    commands, events = streams.payments_commands, streams.payments_events

    @router.subscriber(commands, AuthorizePayment)
    async def authorize(command: AuthorizePayment, delivery: Delivery) -> None:
        await _answer(replies, events, command, delivery, gateway.authorize(command))

    async def settle(
        command: VoidPayment | RefundPayment | CapturePayment, delivery: Delivery
    ) -> None:
        plan = gateway.settle(command.order_id, command.message_type.removeprefix("payment."))
        await _answer(replies, events, command, delivery, plan)

    router.add(commands, VoidPayment, settle)
    router.add(commands, RefundPayment, settle)
    router.add(commands, CapturePayment, settle)
    return router


def kitchen_router(streams: Streams, kitchen: Kitchen, replies: ScheduledReplies) -> Router:
    router = Router()
    commands, events = streams.kitchen_commands, streams.kitchen_events

    def ticket(order_id: str) -> str:
        return f"kitchen.ticket:{order_id}"

    @router.subscriber(commands, PrepareOrder)
    async def prepare(command: PrepareOrder, delivery: Delivery) -> None:
        if await replies.is_cancelled(ticket(command.order_id)):
            log.info("ticket already cancelled, not cooking")
            return
        plan = kitchen.prepare(command)
        _count(command, plan)
        await replies.send(ticket(command.order_id), delivery.envelope, events, plan.answers)

    @router.subscriber(commands, CancelTicket)
    async def cancel(command: CancelTicket, delivery: Delivery) -> None:
        await replies.cancel(ticket(command.order_id))
        DECISIONS.labels(command.message_type, "cancelled").inc()

    return router


def courier_router(streams: Streams, couriers: Couriers, replies: ScheduledReplies) -> Router:
    router = Router()
    commands, events = streams.couriers_commands, streams.couriers_events

    @router.subscriber(commands, DispatchCourier)
    async def dispatch(command: DispatchCourier, delivery: Delivery) -> None:
        await _answer(replies, events, command, delivery, couriers.dispatch(command))

    return router
