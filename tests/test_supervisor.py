"""The supervisor of `up --processes`, with real child processes: a child that dies is started
again, a crash loop backs off, stop() ends every child (SIGKILL for one ignoring SIGTERM)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orders_saga_cli.supervisor import ChildSpec, Supervisor
from sagakit.backoff import Backoff
from sagakit.embedded.redis import free_port

CHILD = """
import http.server, signal, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
if mode == "exit":
    sys.exit(3)
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


@dataclass(frozen=True)
class RecordingBackoff(Backoff):
    """No waiting; remembers which attempt each restart was."""

    attempts: list[int] = field(default_factory=list)

    def delay(self, attempt: int, rng: Any = None) -> float:
        self.attempts.append(attempt)
        return 0.05


def spec(tmp_path: Path, name: str, mode: str = "serve") -> ChildSpec:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    port = free_port()
    return ChildSpec(
        name,
        [sys.executable, str(script), str(port), mode],
        dict(os.environ),
        f"http://127.0.0.1:{port}",
    )


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polling another process's state
            await asyncio.sleep(0.02)


@pytest.fixture
async def stopped_after() -> AsyncIterator[list[Supervisor]]:
    supervisors: list[Supervisor] = []
    yield supervisors
    for supervisor in supervisors:
        await supervisor.stop(timeout_s=2)


async def test_a_killed_child_is_started_again_and_recorded(
    tmp_path: Path, stopped_after: list[Supervisor]
) -> None:
    recorded: list[dict[str, dict[str, Any]]] = []
    supervisor = Supervisor(
        [spec(tmp_path, "one"), spec(tmp_path, "two")],
        on_change=recorded.append,
        backoff=RecordingBackoff(),
    )
    stopped_after.append(supervisor)
    await supervisor.start(timeout_s=30)
    first = supervisor.views()
    assert all(view["pid"] for view in first.values())

    os.kill(first["one"]["pid"], signal.SIGKILL)
    await until(lambda: supervisor.views()["one"]["pid"] not in (None, first["one"]["pid"]))

    now = supervisor.views()
    assert now["one"]["restarts"] == 1
    assert now["two"] == first["two"]  # the other child was left alone
    assert recorded[-1]["one"]["pid"] == now["one"]["pid"]


async def test_a_crash_loop_backs_off_and_a_stable_run_resets_it(
    tmp_path: Path, stopped_after: list[Supervisor]
) -> None:
    crashing = RecordingBackoff()
    supervisor = Supervisor(
        [spec(tmp_path, "crash", mode="exit")], backoff=crashing, stable_after_s=3600
    )
    stopped_after.append(supervisor)
    supervisor.launch()
    await until(lambda: len(crashing.attempts) >= 3)
    assert crashing.attempts[:3] == [1, 2, 3]  # each short run counts: the delay grows

    steady = RecordingBackoff()
    supervisor = Supervisor(
        [spec(tmp_path, "crash", mode="exit")], backoff=steady, stable_after_s=0
    )
    stopped_after.append(supervisor)
    supervisor.launch()
    await until(lambda: len(steady.attempts) >= 3)
    assert steady.attempts[:3] == [1, 1, 1]


async def test_stop_ends_every_child_killing_one_that_ignores_sigterm(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [spec(tmp_path, "polite"), spec(tmp_path, "stubborn", mode="ignore-term")],
        backoff=RecordingBackoff(),
    )
    await supervisor.start(timeout_s=30)
    processes = {name: child.process for name, child in supervisor.children.items()}
    await supervisor.stop(timeout_s=1)
    assert processes["polite"] is not None and processes["polite"].returncode == -signal.SIGTERM
    assert processes["stubborn"] is not None
    assert processes["stubborn"].returncode == -signal.SIGKILL
    assert all(view["pid"] is None for view in supervisor.views().values())
