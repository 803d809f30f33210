"""The embedded MongoDB: `nx-27017` (MongoDB wire protocol over SQLite) as a child process.

Used by `orders-saga up` with a persistent data directory and by the tests with a temporary
one; it never deletes its directory. nx-27017 0.8.1 differs from MongoDB in ways listed in
docs/ARCHITECTURE.md and guarded by sagakit/tests/integration/test_mongo_contract.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from sagakit.connections import mongo_client
from sagakit.embedded import die_with_parent

__all__ = ["EmbeddedMongo", "EmbeddedMongoError", "is_nx27017", "mongo_client", "ping"]

EXECUTABLE = "nx-27017"
LOG_NAME = "nx-27017.log"
PID_NAME = "nx-27017.pid"


class EmbeddedMongoError(RuntimeError):
    """The embedded server could not be found, did not start, or did not answer in time."""


def _find_executable() -> str:
    candidate = Path(sys.executable).parent / (EXECUTABLE + (".exe" if os.name == "nt" else ""))
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise EmbeddedMongoError(
            f"{EXECUTABLE} not found next to {sys.executable} or on PATH "
            "(install the nx-27017 package, or set MONGO_URL to a running MongoDB)"
        )
    return found


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(host: str, port: int) -> bool:
    """Whether a listener could bind ``port`` (SO_REUSEADDR, as asyncio's server does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _command(url: str, command: str, timeout_s: float) -> dict[str, Any] | None:
    """The server's answer to ``command`` (on ``admin``), or None if it does not answer in time."""
    ms = max(int(timeout_s * 1000), 100)
    client: MongoClient[dict[str, Any]] = MongoClient(
        url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        return client.admin.command(command)
    except PyMongoError:
        return None
    finally:
        client.close()


def ping(url: str, timeout_s: float) -> bool:
    """True when the server at ``url`` answers ``ping`` within ``timeout_s``."""
    return _command(url, "ping", timeout_s) is not None


def is_nx27017(url: str) -> bool:
    """True when the server at ``url`` is the embedded nx-27017 rather than a real MongoDB.

    nx-27017 answers ``buildInfo`` with ``process: "nx_27017"`` (MongoDB's has no ``process``).
    """
    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        info = client.admin.command("buildInfo")
    finally:
        client.close()
    return info.get("process") == "nx_27017"


def process_is_running(pid: int) -> bool:
    """True for a live process; False for none, or a zombie (killed, not reaped yet).

    Where PID 1 does not reap orphans (some containers), a server killed with its parent stays
    a zombie, which `kill -0` still finds: its pid file would block the next start forever.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _remove_stale_pid_file(pid_file: Path) -> None:
    """Let a new server start where the previous one died without cleaning up."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if not process_is_running(pid):
        pid_file.unlink(missing_ok=True)


class EmbeddedMongo:
    """Runs ``nx-27017 --data-dir <data_dir>`` as a child process.

    Use as a context manager (``with EmbeddedMongo(path) as mongo: mongo.url``) or call
    :meth:`start` / :meth:`stop`. The server's output goes to ``log_file``
    (default ``<data_dir>/nx-27017.log``, appended to), its pid file is
    ``<data_dir>/nx-27017.pid`` (so a second server on the same directory refuses to start).
    ``data_dir`` is created if missing and never deleted.

    ``new_session=True`` puts the server in its own session so a Ctrl-C in the terminal does not
    reach it and the owner decides when it stops (for ``orders-saga up``); the default keeps it in
    the caller's process group so an interrupted test run takes it down too.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_file: Path | None = None,
        startup_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
        new_session: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port if port is not None else 0
        self._fixed_port = port is not None
        self.log_file = (log_file or self.data_dir / LOG_NAME).resolve()
        self.pid_file = self.data_dir / PID_NAME
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.new_session = new_session
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        if self._proc is None:
            raise EmbeddedMongoError("EmbeddedMongo is not running; call start() first")
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> str:
        """Start the server and wait until it answers ``ping``; returns :attr:`url`."""
        if self._proc is not None:
            return self.url
        executable = _find_executable()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        # A port picked by _free_port can be taken before the server binds it: retry then.
        attempts = 1 if self._fixed_port else 3
        for attempt in range(1, attempts + 1):
            if not self._fixed_port:
                self.port = _free_port(self.host)
            try:
                self._spawn_and_wait(executable)
            except EmbeddedMongoError as exc:
                if attempt == attempts or not self._port_clash(exc):
                    raise
            else:
                return self.url
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn_and_wait(self, executable: str) -> None:
        cmd = [
            executable,
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "-p",
            str(self.port),
            # nx-27017 logs to stderr *and* to --log-file; keep a single copy, which also
            # holds tracebacks (they only go to stderr).
            "--log-file",
            os.devnull,
            "--pid-file",
            str(self.pid_file),
        ]
        if self._fixed_port and not _port_is_free(self.host, self.port):
            raise EmbeddedMongoError(f"port {self.port} on {self.host} is already in use")
        _remove_stale_pid_file(self.pid_file)
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.new_session,
                preexec_fn=die_with_parent() if self.new_session else None,
            )
        self._proc = proc
        url = self.url
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            code = proc.poll()
            if code is not None:
                self._proc = None
                raise EmbeddedMongoError(
                    f"{EXECUTABLE} exited with code {code} during startup "
                    f"(port {self.port}, data dir {self.data_dir}); log {self.log_file}:\n"
                    f"{self._log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise EmbeddedMongoError(
                    f"{EXECUTABLE} did not answer ping within {self.startup_timeout_s:g} s "
                    f"at {url}; log {self.log_file}:\n{self._log_tail()}"
                )
            # buildInfo (nx-27017 reports its pid there) tells our server from another
            # process that happens to hold the port.
            info = _command(url, "buildInfo", min(0.5, remaining))
            if info is not None:
                server_pid = info.get("pid", proc.pid)
                if server_pid == proc.pid:
                    return
                self.stop()
                raise EmbeddedMongoError(
                    f"{url} is answered by another server (pid {server_pid}), not by "
                    f"{EXECUTABLE} pid {proc.pid}; log {self.log_file}:\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            with self.log_file.open("rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode(errors="replace")
        except OSError as exc:
            return f"<cannot read {self.log_file}: {exc}>"
        return "\n".join(text.splitlines()[-30:]) or "<empty>"

    def _port_clash(self, exc: EmbeddedMongoError) -> bool:
        text = f"{exc}\n{self._log_tail()}".lower()
        return "address already in use" in text or "answered by another server" in text

    def stop(self) -> None:
        """Terminate the server (SIGTERM), killing it if it has not exited in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=self.stop_timeout_s)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed or cleaned up (the pid file stays;
        the next start removes it). `start()` may be called again on the same port and data."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(timeout=self.stop_timeout_s)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
