"""The built browser app in Chromium through the frontend image's nginx server alone
(deploy/frontend.nginx.conf.template, rendered as the image renders it) in front of a real
`orders-saga up`: the app runs under its Content-Security-Policy, loads the menu through the
server's path split and opens a tracking WebSocket to its own origin without a violation.

Needs nginx (Debian: nginx-light), Debian's Chromium and the app's build; skipped without nginx.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orders_saga_cli import frontend_build
from sagakit.embedded.redis import free_port

from ..browser.chromium import chromium_or_skip, chromium_page
from ..system import FAST_ACTORS, System, order_body
from .nginx_harness import Nginx, frontend_site, nginx_or_skip

pytestmark = pytest.mark.slow

# Every securitypolicyviolation event of the document, from before its first script runs.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__violations.push(`${event.effectiveDirective} ${event.blockedURI}`);
});
"""

OPEN_TRACKING_SOCKET = """
([orderId, token]) => new Promise((resolve) => {
  const query = new URLSearchParams({token, since: '0'});
  const socket = new WebSocket(`ws://${location.host}/ws/tracking/${orderId}?${query}`);
  socket.onmessage = (event) => { resolve(JSON.parse(event.data)); socket.close(); };
  socket.onerror = () => resolve({type: 'error'});
})
"""


@dataclass
class Stack:
    url: str
    system: System


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary = nginx_or_skip()
    chromium_or_skip()
    dist = frontend_build.ensure_built()
    if dist is None:
        pytest.fail("the browser app could not be built (npm ci && npm run build in frontend/)")
    work = tmp_path_factory.mktemp("nginx-browser")
    system = System(work / "data", env=FAST_ACTORS)
    port = free_port()
    # up serves every service's paths on its one port: all three upstreams go there, by address
    # (nginx asks its resolver only for names)
    upstream = f"127.0.0.1:{system.port}"
    env = {
        "NGINX_ENTRYPOINT_LOCAL_RESOLVERS": "",
        "NGINX_LOCAL_RESOLVERS": "127.0.0.1",
        "ORDERS_UPSTREAM": upstream,
        "DELIVERY_UPSTREAM": upstream,
        "NOTIFICATIONS_UPSTREAM": upstream,
    }
    nginx = Nginx(binary, work / "nginx", {"frontend": frontend_site(dist.resolve(), port, env)})
    try:
        system.start()
        nginx.start([port])
        yield Stack(f"http://127.0.0.1:{port}", system)
    finally:
        nginx.stop()
        system.stop()


@pytest.fixture
def page(stack: Stack) -> Iterator[Any]:
    with chromium_page(stack.url, init_script=RECORD_VIOLATIONS) as page:
        yield page


def violations(page: Any) -> list[str]:
    found: list[str] = page.evaluate("() => window.__violations")
    return found


def test_the_app_runs_under_its_policy_through_the_frontend_server(page: Any, stack: Stack) -> None:
    from playwright.sync_api import expect

    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # the menu comes from orders, through the server's /api/menu
    expect(page.get_by_role("article", name="Pizza Margherita")).to_be_visible(timeout=15_000)
    assert violations(page) == []

    placed = httpx.post(f"{stack.url}/api/orders", json=order_body(0), timeout=10)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    first = page.evaluate(OPEN_TRACKING_SOCKET, [order["id"], order["tracking_token"]])
    assert first["type"] == "snapshot" and first["order_id"] == order["id"]

    for path in (f"/track/{order['id']}", "/ops"):
        page.goto(path)
        expect(page.locator("#root > *").first).to_be_attached(timeout=15_000)
    assert violations(page) == []


def test_the_policy_does_block_inline_script(page: Any) -> None:
    """The check above would pass with no policy at all unless a violation is seen here."""
    page.goto("/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inline = 1'; document.head.append(s); }"
    )
    page.wait_for_function("() => window.__violations.length > 0", timeout=5_000)
    assert page.evaluate("() => window.__inline") is None
    assert violations(page) == ["script-src-elem inline"]
