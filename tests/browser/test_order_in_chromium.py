"""A person in Chromium: choose items, check out, watch the order arrive live, see it on /ops.

Runs Debian's Chromium (/usr/bin/chromium) under Playwright against `orders-saga up` with the
built browser app. Screenshots go to tests/artifacts/. Without Chromium the test is skipped,
unless REQUIRE_BROWSER=1 (CI sets it) turns the absence into a failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orders_saga_cli import frontend_build
from saga_contracts.messages import OrderStatus

from ..system import FAST_ACTORS, System
from .chromium import chromium_or_skip, chromium_page

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# The happy path, in the order an order goes through it.
STATUS_ORDER = [status.value for status in OrderStatus if status is not OrderStatus.CANCELLED]
# Every step answered at once would end the order before the page opens: keep it watchable.
WATCHABLE = {
    **FAST_ACTORS,
    "PAYMENT_DELAY": "uniform:300:600",
    "KITCHEN_ACCEPT_DELAY": "uniform:300:600",
    "KITCHEN_COOK_DELAY": "uniform:300:600",
    "COURIER_PICKUP_DELAY": "uniform:300:600",
    "COURIER_TRAVEL_DELAY": "uniform:300:600",
    "PAYMENT_DECLINE_RATE": "0",
    "KITCHEN_REJECT_RATE": "0",
    "COURIER_FAIL_RATE": "0",
}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    chromium_or_skip()
    if frontend_build.ensure_built() is None:
        pytest.fail("the browser app could not be built (npm ci && npm run build in frontend/)")
    running = System(tmp_path_factory.mktemp("browser") / "data", env=WATCHABLE)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def page(system: System) -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(system.url) as page:
        yield page


RECORD_STATUSES = """
() => {
  window.__statuses = [];
  const note = () => {
    const el = document.querySelector('[data-testid="current-status"]');
    const status = el && el.getAttribute('data-status');
    if (status && window.__statuses[window.__statuses.length - 1] !== status) {
      window.__statuses.push(status);
    }
  };
  new MutationObserver(note).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'],
  });
  note();
}
"""


def test_a_customer_orders_and_watches_it_arrive_then_the_operator_sees_it(
    page: Any, system: System
) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    margherita = page.get_by_role("article", name="Pizza Margherita")
    expect(margherita).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Add Pizza Margherita to cart").click()
    page.get_by_role("button", name="Add Spaghetti Carbonara to cart").click()
    page.screenshot(path=ARTIFACTS / "menu.png", full_page=True)

    page.get_by_role("link", name=re.compile("checkout", re.IGNORECASE)).first.click()
    expect(page).to_have_url(re.compile(r"/checkout$"))
    page.get_by_role("button", name="Place order").click()  # empty form: refused in the page
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Address").fill("12 Analytical Row")
    page.get_by_label("Phone").fill("+44 20 7946 0000")
    page.screenshot(path=ARTIFACTS / "checkout.png", full_page=True)
    page.get_by_role("button", name="Place order").click()

    expect(page).to_have_url(re.compile(r"/track/[^/]+$"), timeout=15_000)
    order_id = page.url.rsplit("/", 1)[1]
    page.evaluate(RECORD_STATUSES)
    expect(page.get_by_test_id("connection")).to_have_attribute(
        "data-state", re.compile("live|closed"), timeout=15_000
    )
    current = page.get_by_test_id("current-status")
    expect(current).to_have_attribute("data-status", "delivered", timeout=60_000)
    seen: list[str] = page.evaluate("() => window.__statuses")
    positions = [STATUS_ORDER.index(status) for status in seen]
    assert positions == sorted(positions), f"a status went backwards: {seen}"
    assert len(seen) > 1, f"no live change was shown, only {seen}"
    timeline = page.get_by_role("list", name="Timeline").get_by_role("listitem")
    expect(timeline).to_have_count(len(STATUS_ORDER))
    page.screenshot(path=ARTIFACTS / "tracking-delivered.png", full_page=True)

    page.goto("/ops")
    page.get_by_label("Operator key").fill(system.operator_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("table", name="Streams")).to_be_visible(timeout=15_000)
    recent = page.get_by_role("table", name="Recent orders")
    expect(recent).to_contain_text(order_id, timeout=15_000)
    page.screenshot(path=ARTIFACTS / "ops.png", full_page=True)


def test_the_menu_fits_a_phone_in_dark_mode(page: Any) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    page.goto("/")
    expect(page.get_by_role("article", name="Pizza Margherita")).to_be_visible(timeout=15_000)
    assert page.evaluate("() => document.documentElement.classList.contains('dark')")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    page.screenshot(path=ARTIFACTS / "menu-phone-dark.png", full_page=True)
