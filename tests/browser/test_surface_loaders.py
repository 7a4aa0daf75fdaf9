"""Issue 15's loader classes already closed, each in Chromium with the connection log watching:
a fresh visitor's browser contacts nothing (no request, no connection), and, as the control that
shows the page is one Chromium acts on, a visitor who granted the vendor's category gets it.

- a ``Refresh`` response header and a ``<meta http-equiv=refresh>`` to a vendor, in the
  spellings Chromium follows;
- the official Meta Pixel snippet belongs to the Meta Pixel service (loader and ``<noscript>``
  pixel alike), not to Facebook's social plugins;
- Google Ads' official Google tag snippet (gtag.js with an ``AW-`` ID, ``gtag('config',
  'AW-…')``) belongs to Google Ads, not to Google Analytics, whose loader and calls it shares;
- Yandex Metrica's official snippet with its CDN option (tag.js from a public npm CDN, then
  ``ym(ID, "init")``) is Metrica's;
- inline signatures are code tokens: site code that merely contains one runs;
- resource hints to a vendor (preconnect over https and bare http, dns-prefetch, prefetch,
  preload, modulepreload), which only the connection log can see when they open a connection
  and nothing more.
"""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from helpers import LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from test_vendors_snippets import GOOGLE_ADS_TAG

from consentgate import ConsentMiddleware

from .conftest import Visit, VisitFactory

VENDOR_URL = "https://px.ads.linkedin.com/collect/?refresh=1"

# What Chromium reads as a refresh to VENDOR_URL (the control below shows it follows each).
REFRESHES = {
    "plain": f"0;url={VENDOR_URL}",
    "single-quoted": f"0; URL='{VENDOR_URL}'",
    "spaced-double-quoted": f'0 ; url = "{VENDOR_URL}"',
    "comma": f"0,url={VENDOR_URL}",
    "no-label": f"0; {VENDOR_URL}",
    "upper-case-host": "0;url=HTTPS://PX.ADS.LINKEDIN.COM/collect/?refresh=1",
}

META_PIXEL = """<script>
!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '123456789');
fbq('track', 'PageView');
</script>
<noscript><img height="1" width="1" style="display:none" alt=""
src="https://www.facebook.com/tr?id=123456789&ev=PageView&noscript=1"/></noscript>"""

# The official snippet, "Use the CDN" option ticked: the loader and the init call in one tag.
METRICA_CDN = """<script type="text/javascript">
(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};
m[i].l=1*new Date();
for (var j = 0; j < document.scripts.length; j++) {if (document.scripts[j].src === r) { return; }}
k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})
(window, document, "script", "https://cdn.jsdelivr.net/npm/yandex-metrica-watch/tag.js", "ym");
ym(12345678, "init", {clickmap:true, trackLinks:true, accurateTrackBounce:true});
</script>"""

# The same, split: the CDN's tag.js in a tag of its own (a public CDN is no tracker), the queue
# and the init call in another.
METRICA_SPLIT = """<script>
window.ym = window.ym || function () { (ym.a = ym.a || []).push(arguments); };
ym(12345678, "init", {clickmap: true});
</script>
<script async src="https://cdn.jsdelivr.net/npm/yandex-metrica-watch/tag.js"></script>"""

# Site code that merely contains a signature: it is no tracker and runs.
SITE_CODE = """<script>
var shop = {"is_account_page": false}; window.__ran = ["shop"];
var scroll_tmr = 0; window.__ran.push("scroll");
// no gtag('config') here any more: the analytics moved to the server
window.__ran.push("comment");
</script>"""


def refresh_page(request: Request) -> Response:
    key = request.query_params["spelling"]
    body = "<!doctype html><title>refresh</title><p>refreshing</p>"
    if request.path_params["where"] == "header":
        return HTMLResponse(body, headers={"refresh": REFRESHES[key]})
    meta = f'<meta http-equiv="Refresh" content="{html.escape(REFRESHES[key])}">'
    return HTMLResponse(body.replace("<title>", meta + "<title>"))


# Hints Chromium acts on in a regular profile; the bare http:// preconnect sends no byte, and is
# known as a vendor's by the port its host is mapped to.
HINTS = """<link rel="preconnect" href="https://www.googletagmanager.com">
<link rel="preconnect" href="http://px.ads.linkedin.com">
<link rel="dns-prefetch" href="https://mc.yandex.ru">
<link rel="prefetch" href="https://connect.facebook.net/en_US/fbevents.js">
<link rel="preload" as="script" href="https://cloud.umami.is/script.js">
<link rel="modulepreload" href="https://static.hotjar.com/c/hotjar.js">"""

PAGES = {
    "google-ads": GOOGLE_ADS_TAG,
    "hints": HINTS,
    "meta-pixel": META_PIXEL,
    "metrica-cdn": METRICA_CDN,
    "metrica-split": METRICA_SPLIT,
    "site-code": SITE_CODE,
}


def snippet_page(request: Request) -> Response:
    name = request.path_params["name"]
    body = PAGES.get(name)
    if body is None:
        return Response("", status_code=404)
    return HTMLResponse(f"<!doctype html><html><head><title>{name}</title></head><body>{body}")


@pytest.fixture(scope="module")
def loaders() -> Iterator[LiveServer]:
    inner = Starlette(
        routes=[
            Route("/refresh/{where}", refresh_page),
            Route("/page/{name}", snippet_page),
        ]
    )
    app = ConsentMiddleware(
        inner, secret_key="surface-loaders-secret-not-for-prod", consent_log=None
    )
    with LiveServer(app) as live:
        yield live


