"""Settings of the notifications service (environment variables, e.g. HEARTBEAT_S=15)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationsSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # Every tracking socket gets a heartbeat this often and re-checks the order's head in the
    # database then, which repairs a status lost on the pub/sub fan-out.
    heartbeat_s: float = Field(15.0, gt=0)
    # Statuses waiting to be sent to one socket; a client that lets more pile up is dropped.
    ws_queue_size: int = Field(64, ge=1, le=10_000)
    # How long closing a socket may take before it is abandoned (a stalled client).
    ws_close_timeout_s: float = Field(2.0, gt=0)
    ops_tick_s: float = Field(1.0, gt=0)
    max_body_bytes: int = Field(16 * 1024, ge=1024)
    # The reconciler asks orders for statuses that never arrived: every reconcile_interval_s,
    # for orders with a version waiting longer than reconcile_waiting_s or a non-terminal head
    # unchanged for reconcile_stale_s; at most reconcile_batch per pass, each order at most
    # once per reconcile_repeat_s.
    reconcile_interval_s: float = Field(10.0, gt=0)
    reconcile_waiting_s: float = Field(5.0, ge=0)
    reconcile_stale_s: float = Field(120.0, ge=0)
    reconcile_repeat_s: float = Field(30.0, ge=0)
    reconcile_batch: int = Field(300, ge=1, le=10_000)
