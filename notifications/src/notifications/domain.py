"""The rules of the live view, free of I/O.

Three questions decide what a customer sees:

- which stored versions of an order become visible (the *head* advances only to the next
  version, then through every consecutive version already stored),
- what the first write for an arriving version should be, given the head this process last
  saw (nothing, create the order's document, or store and apply it in one guarded write), and
- what a WebSocket sends next, given what it has sent and a version it hears about (send it,
  skip it, or first fetch the versions in between from the timeline).

Together they guarantee that a socket sends versions strictly increasing by one from `since + 1`,
whatever order, duplication or loss the transport produces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

ORDER_ID = re.compile(r"[0-9a-f]{32}")
MAX_SINCE = 1_000_000_000


def is_order_id(value: str) -> bool:
    """Orders are identified by uuid4 hex: 32 lowercase hex characters."""
    return ORDER_ID.fullmatch(value) is not None


def parse_since(raw: str | None) -> int | None:
    """The `since` query parameter: a version >= 0 (absent means 0); None when malformed."""
    if raw is None or raw == "":
        return 0
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if value <= MAX_SINCE else None


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One applied status of an order: what the timeline stores and sockets send."""

    order_id: str
    version: int
    status: str
    reason: str | None
    at: str  # ISO-8601, for display


def consecutive_after(head: int, stored: Iterable[int]) -> list[int]:
    """The versions that become visible when the head is at `head`: head+1, head+2, ... for as
    long as each is stored. Empty when head+1 is not stored yet (an early version waits)."""
    available = set(stored)
    visible: list[int] = []
    nxt = head + 1
    while nxt in available:
        visible.append(nxt)
        nxt += 1
    return visible


class FirstWrite(Enum):
    NONE = "none"  # the head was seen at or past it: stored and applied already
    CREATE = "create"  # version 1 of an order not seen here: create its document
    APPLY = "apply"  # presume the head is at version - 1: store and apply in one guarded write


def first_write(version: int, known_head: int | None) -> FirstWrite:
    """The first write for `version` when this process last saw the head at `known_head`.

    Heads never go back, so a version at or below a head once seen is applied (and stored)
    already. Otherwise the presumption is that events arrive in order: the guard of the write
    checks it, and a miss falls back to storing the version and re-reading the head. A head seen
    further back is no reason to doubt it: another replica may have moved it since.
    """
    if known_head is not None and version <= known_head:
        return FirstWrite.NONE
    if version == 1 and known_head is None:
        return FirstWrite.CREATE
    return FirstWrite.APPLY


class Step(Enum):
    SKIP = "skip"  # already sent (a duplicate, a stale or replayed version)
    SEND = "send"  # exactly the next version
    FETCH = "fetch"  # a gap: read the missing versions from the timeline first


@dataclass
class Sequencer:
    """What one socket sends: versions strictly increasing by one after `last_sent`."""

    last_sent: int

    def step(self, version: int) -> Step:
        if version <= self.last_sent:
            return Step.SKIP
        if version == self.last_sent + 1:
            return Step.SEND
        return Step.FETCH

    def accept(self, entries: Sequence[StatusEntry]) -> list[StatusEntry]:
        """The entries to send now, in order: the consecutive run after `last_sent` (duplicates
        and anything after a gap are left out), marking them as sent."""
        by_version = {e.version: e for e in entries}
        to_send: list[StatusEntry] = []
        while (entry := by_version.get(self.last_sent + 1)) is not None:
            to_send.append(entry)
            self.last_sent = entry.version
        return to_send
