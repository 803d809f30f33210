"""Whole-system benchmark: `orders-saga up` in zero-delay mode, driven by `orders-saga simulate`.

    uv run python bench/system.py --rate 40 --duration 30 --runs 3 [--track 0.1]

Starts `up` on a free port with a fresh data directory (actors answer at once, 1000 couriers,
no periodic refill), runs the load generator `--runs` times (restocking before each), samples
the resident memory of the `up` process and the embedded servers every second, and prints each
run's summary line and the medians. Generator and system share this machine's cores.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from sagakit.embedded.redis import free_port

CLI = Path(sys.executable).parent / "orders-saga"
LAST_LINE = re.compile(r"simulate: ([\d.]+) completed/s, p99 terminal (\d+) ms, invariants (\w+)")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().rsplit("/", 1)[-1]
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--track", default="all")
    args = parser.parse_args()

    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="bench-system-"))
    env = {
        **os.environ,
        "ACTORS_ZERO_DELAY": "true",
        "REFILL_INTERVAL_S": "0",
        "COURIER_FLEET_SIZE": "1000",
    }
    up = subprocess.Popen(
        [str(CLI), "up", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert up.stdout is not None
    key = ""
    for line in up.stdout:
        if match := re.search(r"operator key \(X-API-Key\): (\S+)", line):
            key = match.group(1)
        if "is up at" in line:
            break
    url = f"http://127.0.0.1:{port}"
    while httpx.get(f"{url}/readyz").status_code != 200:
        time.sleep(0.2)

    peaks: dict[str, float] = {}
    stop_sampling = threading.Event()

    def sample() -> None:
        # `up` is started through a console script: the services run in its Python process
        pids = [up.pid, *children(up.pid)]
        while not stop_sampling.wait(1.0):
            for pid in pids:
                name = "up (services)" if pid == up.pid else process_name(pid)
                peaks[name] = max(peaks.get(name, 0.0), rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results = []
    try:
        for run in range(args.runs):
            out = subprocess.run(
                [
                    str(CLI),
                    "simulate",
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(args.duration),
                    "--target",
                    url,
                    "--operator-key",
                    key,
                    "--restock-to",
                    "100000",
                    "--track",
                    args.track,
                    "--seed",
                    str(run),
                ],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            last = out.strip().splitlines()[-1] if out.strip() else "(no output)"
            print(f"run {run + 1}: {last}", flush=True)
            if match := LAST_LINE.search(last):
                results.append((float(match.group(1)), int(match.group(2)), match.group(3)))
    finally:
        stop_sampling.set()
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=30)
    if results:
        completed = statistics.median(r[0] for r in results)
        p99 = statistics.median(r[1] for r in results)
        ok = all(r[2] == "ok" for r in results)
        print(
            f"median of {len(results)}: {completed:.1f} completed/s, p99 terminal {p99:.0f} ms, "
            f"invariants {'ok' if ok else 'FAILED'} (offered {args.rate}/s for {args.duration}s)"
        )
    for name, peak in sorted(peaks.items()):
        print(f"peak RSS {name}: {peak:.0f} MB")


if __name__ == "__main__":
    main()
