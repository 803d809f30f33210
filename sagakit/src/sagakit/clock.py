"""Time as stored in documents for queries: integer epoch milliseconds.

Fields that are range-queried (`outbox_since`, `deadline_at`) hold epoch milliseconds, which
compare the same on every server; the embedded server stores a datetime written by `$set`
as a string, where a range query no longer matches it (see the MongoDB contract test).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)
