"""Request models, response models and WebSocket messages of the notifications service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from notifications.domain import StatusEntry
from saga_contracts.messages import CancelReason, OrderStatus

StreamEntryId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}-[0-9]{1,20}$")]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---- customer side ---------------------------------------------------------------------------


class TimelineItem(_Out):
    status: OrderStatus
    version: int
    reason: CancelReason | None
    at: datetime

    @classmethod
    def of(cls, entry: StatusEntry) -> TimelineItem:
        return cls.model_validate(
            {
                "status": entry.status,
                "version": entry.version,
                "reason": entry.reason,
                "at": entry.at,
            }
        )


class TrackingView(_Out):
    order_id: str
    status: OrderStatus
    version: int
    reason: CancelReason | None
    timeline: list[TimelineItem]


class SnapshotMessage(_Out):
    type: Literal["snapshot"] = "snapshot"
    order_id: str
    # None (version 0) while this service has not yet seen the order's first status.
    status: OrderStatus | None
    version: int
    reason: CancelReason | None
    timeline: list[TimelineItem]


class StatusMessage(_Out):
    type: Literal["status"] = "status"
    order_id: str
    status: OrderStatus
    version: int
    reason: CancelReason | None
    at: datetime

    @classmethod
    def of(cls, entry: StatusEntry) -> StatusMessage:
        return cls.model_validate(
            {
                "order_id": entry.order_id,
                "status": entry.status,
                "version": entry.version,
                "reason": entry.reason,
                "at": entry.at,
            }
        )


class HeartbeatMessage(_Out):
    type: Literal["heartbeat"] = "heartbeat"
    at: datetime


# ---- operator side ---------------------------------------------------------------------------


class GroupView(_Out):
    group: str
    consumers: int
    pending: int
    lag: int | None
    last_delivered_id: str


class StreamView(_Out):
    stream: str
    length: int
    dead_letters: int
    # How old the oldest dead letter is (None: there is none), and how long and how many of
    # them are kept before the workers trim them.
    dead_letters_oldest_age_s: float | None
    dead_letters_max_age_s: float
    dead_letters_max_len: int
    groups: list[GroupView]


class DeadLetterView(_Out):
    dlq_id: str
    stream: str
    original_id: str
    group: str
    reason: str
    error: str
    deliveries: int
    at: str
    fields: dict[str, Any]
    # The exception that made the group give up: empty for a give-up without one (an
    # unparseable entry) and for entries dead-lettered before these were recorded.
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""


class DeadLetterSelection(BaseModel):
    """Which dead letters of one stream to replay or purge; all of them without `ids`."""

    model_config = ConfigDict(extra="forbid")

    stream: str = Field(min_length=1, max_length=200)
    ids: list[StreamEntryId] | None = Field(default=None, max_length=1000)


class Replayed(_Out):
    replayed: int


class Purged(_Out):
    purged: int


class HeadView(_Out):
    order_id: str
    status: OrderStatus
    version: int
    reason: CancelReason | None
    at: datetime
    updated_ms: int


class Outcomes(_Out):
    total: int
    by_status: dict[str, int]
    cancelled_by_reason: dict[str, int]


class StatsMessage(_Out):
    type: Literal["stats"] = "stats"
    at: datetime
    streams: list[StreamView]
    # stream -> group -> entries delivered per second since the previous tick (None: unknown)
    throughput: dict[str, dict[str, float | None]]
    outcomes: Outcomes


def dump(message: BaseModel) -> dict[str, Any]:
    return message.model_dump(mode="json")
