"""Whole-system benchmark: `orders-saga up` in zero-delay mode, driven by `orders-saga simulate`.

    uv run python bench/system.py --rate 40 --duration 30 --runs 3 [--track 0.1] [--processes]
        [--replicas N]   # N processes of every service (implies --processes)

Starts `up` on a free port with a fresh data directory (actors answer at once, 1000 couriers,
no periodic refill), runs the load generator `--runs` times (restocking before each), samples
the resident memory of every process of `up` every second, and prints each run's summary line
and the medians. Generator and system share this machine's cores.

It also prints the CPU time each process of `up` used per completed order. It depends less
on what else runs on the machine than orders/s does (contention still inflates it), and the
cores divided by it estimate the orders/s the system could reach with the machine to itself.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import threading
from collections import Counter

from harness import (
    LAST_LINE,
    ZERO_DELAY,
    cpu_by_name,
    descendants,
    process_name,
    rss_mb,
    running_up,
    simulate_args,
)

# The lines of `simulate`'s report printed for each run, besides its last line.
REPORT_LINES = ("accepted ", "shed ", "POST answer ", "terminal ")
COMPLETED = re.compile(r"^\s+completed\s+(\d+)", re.MULTILINE)


def section(report: str, title: str) -> str:
    """The lines of `simulate`'s report from the line `title` to the next blank line."""
    found: list[str] = []
    for line in report.splitlines():
        if line == title or (found and line.strip()):
            found.append(line)
        elif found:
            break
    return "".join(f"  {line}\n" for line in found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--track", default="all")
    parser.add_argument("--processes", action="store_true", help="up --processes")
    parser.add_argument("--replicas", type=int, help="up --replicas N (implies --processes)")
    args = parser.parse_args()
    up_args = ["--processes"] if args.processes else []
    if args.replicas:
        up_args = ["--replicas", str(args.replicas)]

    with running_up(ZERO_DELAY, up_args) as up:
        peaks: dict[str, float] = {}
        stop_sampling = threading.Event()

        def sample() -> None:
            while not stop_sampling.wait(1.0):
                for pid in [up.process.pid, *descendants(up.process.pid)]:
                    name = "up" if pid == up.process.pid else process_name(pid)
                    peaks[name] = max(peaks.get(name, 0.0), rss_mb(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        results = []
        cpu_ms_per_order: list[Counter[str]] = []

        try:
            for run in range(args.runs):
                before = cpu_by_name(up)
                command = simulate_args(
                    up.url,
                    up.operator_key,
                    args.rate,
                    str(args.duration),
                    "--track",
                    args.track,
                    "--seed",
                    str(run),
                )
                out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
                used = cpu_by_name(up)
                used.subtract(before)
                last = out.strip().splitlines()[-1] if out.strip() else "(no output)"
                print(f"run {run + 1}: {last}", flush=True)
                print(
                    "".join(
                        line + "\n"
                        for line in out.splitlines()
                        if line.strip().startswith(REPORT_LINES)
                    ),
                    end="",
                    flush=True,
                )
                if "invariants ok" not in last:  # what failed, and the errors the run met
                    print(section(out, "invariants") + section(out, "errors"), end="", flush=True)
                if (done := COMPLETED.search(out)) and int(done.group(1)) > 0:
                    per_order = Counter(
                        {name: 1000 * s / int(done.group(1)) for name, s in used.items()}
                    )
                    cpu_ms_per_order.append(per_order)
                    shares = ", ".join(f"{n} {ms:.1f}" for n, ms in sorted(per_order.items()))
                    print(f"  CPU ms per completed order: {shares}", flush=True)
                if match := LAST_LINE.search(last):
                    results.append((float(match.group(1)), int(match.group(2)), match.group(3)))
        finally:
            stop_sampling.set()
    if results:
        completed = statistics.median(r[0] for r in results)
        p99 = statistics.median(r[1] for r in results)
        ok = all(r[2] == "ok" for r in results)
        print(
            f"median of {len(results)}: {completed:.1f} completed/s, p99 terminal {p99:.0f} ms, "
            f"invariants {'ok' if ok else 'FAILED'} (offered {args.rate}/s for {args.duration}s)"
        )
    if cpu_ms_per_order:
        names = sorted({name for run in cpu_ms_per_order for name in run})
        medians = {n: statistics.median(run[n] for run in cpu_ms_per_order) for n in names}
        total = sum(medians.values())
        cores = os.cpu_count() or 1
        print(
            "median CPU ms per completed order: "
            + ", ".join(f"{n} {ms:.1f}" for n, ms in medians.items())
            + f"; total {total:.1f} → about {1000 * cores / total:.0f} orders/s on {cores} "
            "cores with nothing else running"
        )
    for name, peak in sorted(peaks.items()):
        print(f"peak RSS {name}: {peak:.0f} MB")


if __name__ == "__main__":
    main()
