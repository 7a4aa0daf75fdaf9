"""The bench pages (CONSENTGATE_BENCH_PAGES, by default ../shared/bench-pages: 32 real, 2
synthetic) in Chromium: which known trackers a fresh visitor's browser still contacts after the
rewriting.

Third-party requests are answered with empty bodies, so only the pages' inline code and markup
run: what leaks here is what the server-side rewriting missed (``document.write`` with split
strings, snippets building hosts at run time …); today nothing does. A contact is a request
(seen by the route) or a connection (seen by the connection log: preconnects and prefetches
pass no route), each in a fresh regular profile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import BENCH_PAGES, LiveServer, bench_pages_missing
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as AppRoute

from consentgate import ConsentMiddleware
from consentgate.gate import index_for

from .conftest import launch_profile
from .connections import ConnectionLog

if TYPE_CHECKING:
    from playwright.sync_api import Playwright, Route
    from playwright.sync_api import Request as PwRequest

PAGES = BENCH_PAGES

if (missing := bench_pages_missing()) is not None:
    pytest.skip(missing, allow_module_level=True)

# Every page: the last two leaks (Taboola thumbnails in the style attribute of <span>s on
# breitbart and synth-big) closed when style attributes of all elements were gated.
MIN_CLEAN_PAGES = 34

EMPTY = {
    "script": ("", "text/javascript"),
    "stylesheet": ("", "text/css"),
    "document": ("<!doctype html><title>x</title>", "text/html"),
}


async def bench_page(request: Request) -> Response:
    path = PAGES / request.path_params["name"]
    if path.suffix != ".html" or not path.is_file():
        return Response("", status_code=404)
    return Response(path.read_bytes(), media_type="text/html; charset=utf-8")


@pytest.fixture(scope="module")
def bench_server() -> Iterator[tuple[LiveServer, ConsentMiddleware]]:
    app = ConsentMiddleware(
        Starlette(routes=[AppRoute("/p/{name}", bench_page)]),
        secret_key="bench-pages-secret-not-for-production",
        consent_log=None,
    )
    with LiveServer(app) as live:
        yield live, app


def tracker_contacts(
    playwright: Playwright,
    connections: ConnectionLog,
    profile: Path,
    live: LiveServer,
    app: ConsentMiddleware,
    page: Path,
) -> list[str]:
    index = index_for(app.policy)
    leaks: list[str] = []

    def handle(route: Route, request: PwRequest) -> None:
        url = request.url
        if url.startswith(live.origin) or not url.startswith("http"):
            route.continue_()
            return
        vendor = index.match_url(url.encode())
        if vendor is not None:
            leaks.append(f"{vendor.id}: {url[:120]}")
        body, media = EMPTY.get(request.resource_type, ("", "image/gif"))
        route.fulfill(status=200, body=body, content_type=media)

    mark = connections.mark()
    context = launch_profile(playwright, connections, profile)
    try:
        context.route("**/*", handle)
        tab = context.pages[0] if context.pages else context.new_page()
        tab.goto(live.url(f"/p/{page.name}"), wait_until="load", timeout=30_000)
        tab.wait_for_timeout(300)
    finally:
        context.close()
    # A connection to a host the registry gives wholly to a vendor counts: those hosts are
    # mapped to a port of their own, so a bare http:// preconnect, which names no host, is
    # known too. (A connection carries no path: one to a host that is a vendor's only under
    # some path, www.facebook.com for /tr, is judged by its requests, which the route sees.)
    leaks += [f"connection: {c}" for c in connections.since(mark) if c.vendor]
    return leaks


def test_fresh_visitors_browser_contacts_no_known_tracker_on_any_bench_page(
    playwright: Playwright,
    connections: ConnectionLog,
    tmp_path: Path,
    bench_server: tuple[LiveServer, ConsentMiddleware],
) -> None:
    live, app = bench_server
    pages = sorted(PAGES.glob("*.html"))
    assert len(pages) >= 30
    leaking = {}
    for page in pages:
        leaks = tracker_contacts(playwright, connections, tmp_path / page.stem, live, app, page)
        if leaks:
            leaking[page.name] = leaks
    clean = len(pages) - len(leaking)
    print(f"\n{clean}/{len(pages)} real pages: no request or connection to a known tracker")
    for name, leaks in sorted(leaking.items()):
        print(f"  {name}: {len(leaks)} e.g. {leaks[0]}")
    assert clean >= MIN_CLEAN_PAGES, leaking
