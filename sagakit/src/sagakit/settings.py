"""Runtime settings, read from the environment (prefix-free names, as containers set them)."""

from __future__ import annotations

import os
import socket

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_consumer_name() -> str:
    """Stable across restarts of the same pod: Kubernetes sets POD_NAME (or HOSTNAME)."""
    return os.environ.get("POD_NAME") or socket.gethostname()


class WorkerSettings(BaseSettings):
    """How a consumer-group worker reads, retries, recovers and trims."""

    model_config = SettingsConfigDict(env_prefix="STREAMS_", extra="ignore")

    batch_size: int = Field(200, ge=1, le=10_000)
    # An idle consumer wakes once per BLOCK: 5 s keeps an idle Pi quiet; new entries are
    # delivered at once whatever it is (the read returns as soon as one arrives).
    block_ms: int = Field(5_000, ge=1)
    max_in_flight: int = Field(256, ge=1)
    handler_timeout_s: float = Field(10.0, gt=0)
    claim_idle_ms: int = Field(30_000, ge=1)
    claim_interval_s: float = Field(5.0, gt=0)
    claim_batch: int = Field(100, ge=1)
    max_deliveries: int = Field(5, ge=1)
    # How long a message that arrived ahead of its predecessor waits for it (sagakit.early):
    # longer than claim recovery takes to bring back a predecessor a crashed replica held.
    early_wait_s: float = Field(90.0, gt=0)
    retry_base_s: float = Field(0.1, gt=0)
    retry_cap_s: float = Field(5.0, gt=0)
    reconnect_base_s: float = Field(0.2, gt=0)
    reconnect_cap_s: float = Field(5.0, gt=0)
    trim_interval_s: float = Field(30.0, gt=0)
    trim_exact: bool = False
    consumer_cleanup_idle_ms: int = Field(3_600_000, ge=1)
    maintenance_interval_s: float = Field(60.0, gt=0)
    # Dead letters are kept this long (by their entry id, against Redis' clock) and at most
    # this many per stream; trimmed every maintenance interval.
    dlq_max_age_s: float = Field(7 * 24 * 3600.0, gt=0)
    dlq_max_len: int = Field(100_000, ge=1)
    shutdown_timeout_s: float = Field(7.0, gt=0)
    # A dependency that does not answer a ping within this counts as unreachable: a handler's
    # failure meanwhile is waited out instead of counted (dependencies.py).
    dependency_ping_timeout_s: float = Field(2.0, gt=0)
    # At most one logged traceback per (stream, exception type, location) per interval.
    traceback_interval_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _claim_after_timeout(self) -> WorkerSettings:
        # A message still being handled (or waiting out its retry delay) must not be claimed by
        # another consumer, so the idle threshold must exceed both.
        longest_busy_ms = (self.handler_timeout_s + self.retry_cap_s) * 1000
        if self.claim_idle_ms <= longest_busy_ms:
            raise ValueError(
                f"claim_idle_ms ({self.claim_idle_ms}) must exceed handler_timeout_s + "
                f"retry_cap_s ({longest_busy_ms:.0f} ms)"
            )
        if self.claim_interval_s * 1000 * 2 >= self.claim_idle_ms:
            # the claim loop renews the entries this worker holds; it must run at least twice
            # per idle threshold so a held entry never looks abandoned to other consumers
            raise ValueError(
                f"claim_interval_s ({self.claim_interval_s}) must be under half of "
                f"claim_idle_ms ({self.claim_idle_ms} ms)"
            )
        return self

    def socket_timeout_s(self) -> float:
        """The blocking read's socket timeout: comfortably longer than BLOCK."""
        return self.block_ms / 1000 + 5.0


class ConnectionSettings(BaseSettings):
    """Where Redis and MongoDB are, and who this process is."""

    model_config = SettingsConfigDict(extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_db: str = "orders_saga"
    consumer_name: str = Field(default_factory=default_consumer_name)
    stream_prefix: str = ""
    log_json: bool | None = None
