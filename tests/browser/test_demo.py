"""The demo site (`python -m demo_site`, the `demo` fixture of tests/conftest.py) in Chromium."""

from __future__ import annotations

import time
import uuid

from helpers import Demo, demo_hits

from .conftest import CHROMIUM
from .connections import ConnectionLog


def test_in_chromium_no_hit_arrives_before_consent(demo: Demo) -> None:
    """What a person sees in a real browser, under the demo's strict CSP: the trackers stay
    silent until "Accept all", then report at once without a reload."""
    from playwright.sync_api import sync_playwright

    probe = f"/?probe={uuid.uuid4().hex}"
    tracked: list[str] = []
    console: list[str] = []
    # Every host but 127.0.0.1 maps to the connection log: nothing leaves the machine.
    with sync_playwright() as playwright, ConnectionLog() as connections:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", *connections.chromium_args()],
        )
        try:
            page = browser.new_page()
            page.on("console", lambda message: console.append(message.text))
            page.on(
                "request",
                lambda request: (
                    tracked.append(request.url)
                    if "/collect" in request.url or "/pixel.gif" in request.url
                    else None
                ),
            )
            page.goto(demo.url + probe, wait_until="networkidle")
            assert page.is_visible("#consentgate-banner")
            assert tracked == []
            assert connections.since() == []

            with page.expect_request("**/collect"):
                page.click('#consentgate-banner button[value="accept_all"]')
            page.wait_for_selector("#consentgate-banner", state="hidden")
            with demo.client() as observer:
                deadline = time.monotonic() + 5
                while not [h for h in demo_hits(observer) if h["page"] == probe]:
                    assert time.monotonic() < deadline, "the analytics hit never arrived"
                    time.sleep(0.05)
            page.wait_for_load_state("networkidle")
            assert any("/pixel.gif?page=/" in url for url in tracked), tracked
        finally:
            browser.close()
    assert not [line for line in console if "Content Security Policy" in line], console
