"""Click-to-load placeholders and the services listed, in Chromium: placeholders only where content
was, of the embed's own box (allowing it shifts nothing), and a site's banner listing exactly the
services it declares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import BENCH_PAGES, LiveServer, bench_pages_missing
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware, Policy

from .conftest import Visit, VisitFactory
from .site import GA4

SECRET = "placeholder-tests-secret-not-for-production"
TEXT = "<p>" + "Words of the article around the embed, long enough to wrap. " * 6 + "</p>"
EMBEDS = {
    # YouTube's own embed code: frameborder="0".
    "youtube": '<iframe width="560" height="315" src="https://www.youtube.com/embed/x" '
    'title="A video" frameborder="0" allowfullscreen></iframe>',
    # Vimeo without frameborder: the browser's 2px border, which its stand-in keeps too.
    "vimeo": '<iframe src="https://player.vimeo.com/video/1" width="640" height="360"></iframe>',
    # Google Maps' embed code, sized in percent, inline in a line of text.
    "maps": 'Find us: <iframe src="https://www.google.com/maps/embed?pb=1" width="100%" '
    'height="300" style="border:0;" loading="lazy"></iframe> here.',
    # No size at all: the browser's 300x150.
    "bare": '<iframe src="https://www.youtube.com/embed/y"></iframe>',
    # A site's reset that sizes every svg by its width (the stand-in keeps the frame's ratio).
    "reset": "<style>svg{height:auto;max-width:100%;vertical-align:middle}</style>"
    '<iframe width="560" height="315" src="https://www.youtube.com/embed/z" frameborder="0">'
    "</iframe>",
}

# Every layout shift, those right after an input too (which CLS leaves out: a test of "no shift
# when the visitor clicks Allow" could not fail if it left them out).
SHIFTS = """
window.__allShifts = [];
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) {
    window.__allShifts.push({value: e.value, sources: e.sources.map(function (s) {
      return (s.node && s.node.nodeName || '') + ' ' + JSON.stringify(s.previousRect) + ' -> ' +
        JSON.stringify(s.currentRect);
    })});
  });
}).observe({type: 'layout-shift', buffered: true});
"""


def article(embed: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Embed</title>"
        "<style>body{font:16px/1.5 sans-serif;margin:0 auto;padding:8px;max-width:760px}</style>"
        f"</head><body><h1>An article</h1>{TEXT}<p>{embed}</p>"
        f'<p id="after">After the embed.</p>{TEXT}</body></html>'
    )


async def embed_page(request: Request) -> Response:
    return HTMLResponse(article(EMBEDS[request.path_params["name"]]))


async def ga4_and_youtube(request: Request) -> Response:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><title>Shop</title>{GA4}</head><body>"
        f"<h1>Shop</h1>{EMBEDS['youtube']}</body></html>"
    )


async def bench_page(request: Request) -> Response:
    path = BENCH_PAGES / request.path_params["name"]
    if path.suffix != ".html" or not path.is_file():
        return Response("", status_code=404)
    return Response(path.read_bytes(), media_type="text/html; charset=utf-8")


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    app = ConsentMiddleware(
        Starlette(
            routes=[
                Route("/embed/{name}", embed_page),
                Route("/shop", ga4_and_youtube),
                Route("/bench/{name}", bench_page),
            ]
        ),
        secret_key=SECRET,
        consent_log=None,
        policy=Policy(services=["google-analytics", "youtube"]),
    )
    with LiveServer(app) as server:
        yield server


def box(v: Visit, selector: str) -> dict[str, float]:
    """Where the element is on the page (not in the window: allowing may scroll it)."""
    found: dict[str, float] = v.page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect(); "
        "return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; }",
    )
    return found


@pytest.mark.parametrize("width", [1280, 320])
@pytest.mark.parametrize("name", sorted(EMBEDS))
def test_allowing_an_embed_shifts_nothing(
    visit: VisitFactory, live: LiveServer, name: str, width: int
) -> None:
    v = visit(live=live, viewport={"width": width, "height": 800})
    v.page.add_init_script(SHIFTS)
    v.goto(f"/embed/{name}")
    placeholder = box(v, ".consentgate-placeholder")
    after = box(v, "#after")
    assert v.page.locator(".consentgate-placeholder a[href^='https://']").count() == 1  # notice
    button = v.page.locator(".consentgate-placeholder button")
    vendor = "Google Maps" if name == "maps" else "Vimeo" if name == "vimeo" else "YouTube"
    assert button.inner_text() == f"Allow {vendor}"
    before = v.page.evaluate("window.__allShifts.length")
    # Below the banner's bar at 320 px wide: bring it into view, as a visitor scrolls to it.
    button.scroll_into_view_if_needed()
    placeholder, after = box(v, ".consentgate-placeholder"), box(v, "#after")
    button.click()
    v.page.wait_for_function(
        "!document.querySelector('.consentgate-placeholder') && "
        "document.querySelector('iframe').hasAttribute('src')"
    )
    v.settle(300)
    frame = box(v, "iframe")
    assert (frame["x"], frame["y"], frame["height"]) == (
        placeholder["x"],
        placeholder["y"],
        placeholder["height"],
    )
    if width == 1280:  # (at 320 px a 560 px frame is wider than the page; its stand-in is not)
        assert frame["width"] == placeholder["width"]
    assert box(v, "#after")["y"] == after["y"]
    shifts = v.page.evaluate("window.__allShifts")[before:]
    assert sum(s["value"] for s in shifts) == 0, shifts


@pytest.mark.skipif(bench_pages_missing() is not None, reason=str(bench_pages_missing()))
@pytest.mark.parametrize("name", ["nytimes-1", "nytimes-2", "youth", "synth-big"])
def test_bench_pages_show_placeholders_only_for_content(
    visit: VisitFactory, live: LiveServer, name: str
) -> None:
    v = visit(live=live)
    v.page.goto(live.url(f"/bench/{name}.html"), wait_until="load", timeout=30_000)
    v.settle(300)
    shown = v.page.eval_on_selector_all(
        ".consentgate-placeholder",
        "els => els.filter(e => e.getClientRects().length).map(e => e.innerText)",
    )
    text = v.page.evaluate("document.body.innerText")
    assert "Programmatic ad exchanges" not in text and "Optimizely" not in text
    if name == "synth-big":
        assert len(shown) == 1 and "YouTube" in shown[0]  # its video
    else:
        assert shown == []
        assert "is blocked until you allow" not in text


def test_a_site_using_ga4_and_youtube_lists_exactly_those_two(
    visit: VisitFactory, live: LiveServer
) -> None:
    v = visit(live=live)
    v.goto("/shop")
    v.page.click("#consentgate-banner button[data-consentgate-customise]")
    v.page.wait_for_function("document.getElementById('consentgate-dialog').open")
    services = v.page.eval_on_selector_all(
        "#consentgate-dialog input[name=service]", "els => els.map(e => e.value)"
    )
    assert sorted(services) == ["google-analytics", "youtube"]
    for summary in v.page.locator("#consentgate-dialog summary").all():
        summary.click()  # the services are collapsed under their category
    labels = v.page.eval_on_selector_all(
        "#consentgate-dialog .consentgate-services label",
        "els => els.filter(e => e.getClientRects().length).map(e => e.innerText)",
    )
    assert sorted(labels) == ["Google Analytics", "YouTube"]
    v.goto("/consentgate/preferences")
    services = v.page.eval_on_selector_all("input[name=service]", "els => els.map(e => e.value)")
    assert sorted(services) == ["google-analytics", "youtube"]
