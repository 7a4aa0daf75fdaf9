"""Each class of the browser's surface that issue 15 names, in real Chromium: the page served
without consentgate makes Chromium contact the vendor (the control: the class is real), and the
same page through consentgate, for a visitor without consent, contacts no vendor at all. The
connection log (connections.py) sees every connection attempt, speculative ones included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import SECRET, LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consentgate import ConsentMiddleware
from consentgate.vendors import BUILTIN_VENDORS

from .conftest import launch_profile
from .connections import ConnectionLog

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Playwright


def wide(text: str) -> str:
    """``text`` in fullwidth forms (U+FF01-U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


FB = "www.facebook.com"
GTM = "www.googletagmanager.com"
# name: (the page's body, the vendor host Chromium contacts without consentgate)
PAGES: dict[str, tuple[str, str]] = {
    "base-script": (
        f'<base href="https://{GTM}/"><script async src="gtm.js?id=GTM-TEST"></script>',
        GTM,
    ),
    "base-pixel": (f'<base href="https://{FB}/"><img src="tr?id=1&amp;ev=PageView" alt="">', FB),
    # What no reader resolves against the base: relative url()s in CSS.
    "base-css": (
        f'<base href="https://{FB}/"><div style="width:9px;height:9px;background:url(tr?id=5)">'
        "</div><style>body{background-image:url(tr?id=6)}</style>",
        FB,
    ),
    "idna-fullwidth": (f'<img src="https://{wide("www.facebook.com")}/tr?id=1" alt="">', FB),
    "idna-stops": ('<img src="https://www\u3002facebook\uff61com/tr?id=1" alt="">', FB),
    "idna-percent": ('<img src="https://www%E3%80%82facebook.com/tr?id=1" alt="">', FB),
    "idna-ignored": ('<img src="https://www.face&shy;book.com/tr?id=1" alt="">', FB),
    "svg-feimage": (
        '<svg width="20" height="20"><filter id="f"><feImage width="20" height="20"'
        f' href="https://{FB}/tr?id=2"/></filter><rect width="20" height="20"'
        ' filter="url(#f)"/></svg>',
        FB,
    ),
    "svg-set": (
        '<svg width="20" height="20"><image width="20" height="20">'
        f'<set attributeName="href" to="https://{FB}/tr?id=3"/></image></svg>',
        FB,
    ),
    "svg-animate": (
        '<svg width="20" height="20"><image width="20" height="20">'
        f'<animate attributeName="href" values="https://{FB}/tr?id=4" dur="1s"'
        ' fill="freeze"/></image></svg>',
        FB,
    ),
    "importmap": (
        f'<script type="importmap">{{"imports": {{"gtm": "https://{GTM}/gtm.js"}}}}</script>'
        '<script type="module">import "gtm";</script>',
        GTM,
    ),
    "speculation-document": (
        '<script type="speculationrules">{"prefetch": [{"source": "document",'
        ' "eagerness": "immediate"}]}</script>'
        f'<footer><a href="https://{FB}/ourpage">Follow us</a></footer>',
        FB,
    ),
    "speculation-escapes": (
        '<script type="speculationrules">{"prefetch": [{"source": "list",'
        ' "urls": ["https://www.\\u0066acebook.com/x"]}]}</script>',
        FB,
    ),
}
VENDOR_HOSTS = {url.split("/", 1)[0] for vendor in BUILTIN_VENDORS for url in vendor.urls}
SETTLE_MS = 1500  # how long a gated page is watched for a late connection


async def page(request: Request) -> Response:
    found = PAGES.get(request.path_params["name"])
    if found is None:
        return Response("", status_code=404)
    return HTMLResponse(
        f"<!doctype html><html><head><title>t</title></head><body>{found[0]}</body></html>"
    )


def site() -> Starlette:
    return Starlette(routes=[Route("/{name}", page)])


@pytest.fixture(scope="module")
def raw() -> Iterator[LiveServer]:
    with LiveServer(site()) as live:
        yield live


@pytest.fixture(scope="module")
def gated() -> Iterator[LiveServer]:
    with LiveServer(ConsentMiddleware(site(), secret_key=SECRET)) as live:
        yield live


@pytest.fixture
def profile(
    playwright: Playwright, connections: ConnectionLog, tmp_path: Path
) -> Iterator[BrowserContext]:
    context = launch_profile(playwright, connections, tmp_path / "profile")
    yield context
    context.close()


def load(context: BrowserContext, live: LiveServer, name: str) -> None:
    tab = context.pages[0] if context.pages else context.new_page()
    tab.goto(live.url(f"/{name}"), wait_until="load")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_without_consentgate_chromium_contacts_the_vendor(
    profile: BrowserContext, raw: LiveServer, connections: ConnectionLog, name: str
) -> None:
    mark = connections.mark()
    load(profile, raw, name)
    connections.wait_for({PAGES[name][1]}, mark)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_through_consentgate_chromium_contacts_no_vendor(
    profile: BrowserContext, gated: LiveServer, connections: ConnectionLog, name: str
) -> None:
    mark = connections.mark()
    load(profile, gated, name)
    profile.pages[0].wait_for_timeout(SETTLE_MS)
    contacted = connections.hosts(mark)
    assert [h for h in contacted if is_vendor(h)] == [], connections.since(mark)


def is_vendor(host: str) -> bool:
    """Whether ``host`` is one of the registry's vendor hosts or below one ("" counts: a
    connection that named no host may be anyone's)."""
    return not host or any(host == v or host.endswith("." + v) for v in VENDOR_HOSTS)


# -- foreign content does not leak ---------------------------------------------------------------

SNIPPET = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
FORM = (
    '<header><svg viewBox="0 0 24 24" width="24"><title>Home</title><path d="M1 1h9"/></svg>'
    '</header><math><mi>x</mi></math><form><textarea id="code">{snippet}</textarea>'
    '<xmp id="shown">{snippet}</xmp></form>'
)


async def form(request: Request) -> Response:
    body = FORM.format(snippet=SNIPPET)
    return HTMLResponse(
        f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>"
    )


@pytest.fixture(scope="module")
def forms() -> Iterator[tuple[LiveServer, LiveServer]]:
    app = Starlette(routes=[Route("/form", form)])
    with (
        LiveServer(app) as raw_site,
        LiveServer(ConsentMiddleware(app, secret_key=SECRET)) as gated_site,
    ):
        yield raw_site, gated_site


def test_text_after_closed_svg_and_math_reaches_the_browser_unchanged(
    profile: BrowserContext, forms: tuple[LiveServer, LiveServer]
) -> None:
    """An admin form after an icon: Chromium reads the textarea's and the xmp's text as text
    (the <svg> and <math> are closed), so consentgate must not rewrite it: the value the form
    would save is the snippet the site holds, byte for byte."""
    values = []
    for live in forms:
        load_path(profile, live, "/form")
        tab = profile.pages[0]
        values.append(
            (
                tab.eval_on_selector("#code", "e => e.value"),
                tab.eval_on_selector("#shown", "e => e.textContent"),
            )
        )
    assert values[0] == (SNIPPET, SNIPPET)  # (Chromium's reading of the page as the site sent it)
    assert values[1] == values[0]


def load_path(context: BrowserContext, live: LiveServer, path: str) -> None:
    tab = context.pages[0] if context.pages else context.new_page()
    tab.goto(live.url(path), wait_until="load")


def test_consentgates_own_files_do_not_follow_a_base_on_the_sites_cdn(
    profile: BrowserContext, gated: LiveServer, connections: ConnectionLog
) -> None:
    """A <base> on the site's CDN: consentgate's script and stylesheet still load from the site
    (before, they resolved against the CDN and the banner broke), and the banner works."""
    # (Of the page's scheme, as a CDN base is: a base of another scheme would change ours.)
    PAGES["base-cdn"] = ('<base href="http://cdn.example-site.test/assets/"><p>hi</p>', "")
    try:
        mark = connections.mark()
        load(profile, gated, "base-cdn")
        tab = profile.pages[0]
        urls = tab.evaluate(
            "[document.getElementById('consentgate-script').src,"
            " document.querySelector('link[href*=\"consentgate.css\"]').href]"
        )
        assert all(url.startswith(gated.origin + "/consentgate/static/") for url in urls), urls
        tab.wait_for_selector("#consentgate-banner", state="visible")
        assert "cdn.example-site.test" not in connections.hosts(mark)
    finally:
        del PAGES["base-cdn"]
