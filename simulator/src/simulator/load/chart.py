"""The PNG chart: orders/s planned, placed and completed, and terminal latency, over the run."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: render to a file

import matplotlib.pyplot as plt

from simulator.load.report import Figures
from simulator.load.runner import RunResult


def write_png(result: RunResult, figs: Figures, path: Path) -> None:
    bins = figs.bins
    width = bins[1].start_s - bins[0].start_s if len(bins) > 1 else 1.0
    x = [b.start_s + width / 2 for b in bins]
    figure, (rates, latency) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    options = result.options
    figure.suptitle(
        f"orders-saga simulate: {options.profile}, {options.rate:g}/s for {options.duration_s:g} s"
    )
    rates.plot(x, [b.planned / width for b in bins], label="scheduled", linestyle=":")
    rates.plot(x, [b.sent / width for b in bins], label="placed")
    rates.plot(x, [b.completed / width for b in bins], label="completed (terminal)")
    rates.set_ylim(bottom=0)
    rates.set_ylabel("orders/s")
    rates.legend(loc="upper left")
    rates.grid(alpha=0.3)
    with_data = [(xi, b) for xi, b in zip(x, bins, strict=True) if b.terminal.count]
    latency.plot([xi for xi, _ in with_data], [b.terminal.p50 for _, b in with_data], label="p50")
    latency.plot([xi for xi, _ in with_data], [b.terminal.p99 for _, b in with_data], label="p99")
    latency.plot(
        x, [b.max_loop_lag_ms for b in bins], label="generator loop lag (max)", linestyle=":"
    )
    latency.set_ylim(bottom=0)
    latency.set_ylabel("ms: POST -> terminal")
    latency.set_xlabel("seconds since the run started (latency by scheduled send time)")
    latency.legend(loc="best")
    latency.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
