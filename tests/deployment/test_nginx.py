"""The frontend image's nginx server (deploy/frontend.nginx.conf.template, rendered as the image
renders it at start): the app's static files (SPA fallback, caching, gzip, security headers) and
the API and WebSocket paths proxied to the services named by the environment, WebSocket upgrades
included.

The static checks run everywhere. The rest runs the rendered config under a real nginx when one
is installed (Debian: `apt-get install nginx-light`), in front of stand-ins for the services and
for DNS, and is skipped otherwise."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from sagakit.embedded.redis import free_port

from .nginx_harness import (
    FRONTEND_DEFAULT_CONF,
    FRONTEND_TEMPLATE,
    REPO,
    Nginx,
    StubDns,
    StubServer,
    frontend_site,
    image_env,
    nginx_binary,
    nginx_or_skip,
    render_template,
)
from .routes import ROUTES

SERVICES = sorted(set(ROUTES.values()))
INDEX = "<!doctype html><html><head><title>marker-index</title></head><body></body></html>\n"
ASSET = "assets/index-1a2b3c4d.js"
ASSET_BODY = "export const answer = 42;\n" * 200  # above gzip_min_length


def locations(conf: str) -> dict[str, str]:
    """location argument -> its block's body (the config nests no blocks in a location)."""
    code = re.sub(r"#[^\n]*", "", conf)
    return {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\s*location\s+([^{\n]+?)\s*\{([^}]*)\}", code, re.MULTILINE)
    }


def upstream_variable(service: str) -> str:
    return f"{service.upper()}_UPSTREAM"


# -- static ------------------------------------------------------------------------------------


def test_frontend_falls_back_to_the_app_for_client_side_routes() -> None:
    blocks = locations(FRONTEND_TEMPLATE.read_text())
    assert blocks["/"].split() == ["try_files", "$uri", "/index.html;"]
    assert blocks["/assets/"].split() == ["try_files", "$uri", "=404;"]
    assert "return 200" in blocks["= /healthz"]


def test_each_api_path_is_proxied_to_the_upstream_its_service_names() -> None:
    conf = FRONTEND_TEMPLATE.read_text()
    blocks = locations(conf)
    for path, service in ROUTES.items():
        assert blocks[path].split() == ["proxy_pass", f"http://$frontend_{service};"], path
    for service in SERVICES:
        # set from the environment, so nginx resolves the name per request, not at start
        assert f"set $frontend_{service} ${{{upstream_variable(service)}}};" in conf
    assert re.search(r"^\s*resolver \$\{NGINX_LOCAL_RESOLVERS\} ", conf, re.MULTILINE)
    # nothing else under /api/ or /ws/ is anybody's
    assert "return 404" in blocks["/api/"] and "return 404" in blocks["/ws/"]


def test_the_proxy_upgrades_websockets_keeps_them_open_and_limits_bodies() -> None:
    conf = FRONTEND_TEMPLATE.read_text()
    assert "proxy_http_version 1.1;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $frontend_connection_upgrade;" in conf
    assert int(re.search(r"proxy_read_timeout (\d+)s;", conf).group(1)) >= 3600  # type: ignore[union-attr]
    assert int(re.search(r"proxy_send_timeout (\d+)s;", conf).group(1)) >= 3600  # type: ignore[union-attr]
    assert "client_max_body_size 64k;" in conf


def test_the_image_substitutes_exactly_the_templates_variables() -> None:
    env = image_env()
    braced = set(re.findall(r"\$\{(\w+)\}", re.sub(r"#[^\n]*", "", FRONTEND_TEMPLATE.read_text())))
    assert braced == {"NGINX_LOCAL_RESOLVERS"} | {upstream_variable(s) for s in SERVICES}
    substituted = {n for n in braced | set(env) if re.search(env["NGINX_ENVSUBST_FILTER"], n)}
    assert substituted == braced
    # nginx's own variables are lower case: the filter can never catch one
    nginx_variables = set(re.findall(r"\$([a-z_]+)", FRONTEND_TEMPLATE.read_text()))
    assert "http_upgrade" in nginx_variables
    assert not {n for n in nginx_variables if re.search(env["NGINX_ENVSUBST_FILTER"], n)}
    # the rendered file lands where the image's conf.d/default.conf includes it from
    assert env["NGINX_ENVSUBST_OUTPUT_DIR"] == "/tmp"
    assert "include /tmp/frontend.conf;" in FRONTEND_DEFAULT_CONF.read_text()
    assert env["NGINX_ENTRYPOINT_LOCAL_RESOLVERS"]  # the resolver comes from /etc/resolv.conf


def test_the_default_upstreams_are_the_compose_services() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    env = image_env()
    for service in SERVICES:
        assert env[upstream_variable(service)] == f"{service}:8000"
        assert service in compose["services"]


# -- under nginx -------------------------------------------------------------------------------


@dataclass
class Running:
    frontend: str
    nginx: Nginx


