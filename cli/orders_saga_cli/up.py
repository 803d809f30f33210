"""`orders-saga up`: the whole system on one machine, behind one address.

Starts an embedded Redis (AOF) and MongoDB (nx-27017) under the data directory unless
REDIS_URL / MONGO_URL point elsewhere, then the three services, the simulator's actors and the
periodic stock refill in this process, behind one HTTP/WebSocket address. Ctrl-C (SIGINT) or
SIGTERM stops everything in order within 15 s. State lives in the data directory, so running
it again resumes every unfinished order: consumers re-read what they had not acknowledged,
outboxes are swept, deadlines are still in the documents.

Why one process for the services: on a 2-core machine the embedded MongoDB and Redis already
need a core; one Python process for the services avoids a proxy hop and inter-process
serialisation. Each service keeps its own runtime, consumer groups and connections, exactly as
when they run as separate pods, so nothing here depends on sharing a process.

`up --processes` runs each service in a process of its own instead, as pods would, behind
the same address (see `processes.py`): to kill one service and watch the others carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets as secret_tokens
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from starlette.types import ASGIApp

from orders.menu import DEFAULT_STOCK
from orders_saga_cli import frontend_build
from orders_saga_cli.processes import SeparateProcesses
from orders_saga_cli.system import InProcess
from saga_contracts.secrets import Secrets
from sagakit.embedded.mongo import EmbeddedMongo
from sagakit.embedded.redis import RedisServer
from sagakit.logs import configure_logging, get_logger
from sagakit.settings import ConnectionSettings
from sagakit.web import WS_MAX_MESSAGE_BYTES

log = get_logger("orders_saga.up")

# Ctrl-C to exit within 15 s: open connections get 2 s, the services 8 s (their consumers
# finish or abandon in-flight work, which stays pending), the embedded servers the rest.
HTTP_GRACE_S = 2
SERVICES_BUDGET_S = 8.0
SERVER_STOP_S = 2.0
RUNTIME_FILE = "runtime.json"  # where the running system is, for the other commands


def load_secrets(data_dir: Path) -> tuple[Secrets, bool]:
    """The environment's secrets, else the ones kept in the data directory (created once).

    Kept so tracking tokens and the operator key stay valid across restarts. Returns whether
    the operator key was generated here (then it is printed).
    """
    path = data_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    generated = False
    for name in ("operator_api_key", "tracking_secret"):
        if name not in stored:
            stored[name] = secret_tokens.token_urlsafe(32)
            generated = generated or name == "operator_api_key"
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2))
    return (
        Secrets(
            operator_api_key=os.environ.get("OPERATOR_API_KEY") or stored["operator_api_key"],
            tracking_secret=os.environ.get("TRACKING_SECRET") or stored["tracking_secret"],
        ),
        generated and not os.environ.get("OPERATOR_API_KEY"),
    )


@contextlib.contextmanager
def embedded_servers(data_dir: Path) -> Iterator[tuple[str, str]]:
    """Redis and MongoDB URLs: from the environment, else servers started under `data_dir`."""
    with contextlib.ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis = RedisServer(
                data_dir / "redis", appendonly=True, new_session=True, stop_timeout_s=SERVER_STOP_S
            )
            redis_url = stack.enter_context(redis).url
        mongo_url = os.environ.get("MONGO_URL")
        if not mongo_url:
            mongo = EmbeddedMongo(
                data_dir / "mongo", new_session=True, stop_timeout_s=SERVER_STOP_S
            )
            mongo_url = stack.enter_context(mongo).url
        yield redis_url, mongo_url


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `up` decides the order of shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Backend(Protocol):
    """The services, however they run, behind one ASGI app."""

    @property
    def app(self) -> ASGIApp: ...

    async def start(self) -> None: ...

    async def stop(self, timeout_s: float) -> None: ...


async def serve(host: str, port: int, make_backend: Callable[[], Backend]) -> int:
    backend = make_backend()  # in the loop: its clients bind to it
    app = backend.app
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            ws_ping_interval=20,
            ws_ping_timeout=20,
            ws_max_size=WS_MAX_MESSAGE_BYTES,
            timeout_graceful_shutdown=HTTP_GRACE_S,
            access_log=False,
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    try:
        await backend.start()
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
                return 1
            await asyncio.sleep(0.02)
        url = f"http://{host}:{port}"
        print(f"\norders-saga is up at {url}\n", flush=True)
        await stop.wait()
        print("\nstopping orders-saga ...", flush=True)
        server.should_exit = True
        await serving
        return 0
    finally:
        started_at = time.monotonic()
        await backend.stop(SERVICES_BUDGET_S)
        log.info("services stopped", seconds=round(time.monotonic() - started_at, 2))


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run_up(
    *,
    host: str,
    port: int,
    data_dir: str,
    processes: bool = False,
    replicas: Mapping[str, int] | None = None,
) -> int:
    configure_logging()
    dist = frontend_build.ensure_built()  # built when stale; None without a build
    data = Path(data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    secrets, generated = load_secrets(data)
    with embedded_servers(data) as (redis_url, mongo_url):
        connections = ConnectionSettings(
            redis_url=redis_url,
            mongo_url=mongo_url,
            consumer_name=os.environ.get("CONSUMER_NAME", "local"),
        )
        runtime_file = data / RUNTIME_FILE
        runtime_file.write_text(
            json.dumps(
                {
                    "url": f"http://{host}:{port}",
                    "redis_url": redis_url,
                    "mongo_url": mongo_url,
                    "mongo_db": connections.mongo_db,
                },
                indent=2,
            )
        )
        key = secrets.operator_api_key.get_secret_value()
        print(
            f"orders-saga: data in {data}\n"
            f"  redis  {redis_url}\n  mongo  {mongo_url}\n"
            f"  operator key (X-API-Key): {key}"
            + ("  (generated, kept in secrets.json)" if generated else ""),
            flush=True,
        )
        refill = (
            float(os.environ.get("REFILL_INTERVAL_S", "300")),
            int(os.environ.get("REFILL_TO", str(DEFAULT_STOCK))),
        )

        def make_backend() -> Backend:
            if processes:
                return SeparateProcesses(connections, secrets, dist, refill, runtime_file, replicas)
            return InProcess(connections, secrets, dist, refill)

        try:
            return run_loop(serve(host, port, make_backend))
        except OSError as exc:
            print(f"orders-saga up: {exc}", file=sys.stderr)
            return 1
        finally:
            runtime_file.unlink(missing_ok=True)
