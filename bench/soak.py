"""Soak: a moderate rate for a long time, watching for leaks and unbounded queues.

    uv run python bench/soak.py --rate 20 --minutes 10 [--processes] [--json soak.json]

Starts `up` (fast actors: every step answers within ~0.2 s; 1000 couriers; no periodic
refill), runs `orders-saga simulate` for the whole time, and every `--sample-s` seconds
records the resident memory of every process of `up` and, per stream, its length and the
pending entries of its groups (GET /api/ops/streams). At the end it prints, per process, the
memory trend after warm-up (least-squares slope over the last 80% of samples, in MB per 10
minutes) and, per stream, the largest length and pending count seen and the last ones. A
steady system shows slopes near 0, stream lengths bounded by trimming, pending near 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from harness import LAST_LINE, descendants, process_name, rss_mb, running_up, simulate_args

FAST_ACTORS = {
    "PAYMENT_DELAY": "uniform:20:120",
    "KITCHEN_ACCEPT_DELAY": "uniform:20:120",
    "KITCHEN_COOK_DELAY": "uniform:20:200",
    "COURIER_PICKUP_DELAY": "uniform:20:120",
    "COURIER_TRAVEL_DELAY": "uniform:20:200",
    "REFILL_INTERVAL_S": "0",
    "COURIER_FLEET_SIZE": "1000",
}


def slope_per_10_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per 10 minutes."""
    if len(samples) < 3:
        return 0.0
    xs = [x for x, _ in samples]
    ys = [y for _, y in samples]
    return statistics.linear_regression(xs, ys).slope * 600


def stream_sample(client: httpx.Client, key: str) -> dict[str, dict[str, int]]:
    views = client.get("/api/ops/streams", headers={"X-API-Key": key}).json()
    return {
        view["stream"]: {
            "length": view["length"],
            "pending": sum(group["pending"] for group in view["groups"]),
            "dead_letters": view["dead_letters"],
        }
        for view in views
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--processes", action="store_true", help="up --processes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    memory: dict[str, list[tuple[float, float]]] = defaultdict(list)
    streams: dict[str, list[dict[str, int]]] = defaultdict(list)
    with running_up(FAST_ACTORS, ["--processes"] if args.processes else []) as up:
        command = simulate_args(
            up.url, up.operator_key, args.rate, f"{args.minutes}m", "--track", "0.1"
        )
        load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        started = time.monotonic()
        with httpx.Client(base_url=up.url, timeout=10) as client:
            while load.poll() is None:
                now = time.monotonic() - started
                for pid in [up.process.pid, *descendants(up.process.pid)]:
                    name = "up" if pid == up.process.pid else process_name(pid)
                    memory[name].append((now, rss_mb(pid)))
                try:
                    sampled = stream_sample(client, up.operator_key)
                except httpx.HTTPError as exc:  # a slow answer under load: note it, go on
                    print(f"  (streams not sampled at {now:.0f}s: {exc!r})", flush=True)
                    sampled = {}
                for stream, figures in sampled.items():
                    streams[stream].append(figures)
                time.sleep(args.sample_s)
            final = stream_sample(client, up.operator_key)
        output = load.stdout.read() if load.stdout else ""
    last = output.strip().splitlines()[-1] if output.strip() else "(no output)"

    report: dict[str, Any] = {"rate": args.rate, "minutes": args.minutes, "simulate": last}
    report["memory"] = {}
    for name, samples in sorted(memory.items()):
        steady = samples[len(samples) // 5 :]
        report["memory"][name] = {
            "first_mb": round(samples[0][1], 1),
            "last_mb": round(samples[-1][1], 1),
            "max_mb": round(max(mb for _, mb in samples), 1),
            "slope_mb_per_10_min": round(slope_per_10_min(steady), 2),
        }
    report["streams"] = {
        stream: {
            "max_length": max(s["length"] for s in seen),
            "last_length": final.get(stream, seen[-1])["length"],
            "max_pending": max(s["pending"] for s in seen),
            "last_pending": final.get(stream, seen[-1])["pending"],
            "dead_letters": final.get(stream, seen[-1])["dead_letters"],
        }
        for stream, seen in sorted(streams.items())
    }
    print(f"soak {args.rate}/s for {args.minutes} min: {last}")
    for name, figures in report["memory"].items():
        print(
            f"  RSS {name:<14} {figures['first_mb']:7.1f} → {figures['last_mb']:7.1f} MB "
            f"(max {figures['max_mb']:.1f}), trend {figures['slope_mb_per_10_min']:+.2f} MB/10 min"
        )
    for stream, figures in report["streams"].items():
        print(
            f"  {stream:<24} length max {figures['max_length']:6d} last {figures['last_length']:6d}"
            f"  pending max {figures['max_pending']:5d} last {figures['last_pending']:5d}"
            f"  dead letters {figures['dead_letters']}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    match = LAST_LINE.search(last)
    raise SystemExit(0 if match and match.group(3) == "ok" else 1)


if __name__ == "__main__":
    main()
