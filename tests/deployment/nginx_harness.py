"""deploy/frontend.nginx.conf and deploy/gateway.conf under a local nginx (Debian's), wrapped in a
main config like the images' (pid and temp files in a private directory). The configs are used
as committed except where they name the image's web root, their listen port and compose's
upstream hosts; each of those must appear exactly once, so the substitution cannot silently
miss."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from sagakit.embedded.redis import free_port

REPO = Path(__file__).resolve().parents[2]
FRONTEND_CONF = REPO / "deploy" / "frontend.nginx.conf"
GATEWAY_CONF = REPO / "deploy" / "gateway.conf"
IMAGE_WEB_ROOT = "/usr/share/nginx/app"  # where deploy/frontend.Dockerfile puts the build
IMAGE_PORT = 8080
MIME_TYPES = Path("/etc/nginx/mime.types")  # Debian's nginx-common; the images carry their own
UPSTREAM = re.compile(r"upstream (\w+)\s+\{ server ([\w.-]+):(\d+); \}")

MAIN_CONF = """\
{user}
worker_processes 1;
pid {work}/nginx.pid;
events {{ worker_connections 128; }}
http {{
    include {mime_types};
    default_type application/octet-stream;
    access_log {work}/access.log;
    client_body_temp_path {work}/client_temp;
    proxy_temp_path {work}/proxy_temp;
    fastcgi_temp_path {work}/fastcgi_temp;
    uwsgi_temp_path {work}/uwsgi_temp;
    scgi_temp_path {work}/scgi_temp;
{includes}
}}
"""


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    return found if found and MIME_TYPES.is_file() else None


def nginx_or_skip() -> str:
    """The nginx binary; without one the test is skipped, unless REQUIRE_NGINX=1 (CI sets it)
    turns the absence into a failure."""
    binary = nginx_binary()
    if binary is None:
        reason = "nginx is not installed (Debian: apt-get install nginx-light)"
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def substitute(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} is not in the config exactly once"
        text = text.replace(old, new)
    return text


def frontend_site(web_root: Path, port: int) -> str:
    return substitute(
        FRONTEND_CONF.read_text(),
        {
            f"listen {IMAGE_PORT};": f"listen 127.0.0.1:{port};",
            f"root {IMAGE_WEB_ROOT};": f"root {web_root};",
        },
    )


def gateway_upstreams() -> dict[str, tuple[str, int]]:
    """upstream name -> (host, port) as compose resolves it."""
    found = UPSTREAM.findall(GATEWAY_CONF.read_text())
    return {name: (host, int(port)) for name, host, port in found}


def gateway_site(port: int, upstream_ports: dict[str, int]) -> str:
    upstreams = gateway_upstreams()
    assert set(upstreams) == set(upstream_ports), "every upstream needs a local stand-in"
    replacements = {f"listen {IMAGE_PORT};": f"listen 127.0.0.1:{port};"}
    for name, (host, host_port) in upstreams.items():
        replacements[f"server {host}:{host_port};"] = f"server 127.0.0.1:{upstream_ports[name]};"
    return substitute(GATEWAY_CONF.read_text(), replacements)


def wait_for_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


@dataclass
class Nginx:
    """One nginx master serving the given site configs."""

    binary: str
    work: Path
    sites: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None

    @property
    def main_conf(self) -> Path:
        return self.work / "nginx.conf"

    def write(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        includes = []
        for name, text in self.sites.items():
            (self.work / f"{name}.conf").write_text(text)
            includes.append(f"    include {self.work}/{name}.conf;")
        # as root, workers would otherwise drop to nobody, who cannot read a private tmp dir
        user = "user root;" if os.geteuid() == 0 else ""
        self.main_conf.write_text(
            MAIN_CONF.format(
                user=user,
                work=self.work,
                mime_types=MIME_TYPES,
                includes="\n".join(includes),
            )
        )

    def command(self, *args: str) -> list[str]:
        return [
            self.binary,
            "-p",
            f"{self.work}/",
            "-c",
            str(self.main_conf),
            "-e",
            "stderr",
            *args,
        ]

    def check_config(self) -> subprocess.CompletedProcess[str]:
        self.write()
        return subprocess.run(
            self.command("-t"), capture_output=True, text=True, check=False, timeout=30
        )

    def start(self, ports: list[int]) -> None:
        checked = self.check_config()
        assert checked.returncode == 0, checked.stderr
        self.log = (self.work / "nginx.log").open("wb")
        self.process = subprocess.Popen(
            self.command("-g", "daemon off;"), stdout=self.log, stderr=subprocess.STDOUT
        )
        for port in ports:
            try:
                wait_for_port(port)
            except AssertionError:
                self.stop()
                raise AssertionError((self.work / "nginx.log").read_text()) from None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.log is not None:
            self.log.close()


def stub_service(name: str) -> Starlette:
    """Stands in for a Python service behind the gateway: says who it is and what it was asked."""

    async def http(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "service": name,
                "path": request.url.path,
                "query": request.url.query,
                "host": request.headers.get("host"),
            }
        )

    async def websocket(socket_: WebSocket) -> None:
        await socket_.accept()
        await socket_.send_json(
            {"service": name, "path": socket_.url.path, "query": socket_.url.query}
        )
        await socket_.close()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/{path:path}", http, methods=methods),
            WebSocketRoute("/{path:path}", websocket),
        ]
    )


@dataclass
class StubServer:
    """A stub service on a free loopback port, served by uvicorn in a thread."""

    name: str
    port: int = field(default_factory=free_port)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            stub_service(self.name),
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            ws_ping_interval=None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
