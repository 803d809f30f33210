"""The two nginx configs: the browser app's own server (deploy/frontend.nginx.conf: SPA fallback,
caching, gzip, security headers) and compose's gateway (deploy/gateway.conf: the path split to
the services, WebSocket upgrades, everything else to the app).

The static checks run everywhere. The rest runs the configs under a real nginx when one is
installed (Debian: `apt-get install nginx-light`), in front of stand-ins for the services, and is
skipped otherwise."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sagakit.embedded.redis import free_port

from .nginx_harness import (
    FRONTEND_CONF,
    GATEWAY_CONF,
    Nginx,
    StubServer,
    frontend_site,
    gateway_site,
    gateway_upstreams,
    nginx_binary,
    nginx_or_skip,
)
from .routes import ROUTES

SERVICES = sorted(set(ROUTES.values()))
INDEX = "<!doctype html><html><head><title>marker-index</title></head><body></body></html>\n"
ASSET = "assets/index-1a2b3c4d.js"
ASSET_BODY = "export const answer = 42;\n" * 200  # above gzip_min_length


def locations(conf: str) -> dict[str, str]:
    """location argument -> its block's body (the configs nest no blocks in a location)."""
    code = re.sub(r"#[^\n]*", "", conf)
    return {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\s*location\s+([^{\n]+?)\s*\{([^}]*)\}", code, re.MULTILINE)
    }


# -- static ------------------------------------------------------------------------------------


def test_frontend_falls_back_to_the_app_for_client_side_routes() -> None:
    blocks = locations(FRONTEND_CONF.read_text())
    assert blocks["/"].split() == ["try_files", "$uri", "/index.html;"]
    assert blocks["/assets/"].split() == ["try_files", "$uri", "=404;"]
    assert "return 200" in blocks["= /healthz"]


def test_gateway_upgrades_websockets_and_keeps_them_open() -> None:
    conf = GATEWAY_CONF.read_text()
    assert "proxy_http_version 1.1;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert int(re.search(r"proxy_read_timeout (\d+)s;", conf).group(1)) >= 3600  # type: ignore[union-attr]
    blocks = locations(conf)
    for path, service in ROUTES.items():
        assert blocks[path].split() == ["proxy_pass", f"http://{service};"], path
    assert blocks["/"].split() == ["proxy_pass", "http://frontend;"]


# -- under nginx -------------------------------------------------------------------------------


@dataclass
class Running:
    frontend: str
    gateway: str
    nginx: Nginx


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    binary = nginx_or_skip()
    work = tmp_path_factory.mktemp("nginx")
    web_root = work / "app"
    (web_root / "assets").mkdir(parents=True)
    (web_root / "index.html").write_text(INDEX)
    (web_root / ASSET).write_text(ASSET_BODY)
    stubs = {name: StubServer(name) for name in SERVICES}
    frontend_port, gateway_port = free_port(), free_port()
    upstream_ports = {name: stub.port for name, stub in stubs.items()} | {"frontend": frontend_port}
    nginx = Nginx(
        binary,
        work / "nginx",
        {
            "frontend": frontend_site(web_root, frontend_port),
            "gateway": gateway_site(gateway_port, upstream_ports),
        },
    )
    try:
        for stub in stubs.values():
            stub.start()
        nginx.start([frontend_port, gateway_port])
        yield Running(
            f"http://127.0.0.1:{frontend_port}", f"http://127.0.0.1:{gateway_port}", nginx
        )
    finally:
        nginx.stop()
        for stub in stubs.values():
            stub.stop()


def get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=10)


