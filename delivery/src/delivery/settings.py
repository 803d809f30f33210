"""Delivery service settings, read from the environment (prefix-free names)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeliverySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    courier_fleet_size: int = Field(10, ge=0, le=10_000)
    # A delivery still waiting for a courier this long after its request ends `no_courier`.
    no_courier_timeout_s: float = Field(30.0, gt=0)
    # Fallback sweep that gives free couriers to waiting deliveries (a release also triggers it
    # while couriers may be short).
    # A fallback: every courier release starts a pass at once (assignment.py).
    assign_interval_s: float = Field(5.0, gt=0)
    # Frees couriers stranded by a crash (held for an ended delivery) and finishes assignments
    # a crash interrupted (courier claimed, delivery not yet written).
    fleet_janitor_interval_s: float = Field(5.0, gt=0)
    # How long a claim, and a delivery's last change, are left alone before the janitor acts.
    stranded_courier_grace_s: float = Field(10.0, ge=0)
    deadline_poll_interval_s: float = Field(0.2, gt=0)
    outbox_sweep_interval_s: float = Field(2.0, gt=0)
    outbox_sweep_after_s: float = Field(5.0, gt=0)
    max_body_bytes: int = Field(16 * 1024, ge=1024)
