"""Every visitor can make the choice: keyboard, small screens, zoom, axe-core (both layers, light
and dark)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from .conftest import LiveServer, Visit, VisitFactory

ACTIVE_IN_BANNER = "document.getElementById('consentgate-banner').contains(document.activeElement)"
ACTIVE_IN_DIALOG = "document.getElementById('consentgate-dialog').contains(document.activeElement)"
DIALOG_OPEN = "document.getElementById('consentgate-dialog').open"


def focused(v: Visit) -> dict[str, Any]:
    return dict(
        v.page.evaluate(
            """() => {
              const el = document.activeElement, s = getComputedStyle(el);
              return {tag: el.tagName, id: el.id, value: el.value || '', name: el.name || '',
                      text: (el.textContent || '').trim(),
                      outline: s.outlineStyle !== 'none' ? parseFloat(s.outlineWidth) : 0};
            }"""
        )
    )


def tab_to(v: Visit, match: dict[str, str], limit: int = 80) -> dict[str, Any]:
    for _ in range(limit):
        v.page.keyboard.press("Tab")
        now = focused(v)
        if all(now.get(k) == want for k, want in match.items()):
            return now
    raise AssertionError(f"never reached {match} by Tab")


def test_keyboard_only_choice_and_reopen(visit: VisitFactory) -> None:
    v = visit()
    v.goto("/")
    # Focus starts inside the first layer, so a screen reader announces it and Tab reaches it first.
    assert v.page.evaluate(ACTIVE_IN_BANNER)

    customise = tab_to(v, {"tag": "BUTTON", "text": "Customise"})
    assert customise["outline"] >= 2, "visible focus"
    v.page.keyboard.press("Enter")
    v.page.wait_for_function(DIALOG_OPEN)
    assert v.page.evaluate(ACTIVE_IN_DIALOG)
    box = tab_to(v, {"tag": "INPUT", "value": "analytical"})
    assert box["outline"] >= 2
    v.page.keyboard.press("Space")
    save = tab_to(v, {"tag": "BUTTON", "value": "save"})
    assert save["outline"] >= 2
    v.page.keyboard.press("Enter")
    v.page.wait_for_selector("#consentgate-banner", state="hidden")
    assert not v.page.evaluate(DIALOG_OPEN)
    assert v.page.evaluate("window.consentgate.get().granted") == ["analytical", "necessary"]
    # Focus is not lost on <body>: it lands on the control that re-opens the choice.
    assert focused(v)["id"] == "consentgate-settings"

    v.page.keyboard.press("Enter")
    v.page.wait_for_function(DIALOG_OPEN)
    assert v.page.evaluate(ACTIVE_IN_DIALOG)
    # The re-opened dialog shows the current choice.
    assert v.page.is_checked("#consentgate-dialog input[value=analytical]")
    v.page.keyboard.press("Escape")
    v.page.wait_for_function(f"!{DIALOG_OPEN}")
    assert focused(v)["id"] == "consentgate-settings"

    v.page.keyboard.press("Enter")
    v.page.wait_for_function(DIALOG_OPEN)
    reject = tab_to(v, {"tag": "BUTTON", "value": "reject_all"})
    assert reject["outline"] >= 2
    with v.page.expect_navigation():  # withdrawing analytics reloads the page
        v.page.keyboard.press("Enter")
    assert v.page.evaluate("window.consentgate.get().granted") == ["necessary"]


def test_reject_is_as_prominent_as_accept(visit: VisitFactory) -> None:
    v = visit()
    v.goto("/")
    styles = v.page.evaluate(
        """() => Array.from(document.querySelectorAll('#consentgate-banner button')).map(b => {
          const s = getComputedStyle(b), r = b.getBoundingClientRect();
          return [s.color, s.backgroundColor, s.fontSize, s.fontWeight, s.borderColor,
                  Math.round(r.height)];
        })"""
    )
    # Reject all, Accept all, Customise: the same element, colours, type and size.
    assert len(styles) == 3 and styles[0] == styles[1] == styles[2], styles


def test_banner_overlays_without_shifting_the_layout(visit: VisitFactory) -> None:
    with_js = visit()
    with_js.goto("/")
    without = visit(javascript=False)
    without.goto("/")
    position = "getComputedStyle(document.getElementById('consentgate-banner')).position"
    assert with_js.page.evaluate(position) == "fixed"
    lead = "document.getElementById('lead').getBoundingClientRect().top"
    assert with_js.page.evaluate(lead) == without.page.evaluate(lead)
    assert with_js.page.evaluate("window.__shift") == 0, with_js.page.evaluate("window.__shifts")


def test_a_half_parsed_banner_is_never_painted(visit: VisitFactory, server: LiveServer) -> None:
    """Browsers paint while they parse; a slow network or a busy CPU can stop the parser halfway
    through the banner. Painted then, the bottom-anchored banner would grow upwards as the rest
    arrives. Here the banner's second half reaches the browser 300 ms after its first."""
    page = b""

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/":
            return await server.app(scope, receive, send)
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        cut = page.index(b"data-consentgate-customise")  # in the first layer's last button
        await send({"type": "http.response.body", "body": page[:cut], "more_body": True})
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": page[cut:]})

    live = LiveServer(slow)
    # The page as the slow server's visitors get it: consentgate's URLs name the host they asked.
    page = httpx.get(server.url("/"), headers={"host": live.origin.split("//")[1]}).content
    with live:
        v = visit(live=live)
        v.goto("/")
        assert v.page.is_visible("#consentgate-banner")
        # Styled: its stylesheet came from the slow server too (an unstyled banner is in flow).
        position = "getComputedStyle(document.getElementById('consentgate-banner')).position"
        assert v.page.evaluate(position) == "fixed"
        assert v.page.evaluate("window.__shift") == 0, v.page.evaluate("window.__shifts")


