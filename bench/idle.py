"""What an idle system costs: CPU per process and Redis commands per second, with no orders.

    uv run python bench/idle.py [--replicas 1 3] [--warmup 20] [--seconds 60]

For each replica count, starts `orders-saga up --replicas N` (no stock refill, nothing placed),
lets it settle, then measures over `--seconds`: the CPU every process used (as % of one core;
services by name, all replicas of a service together) and the commands Redis served per second,
by command (INFO commandstats). A Pi cluster idles most of the day: the periodic work of N
replicas (claim loops, pollers, sweeps, gauges, health probes) must not cost N times the work.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import redis
from harness import cpu_by_name, running_up

IDLE = {"REFILL_INTERVAL_S": "0"}


def commandstats(url: str) -> Counter[str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()})


def measure(replicas: int, warmup_s: float, seconds: float) -> dict[str, object]:
    with running_up(IDLE, ["--replicas", str(replicas)]) as up:
        redis_url = json.loads((up.data_dir / "runtime.json").read_text())["redis_url"]
        time.sleep(warmup_s)

        cpu_before, calls_before = cpu_by_name(up), commandstats(redis_url)
        started = time.monotonic()
        time.sleep(seconds)
        cpu_after, calls_after = cpu_by_name(up), commandstats(redis_url)
        elapsed = time.monotonic() - started
    cpu = {k: round(100 * (cpu_after[k] - cpu_before[k]) / elapsed, 2) for k in cpu_after}
    calls = calls_after - calls_before
    calls["info"] -= 1  # this benchmark's own second INFO
    per_s = {k: round(v / elapsed, 1) for k, v in calls.most_common() if v > 0}
    return {
        "replicas": replicas,
        "cpu_percent_of_a_core": dict(sorted(cpu.items())),
        "cpu_percent_total": round(sum(cpu.values()), 2),
        "redis_commands_per_s": round(sum(calls.values()) / elapsed, 1),
        "redis_commands_per_s_by_command": per_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    for replicas in args.replicas:
        result = measure(replicas, args.warmup, args.seconds)
        print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
