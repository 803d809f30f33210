"""Wiring of the orders service: stores, saga, consumers, deadlines, sweepers, admission control,
HTTP routes."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from orders.api import OrdersContext, customer_router, operator_router
from orders.handlers import republish_router, saga_router, stock_router
from orders.menu import DEFAULT_MENU, DEFAULT_STOCK
from orders.placement import OrderPlacement
from orders.refill import StockRefill
from orders.saga import Saga
from orders.settings import OrdersSettings
from orders.stock import ReservationJanitor
from orders.store import IdempotencyStore, MenuStore
from saga_contracts.secrets import Secrets
from saga_contracts.topology import Groups, Streams
from sagakit.admission import AdmissionControl, AdmissionGate, BacklogProbe
from sagakit.deadlines import DeadlineScheduler
from sagakit.lifecycle import Periodic
from sagakit.logs import configure_logging, get_logger
from sagakit.outbox import DocumentStore
from sagakit.service import ServiceRuntime
from sagakit.settings import ConnectionSettings, WorkerSettings
from sagakit.web import ServiceApp, install_common

log = get_logger("orders")


def saga_groups(streams: Streams) -> dict[str, list[str]]:
    """The consumer groups whose backlog delays orders: the orders service's own and the
    participants' on every stream. Not notifications (the read side: its lag does not hold
    an order back, and its outage must not stop orders being taken)."""
    return {
        stream: [group for group in groups if group != Groups.NOTIFICATIONS]
        for stream, groups in streams.readers().items()
    }


def admission_control(
    settings: OrdersSettings, runtime: ServiceRuntime, streams: Streams
) -> AdmissionControl:
    interval_s = settings.admission_sample_interval_s
    return AdmissionControl(
        "orders",
        BacklogProbe.connect(runtime.connections.redis_url, saga_groups(streams)),
        AdmissionGate(
            settings.admission_max_backlog,
            resume_ratio=settings.admission_resume_ratio,
            # a few missed samples keep the decision; then it expires (admit)
            stale_after_s=max(2.0, 8 * interval_s),
        ),
        interval_s=interval_s,
        retry_after_s=settings.admission_retry_after_s,
        max_in_flight=settings.admission_max_in_flight,
        max_wait_s=settings.admission_max_wait_s,
    )


def build_service(
    settings: OrdersSettings | None = None,
    connections: ConnectionSettings | None = None,
    worker_settings: WorkerSettings | None = None,
    secrets: Secrets | None = None,
) -> ServiceApp:
    settings = settings or OrdersSettings()
    connections = connections or ConnectionSettings()
    secrets = secrets or Secrets()
    runtime = ServiceRuntime("orders", connections, worker_settings)
    streams = Streams(connections.stream_prefix)

    orders = DocumentStore(runtime.db.orders, runtime.publisher)
    refill_runs = DocumentStore(runtime.db.refill_runs, runtime.publisher)
    menu = MenuStore(runtime.db.menu_items)
    keys = IdempotencyStore(runtime.db.idempotency_keys)
    saga = Saga(orders, streams, settings)
    placement = OrderPlacement(
        menu=menu,
        orders=orders,
        keys=keys,
        saga=saga,
        streams=streams,
        settings=settings,
        tracking_secret=secrets.tracking_secret.get_secret_value(),
    )
    reservations = ReservationJanitor(menu, runtime.db.orders, grace_s=settings.reservation_grace_s)
    deadlines = DeadlineScheduler(
        runtime.db.orders,
        saga.on_deadline,
        poll_interval_s=settings.deadline_poll_s,
        health=runtime.health,
    )

    async def prepare_database() -> None:
        await orders.ensure_indexes()
        await refill_runs.ensure_indexes()
        await deadlines.ensure_indexes()
        await menu.ensure_indexes()
        await keys.ensure_indexes()
        if settings.seed_menu:
            added = await menu.seed(DEFAULT_MENU, DEFAULT_STOCK)
            if added:
                log.info("seeded the default menu", items=added)

    async def sweep_outboxes() -> None:
        for store in (orders, refill_runs):
            await store.relay.sweep(older_than=timedelta(seconds=settings.outbox_sweep_age_s))

    runtime.on_startup(prepare_database)
    runtime.consume(
        saga_router(saga, streams), group=Groups.ORDERS, required_groups=streams.readers()
    )
    runtime.consume(
        stock_router(saga, menu, streams),
        group=Groups.ORDERS_STOCK,
        required_groups=streams.readers(),
    )
    runtime.consume(
        republish_router(saga, runtime.publisher, streams),
        group=Groups.ORDERS_REPUBLISH,
        required_groups=streams.readers(),
    )
    runtime.add(deadlines)
    admission = admission_control(settings, runtime, streams)
    runtime.add(admission)
    runtime.add(Periodic("orders:outbox-sweep", sweep_outboxes, settings.outbox_sweep_interval_s))
    runtime.add(
        Periodic(
            "orders:old-idempotency-keys",
            lambda: keys.forget_older_than(int(settings.idempotency_retention_s * 1000)),
            settings.idempotency_cleanup_interval_s,
        )
    )
    runtime.add(
        Periodic(
            "orders:stale-reservations",
            reservations.run_once,
            settings.reservation_grace_s / 2,
        )
    )

    app = FastAPI(title="orders-saga: orders", version="0.1.0")
    app.state.orders = OrdersContext(
        placement=placement,
        saga=saga,
        menu=menu,
        refill=StockRefill(menu, refill_runs, streams),
        tracking_secret=secrets.tracking_secret.get_secret_value(),
    )
    app.state.admission = admission
    app.include_router(customer_router(admission))
    app.include_router(operator_router(secrets.operator_api_key.get_secret_value()))
    install_common(
        app, service="orders", health=runtime.health, max_body_bytes=settings.max_body_bytes
    )
    return ServiceApp(runtime, app)


def create_app() -> FastAPI:
    """For uvicorn, as the pods run it: `uvicorn --factory orders.app:create_app`."""
    connections = ConnectionSettings()
    configure_logging(json=connections.log_json)  # LOG_JSON
    return build_service(connections=connections).asgi()
