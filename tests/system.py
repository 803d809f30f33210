"""Driving `orders-saga up` as a user would: a real process on a real port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sagakit.embedded.redis import free_port

CLI = Path(sys.executable).parent / "orders-saga"
CUSTOMER = {"name": "Grace Hopper", "address": "1 Compiler Way", "phone": "+1 555 0199"}

# Fast, but not instant, participants: orders are in flight when the system is killed.
FAST_ACTORS = {
    "PAYMENT_DELAY": "uniform:20:120",
    "KITCHEN_ACCEPT_DELAY": "uniform:20:120",
    "KITCHEN_COOK_DELAY": "uniform:50:300",
    "COURIER_PICKUP_DELAY": "uniform:20:150",
    "COURIER_TRAVEL_DELAY": "uniform:50:300",
    "REFILL_INTERVAL_S": "0",
    "COURIER_FLEET_SIZE": "50",
    "IDEMPOTENCY_IN_FLIGHT_S": "3",
}


@dataclass
class System:
    """One `orders-saga up` process group, started again on the same data and port."""

    data_dir: Path
    env: Mapping[str, str]
    args: Sequence[str] = ()  # more `up` arguments, e.g. ("--processes",)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    operator_key: str = ""
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        log = (self.data_dir.parent / f"up-{len(self.output)}.log").open("w")
        self.process = subprocess.Popen(
            [
                str(CLI),
                "up",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            # the browser test builds the app itself; others need not wait for npm
            env={"FRONTEND_BUILD": "never", **os.environ, **self.env},
            start_new_session=True,  # its own process group, as a terminal would give it
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if match := re.search(r"operator key \(X-API-Key\): (\S+)", line):
                self.operator_key = match.group(1)
            if "is up at" in line:
                return
        raise AssertionError(f"orders-saga up did not come up: {''.join(self.output)}")

    def kill_process_group(self) -> None:
        """`kill -9` of the whole process group: no chance to clean up anything."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def interrupt(self, timeout_s: float = 15.0) -> tuple[int, float]:
        """Ctrl-C; returns the exit code and how long stopping took."""
        assert self.process is not None
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=timeout_s)
        return code, time.monotonic() - started

    def runtime(self) -> dict[str, Any]:
        """What `up` recorded in runtime.json: servers, and with --processes each service's pid."""
        runtime: dict[str, Any] = json.loads((self.data_dir / "runtime.json").read_text())
        return runtime

    def kill_service(self, service: str) -> int:
        """`kill -9` of one service's process (`up --processes`); returns its pid."""
        pid: int = self.runtime()["processes"][service]["pid"]
        os.kill(pid, signal.SIGKILL)
        return pid

    async def until_restarted(self, service: str, old_pid: int, timeout_s: float = 30.0) -> int:
        """The pid of the process `up` started in place of `old_pid`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pid = self.runtime()["processes"][service]["pid"]
            if pid not in (None, old_pid):
                return int(pid)
            await asyncio.sleep(0.1)
        raise AssertionError(f"{service} was not restarted within {timeout_s}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


async def wait_ready(client: httpx.AsyncClient, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the system did not become ready")


def order_body(n: int) -> dict[str, Any]:
    items = ["margherita", "carbonara", "caesar", "tiramisu", "espresso", "lasagna"]
    return {
        "customer": CUSTOMER,
        "items": [
            {"item_id": items[n % len(items)], "quantity": 1 + n % 3},
            {"item_id": items[(n + 2) % len(items)], "quantity": 1},
        ],
    }
