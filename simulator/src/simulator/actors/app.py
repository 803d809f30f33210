"""Wiring of the actors' process: three consumer groups, the reply poller, health and metrics.

The actors are the outside world: they keep no MongoDB state (readiness does not depend on
it) and publish their replies straight to the streams with the runtime's publisher.
"""

from __future__ import annotations

from fastapi import FastAPI

from saga_contracts.secrets import Secrets
from saga_contracts.topology import Groups, Streams
from sagakit.logs import configure_logging
from sagakit.service import ServiceRuntime
from sagakit.settings import ConnectionSettings, WorkerSettings
from sagakit.web import ServiceApp, install_common
from simulator.actors.behaviour import Couriers, Kitchen, PaymentGateway
from simulator.actors.handlers import courier_router, kitchen_router, payment_router
from simulator.actors.replies import ScheduledReplies
from simulator.actors.settings import ActorSettings
from simulator.decisions import Decisions

SERVICE = "simulator"
MAX_BODY_BYTES = 16 * 1024


def build_service(
    settings: ActorSettings | None = None,
    connections: ConnectionSettings | None = None,
    worker_settings: WorkerSettings | None = None,
    secrets: Secrets | None = None,
) -> ServiceApp:
    """The actors as a service. `secrets` is accepted for a uniform signature; unused (the
    actors have no operator routes)."""
    settings = settings or ActorSettings()
    connections = connections or ConnectionSettings()
    runtime = ServiceRuntime(SERVICE, connections, worker_settings, uses_mongo=False)
    streams = Streams(connections.stream_prefix)
    replies = ScheduledReplies(
        runtime.redis,
        runtime.publisher,
        prefix=connections.stream_prefix,
        poll_interval_s=settings.sim_reply_poll_ms / 1000,
        lease_ms=settings.sim_reply_lease_ms,
        cancelled_ttl_s=settings.sim_cancelled_ttl_s,
    )
    decisions = Decisions(settings.sim_seed)
    readers = streams.readers()
    runtime.consume(
        payment_router(streams, PaymentGateway(decisions, settings), replies),
        group=Groups.PAYMENTS,
        required_groups=readers,
    )
    runtime.consume(
        kitchen_router(streams, Kitchen(decisions, settings), replies),
        group=Groups.KITCHEN,
        required_groups=readers,
    )
    runtime.consume(
        courier_router(streams, Couriers(decisions, settings), replies),
        group=Groups.COURIERS,
        required_groups=readers,
    )
    runtime.add(replies)
    app = FastAPI(title="orders-saga simulator actors")
    install_common(app, service=SERVICE, health=runtime.health, max_body_bytes=MAX_BODY_BYTES)
    return ServiceApp(runtime, app)


def create_app() -> FastAPI:
    """For uvicorn: `uvicorn --factory simulator.actors.app:create_app`."""
    connections = ConnectionSettings()
    configure_logging(json=connections.log_json)
    return build_service(connections=connections).asgi()
