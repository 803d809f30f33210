"""What the run learned about each order, and the error counters.

Times are seconds since the run's start on the generator's monotonic clock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from simulator.load.contents import OrderContents
from simulator.load.invariants import TERMINAL, VersionSequence


class Placement(StrEnum):
    PENDING = "pending"  # not sent yet
    ACCEPTED = "accepted"  # 201
    REJECTED = "rejected"  # 409 out_of_stock: the system said no, correctly
    SHED = "shed"  # 503 overloaded: refused before anything was written (admission control)
    FAILED = "failed"  # an answer that is neither (e.g. 422)
    UNKNOWN = "unknown"  # no answer despite retries: it may or may not exist


@dataclass(frozen=True, slots=True)
class Observation:
    status: str
    reason: str | None
    at: float  # when the generator received it


@dataclass(slots=True)
class OrderRecord:
    n: int
    scheduled: float
    contents: OrderContents
    tracked: bool  # followed over a WebSocket (else only its final view is read)
    sent: float | None = None  # the first attempt was issued
    responded: float | None = None  # the final answer to the POST arrived
    placement: Placement = Placement.PENDING
    detail: str = ""  # why rejected / failed / unknown
    order_id: str | None = None
    token: str | None = None
    # by version, what the order's WebSockets delivered
    observed: dict[int, Observation] = field(default_factory=dict)
    sequence: VersionSequence = field(default_factory=VersionSequence)
    socket_given_up: bool = False
    # GET /api/tracking/{id}: polled while draining (untracked orders) and read at the end
    view: dict[str, Any] | None = None
    view_terminal_at: float | None = None

    @property
    def accepted(self) -> bool:
        return self.placement is Placement.ACCEPTED

    def observe(self, version: int, status: str, reason: str | None, at: float) -> None:
        if self.sequence.observe(version):
            self.observed[version] = Observation(status, reason, at)

    @property
    def socket_terminal(self) -> Observation | None:
        for observation in self.observed.values():
            if observation.status in TERMINAL:
                return observation
        return None

    def note_view(self, view: dict[str, Any], at: float) -> None:
        """A tracking view read at `at`. For an order not followed live, its terminal time is
        estimated from the timeline's own timestamps (terminal - placed, after the POST's
        answer), so `completed/s` does not depend on when the view happened to be read."""
        self.view = view
        if self.view_terminal_at is None and view.get("status") in TERMINAL:
            took = _placed_to_terminal_s(view.get("timeline", []))
            if took is None or self.responded is None:
                self.view_terminal_at = at
            else:
                self.view_terminal_at = min(at, self.responded + took)

    @property
    def terminal_at(self) -> float | None:
        """When the generator first knew the order was terminal (socket, else a poll)."""
        seen = self.socket_terminal
        return seen.at if seen is not None else self.view_terminal_at

    @property
    def final_status(self) -> str | None:
        if self.view is not None:
            return str(self.view["status"])
        seen = self.socket_terminal
        return seen.status if seen is not None else None

    @property
    def final_reason(self) -> str | None:
        if self.view is not None:
            reason = self.view.get("reason")
            return str(reason) if reason else None
        seen = self.socket_terminal
        return seen.reason if seen is not None else None

    def reached(self, status: str) -> bool:
        if self.view is not None:
            return any(entry["status"] == status for entry in self.view.get("timeline", []))
        return any(observation.status == status for observation in self.observed.values())


def _placed_to_terminal_s(timeline: list[dict[str, Any]]) -> float | None:
    try:
        by_status = {entry["status"]: datetime.fromisoformat(entry["at"]) for entry in timeline}
        end = by_status.get("delivered") or by_status["cancelled"]
        return max(0.0, (end - by_status["placed"]).total_seconds())
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(slots=True)
class Errors:
    http: Counter[str] = field(default_factory=Counter)
    websocket: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0  # WebSocket reconnections (with since=<last version>)
    retries: int = 0  # POSTs repeated with the same Idempotency-Key
    untracked_socket_limit: int = 0  # orders not tracked because --max-sockets were open

    def as_dict(self) -> dict[str, Any]:
        return {
            "http": dict(self.http.most_common()),
            "websocket": dict(self.websocket.most_common()),
            "websocket_reconnects": self.reconnects,
            "post_retries": self.retries,
            "untracked_socket_limit": self.untracked_socket_limit,
        }