def inside(v: Visit, selector: str) -> None:
    """Every visible control of ``selector`` can be scrolled into the viewport, whole."""
    width, height = v.page.evaluate("[window.innerWidth, window.innerHeight]")
    for control in v.page.locator(f"{selector} :is(button, input[type=checkbox], a)").all():
        if not control.is_visible():  # inside a closed "Details" disclosure
            continue
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        assert box["y"] >= 0 and box["y"] + box["height"] <= height


def fits(v: Visit) -> None:
    """No horizontal scrolling; every control of both layers can be reached inside the viewport."""
    page = v.page
    width = page.evaluate("window.innerWidth")
    for layer in ("#consentgate-banner", "#consentgate-dialog"):
        if layer == "#consentgate-dialog":
            page.click("#consentgate-banner [data-consentgate-customise]")
            page.wait_for_function(DIALOG_OPEN)
            page.evaluate(
                "document.querySelectorAll('#consentgate-dialog details')"
                ".forEach(d => { d.open = true; })"
            )
        box = page.locator(layer).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        assert page.locator(layer).evaluate("b => b.scrollWidth <= b.clientWidth")
        inside(v, layer)


def test_usable_at_320px(visit: VisitFactory) -> None:
    v = visit(viewport={"width": 320, "height": 568})
    v.goto("/")
    fits(v)


def test_usable_at_200_percent_zoom(visit: VisitFactory) -> None:
    # 200 % zoom of a 1280x720 window is a 640x360 CSS viewport at twice the pixel density.
    v = visit(viewport={"width": 640, "height": 360}, device_scale_factor=2)
    v.goto("/")
    fits(v)


def serious(v: Visit, axe_js: Path, selector: str | None) -> list[str]:
    v.page.add_script_tag(path=str(axe_js))
    results = v.page.evaluate(
        """async (selector) => {
          const r = await axe.run(selector || document, {resultTypes: ['violations']});
          return r.violations.map(x => ({id: x.id, impact: x.impact,
              nodes: x.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
        }""",
        selector,
    )
    return [
        f"{r['id']} ({r['impact']}): {r['nodes']}"
        for r in results
        if r["impact"] in ("serious", "critical")
    ]


def test_axe_finds_nothing_serious_in_either_layer(visit: VisitFactory, axe_js: Path) -> None:
    for scheme in ("light", "dark"):
        v = visit(color_scheme=scheme)
        v.goto("/")
        assert serious(v, axe_js, "#consentgate-banner") == [], scheme
        assert serious(v, axe_js, ".consentgate-placeholder") == [], scheme
        v.page.click("#consentgate-banner [data-consentgate-customise]")
        v.page.wait_for_function(DIALOG_OPEN)
        # Open every disclosure so the descriptions and service switches are scanned too.
        v.page.evaluate(
            "document.querySelectorAll('#consentgate-dialog details')"
            ".forEach(d => { d.open = true; })"
        )
        v.page.wait_for_timeout(250)  # the dialog's entrance, if motion is allowed
        assert serious(v, axe_js, "#consentgate-dialog") == [], scheme


def test_axe_finds_nothing_serious_on_the_preferences_page(
    visit: VisitFactory, axe_js: Path
) -> None:
    for locale, scheme in (("en-GB", "light"), ("ru-RU", "light"), ("en-GB", "dark")):
        v = visit(locale=locale, color_scheme=scheme)
        v.goto("/consentgate/preferences")
        assert serious(v, axe_js, None) == [], (locale, scheme)
