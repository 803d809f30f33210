"""Stream and consumer-group names. Commands to a participant go on `<participant>.commands`,
facts on `<service>.events`. A prefix namespaces a whole deployment (tests share one Redis)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Streams:
    prefix: str = ""

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def orders_events(self) -> str:
        return self._name("orders.events")

    @property
    def orders_commands(self) -> str:
        return self._name("orders.commands")

    @property
    def payments_commands(self) -> str:
        return self._name("payments.commands")

    @property
    def payments_events(self) -> str:
        return self._name("payments.events")

    @property
    def kitchen_commands(self) -> str:
        return self._name("kitchen.commands")

    @property
    def kitchen_events(self) -> str:
        return self._name("kitchen.events")

    @property
    def delivery_commands(self) -> str:
        return self._name("delivery.commands")

    @property
    def delivery_events(self) -> str:
        return self._name("delivery.events")

    @property
    def couriers_commands(self) -> str:
        return self._name("couriers.commands")

    @property
    def couriers_events(self) -> str:
        return self._name("couriers.events")

    def all(self) -> list[str]:
        return [
            self.orders_events,
            self.orders_commands,
            self.payments_commands,
            self.payments_events,
            self.kitchen_commands,
            self.kitchen_events,
            self.delivery_commands,
            self.delivery_events,
            self.couriers_commands,
            self.couriers_events,
        ]

    def readers(self) -> dict[str, list[str]]:
        """Every stream and the consumer groups that read it."""
        return {
            self.orders_events: [Groups.NOTIFICATIONS, Groups.ORDERS_STOCK],
            self.orders_commands: [Groups.ORDERS_REPUBLISH],
            self.payments_commands: [Groups.PAYMENTS],
            self.payments_events: [Groups.ORDERS],
            self.kitchen_commands: [Groups.KITCHEN],
            self.kitchen_events: [Groups.ORDERS],
            self.delivery_commands: [Groups.DELIVERY],
            self.delivery_events: [Groups.ORDERS],
            self.couriers_commands: [Groups.COURIERS],
            self.couriers_events: [Groups.DELIVERY],
        }


class Groups:
    ORDERS = "orders"  # the saga orchestrator
    ORDERS_STOCK = "orders-stock"  # returns or settles stock when an order ends
    ORDERS_REPUBLISH = "orders-republish"  # publishes an order's recorded statuses again
    DELIVERY = "delivery"
    NOTIFICATIONS = "notifications"
    PAYMENTS = "payments"  # the simulator's payment gateway
    KITCHEN = "kitchen"  # the simulator's kitchen
    COURIERS = "couriers"  # the simulator's courier actors
