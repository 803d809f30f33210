"""Prometheus metrics of the live view (no ids in labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

TRACKING_SOCKETS = Gauge(
    "notifications_tracking_sockets", "Open order-tracking WebSockets on this replica"
)
STATUSES_SENT = Counter(
    "notifications_statuses_sent_total", "Status messages sent to tracking WebSockets"
)
GAPS_FILLED = Counter(
    "notifications_gaps_filled_total",
    "Statuses a socket read from the timeline because the fan-out skipped them",
)
SLOW_CLIENTS_DROPPED = Counter(
    "notifications_slow_clients_dropped_total",
    "Tracking WebSockets closed because their send queue overflowed",
)
FEED_MESSAGES = Counter(
    "notifications_feed_messages_total", "Status messages received from the pub/sub fan-out"
)
FEED_RECONNECTS = Counter(
    "notifications_feed_reconnects_total", "Times the pub/sub fan-out subscription was (re)made"
)
