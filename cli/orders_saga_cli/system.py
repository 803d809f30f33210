"""The whole system in one process: every service, and one ASGI app in front of them.

Used by `orders-saga up` and by the tests and benchmarks that run the whole system.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp

from delivery.app import build_service as build_delivery
from delivery.settings import DeliverySettings
from notifications.app import build_service as build_notifications
from notifications.settings import NotificationsSettings
from orders.app import build_service as build_orders
from orders.settings import OrdersSettings
from orders_saga_cli.gateway import ROUTES, PathDispatcher, frontend_app, local_reports
from saga_contracts.secrets import Secrets
from sagakit.lifecycle import Periodic
from sagakit.settings import ConnectionSettings, WorkerSettings
from sagakit.web import ServiceApp
from simulator.actors.app import build_service as build_actors
from simulator.actors.settings import ActorSettings


@dataclass(frozen=True)
class SystemSettings:
    """Per-service settings; None reads the environment, as each service does on its own."""

    orders: OrdersSettings | None = None
    delivery: DeliverySettings | None = None
    notifications: NotificationsSettings | None = None
    actors: ActorSettings | None = None
    worker: WorkerSettings | None = None


def build_services(
    connections: ConnectionSettings, secrets: Secrets, settings: SystemSettings | None = None
) -> dict[str, ServiceApp]:
    s = settings or SystemSettings()
    return {
        "orders": build_orders(s.orders, connections, s.worker, secrets),
        "delivery": build_delivery(s.delivery, connections, s.worker, secrets),
        "notifications": build_notifications(s.notifications, connections, s.worker, secrets),
        "actors": build_actors(s.actors, connections, s.worker, secrets),
    }


def gateway(services: Mapping[str, ServiceApp], frontend_dist: Path | None = None) -> ASGIApp:
    """One app for every public path (DESIGN.md §6), plus health, metrics and the frontend."""
    return PathDispatcher(
        [(prefix, services[name].app) for name, prefixes in ROUTES.items() for prefix in prefixes],
        frontend_app(
            frontend_dist, local_reports([service.runtime.health for service in services.values()])
        ),
    )


class InProcess:
    """`up`'s default: the services and the periodic stock refill run in this process."""

    def __init__(
        self,
        connections: ConnectionSettings,
        secrets: Secrets,
        frontend_dist: Path | None,
        refill: tuple[float, int],
    ) -> None:
        self.services = build_services(connections, secrets)
        self.app = gateway(self.services, frontend_dist)
        interval_s, to = refill
        orders = self.services["orders"].app.state.orders
        self._refill = Periodic("stock-refill", lambda: orders.refill.run(to=to), interval_s)
        self._refill_on = interval_s > 0
        self._started: list[ServiceApp] = []

    async def start(self) -> None:
        for service in self.services.values():
            await service.start()
            self._started.append(service)
        if self._refill_on:
            await self._refill.start()

    async def stop(self, timeout_s: float) -> None:
        """Stop what started, in reverse order; give up waiting after `timeout_s`."""
        await self._refill.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(service.stop() for service in reversed(self._started)))
