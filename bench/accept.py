"""How many orders the API accepts per second: closed-loop POST /api/orders with a lean client.

    uv run python bench/accept.py --connections 32 --duration 10 --runs 3 [--processes]

Starts `up` in zero-delay mode (the saga runs behind the API, as in production), restocks every
item, then keeps `--connections` keep-alive HTTP/1.1 connections busy posting orders for
`--duration` seconds. The client writes pre-built requests on raw sockets and reads only the
status line and body length, so it costs far less CPU per request than the API it measures.
Every order carries its own `Idempotency-Key`, as the browser app and `simulate` send.
It prints accepted/s, the answers by status and POST latency percentiles per run, the median,
and the CPU each process of `up` used per accepted order while posting. After each run it waits
until the saga's consumer groups have nothing left to read or acknowledge, so runs do not
overlap, and prints how long the saga took to absorb the burst.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import httpx
import orjson
from harness import ZERO_DELAY, cpu_seconds, descendants, process_name, running_up

CUSTOMER = {"name": "Bench Mark", "address": "1 Load Street", "phone": "+1 555 0100"}


def order_request(host: str, item_ids: list[str], n: int) -> bytes:
    items = [{"item_id": item_ids[n % len(item_ids)], "quantity": 1}]
    body = orjson.dumps({"customer": CUSTOMER, "items": items})
    head = (
        f"POST /api/orders HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Idempotency-Key: bench-{uuid.uuid4().hex}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def post_for(
    url: str, item_ids: list[str], connections: int, duration_s: float
) -> tuple[Counter[int], list[float], list[str]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    accepted: list[str] = []
    counter = itertools.count()
    deadline = time.monotonic() + duration_s

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline:
                request = order_request(f"{host}:{port}", item_ids, next(counter))
                started = time.monotonic()
                writer.write(request)
                status, body = await read_answer(reader)
                latencies.append(time.monotonic() - started)
                statuses[status] += 1
                if status == 201:
                    accepted.append(orjson.loads(body)["id"])
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return statuses, latencies, accepted


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def backlog(http: httpx.Client) -> int:
    """Entries the saga's consumer groups have not yet read or acknowledged."""
    return sum(
        (group["lag"] or 0) + group["pending"]
        for view in http.get("/api/ops/streams").json()
        for group in view["groups"]
    )


def drain(url: str, key: str, timeout_s: float = 600) -> float:
    """Seconds until the consumer groups have nothing left to do (seen twice in a row)."""
    started = time.monotonic()
    idle_samples = 0
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as http:
        while idle_samples < 2 and time.monotonic() - started < timeout_s:
            idle_samples = idle_samples + 1 if backlog(http) == 0 else 0
            time.sleep(0.5)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", action="store_true", help="up --processes")
    args = parser.parse_args()

    with running_up(ZERO_DELAY, ["--processes"] if args.processes else []) as up:
        operator = {"X-API-Key": up.operator_key}
        rates: list[float] = []
        cpu_per_order: list[Counter[str]] = []
        for run in range(1, args.runs + 1):
            with httpx.Client(base_url=up.url, timeout=60) as http:
                http.post("/api/stock/refill", json={"to": 1_000_000}, headers=operator)
                item_ids = [item["id"] for item in http.get("/api/menu").json()]
            pids = [up.process.pid, *descendants(up.process.pid)]
            cpu_before = {pid: cpu_seconds(pid) for pid in pids}
            started = time.monotonic()
            statuses, latencies, accepted = asyncio.run(
                post_for(up.url, item_ids, args.connections, args.duration)
            )
            elapsed = time.monotonic() - started
            used: Counter[str] = Counter()
            for pid in pids:
                name = "up" if pid == up.process.pid else process_name(pid)
                used[name] += cpu_seconds(pid) - cpu_before[pid]
            rate = len(accepted) / elapsed
            rates.append(rate)
            cpu_per_order.append(
                Counter({name: 1000 * s / max(1, len(accepted)) for name, s in used.items()})
            )
            print(
                f"run {run}: {rate:.1f} accepted/s ({len(accepted)} in {elapsed:.1f} s), "
                f"answers {dict(sorted(statuses.items()))}, POST p50 "
                f"{1000 * percentile(latencies, 0.5):.0f} ms, p99 "
                f"{1000 * percentile(latencies, 0.99):.0f} ms"
            )
            print(
                "  CPU ms per accepted order while posting (the saga running behind): "
                + ", ".join(f"{n} {ms:.1f}" for n, ms in sorted(cpu_per_order[-1].items()))
            )
            print(f"  the saga finished the backlog {drain(up.url, up.operator_key):.0f} s later")
        print(f"median of {args.runs}: {statistics.median(rates):.1f} accepted/s")


if __name__ == "__main__":
    main()
