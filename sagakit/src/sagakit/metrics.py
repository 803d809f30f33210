"""Prometheus metrics of the runtime. Labels are bounded: stream, group, message type, reason,
service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PROCESSED = Counter(
    "sagakit_messages_processed_total", "Messages handled successfully", ["stream", "group", "type"]
)
FAILED = Counter(
    "sagakit_messages_failed_total",
    "Handler attempts that raised or timed out",
    ["stream", "group", "type"],
)
RETRIED = Counter(
    "sagakit_messages_retried_total", "Messages re-claimed for another attempt", ["stream", "group"]
)
ARRIVED_EARLY = Counter(
    "sagakit_messages_arrived_early_total",
    "Messages put back because they arrived ahead of the message they follow",
    ["stream", "group"],
)
DEAD_LETTERED = Counter(
    "sagakit_messages_dead_lettered_total",
    "Messages moved to the dead-letter stream",
    ["stream", "group", "reason"],
)
CLAIMED = Counter(
    "sagakit_messages_claimed_total",
    "Idle messages claimed from other consumers",
    ["stream", "group"],
)
HANDLER_SECONDS = Histogram(
    "sagakit_handler_seconds",
    "Handler latency",
    ["stream", "group"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
LAG = Gauge("sagakit_consumer_lag", "Entries not yet delivered to the group", ["stream", "group"])
PENDING = Gauge(
    "sagakit_consumer_pending", "Entries delivered but not acknowledged", ["stream", "group"]
)
PUBLISHED = Counter("sagakit_messages_published_total", "Messages appended to streams", ["stream"])
OUTBOX_SWEPT = Counter(
    "sagakit_outbox_swept_total", "Outbox entries republished by the sweeper", ["collection"]
)
WRITE_BATCH_SIZE = Histogram(
    "sagakit_mongo_write_batch_size",
    "Single-document writes sent together in one round trip by a write coalescer",
    ["collection"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
DEADLINES_FIRED = Counter("sagakit_deadlines_fired_total", "Deadlines fired", ["collection"])
ADMISSION_BACKLOG = Gauge(
    "sagakit_admission_backlog",
    "Entries the watched consumer groups have yet to finish (lag + pending), last sample",
    ["service"],
)
ADMISSION_SHEDDING = Gauge(
    "sagakit_admission_shedding", "1 while new work is refused because of the backlog", ["service"]
)
ADMISSION_SHED = Counter(
    "sagakit_admission_shed_total",
    "Requests refused (503 overloaded), by reason: backlog or in_flight",
    ["service", "reason"],
)
ADMISSION_IN_FLIGHT = Gauge(
    "sagakit_admission_in_flight", "Admitted requests not yet answered", ["service"]
)
DELETED_PENDING_ACKED = Counter(
    "sagakit_deleted_pending_acked_total",
    "Pending entries found deleted from the stream (trimmed or XDELed) and acknowledged",
    ["stream", "group"],
)
