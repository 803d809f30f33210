"""Wiring of the notifications service: runtime, consumer, fan-out, routes.

uvicorn --factory notifications.app:create_app
"""

from __future__ import annotations

from fastapi import FastAPI

from notifications.api import Services, ops_feed, ops_router, tracking, unknown_stream
from notifications.fanout import StatusFeed, feed_channel
from notifications.handlers import build_router
from notifications.hub import Hub
from notifications.ops import OpsView, UnknownStream
from notifications.repair import Reconciler
from notifications.settings import NotificationsSettings
from notifications.store import HEADS, TrackingStore
from saga_contracts.secrets import Secrets
from saga_contracts.topology import Groups, Streams
from sagakit.lifecycle import Periodic
from sagakit.logs import configure_logging
from sagakit.service import ServiceRuntime
from sagakit.settings import ConnectionSettings, WorkerSettings
from sagakit.web import ServiceApp, install_common

SERVICE = "notifications"


def build_service(
    settings: NotificationsSettings | None = None,
    connections: ConnectionSettings | None = None,
    worker_settings: WorkerSettings | None = None,
    secrets: Secrets | None = None,
) -> ServiceApp:
    settings = settings or NotificationsSettings()
    connections = connections or ConnectionSettings()
    secrets = secrets or Secrets()  # read from the environment
    streams = Streams(connections.stream_prefix)

    runtime = ServiceRuntime(SERVICE, connections, worker_settings)
    store = TrackingStore(runtime.db[HEADS], runtime.publisher)
    hub = Hub()
    feed = StatusFeed(
        redis=runtime.redis,
        redis_url=connections.redis_url,
        channel=feed_channel(connections.stream_prefix),
        hub=hub,
        health=runtime.health,
    )
    runtime.on_startup(store.ensure_indexes)
    runtime.add(feed)
    reconciler = Reconciler(store, runtime.publisher, streams, settings)
    runtime.add(
        Periodic("notifications:reconcile", reconciler.run_once, settings.reconcile_interval_s)
    )
    runtime.consume(
        build_router(streams, store, feed),
        group=Groups.NOTIFICATIONS,
        required_groups=streams.readers(),
    )

    services = Services(
        store=store,
        hub=hub,
        ops=OpsView(runtime.redis, streams, runtime.dead_letters, store, runtime.worker_settings),
        settings=settings,
        secrets=secrets,
    )
    app = FastAPI(title="orders-saga notifications")
    app.state.services = services
    install_common(
        app, service=SERVICE, health=runtime.health, max_body_bytes=settings.max_body_bytes
    )
    app.include_router(tracking)
    app.include_router(ops_router(secrets))
    app.add_exception_handler(UnknownStream, unknown_stream)
    app.include_router(ops_feed)
    return ServiceApp(runtime, app)


def create_app() -> FastAPI:
    """For uvicorn, as the pods run it: `uvicorn --factory notifications.app:create_app`."""
    connections = ConnectionSettings()
    configure_logging(json=connections.log_json)  # LOG_JSON
    return build_service(connections=connections).asgi()