@pytest.fixture(scope="module")
def stubs() -> Iterator[dict[str, StubServer]]:
    servers = {name: StubServer(name) for name in SERVICES}
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def dns() -> Iterator[StubDns]:
    server = StubDns()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def web_root(work: Path) -> Path:
    root = work / "app"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / ASSET).write_text(ASSET_BODY)
    return root


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, stubs: dict[str, StubServer], dns: StubDns
) -> Iterator[Running]:
    binary = nginx_or_skip()
    work = tmp_path_factory.mktemp("nginx")
    # by name, as in compose and Kubernetes: each resolves through the stub DNS server
    env = {"NGINX_ENTRYPOINT_LOCAL_RESOLVERS": "", "NGINX_LOCAL_RESOLVERS": dns.address}
    for name, stub in stubs.items():
        dns.names[f"{name}.stub.test"] = "127.0.0.1"
        env[upstream_variable(name)] = f"{name}.stub.test:{stub.port}"
    port = free_port()
    nginx = Nginx(binary, work / "nginx", {"frontend": frontend_site(web_root(work), port, env)})
    try:
        nginx.start([port])
        yield Running(f"http://127.0.0.1:{port}", nginx)
    finally:
        nginx.stop()


def get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=10)


def csp(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    directives = (d.split() for d in policy.split(";") if d.strip())
    return {name: sources for name, *sources in directives}


def test_nginx_accepts_the_rendered_config(running: Running, tmp_path: Path) -> None:
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


# -- the proxy to the services -----------------------------------------------------------------


def service_for(path: str) -> str:
    return next(service for prefix, service in ROUTES.items() if path.startswith(prefix))


@pytest.mark.parametrize("prefix", [p for p in ROUTES if p.startswith("/api/")])
def test_each_api_path_reaches_its_service(running: Running, prefix: str) -> None:
    for path in (prefix, f"{prefix}/ord_123"):
        response = get(f"{running.frontend}{path}?since=2", Host="shop.example:8443")
        assert response.status_code == 200, path
        body = response.json()
        assert body["service"] == ROUTES[prefix]
        assert body["path"] == path  # nothing stripped
        assert body["query"] == "since=2"
        assert body["host"] == "shop.example:8443"  # the browser's host:port goes on
        # the service's answer, not the app's caching policy
        assert "cache-control" not in response.headers


@pytest.mark.parametrize("path", [p for p in ROUTES if p.startswith("/ws/")] + ["/ws/ops/x"])
def test_websockets_are_upgraded_through_to_the_service(running: Running, path: str) -> None:
    from websockets.sync.client import connect

    url = running.frontend.replace("http://", "ws://") + f"{path}?token=t&since=3"
    with connect(url, open_timeout=10) as socket_:
        message = json.loads(socket_.recv(timeout=10))
    assert message == {"service": service_for(path), "path": path, "query": "token=t&since=3"}


@pytest.mark.parametrize("path", ["/api/menu", "/api/orders"])
def test_bodies_up_to_64k_go_through_and_larger_ones_are_refused(
    running: Running, path: str
) -> None:
    small = httpx.post(running.frontend + path, content=b"x" * 60_000, timeout=10)
    assert small.status_code == 200
    assert small.json()["service"] == "orders"
    assert small.json()["body_bytes"] == 60_000
    large = httpx.post(running.frontend + path, content=b"x" * 70_000, timeout=10)
    assert large.status_code == 413


@pytest.mark.parametrize("path", ["/api/nope/1", "/api/", "/ws/nope", "/api/unknown"])
def test_api_paths_no_service_owns_are_404_json(running: Running, path: str) -> None:
    response = get(running.frontend + path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_nginx_starts_before_the_services_names_resolve(
    tmp_path: Path, stubs: dict[str, StubServer], dns: StubDns
) -> None:
    """The resolver asks when a request needs a name: a service that comes up after the proxy is
    reached once its name resolves, and one that never does is a 502, not a refusal to start."""
    binary = nginx_or_skip()
    env = {
        "NGINX_ENTRYPOINT_LOCAL_RESOLVERS": "",
        "NGINX_LOCAL_RESOLVERS": dns.address,
        "ORDERS_UPSTREAM": f"late.stub.test:{stubs['orders'].port}",
        "DELIVERY_UPSTREAM": "missing.stub.test:8000",
        "NOTIFICATIONS_UPSTREAM": f"127.0.0.1:{stubs['notifications'].port}",
    }
    port = free_port()
    nginx = Nginx(
        binary, tmp_path / "nginx", {"frontend": frontend_site(web_root(tmp_path), port, env)}
    )
    try:
        nginx.start([port])
        url = f"http://127.0.0.1:{port}"
        assert get(f"{url}/healthz").status_code == 200
        dns.names["late.stub.test"] = "127.0.0.1"
        assert get(f"{url}/api/menu").json()["service"] == "orders"
        assert get(f"{url}/api/couriers").status_code == 502
        assert get(f"{url}/api/ops").json()["service"] == "notifications"
        assert get(f"{url}/track/ord_1").text == INDEX
    finally:
        nginx.stop()
        dns.names.pop("late.stub.test", None)


def test_the_image_defaults_pass_nginx_t(tmp_path: Path) -> None:
    """As the image starts in compose: the names need not resolve for the config to load."""
    binary = nginx_or_skip()
    site = render_template({"NGINX_LOCAL_RESOLVERS": "127.0.0.11"})
    assert "set $frontend_orders orders:8000;" in site
    assert "${" not in re.sub(r"#[^\n]*", "", site)
    checked = Nginx(
        binary,
        tmp_path,
        {"frontend": site.replace("listen 8080;", f"listen 127.0.0.1:{free_port()};")},
    ).check_config()
    assert checked.returncode == 0, checked.stderr
