"""Debian's Chromium under Playwright for the browser tests (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root on a machine with a closed network: no sandbox, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_or_skip() -> None:
    """Skip without Chromium, unless REQUIRE_BROWSER=1 (CI sets it) makes that a failure."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (install Debian's chromium package)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def chromium_page(base_url: str, *, init_script: str | None = None) -> Iterator[Any]:
    """A page in a fresh headless Chromium; fails if the page threw an uncaught error."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        if init_script is not None:
            context.add_init_script(init_script)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        context.close()
        browser.close()
        assert errors == [], f"uncaught errors in the page: {errors}"
