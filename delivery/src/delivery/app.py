"""Wiring: the delivery service's runtime (consumer, deadlines, assigner, janitor, outbox
sweeper) and its HTTP app. `uvicorn --factory delivery.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from delivery.api import operator_router
from delivery.assignment import Assigner
from delivery.flow import DeliveryFlow
from delivery.handlers import DeliveryHandlers
from delivery.janitor import FleetJanitor
from delivery.settings import DeliverySettings
from delivery.store import Deliveries, Fleet
from saga_contracts.secrets import Secrets
from saga_contracts.topology import Groups, Streams
from sagakit.deadlines import DeadlineScheduler
from sagakit.lifecycle import Periodic
from sagakit.logs import configure_logging
from sagakit.service import ServiceRuntime
from sagakit.settings import ConnectionSettings, WorkerSettings
from sagakit.web import ServiceApp, install_common

SERVICE = "delivery"


def build_service(
    settings: DeliverySettings | None = None,
    connections: ConnectionSettings | None = None,
    worker_settings: WorkerSettings | None = None,
    secrets: Secrets | None = None,
) -> ServiceApp:
    settings = settings or DeliverySettings()
    connections = connections or ConnectionSettings()
    secrets = secrets or Secrets()  # read from the environment
    runtime = ServiceRuntime(SERVICE, connections, worker_settings)
    streams = Streams(connections.stream_prefix)

    deliveries = Deliveries(runtime.db["deliveries"], runtime.publisher)
    fleet = Fleet(runtime.db["couriers"])
    flow = DeliveryFlow(deliveries, fleet, streams)
    assigner = Assigner(deliveries, fleet, flow, interval_s=settings.assign_interval_s)
    janitor = FleetJanitor(deliveries, fleet, assigner, grace_s=settings.stranded_courier_grace_s)
    handlers = DeliveryHandlers(
        deliveries, flow, assigner, no_courier_timeout_s=settings.no_courier_timeout_s
    )
    deadlines = DeadlineScheduler(
        deliveries.collection,
        handlers.on_deadline,
        poll_interval_s=settings.deadline_poll_interval_s,
        health=runtime.health,
    )

    async def seed_fleet() -> None:
        await fleet.seed(settings.courier_fleet_size)

    async def sweep_outbox() -> int:
        return await deliveries.sweep_outbox(settings.outbox_sweep_after_s)

    runtime.on_startup(deliveries.ensure_indexes)
    runtime.on_startup(deadlines.ensure_indexes)
    runtime.on_startup(fleet.ensure_indexes)
    runtime.on_startup(seed_fleet)
    # Added before the consumer so it stops after it: handlers may still poke it while stopping.
    runtime.add(assigner)
    runtime.add(
        Periodic("delivery:fleet-janitor", janitor.reconcile, settings.fleet_janitor_interval_s)
    )
    runtime.add(Periodic("delivery:outbox-sweep", sweep_outbox, settings.outbox_sweep_interval_s))
    runtime.add(deadlines)
    runtime.consume(
        handlers.router(streams), group=Groups.DELIVERY, required_groups=streams.readers()
    )

    app = FastAPI(title="orders-saga delivery")
    app.state.deliveries = deliveries
    app.state.fleet = fleet
    app.include_router(operator_router(lambda: secrets.operator_api_key.get_secret_value()))
    install_common(
        app, service=SERVICE, health=runtime.health, max_body_bytes=settings.max_body_bytes
    )
    return ServiceApp(runtime, app)


def create_app() -> FastAPI:
    """For uvicorn, as the pods run it: `uvicorn --factory delivery.app:create_app`."""
    connections = ConnectionSettings()
    configure_logging(json=connections.log_json)  # LOG_JSON
    return build_service(connections=connections).asgi()
