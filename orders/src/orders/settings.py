"""Settings of the orders service (environment variables, e.g. PAYMENT_TIMEOUT_S=30)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orders.domain import DEADLINE_STEP
from saga_contracts.messages import OrderStatus


class OrdersSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # How long each saga step may take before the order is cancelled (DESIGN.md §4).
    payment_timeout_s: float = Field(30.0, gt=0)
    kitchen_accept_timeout_s: float = Field(30.0, gt=0)
    kitchen_ready_timeout_s: float = Field(120.0, gt=0)
    courier_assign_timeout_s: float = Field(60.0, gt=0)
    pickup_timeout_s: float = Field(120.0, gt=0)
    delivery_timeout_s: float = Field(300.0, gt=0)

    seed_menu: bool = True
    max_body_bytes: int = Field(16 * 1024, ge=1024)
    idempotency_in_flight_s: float = Field(30.0, gt=0)
    # Idempotency-Key records are kept this long, checked every cleanup interval.
    idempotency_retention_s: float = Field(24 * 3600.0, gt=0)
    idempotency_cleanup_interval_s: float = Field(600.0, gt=0)
    deadline_poll_s: float = Field(0.2, gt=0)
    outbox_sweep_interval_s: float = Field(2.0, gt=0)
    outbox_sweep_age_s: float = Field(5.0, ge=0)
    reservation_grace_s: float = Field(60.0, gt=0)

    # Admission control (docs/ARCHITECTURE.md, "Overload protection"): POST /api/orders answers
    # 503 while the saga's consumer groups have more than ADMISSION_MAX_BACKLOG entries to
    # finish (lag + pending; 0 = never shed), until the backlog is back to RESUME_RATIO of it.
    admission_max_backlog: int = Field(1000, ge=0)
    # ...and while ADMISSION_MAX_IN_FLIGHT placements are being handled here and the oldest has
    # waited over ADMISSION_MAX_WAIT_S (0 = no limit): past capacity the requests queue in
    # front of the handlers, not in the streams.
    admission_max_in_flight: int = Field(32, ge=0)
    admission_max_wait_s: float = Field(0.5, ge=0)
    admission_resume_ratio: float = Field(0.8, ge=0, lt=1)
    admission_sample_interval_s: float = Field(0.25, gt=0)
    admission_retry_after_s: int = Field(1, ge=1, le=3600)

    def timeout_ms(self, status: OrderStatus) -> int | None:
        step = DEADLINE_STEP.get(status)
        if step is None:
            return None
        seconds: float = getattr(self, f"{step}_timeout_s")
        return int(seconds * 1000)
