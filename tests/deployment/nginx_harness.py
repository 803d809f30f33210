"""The frontend image's nginx server (deploy/frontend.nginx.conf.template) under a local nginx
(Debian's), wrapped in a main config like the image's (pid and temp files in a private
directory), and the stand-ins it proxies to: stub services and a DNS server.

The template is rendered as the image's entrypoint renders it (20-envsubst-on-templates.sh):
`envsubst` given the names of the defined environment variables that NGINX_ENVSUBST_FILTER
matches, the environment being the Dockerfile's ENV plus the test's. The result is used as is
except where it names the image's web root and its listen port; each must appear exactly once,
so the substitution cannot silently miss."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import struct
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
FRONTEND_TEMPLATE = REPO / "deploy" / "frontend.nginx.conf.template"
FRONTEND_DEFAULT_CONF = REPO / "deploy" / "frontend.default.conf"
FRONTEND_DOCKERFILE = REPO / "deploy" / "frontend.Dockerfile"
IMAGE_WEB_ROOT = "/usr/share/nginx/app"  # where deploy/frontend.Dockerfile puts the build
IMAGE_PORT = 8080
MIME_TYPES = Path("/etc/nginx/mime.types")  # Debian's nginx-common; the images carry their own

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
    """The nginx binary (and envsubst, which renders its config); without them the test is
    skipped, unless REQUIRE_NGINX=1 (CI sets it) turns the absence into a failure."""
    binary = nginx_binary()
    missing = []
    if binary is None:
        missing.append("nginx is not installed (Debian: apt-get install nginx-light)")
    if shutil.which("envsubst") is None:
        missing.append("envsubst is not installed (Debian: apt-get install gettext-base)")
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    assert binary is not None
    return binary


def image_env() -> dict[str, str]:
    """The ENV of the frontend image's runtime stage (the last stage)."""
    text = re.sub(r"\\\n", " ", FRONTEND_DOCKERFILE.read_text())
    runtime = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in runtime.splitlines():
        if line.startswith("ENV "):
            for word in shlex.split(line[len("ENV ") :]):
                name, _, value = word.partition("=")
                env[name] = value
    return env


def render_template(overrides: dict[str, str]) -> str:
    """deploy/frontend.nginx.conf.template as the image renders it in a container started with
    `overrides` in its environment. The image's 15-local-resolvers.envsh (which reads
    /etc/resolv.conf) is not emulated: a test sets NGINX_LOCAL_RESOLVERS itself."""
    env = image_env() | overrides
    filter_ = re.compile(env.get("NGINX_ENVSUBST_FILTER", ""))
    names = [name for name in env if filter_.search(name)]
    assert "NGINX_LOCAL_RESOLVERS" in names, "set NGINX_LOCAL_RESOLVERS (and filter it in)"
    rendered = subprocess.run(
        ["envsubst", " ".join(f"${{{name}}}" for name in names)],
        input=FRONTEND_TEMPLATE.read_text(),
        env={"PATH": os.environ.get("PATH", "")} | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return rendered.stdout


def substitute(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} is not in the config exactly once"
        text = text.replace(old, new)
    return text


def frontend_site(web_root: Path, port: int, env: dict[str, str]) -> str:
    return substitute(
        render_template(env),
        {
            f"listen {IMAGE_PORT};": f"listen 127.0.0.1:{port};",
            f"root {IMAGE_WEB_ROOT};": f"root {web_root};",
        },
    )


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
    """Stands in for a Python service behind nginx: says who it is and what it was asked."""

    async def http(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "service": name,
                "path": request.url.path,
                "query": request.url.query,
                "host": request.headers.get("host"),
                "body_bytes": len(await request.body()),
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


@dataclass
class StubDns:
    """A DNS server on a free loopback UDP port for nginx's `resolver`: A records for `names`
    (which a test may change while it runs), an empty answer for any other type of a known
    name, NXDOMAIN for the rest."""

    names: dict[str, str] = field(default_factory=dict)
    sock: socket.socket = field(
        default_factory=lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    )
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def start(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                query, client = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            answer = self.answer(query)
            if answer is not None:
                self.sock.sendto(answer, client)

    def answer(self, query: bytes) -> bytes | None:
        if len(query) < 12:
            return None
        ident, flags, qdcount = struct.unpack("!HHH", query[:6])
        if qdcount != 1:
            return None
        labels, offset = [], 12
        while offset < len(query) and query[offset] != 0:
            length = query[offset]
            labels.append(query[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
            offset += 1 + length
        question_end = offset + 5  # the root label, QTYPE, QCLASS
        if question_end > len(query):
            return None
        qtype = struct.unpack("!H", query[offset + 1 : offset + 3])[0]
        name = ".".join(labels).lower()
        address = self.names.get(name)
        rcode = 3 if address is None else 0
        records = b""
        if address is not None and qtype == 1:  # A
            records = struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(address)
        header = struct.pack(
            "!HHHHHH",
            ident,
            0x8400 | (flags & 0x0100) | 0x0080 | rcode,  # response, authoritative, RD, RA
            1,
            1 if records else 0,
            0,
            0,
        )
        return header + query[12:question_end] + records

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.sock.close()
