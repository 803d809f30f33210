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
