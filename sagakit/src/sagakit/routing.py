"""Routing stream messages to typed handlers.

    router = Router()

    @router.subscriber("payments.events", PaymentAuthorized)
    async def on_authorized(event: PaymentAuthorized, delivery: Delivery) -> None: ...

A message type with no handler on a subscribed stream is acknowledged and skipped (streams
carry several types; a service subscribes to the ones it cares about). A payload that does not
fit its model is a poison message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sagakit.envelope import Envelope, Message

M = TypeVar("M", bound=Message)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of a stream entry to this consumer."""

    stream: str
    entry_id: str
    envelope: Envelope
    fields: Mapping[str, str]
    attempt: int = 1
    # Set while the message waits for the one it follows (see sagakit.early).
    early_since: float | None = None  # monotonic time of its first early arrival
    early_waits: int = 0


TypedHandler = Callable[[M, Delivery], Awaitable[None]]
_Bound = Callable[[Delivery], Awaitable[None]]


class Router:
    """Maps (stream, message type) to the handler that consumes it."""

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, _Bound]] = {}

    @property
    def streams(self) -> list[str]:
        return list(self._routes)

    def types_on(self, stream: str) -> list[str]:
        return list(self._routes.get(stream, {}))

    def subscriber(
        self, stream: str, model: type[M]
    ) -> Callable[[TypedHandler[M]], TypedHandler[M]]:
        def register(handler: TypedHandler[M]) -> TypedHandler[M]:
            self.add(stream, model, handler)
            return handler

        return register

    def add(self, stream: str, model: type[M], handler: TypedHandler[M]) -> None:
        routes = self._routes.setdefault(stream, {})
        if model.message_type in routes:
            raise ValueError(f"{model.message_type} on {stream} already has a handler")

        async def bound(delivery: Delivery) -> None:
            await handler(model.from_envelope(delivery.envelope), delivery)

        routes[model.message_type] = bound

    def add_raw(self, stream: str, message_type: str, handler: _Bound) -> None:
        """Register a handler that takes the delivery as it is (tooling, generic consumers)."""
        routes = self._routes.setdefault(stream, {})
        if message_type in routes:
            raise ValueError(f"{message_type} on {stream} already has a handler")
        routes[message_type] = handler

    def include(self, other: Router) -> None:
        for stream, routes in other._routes.items():
            for message_type, handler in routes.items():
                self.add_raw(stream, message_type, handler)

    def handler_for(self, stream: str, message_type: str) -> _Bound | None:
        return self._routes.get(stream, {}).get(message_type)


def describe(router: Router) -> dict[str, Any]:
    """The subscriptions as data, for docs and the ops view."""
    return {stream: router.types_on(stream) for stream in router.streams}
