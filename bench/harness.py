"""What the whole-system benchmarks share: starting `orders-saga up` and reading processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from sagakit.embedded.redis import free_port

CLI = Path(sys.executable).parent / "orders-saga"
LAST_LINE = re.compile(r"simulate: ([\d.]+) completed/s, p99 terminal (\d+) ms, invariants (\w+)")
# Actors answer at once, couriers are plenty, no periodic refill: the system is the limit.
ZERO_DELAY = {"ACTORS_ZERO_DELAY": "true", "REFILL_INTERVAL_S": "0", "COURIER_FLEET_SIZE": "1000"}


@dataclass
class RunningUp:
    process: subprocess.Popen[str]
    url: str
    operator_key: str
    data_dir: Path


@contextmanager
def running_up(env: Mapping[str, str], up_args: Sequence[str] = ()) -> Iterator[RunningUp]:
    """`orders-saga up` on a free port and a fresh data directory; Ctrl-C at the end."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="bench-up-"))
    up = subprocess.Popen(
        [str(CLI), "up", "--port", str(port), "--data-dir", str(data), *up_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "FRONTEND_BUILD": "never", **env},
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
    try:
        yield RunningUp(up, url, key, data)
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=30)


def simulate_args(url: str, key: str, rate: float, duration: str, *extra: str) -> list[str]:
    return [
        str(CLI),
        "simulate",
        "--rate",
        str(rate),
        "--duration",
        duration,
        "--target",
        url,
        "--operator-key",
        key,
        "--restock-to",
        "1000000",
        *extra,
    ]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) `pid` has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...)."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        kids = [child for child, parent in parent_of.items() if parent == current]
        found.extend(kids)
        frontier.extend(kids)
    return found


def cpu_by_name(up: RunningUp) -> Counter[str]:
    """CPU seconds used so far by `up` and each process below it, by short name (all
    replicas of a service together)."""
    used: Counter[str] = Counter()
    for pid in [up.process.pid, *descendants(up.process.pid)]:
        used["up" if pid == up.process.pid else process_name(pid)] += cpu_seconds(pid)
    return used


SERVERS = ("redis-server", "nx-27017", "nx_27017")
SERVICE_PROCESS = "orders_saga_cli.service_process"  # `up --processes`: argv[+1] is the service


def process_name(pid: int) -> str:
    """A short name: the service or server a process runs, else its program."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    if SERVICE_PROCESS in argv[:-1]:
        return argv[argv.index(SERVICE_PROCESS) + 1]
    joined = " ".join(argv)
    for name in SERVERS:
        if name in joined:
            return name.replace("_", "-")
    return argv[0].rsplit("/", 1)[-1]
