"""The demo site's banner in Chromium, under its strict CSP: the status lines follow a choice
made without a reload (the ``consentgate:change`` event), and one settings control is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers import Demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ANALYTICS = "strong[data-status=analytical]"
MARKETING = "strong[data-status=marketing]"


def test_status_lines_follow_the_choice_and_one_settings_control(
    browser: Browser, demo: Demo
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(demo.url + "/", wait_until="networkidle")
        assert page.inner_text(ANALYTICS) == "not granted — nothing was sent"
        assert page.inner_text(MARKETING) == "not granted — the pixel is not loaded"

        with page.expect_request("**/collect"):
            page.click('#consentgate-banner button[value="accept_all"]')
        page.wait_for_selector("#consentgate-banner", state="hidden")
        # No reload happened: the same document, its lines rewritten by the event.
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        page.wait_for_function(
            f"document.querySelector('{ANALYTICS}').textContent.startsWith('granted')"
        )
        assert page.inner_text(ANALYTICS) == "granted — this visit was counted"
        assert page.inner_text(MARKETING) == "granted — the pixel is loaded"

        # The footer's own "Cookie settings" link is the one control; the injected corner
        # button stays hidden, before and after a reload.
        for _ in range(2):
            assert page.is_visible(".consentgate-settings-link")
            assert not page.is_visible("#consentgate-settings")
            page.reload(wait_until="networkidle")
        assert page.inner_text(ANALYTICS) == "granted — this visit was counted"
        assert not [line for line in console if "Content Security Policy" in line], console
    finally:
        context.close()