def csp(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    directives = (d.split() for d in policy.split(";") if d.strip())
    return {name: sources for name, *sources in directives}


def test_nginx_accepts_both_configs(running: Running, tmp_path: Path) -> None:
    binary = nginx_binary()
    assert binary is not None
    checked = running.nginx.check_config()
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    broken = Nginx(binary, tmp_path, {"site": "server { listen 127.0.0.1:1; try_files; }"})
    assert broken.check_config().returncode != 0  # `nginx -t` does reject a bad config


@pytest.mark.parametrize("path", ["/", "/track/ord_123", "/ops", "/checkout", "/track/a/b?x=1"])
def test_client_side_routes_get_the_app_revalidated_on_every_load(
    running: Running, path: str
) -> None:
    response = get(running.frontend + path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year_and_gzipped(running: Running) -> None:
    response = get(f"{running.frontend}/{ASSET}", **{"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert response.text == ASSET_BODY  # httpx decoded it
    assert response.num_bytes_downloaded < len(ASSET_BODY) / 5


def test_a_missing_asset_is_a_404_not_the_app(running: Running) -> None:
    response = get(f"{running.frontend}/assets/index-00000000.js")
    assert response.status_code == 404
    assert "marker-index" not in response.text
    assert "immutable" not in response.headers.get("cache-control", "")


@pytest.mark.parametrize("path", ["/api/menu", "/api/nope/1", "/ws/ops"])
def test_api_paths_that_reach_the_app_server_are_404_json(running: Running, path: str) -> None:
    response = get(running.frontend + path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("path", ["/", "/track/ord_1", f"/{ASSET}", "/healthz", "/nope/x"])
def test_every_answer_carries_the_security_headers(running: Running, path: str) -> None:
    response = get(running.frontend + path, Host="shop.example:8443")
    policy = csp(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline or eval'd script
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "ws://shop.example:8443", "wss://shop.example:8443"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "server" not in response.headers or response.headers["server"] == "nginx"


@pytest.mark.parametrize("host", ["evil.example;script-src *", "a b", "x\tscript-src"])
def test_an_odd_host_header_never_reaches_the_policy(running: Running, host: str) -> None:
    try:
        response = get(f"{running.frontend}/", Host=host)
    except httpx.LocalProtocolError:
        pytest.skip("the client refuses to send this header")
    policy = response.headers.get("content-security-policy", "")
    assert host not in policy and "*" not in policy
    if response.status_code != 400:  # 400: nginx refused the host outright
        assert response.status_code == 200
        assert csp(response)["connect-src"] == ["'self'"]


# -- the gateway in front of the services and the app ------------------------------------------


def test_every_upstream_of_the_gateway_is_a_compose_service() -> None:
    import yaml

    compose = yaml.safe_load((GATEWAY_CONF.parents[1] / "docker-compose.yaml").read_text())
    for name, (host, _) in gateway_upstreams().items():
        assert host in compose["services"], name


def service_for(path: str) -> str:
    return next(service for prefix, service in ROUTES.items() if path.startswith(prefix))


@pytest.mark.parametrize("prefix", [p for p in ROUTES if p.startswith("/api/")])
def test_gateway_sends_each_api_path_to_its_service(running: Running, prefix: str) -> None:
    for path in (prefix, f"{prefix}/ord_123"):
        response = get(f"{running.gateway}{path}?since=2")
        assert response.status_code == 200, path
        assert response.json()["service"] == ROUTES[prefix]
        assert response.json()["path"] == path  # nothing stripped
        assert response.json()["query"] == "since=2"


@pytest.mark.parametrize("path", [p for p in ROUTES if p.startswith("/ws/")] + ["/ws/ops/x"])
def test_gateway_upgrades_websockets_to_the_service(running: Running, path: str) -> None:
    from websockets.sync.client import connect

    url = running.gateway.replace("http://", "ws://") + f"{path}?token=t&since=3"
    with connect(url, open_timeout=10) as socket_:
        message = json.loads(socket_.recv(timeout=10))
    assert message == {"service": service_for(path), "path": path, "query": "token=t&since=3"}


@pytest.mark.parametrize("path", ["/", "/track/ord_123", "/ops"])
def test_gateway_serves_the_app_with_its_headers(running: Running, path: str) -> None:
    response = get(running.gateway + path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == "no-cache"
    # the gateway passes the browser's host:port on, so the policy names the right socket origin
    port = running.gateway.rsplit(":", 1)[1]
    assert f"ws://127.0.0.1:{port}" in csp(response)["connect-src"]


def test_gateway_answers_unknown_api_paths_with_the_apps_404(running: Running) -> None:
    response = get(f"{running.gateway}/api/unknown")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_gateway_passes_the_apps_asset_caching_and_compression_on(running: Running) -> None:
    asset = get(f"{running.gateway}/{ASSET}", **{"Accept-Encoding": "gzip"})
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-encoding"] == "gzip"
    assert asset.text == ASSET_BODY
