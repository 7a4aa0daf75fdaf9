"""The connection log (connections.py) sees every connection Chromium opens, and nothing leaves.

These pages are served without consentgate and loaded without routes, so what the log records is
what Chromium does with each way a page can reach a host.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .conftest import launch_profile
from .connections import ConnectionLog

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright

PAGES = {
    "preconnect": '<link rel=preconnect href="https://preconnect.example-vendor.test">',
    "preconnect-http": '<link rel=preconnect href="http://plain.example-vendor.test">',
    "preconnect-vendor": '<link rel=preconnect href="http://px.ads.linkedin.com">',
    "dns-prefetch": (
        '<link rel=dns-prefetch href="https://dns.example-vendor.test">'
        '<link rel=preconnect href="https://preconnect.example-vendor.test">'
    ),
    "speculation": (
        '<script type=speculationrules>{"prefetch": [{"source": "list",'
        ' "urls": ["https://prefetch.example-vendor.test/next"]}]}</script>'
    ),
    "img": '<img src="https://img.example-vendor.test/p.gif" alt="">',
    "fetch": "<script>fetch('https://fetch.example-vendor.test/c', {mode: 'no-cors'})</script>",
    "websocket": (
        "<script>new WebSocket('wss://wss.example-vendor.test/s');"
        "new WebSocket('ws://ws.example-vendor.test/s')</script>"
    ),
    "literals": (
        '<img src="http://203.0.113.7:8080/p.gif" alt="">'
        '<img src="https://[2001:db8::1]/p.gif" alt="">'
    ),
    "blank": "<p>Nothing here.</p>",
}


async def page(request: Request) -> Response:
    body = PAGES.get(request.path_params["name"])
    if body is None:
        return Response("", status_code=404)
    return HTMLResponse(f"<!doctype html><title>t</title>{body}")


@pytest.fixture(scope="module")
def pages() -> Iterator[LiveServer]:
    with LiveServer(Starlette(routes=[Route("/{name}", page)])) as live:
        yield live


@pytest.fixture
def profile(
    playwright: Playwright, connections: ConnectionLog, tmp_path: Path
) -> Iterator[BrowserContext]:
    """A fresh regular profile, no route: only the connection log is watching."""
    context = launch_profile(playwright, connections, tmp_path / "profile")
    yield context
    context.close()


def load(context: BrowserContext, live: LiveServer, name: str) -> None:
    tab = context.pages[0] if context.pages else context.new_page()
    tab.goto(live.url(f"/{name}"), wait_until="load")


def contacts_of(
    context: BrowserContext,
    live: LiveServer,
    log: ConnectionLog,
    name: str,
    expect: set[str],
) -> list[str]:
    mark = log.mark()
    load(context, live, name)
    log.wait_for(expect, mark)
    return sorted({str(c) for c in log.since(mark)})


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("preconnect", "preconnect.example-vendor.test"),
        ("speculation", "prefetch.example-vendor.test"),
        ("img", "img.example-vendor.test"),
        ("fetch", "fetch.example-vendor.test"),
    ],
)
def test_each_way_to_a_host_is_a_tls_connection_naming_it(
    profile: BrowserContext,
    pages: LiveServer,
    connections: ConnectionLog,
    name: str,
    host: str,
) -> None:
    # Chromium may try twice (the listener closes at once): one host all the same.
    assert contacts_of(profile, pages, connections, name, {host}) == [f"tls {host}"]


def test_websockets_are_seen_by_server_name_and_by_host(
    profile: BrowserContext, pages: LiveServer, connections: ConnectionLog
) -> None:
    hosts = {"wss.example-vendor.test", "ws.example-vendor.test"}
    assert contacts_of(profile, pages, connections, "websocket", hosts) == [
        "http ws.example-vendor.test GET /s HTTP/1.1",
        "tls wss.example-vendor.test",
    ]


def test_a_plain_http_preconnect_is_seen_though_it_names_no_host(
    profile: BrowserContext, pages: LiveServer, connections: ConnectionLog
) -> None:
    # A TCP connection and not a byte: counted all the same, as a contact with no name …
    assert contacts_of(profile, pages, connections, "preconnect-http", {""}) == ["tcp ?"]
    # … and known as a vendor's by the port the vendor hosts are mapped to.
    assert contacts_of(profile, pages, connections, "preconnect-vendor", {""}) == ["tcp ? (vendor)"]


def test_a_dns_prefetch_never_becomes_a_connection(
    profile: BrowserContext, pages: LiveServer, connections: ConnectionLog
) -> None:
    """What can be seen of a DNS-only hint: it opens no connection (the preconnect beside it,
    handled by the same machinery, is seen), and under the resolver rule no lookup is made."""
    mark = connections.mark()
    load(profile, pages, "dns-prefetch")
    connections.wait_for({"preconnect.example-vendor.test"}, mark)
    profile.pages[0].wait_for_timeout(500)
    assert connections.hosts(mark) == {"preconnect.example-vendor.test"}


def test_nothing_leaves_the_machine_not_even_to_an_ip_literal_on_any_port(
    profile: BrowserContext, pages: LiveServer, connections: ConnectionLog
) -> None:
    # The resolver rule maps IP literals and ports too: both images reach the listener (an IP
    # literal gets no server name in TLS, so that one is known by its arrival only).
    assert contacts_of(profile, pages, connections, "literals", {"203.0.113.7", ""}) == [
        "http 203.0.113.7 GET /p.gif HTTP/1.1",
        "tls ?",
    ]


def test_chromium_opens_no_connection_of_its_own(
    profile: BrowserContext, pages: LiveServer, connections: ConnectionLog
) -> None:
    """The updater's and Gaia's start-up requests are switched off (connections.OWN_SERVICES_OFF),
    so no host needs to be filtered out of the log: a fresh profile that loads a page with
    nothing to fetch, and waits, contacts nothing."""
    mark = connections.mark()
    load(profile, pages, "blank")
    profile.pages[0].wait_for_timeout(1500)
    assert connections.since(mark) == []


def test_an_off_the_record_context_does_not_preconnect(
    browser: Browser, pages: LiveServer, connections: ConnectionLog
) -> None:
    """Why visits run in regular profiles: Playwright's new_context() is off the record, where
    Chromium drops <link rel=preconnect> (a visitor's normal window carries it out, as the test
    above shows), so a leak through it would go unseen there."""
    context = browser.new_context()
    try:
        mark = connections.mark()
        load(context, pages, "dns-prefetch")
        tab = context.pages[0]
        tab.evaluate("new Image().src = 'https://img.example-vendor.test/after.gif'")
        connections.wait_for({"img.example-vendor.test"}, mark)
        tab.wait_for_timeout(300)
        assert connections.hosts(mark) == {"img.example-vendor.test"}
    finally:
        context.close()
