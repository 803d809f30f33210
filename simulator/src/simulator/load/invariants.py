"""The run's invariants, as pure checks over what was observed.

- every accepted order reached a terminal status (delivered or cancelled);
- versions are gap-free: each order's timeline holds versions 1..n (n its current version),
  and each tracked order's WebSocket delivered versions strictly one after another, never
  skipping one and never going back (across reconnects too);
- stock is conserved: stock before - stock after == sold - refilled, per item, where sold
  counts the quantities of orders that reached `preparing` (the kitchen took the food, so it
  stays sold even if the order is cancelled later) and refilled what refill runs added during
  the run. This assumes nobody else placed orders meanwhile.

Rejected orders (409 out_of_stock) are reported, not counted as failures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_DETAILS = 100


class Kind(StrEnum):
    GAP = "gap"  # a version was skipped
    REPEAT = "repeat"  # the last version came again
    REWIND = "rewind"  # an older version came after a newer one


@dataclass(frozen=True, slots=True)
class Violation:
    kind: Kind
    expected: int
    got: int

    def __str__(self) -> str:
        return f"{self.kind}: expected version {self.expected}, got {self.got}"


@dataclass(slots=True)
class VersionSequence:
    """The versions one order's WebSockets delivered, in arrival order: each must be last + 1."""

    last: int = 0
    violations: list[Violation] = field(default_factory=list)

    def observe(self, version: int) -> bool:
        """Whether `version` is new (the next one, or after a gap, which is recorded)."""
        expected = self.last + 1
        if version == expected:
            self.last = version
            return True
        if version < expected:
            kind = Kind.REPEAT if version == self.last else Kind.REWIND
            self.violations.append(Violation(kind, expected, version))
            return False
        self.violations.append(Violation(Kind.GAP, expected, version))
        self.last = version
        return True

    def head(self, version: int) -> None:
        """A snapshot's current version, once its timeline entries were observed: the timeline
        must have reached it, and it must not be behind what was already seen."""
        if version > self.last:
            self.violations.append(Violation(Kind.GAP, self.last + 1, version))
            self.last = version
        elif version < self.last:
            self.violations.append(Violation(Kind.REWIND, self.last, version))


def timeline_violations(versions: list[int], head: int) -> list[str]:
    """Problems of a timeline (versions in order) whose order is at version `head`."""
    if versions == list(range(1, head + 1)):
        return []
    return [f"timeline versions {_abbreviate(versions)} for version {head}"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)  # what the check compared

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "summary": self.summary,
            "details": self.details[:MAX_DETAILS],
            "details_total": len(self.details),
            **self.figures,
        }


TERMINAL = frozenset({"delivered", "cancelled"})


def terminal_check(final_statuses: Mapping[str, str | None]) -> Check:
    """`final_statuses`: each accepted order's last known status (None: never seen)."""
    stuck = {order: status for order, status in final_statuses.items() if status not in TERMINAL}
    total = len(final_statuses)
    if not stuck:
        return Check("every accepted order terminal", True, f"{total}/{total} terminal")
    shown = {order: status or "never seen" for order, status in stuck.items()}
    return Check(
        "every accepted order terminal",
        False,
        f"{len(stuck)}/{total} not terminal ({_counts(Counter(shown.values()))})",
        [f"{order}: {status}" for order, status in sorted(shown.items())],
    )


def versions_check(
    timelines: Mapping[str, tuple[list[int], int] | None],
    sockets: Mapping[str, Iterable[Violation]],
    mismatches: Mapping[str, list[str]] | None = None,
) -> Check:
    """`timelines`: per accepted order, its timeline's versions and its version (None when the
    timeline could not be read); `sockets`: per tracked order, what its WebSockets violated;
    `mismatches`: per order, statuses the socket and the timeline disagree on."""
    details: list[str] = []
    missing = sorted(order for order, timeline in timelines.items() if timeline is None)
    details += [f"{order}: timeline not readable" for order in missing]
    for order, timeline in sorted(timelines.items()):
        if timeline is not None:
            details += [f"{order}: {problem}" for problem in timeline_violations(*timeline)]
    socket_problems = 0
    for order, violations in sorted(sockets.items()):
        for violation in violations:
            details.append(f"{order}: websocket {violation}")
            socket_problems += 1
    for order, problems in sorted((mismatches or {}).items()):
        details += [f"{order}: {problem}" for problem in problems]
    summary = f"{len(timelines)} timelines, {len(sockets)} websocket sequences"
    if details:
        summary += f": {len(details)} problems ({socket_problems} on websockets)"
    return Check("versions gap-free", not details, summary, details)


@dataclass(frozen=True, slots=True)
class Stock:
    """Per item: stock before the run, after it, sold by its orders and refilled meanwhile."""

    before: Mapping[str, int]
    after: Mapping[str, int]
    sold: Mapping[str, int]
    refilled: Mapping[str, int]

    def expected_after(self) -> dict[str, int]:
        items = set(self.before) | set(self.after) | set(self.sold) | set(self.refilled)
        return {
            item: self.before.get(item, 0) - self.sold.get(item, 0) + self.refilled.get(item, 0)
            for item in sorted(items)
        }

    def mismatches(self) -> list[str]:
        return [
            f"{item}: before {self.before.get(item, 0)}, sold {self.sold.get(item, 0)}, "
            f"refilled {self.refilled.get(item, 0)} -> expected {expected}, "
            f"found {self.after.get(item, 0)}"
            for item, expected in self.expected_after().items()
            if self.after.get(item, 0) != expected
        ]


STOCK_ASSUMPTION = "assumes no other customers placed orders during the run"


def stock_check(stock: Stock | None, *, refills_known: bool, reason: str = "") -> Check:
    """`stock` None: it could not be checked (`reason` says why), which is not ok."""
    name = "stock conserved"
    if stock is None:
        return Check(name, False, f"not checked: {reason}")
    notes = [STOCK_ASSUMPTION]
    if not refills_known:
        notes.append("assumed no refills (no operator key to list them)")
    sold, refilled = sum(stock.sold.values()), sum(stock.refilled.values())
    problems = stock.mismatches()
    state = f"{len(problems)} items differ" if problems else "balanced"
    summary = f"{state}: sold {sold}, refilled {refilled}; " + "; ".join(notes)
    figures = {
        "before": dict(stock.before),
        "after": dict(stock.after),
        "sold": dict(stock.sold),
        "refilled": dict(stock.refilled),
    }
    return Check(name, not problems, summary, problems, figures)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in counter.most_common())


def _abbreviate(versions: list[int], limit: int = 12) -> str:
    shown = ", ".join(map(str, versions[:limit]))
    return f"[{shown}{', ...' if len(versions) > limit else ''}]"