def granted(v: Visit, **fields: str) -> None:
    """The visitor's choice, posted as the banner's form posts it (no script needed)."""
    form: dict[str, str | float | bool] = dict(fields)
    response = v.context.request.post(
        v.server.url("/consentgate/consent"), form=form, max_redirects=0
    )
    assert response.status == 303


@pytest.mark.parametrize("where", ["header", "meta"])
def test_a_refresh_to_a_vendor_contacts_nothing_before_consent(
    visit: VisitFactory, loaders: LiveServer, where: str
) -> None:
    # One visitor of each kind loads every spelling: a browser launch per visitor, not per page.
    fresh = visit(live=loaders)
    after = visit(live=loaders)
    granted(after, action="accept_all")
    for spelling in REFRESHES:
        path = f"/refresh/{where}?spelling={spelling}"
        fresh.goto(path)
        fresh.settle(500)
        assert fresh.net.contacted() == [], spelling
        assert fresh.page.url == loaders.url(path), spelling
        # The control: granted, the same page sends Chromium to the vendor.
        after.net.clear()
        after.page.goto(loaders.url(path))
        after.net.wait_for(after.page, {"px.ads.linkedin.com"})
        assert [(h.host, h.resource_type) for h in after.net.hits] == [
            ("px.ads.linkedin.com", "document")
        ], spelling


def test_the_meta_pixel_snippet_is_the_meta_pixel_services(
    visit: VisitFactory, loaders: LiveServer
) -> None:
    fresh = visit(live=loaders)
    fresh.goto("/page/meta-pixel")
    fresh.settle(500)
    assert fresh.net.contacted() == []
    # Facebook's social plugins granted: not the pixel's.
    social = visit(live=loaders, javascript=False)
    granted(social, action="allow", service="facebook")
    social.goto("/page/meta-pixel")
    social.settle(300)
    assert social.net.contacted() == []
    # The Meta Pixel service granted: its loader runs and sends its PageView …
    pixel = visit(live=loaders)
    granted(pixel, action="allow", service="meta-pixel")
    pixel.goto("/page/meta-pixel")
    pixel.net.wait_for(pixel.page, {"connect.facebook.net", "www.facebook.com"})
    assert pixel.log() == ["fbevents.js"]
    # … and without scripts its <noscript> pixel loads.
    quiet = visit(live=loaders, javascript=False)
    granted(quiet, action="allow", service="meta-pixel")
    quiet.goto("/page/meta-pixel")
    quiet.net.wait_for(quiet.page, {"www.facebook.com"})
    assert [(h.host, h.path) for h in quiet.net.hits] == [("www.facebook.com", "/tr")]


def test_the_google_ads_tag_is_google_ads(visit: VisitFactory, loaders: LiveServer) -> None:
    fresh = visit(live=loaders)
    fresh.goto("/page/google-ads")
    fresh.settle(500)
    assert fresh.net.contacted() == []
    # Analytics granted: the tag is not Google Analytics' though it shares its loader's URL.
    analytics = visit(live=loaders)
    granted(analytics, action="save", category="analytical")
    analytics.goto("/page/google-ads")
    analytics.settle(500)
    assert analytics.net.contacted() == []
    # Google Ads granted: its loader runs.
    ads = visit(live=loaders)
    granted(ads, action="allow", service="google-ads")
    ads.goto("/page/google-ads")
    ads.net.wait_for(ads.page, {"www.googletagmanager.com"})


@pytest.mark.parametrize("name", ["metrica-cdn", "metrica-split"])
def test_metrica_loaded_from_a_public_cdn_waits_for_consent(
    visit: VisitFactory, loaders: LiveServer, name: str
) -> None:
    fresh = visit(live=loaders)
    fresh.goto(f"/page/{name}")
    fresh.settle(500)
    # The CDN itself is no tracker (the split page may load tag.js from it); Metrica is.
    assert fresh.net.hosts <= {"cdn.jsdelivr.net"}, fresh.net.contacted()
    analytical = visit(live=loaders)
    granted(analytical, action="save", category="analytical")
    analytical.goto(f"/page/{name}")
    analytical.net.wait_for(analytical.page, {"cdn.jsdelivr.net", "mc.yandex.ru"})


def test_site_code_that_contains_a_signature_runs(visit: VisitFactory, loaders: LiveServer) -> None:
    v = visit(live=loaders)
    v.goto("/page/site-code")
    v.settle(300)
    assert v.page.evaluate("window.__ran") == ["shop", "scroll", "comment"]
    assert v.net.contacted() == []
    assert v.errors == []


def test_resource_hints_to_vendors_contact_nothing_before_consent(
    visit: VisitFactory, loaders: LiveServer
) -> None:
    fresh = visit(live=loaders)
    fresh.goto("/page/hints")
    fresh.settle(1200)  # past the listener's 1 s wait for a bare preconnect's first bytes
    assert fresh.net.contacted() == []
    # The control: granted, every hint that opens a connection or makes a request does.
    after = visit(live=loaders)
    granted(after, action="accept_all")
    after.goto("/page/hints")
    hosts = {"www.googletagmanager.com", "connect.facebook.net", "cloud.umami.is"}
    after.net.wait_for_contact(after.page, hosts | {"static.hotjar.com", ""})
    assert any(c.vendor and c.kind == "tcp" for c in after.net.connected())  # the http one
