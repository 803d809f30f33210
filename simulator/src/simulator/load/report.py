"""The run's figures, the printed report, its JSON form, and the last line.

`completed/s` = orders that reached a terminal status (delivered or cancelled) divided by the
run's wall time from the first send to the last terminal status: when it arrived on the
WebSocket, or for an order not followed live, the POST's answer plus the placed -> terminal time
of its timeline (never later than the read that found it terminal).
Latencies are from each order's *scheduled* send time to the moment the generator received
the status (WebSocket-tracked orders only; an untracked order's statuses are only read at the
end). `p99 terminal` is the 99th percentile of scheduled send -> terminal status.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from saga_contracts.messages import OrderStatus
from simulator.load.histogram import Latencies, Summary
from simulator.load.records import OrderRecord, Placement
from simulator.load.runner import RunResult

POST_ANSWER = "POST answer"
TERMINAL = "terminal"
STAGES = (POST_ANSWER, *(status.value for status in OrderStatus), TERMINAL)
MAX_BINS = 120
DETAIL_LINES = 10
# Above these the generator itself may be what is measured: say so.
SEND_LAG_P99_WARN_MS = 25.0
SEND_LAG_MAX_WARN_MS = 250.0
LOOP_LAG_P99_WARN_MS = 25.0
CPU_WARN = 0.9


def last_line(completed_per_s: float, p99_terminal_ms: float, ok: bool) -> str:
    return (
        f"simulate: {completed_per_s:.1f} completed/s, "
        f"p99 terminal {round(p99_terminal_ms)} ms, invariants {'ok' if ok else 'FAILED'}"
    )


@dataclass(frozen=True, slots=True)
class Bin:
    start_s: float
    planned: int
    sent: int
    completed: int
    terminal: Summary  # POST -> terminal of the orders scheduled in this bin
    max_loop_lag_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_s": round(self.start_s, 3),
            "planned": self.planned,
            "sent": self.sent,
            "completed": self.completed,
            "terminal_p50_ms": round(self.terminal.p50, 3),
            "terminal_p99_ms": round(self.terminal.p99, 3),
            "max_loop_lag_ms": round(self.max_loop_lag_ms, 3),
        }


@dataclass(frozen=True, slots=True)
class Figures:
    planned: int
    sent: int
    accepted: int
    rejected: Counter[str]
    shed: int  # 503 overloaded: refused by admission control, never accepted
    failed: Counter[str]
    unknown: int
    tracked: int
    completed: int
    span_s: float  # first send -> last terminal status
    schedule_s: float
    latencies: dict[str, Summary]
    send_lag: Summary
    loop_lag: Summary
    outcomes: Counter[str]
    bins: list[Bin] = field(default_factory=list)

    @property
    def completed_per_s(self) -> float:
        return self.completed / self.span_s if self.span_s > 0 else 0.0

    @property
    def sent_per_s(self) -> float:
        return self.sent / self.schedule_s if self.schedule_s > 0 else 0.0

    @property
    def p99_terminal_ms(self) -> float:
        return self.latencies[TERMINAL].p99


def figures(result: RunResult) -> Figures:
    records = result.records
    sent = [r for r in records if r.sent is not None]
    accepted = [r for r in records if r.accepted]
    stages = {stage: Latencies() for stage in STAGES}
    for record in sent:
        if record.responded is not None and record.placement is not Placement.UNKNOWN:
            stages[POST_ANSWER].record(record.responded - record.scheduled)
    tracked = [r for r in accepted if r.tracked]
    for record in tracked:
        for observation in record.observed.values():
            if observation.status not in stages:
                stages[observation.status] = Latencies()
            stages[observation.status].record(observation.at - record.scheduled)
        if (terminal := record.socket_terminal) is not None:
            stages[TERMINAL].record(terminal.at - record.scheduled)
    ends = [end for r in accepted if (end := r.terminal_at) is not None]
    first_send = min((r.sent for r in sent if r.sent is not None), default=0.0)
    return Figures(
        planned=len(records),
        sent=len(sent),
        accepted=len(accepted),
        rejected=Counter(r.detail for r in records if r.placement is Placement.REJECTED),
        shed=sum(r.placement is Placement.SHED for r in records),
        failed=Counter(r.detail for r in records if r.placement is Placement.FAILED),
        unknown=sum(r.placement is Placement.UNKNOWN for r in records),
        tracked=len(tracked),
        completed=len(ends),
        span_s=max(ends) - first_send if ends else 0.0,
        schedule_s=result.options.duration_s,
        latencies={stage: latencies.summary() for stage, latencies in stages.items()},
        send_lag=result.send_lag.summary(),
        loop_lag=result.loop_lag.summary(),
        outcomes=Counter(_outcome(r) for r in accepted),
        bins=_bins(result, max([*ends, result.schedule_end, result.options.duration_s])),
    )


def _outcome(record: OrderRecord) -> str:
    status = record.final_status
    if status == OrderStatus.CANCELLED:
        return f"cancelled: {record.final_reason or 'no reason'}"
    if status == OrderStatus.DELIVERED:
        return "delivered"
    return f"not terminal: {status or 'never seen'}"


def _bins(result: RunResult, end_s: float) -> list[Bin]:
    width = max(1.0, math.ceil(end_s / MAX_BINS))
    count = max(1, math.ceil(end_s / width))

    def index(at: float) -> int:
        return min(count - 1, max(0, int(at // width)))

    planned, sent, completed = [0] * count, [0] * count, [0] * count
    terminal = [Latencies() for _ in range(count)]
    loop_lag = [0.0] * count
    for at, lag in result.loop_lags:
        loop_lag[index(at)] = max(loop_lag[index(at)], lag * 1000)
    for record in result.records:
        planned[index(record.scheduled)] += 1
        if record.sent is not None:
            sent[index(record.sent)] += 1
        if record.accepted and (end := record.terminal_at) is not None:
            completed[index(end)] += 1
        if record.tracked and (seen := record.socket_terminal) is not None:
            terminal[index(record.scheduled)].record(seen.at - record.scheduled)
    return [
        Bin(i * width, planned[i], sent[i], completed[i], terminal[i].summary(), loop_lag[i])
        for i in range(count)
    ]


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def _lag(summary: Summary) -> str:
    return f"p50 {_ms(summary.p50)} ms, p99 {_ms(summary.p99)} ms, max {_ms(summary.max)} ms"


def _counted(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in counter.most_common()) or "none"


def warnings(result: RunResult, figs: Figures) -> list[str]:
    found = []
    if figs.send_lag.p99 > SEND_LAG_P99_WARN_MS or figs.send_lag.max > SEND_LAG_MAX_WARN_MS:
        found.append(
            f"sends were issued late (send lag {_lag(figs.send_lag)}): the generator could not "
            "keep its schedule; latencies include its lag"
        )
    if figs.loop_lag.p99 > LOOP_LAG_P99_WARN_MS:
        found.append(
            f"the generator's event loop was busy (loop lag p99 {_ms(figs.loop_lag.p99)} ms): "
            "receive times are late by up to that much"
        )
    if result.wall_s > 0 and result.cpu_s / result.wall_s > CPU_WARN:
        found.append("the generator used a whole CPU core: it may be the bottleneck")
    if result.errors.untracked_socket_limit:
        found.append(
            f"{result.errors.untracked_socket_limit} orders were not tracked "
            "(--max-sockets reached): latencies come from the others"
        )
    return found


def format_text(result: RunResult, figs: Figures) -> str:
    options = result.options
    tracking = (
        "a WebSocket per order"
        if options.track_fraction >= 1
        else f"WebSockets for {options.track_fraction:.0%} of orders, the rest read at the end"
    )
    lines = [
        f"orders-saga simulate: {options.profile} profile, rate {options.rate:g}/s for "
        f"{options.duration_s:g} s, seed {options.seed}, target {options.target}",
        f"  started {result.started_at}; {tracking}",
        "",
        "orders",
        f"  planned        {figs.planned:>7}",
        f"  placed         {figs.sent:>7}   {figs.sent_per_s:.1f}/s over the schedule",
        f"  accepted       {figs.accepted:>7}",
        f"  rejected       {sum(figs.rejected.values()):>7}   {_counted(figs.rejected)}",
        f"  shed           {figs.shed:>7}   (503 overloaded: refused before anything was written)",
        f"  failed         {sum(figs.failed.values()):>7}   {_counted(figs.failed)}",
        f"  unknown        {figs.unknown:>7}   (no answer, even repeated with its key)",
        f"  completed      {figs.completed:>7}   {figs.completed_per_s:.1f}/s = terminal orders "
        f"(delivered or cancelled) / {figs.span_s:.1f} s from the first send to the last "
        "terminal status",
        "",
        f"latency from the scheduled send time, ms ({figs.tracked} orders tracked live)",
        f"  {'to':<18}{'count':>7}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
    ]
    for stage, summary in figs.latencies.items():
        if summary.count or stage in (POST_ANSWER, TERMINAL):
            lines.append(
                f"  {stage:<18}{summary.count:>7}{_ms(summary.p50):>9}{_ms(summary.p95):>9}"
                f"{_ms(summary.p99):>9}{_ms(summary.max):>9}"
            )
    lines += ["", "outcomes (accepted orders)"]
    lines += [f"  {outcome:<32}{n:>7}" for outcome, n in figs.outcomes.most_common()] or ["  none"]
    errors = result.errors
    lines += [
        "",
        "errors",
        f"  HTTP        {_counted(errors.http)}",
        f"  WebSocket   {_counted(errors.websocket)}; reconnects {errors.reconnects}",
        f"  POST retries with the same Idempotency-Key: {errors.retries}",
        "",
        "generator",
        f"  send lag (issued - scheduled)  {_lag(figs.send_lag)}",
        f"  event loop lag                 {_lag(figs.loop_lag)}",
        f"  CPU                            {result.cpu_s:.1f} s in {result.wall_s:.1f} s "
        f"({result.cpu_s / result.wall_s if result.wall_s else 0:.0%} of one core)",
    ]
    lines += [f"  WARNING: {warning}" for warning in warnings(result, figs)]
    lines += ["", "invariants"]
    for check in result.checks:
        lines.append(f"  {'ok' if check.ok else 'FAILED':<8}{check.name:<32}{check.summary}")
        lines += [f"          {detail}" for detail in check.details[:DETAIL_LINES]]
        if len(check.details) > DETAIL_LINES:
            lines.append(f"          ... {len(check.details) - DETAIL_LINES} more (see --json)")
    lines += ["", last_line(figs.completed_per_s, figs.p99_terminal_ms, result.ok)]
    return "\n".join(lines)


def as_json(result: RunResult, figs: Figures) -> dict[str, Any]:
    options = result.options
    return {
        "options": {
            "target": options.target,
            "profile": str(options.profile),
            "rate": options.rate,
            "duration_s": options.duration_s,
            "track_fraction": options.track_fraction,
            "seed": options.seed,
            "drain_timeout_s": options.drain_timeout_s,
            "restock_to": options.restock_to,
            "operator_key_given": options.operator_key is not None,
        },
        "started_at": result.started_at,
        "orders": {
            "planned": figs.planned,
            "placed": figs.sent,
            "accepted": figs.accepted,
            "rejected": dict(figs.rejected),
            "shed": figs.shed,
            "failed": dict(figs.failed),
            "unknown": figs.unknown,
            "tracked": figs.tracked,
            "completed": figs.completed,
            # which orders exist because of this run: a test compares them with the stores
            "accepted_ids": sorted(r.order_id for r in result.records if r.accepted and r.order_id),
        },
        "throughput": {
            "placed_per_s": round(figs.sent_per_s, 3),
            "completed_per_s": round(figs.completed_per_s, 3),
            "completed_per_s_means": "terminal orders / seconds from the first send to the "
            "last terminal status",
            "span_s": round(figs.span_s, 3),
        },
        "latency_ms": {
            "from": "scheduled send time",
            **{stage: summary.as_dict() for stage, summary in figs.latencies.items()},
        },
        "outcomes": dict(figs.outcomes),
        "errors": result.errors.as_dict(),
        "generator": {
            "send_lag_ms": figs.send_lag.as_dict(),
            "loop_lag_ms": figs.loop_lag.as_dict(),
            "cpu_s": round(result.cpu_s, 3),
            "wall_s": round(result.wall_s, 3),
            "warnings": warnings(result, figs),
        },
        "invariants": {
            "ok": result.ok,
            "checks": [check.as_dict() for check in result.checks],
        },
        "timeseries": [b.as_dict() for b in figs.bins],
        "last_line": last_line(figs.completed_per_s, figs.p99_terminal_ms, result.ok),
    }
