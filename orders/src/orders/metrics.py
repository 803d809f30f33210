"""Saga metrics of the orders service: how orders end, and how long they take."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SAGA_OUTCOMES = Counter(
    "orders_saga_outcomes_total", "Orders that reached a terminal status", ["status", "reason"]
)
SAGA_DURATION = Histogram(
    "orders_saga_duration_seconds",
    "From placing an order to its terminal status",
    ["status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
SAGA_TRANSITIONS = Counter(
    "orders_saga_transitions_total", "Status changes applied by the saga", ["status"]
)
