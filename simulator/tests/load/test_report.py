"""Histograms, figures and the report's format (its last line exactly)."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from simulator.load.contents import OrderContents
from simulator.load.histogram import Latencies
from simulator.load.invariants import Check
from simulator.load.records import Errors, OrderRecord, Placement
from simulator.load.report import TERMINAL, as_json, figures, format_text, last_line
from simulator.load.runner import RunResult, SimulateOptions
from simulator.load.schedule import Profile, segments

LAST_LINE = re.compile(
    r"^simulate: \d+\.\d completed/s, p99 terminal \d+ ms, invariants (ok|FAILED)$"
)
HAPPY = ("placed", "paid", "preparing", "ready", "courier_assigned", "picked_up", "delivered")


def test_last_line_format() -> None:
    assert last_line(38.123, 456.6, True) == (
        "simulate: 38.1 completed/s, p99 terminal 457 ms, invariants ok"
    )
    assert last_line(0.0, 0.0, False) == (
        "simulate: 0.0 completed/s, p99 terminal 0 ms, invariants FAILED"
    )
    assert LAST_LINE.match(last_line(1234.56, 98765.4, True))


def test_histogram_percentiles_within_its_precision() -> None:
    latencies = Latencies()
    for ms in range(1, 1001):
        latencies.record(ms / 1000)
    summary = latencies.summary()
    assert summary.count == 1000
    assert summary.p50 == pytest.approx(500, rel=1e-3)
    assert summary.p95 == pytest.approx(950, rel=1e-3)
    assert summary.p99 == pytest.approx(990, rel=1e-3)
    assert summary.max == pytest.approx(1000, rel=1e-3)


def test_an_empty_histogram_reports_zeros() -> None:
    summary = Latencies().summary()
    assert (summary.count, summary.p99, summary.max) == (0, 0.0, 0.0)


def test_values_beyond_the_range_are_clamped_not_lost() -> None:
    latencies = Latencies()
    latencies.record(-1.0)
    latencies.record(10_000_000.0)
    assert latencies.count == 2


def contents(n: int) -> OrderContents:
    body: dict[str, Any] = {"items": [{"item_id": "margherita", "quantity": 2}]}
    return OrderContents(body, f"key-{n}")


def tracked(n: int, statuses: tuple[str, ...], reason: str | None = None) -> OrderRecord:
    record = OrderRecord(n, scheduled=n * 0.1, contents=contents(n), tracked=True)
    record.sent, record.responded = record.scheduled + 0.001, record.scheduled + 0.005
    record.placement, record.order_id, record.token = Placement.ACCEPTED, f"order{n}", "t"
    for version, status in enumerate(statuses, start=1):
        last = version == len(statuses)
        record.observe(version, status, reason if last else None, record.scheduled + 0.01 * version)
    record.view = {
        "status": statuses[-1],
        "reason": reason,
        "version": len(statuses),
        "timeline": [{"status": s, "version": v} for v, s in enumerate(statuses, start=1)],
    }
    return record


def synthetic_run(ok: bool = True) -> RunResult:
    delivered = tracked(0, HAPPY)
    declined = tracked(1, ("placed", "cancelled"), "payment_declined")
    rejected = OrderRecord(2, 0.2, contents(2), tracked=True, sent=0.2, responded=0.21)
    rejected.placement, rejected.detail = Placement.REJECTED, "out_of_stock"
    untracked = OrderRecord(3, 0.3, contents(3), tracked=False, sent=0.3, responded=0.31)
    untracked.placement, untracked.order_id, untracked.token = Placement.ACCEPTED, "order3", "t"
    untracked.note_view({"status": "delivered", "version": 7, "timeline": []}, at=2.5)
    options = SimulateOptions(rate=10, duration_s=0.4)
    errors = Errors()
    errors.websocket["dropped (1006)"] += 2
    errors.reconnects = 2
    return RunResult(
        options=options,
        started_at="2025-01-01T00:00:00+00:00",
        parts=segments(Profile.CONSTANT, 10, 0.4),
        records=[delivered, declined, rejected, untracked],
        errors=errors,
        send_lag=Latencies(),
        loop_lag=Latencies(),
        schedule_end=0.3,
        wall_s=3.0,
        cpu_s=0.5,
        checks=[Check("every accepted order terminal", True, "3/3"), Check("x", ok, "y", ["d"])],
    )


def test_figures_of_a_run() -> None:
    figs = figures(synthetic_run())
    assert (figs.planned, figs.sent, figs.accepted, figs.completed) == (4, 4, 3, 3)
    assert figs.rejected == {"out_of_stock": 1}
    assert figs.outcomes == {"delivered": 2, "cancelled: payment_declined": 1}
    # from the first send (0.001) to the last terminal status known (the poll at 2.5)
    assert figs.span_s == pytest.approx(2.499)
    assert figs.completed_per_s == pytest.approx(3 / 2.499)
    assert figs.latencies[TERMINAL].count == 2  # only tracked orders have latencies
    assert figs.latencies[TERMINAL].max == pytest.approx(70, rel=1e-2)
    assert figs.latencies["paid"].count == 1
    assert sum(b.completed for b in figs.bins) == 3


def test_report_text_ends_with_the_summary_line() -> None:
    result = synthetic_run()
    figs = figures(result)
    text = format_text(result, figs)
    last = text.splitlines()[-1]
    assert LAST_LINE.match(last)
    assert last == last_line(figs.completed_per_s, figs.p99_terminal_ms, True)
    assert last == "simulate: 1.2 completed/s, p99 terminal 70 ms, invariants ok"
    assert "cancelled: payment_declined" in text
    assert "dropped (1006) 2; reconnects 2" in text


def test_a_failed_check_fails_the_run_and_shows_its_details() -> None:
    result = synthetic_run(ok=False)
    text = format_text(result, figures(result))
    assert text.endswith("invariants FAILED")
    assert "          d" in text


def test_json_has_every_figure() -> None:
    result = synthetic_run()
    figs = figures(result)
    data = orjson.loads(orjson.dumps(as_json(result, figs)))
    assert data["orders"]["accepted"] == 3
    assert data["orders"]["accepted_ids"] == ["order0", "order1", "order3"]
    assert data["latency_ms"]["terminal"]["count"] == 2
    assert set(data["latency_ms"]) >= {"POST answer", *HAPPY, "cancelled", "terminal"}
    assert data["outcomes"]["delivered"] == 2
    assert data["errors"]["websocket_reconnects"] == 2
    assert data["invariants"]["ok"] is True
    assert data["last_line"] == format_text(result, figs).splitlines()[-1]


def test_shed_orders_are_counted_apart_and_never_as_accepted() -> None:
    result = synthetic_run()
    for n in (4, 5):
        shed = OrderRecord(n, 0.35, contents(n), tracked=True, sent=0.35, responded=0.36)
        shed.placement, shed.detail = Placement.SHED, "overloaded"
        result.records.append(shed)
    figs = figures(result)
    assert (figs.planned, figs.sent, figs.accepted, figs.shed) == (6, 6, 3, 2)
    assert figs.failed == {} and sum(figs.outcomes.values()) == 3
    text = format_text(result, figs)
    assert re.search(r"^  shed +2 ", text, re.M)
    assert LAST_LINE.match(text.splitlines()[-1])
    assert as_json(result, figs)["orders"]["shed"] == 2


def test_an_untracked_orders_end_is_estimated_from_its_timeline() -> None:
    record = OrderRecord(0, 0.0, contents(0), tracked=False, sent=0.0, responded=0.5)
    timeline = [
        {"status": "placed", "version": 1, "at": "2025-01-01T00:00:00.000Z"},
        {"status": "cancelled", "version": 2, "at": "2025-01-01T00:00:01.250Z"},
    ]
    record.note_view({"status": "cancelled", "version": 2, "timeline": timeline}, at=9.0)
    assert record.terminal_at == pytest.approx(1.75)
    unreadable = OrderRecord(1, 0.0, contents(1), tracked=False, sent=0.0, responded=0.5)
    unreadable.note_view({"status": "delivered", "version": 7, "timeline": []}, at=9.0)
    assert unreadable.terminal_at == 9.0
