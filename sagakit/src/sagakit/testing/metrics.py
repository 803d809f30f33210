"""Reading this process's Prometheus metrics in tests."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The current value of metric sample `name` with exactly these labels (0 if never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def deleted_pending_acked(stream: str, group: str) -> float:
    return sample("sagakit_deleted_pending_acked_total", stream=stream, group=group)
