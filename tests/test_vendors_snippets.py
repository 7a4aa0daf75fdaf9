"""The vendors' own documented snippets, each gated as the service a visitor would expect
(issue 15): split shapes (an init call whose loader is another tag or a CDN mirror), and the
loaders the bench pages carried live (Tealium iQ, Chartbeat, Optimizely, Outbrain through AMD)."""

from __future__ import annotations

import re

import pytest

from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

GATE = Gate(Policy(vendors=BUILTIN_VENDORS))
SERVICE = re.compile(rb'data-consent-service="([^"]*)"')


def services(html: str, granted: frozenset[str] = frozenset()) -> list[str]:
    """The services of what the rewriter gated in ``html`` (empty: nothing changed)."""
    rewriter = GATE.rewriter(granted)
    assert rewriter is not None
    raw = html.encode()
    out = rewriter.feed(raw) + rewriter.close()
    found = [s.decode() for s in SERVICE.findall(out)]
    assert (out == raw) == (not found), out
    return found


# Yandex Metrica's snippet, "use the CDN" ticked (its tag.js from Yandex's npm package
# yandex-metrica-watch on a public npm CDN): https://yandex.com/support/metrica/general/
# alternative-domain.html and the package on jsDelivr.
METRICA_LOADER = (
    "(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};"
    "m[i].l=1*new Date();k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,"
    'k.src=r,a.parentNode.insertBefore(k,a)})(window, document, "script", "{url}", "ym");'
)
METRICA_CDN = "https://cdn.jsdelivr.net/npm/yandex-metrica-watch/tag.js"


@pytest.mark.parametrize(
    "html",
    [
        # Google tag: the config call without its loader (the loader is another tag)
        "<script>gtag('config', 'G-XXXXXXX');</script>",
        '<script>gtag("config", "G-XXXXXXX", {"send_page_view": false});</script>',
        "<script>window.dataLayer = window.dataLayer || [];"
        " function gtag(){dataLayer.push(arguments);} gtag('js', new Date());</script>",
    ],
)
def test_gtag_config_without_its_loader_is_google_analytics(html: str) -> None:
    assert services(html) == ["google-analytics"]


@pytest.mark.parametrize(
    "html",
    [
        "<script>fbq('init', '1234567890'); fbq('track', 'PageView');</script>",
        '<script>fbq("init", "1234567890");</script>',
        "<script>fbq('track', 'Purchase', {value: 1, currency: 'EUR'});</script>",
    ],
)
def test_fbq_without_its_loader_is_meta_pixel(html: str) -> None:
    assert services(html) == ["meta-pixel"]


# Google Ads' Google tag, as Google Ads gives it (support.google.com/google-ads/answer/7548399).
GOOGLE_ADS_TAG = """<script async src="https://www.googletagmanager.com/gtag/js?id=AW-123456789"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());
  gtag('config', 'AW-123456789');
</script>"""


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # The Google tag's loader and calls serve several products: its IDs tell which.
        (GOOGLE_ADS_TAG, ["google-ads", "google-ads"]),
        ('<script>gtag("config","AW-1");</script>', ["google-ads"]),
        (
            "<link rel=preload as=script href='//www.googletagmanager.com/gtag/js?id=aw-1'>",
            ["google-ads"],
        ),
        (
            '<script async src="https://www.googletagmanager.com/gtag/js?id=DC-1"></script>',
            ["doubleclick"],
        ),
        (GOOGLE_ADS_TAG.replace("AW-", "G-"), ["google-analytics", "google-analytics"]),
        # Both products configured in one script: both must be allowed.
        (
            "<script>gtag('js', new Date()); gtag('config', 'G-1');"
            " gtag('config', 'AW-1');</script>",
            ["google-analytics"],
        ),
        # An ID of another kind (a Google tag's own GT- ID routes anywhere), or none: Analytics'.
        (
            '<script async src="https://www.googletagmanager.com/gtag/js?id=GT-1"></script>',
            ["google-analytics"],
        ),
        ("<script>gtag('config', 'GT-1'); gtag('config', 'AW-1');</script>", ["google-analytics"]),
        ("<script>gtag('js', new Date()); gtag('config', tagId);</script>", ["google-analytics"]),
    ],
)
def test_the_google_tag_is_the_product_its_ids_name(html: str, expected: list[str]) -> None:
    assert services(html) == expected


@pytest.mark.parametrize("allow", ["googletagmanager.com/gtag/js", "www.googletagmanager.com"])
def test_an_allow_listed_google_tag_loader_stays_whatever_its_id(allow: str) -> None:
    # An allow-list entry has no vendor: no product's ID makes it one (Consent Mode's denied
    # state runs gtag.js before any choice, on the site's word).
    gate = Gate(Policy(vendors=BUILTIN_VENDORS, allow=[allow]))
    for tag_id in ("G-1", "AW-1", "DC-1", "GT-1"):
        raw = f'<script async src="https://www.googletagmanager.com/gtag/js?id={tag_id}"></script>'
        rewriter = gate.rewriter(frozenset())
        assert rewriter is not None
        assert rewriter.feed(raw.encode()) + rewriter.close() == raw.encode()


def test_a_script_of_two_google_products_waits_for_both() -> None:
    both = "<script>gtag('js', new Date()); gtag('config', 'G-1'); gtag('config', 'AW-1');</script>"
    assert services(both, frozenset({"marketing"})) == ["google-analytics"]
    assert services(both, frozenset({"analytical"})) == ["google-ads"]
    assert services(both, frozenset({"analytical", "marketing"})) == []


@pytest.mark.parametrize(
    "html",
    [
        # the init call alone, its loader in another tag
        '<script>ym(12345678, "init", {clickmap: true});</script>',
        # the loader from the CDN mirror, inline and as a tag of its own, any version
        "<script>" + METRICA_LOADER.replace("{url}", METRICA_CDN) + "</script>",
        f'<script async src="{METRICA_CDN}"></script>',
        '<script src="https://cdn.jsdelivr.net/npm/yandex-metrica-watch@1/watch.js"></script>',
        '<script src="https://fastly.jsdelivr.net/npm/yandex-metrica-watch/tag.js"></script>',
        '<script src="https://unpkg.com/yandex-metrica-watch/tag.js"></script>',
        '<link rel="preload" as="script" href="' + METRICA_CDN + '">',
        # dot segments, which the URL parser resolves before the request
        '<script src="https://cdn.jsdelivr.net/npm/x/../yandex-metrica-watch/tag.js"></script>',
        '<script src="https://cdn.jsdelivr.net/npm/x/%2E%2e/yandex-metrica-watch/tag.js"></script>',
        '<script src="https://cdn.jsdelivr.net/./npm/./yandex-metrica-watch/tag.js"></script>',
        # the default snippet, from Yandex's own host
        "<script>"
        + METRICA_LOADER.replace("{url}", "https://mc.yandex.ru/metrika/tag.js")
        + "</script>",
    ],
)
def test_metrica_split_or_from_a_cdn_mirror_is_yandex_metrica(html: str) -> None:
    assert services(html) == ["yandex-metrica"]


@pytest.mark.parametrize(
    "html",
    [
        # the CDN is no tracker: other packages on it, and the CDN's root, stay
        '<script src="https://cdn.jsdelivr.net/npm/jquery@3/dist/jquery.min.js"></script>',
        '<link rel="preconnect" href="https://cdn.jsdelivr.net">',
        '<script src="https://unpkg.com/react@18/umd/react.production.min.js"></script>',
        # a name that ends in "ym": not the init call
        "<script>rhythm(1, 'init'); my_ym(1, 'init');</script>",
        # Tealium's data object alone loads nothing (like GTM's dataLayer)
        '<script>var utag_data = {"page_type": "section", "country_code": "US"};</script>',
    ],
)
def test_what_is_not_the_vendors_stays(html: str) -> None:
    assert services(html) == []


# https://docs.tealium.com/platforms/javascript/install/
TEALIUM = """<script type="text/javascript">
  (function(a,b,c,d) {
      a='//tags.tiqcdn.com/utag/ACCOUNT/PROFILE/ENVIRONMENT/utag.js';
      b=document;c='script';d=b.createElement(c);d.src=a;
      d.type='text/java'+c;d.async=true;
      a=b.getElementsByTagName(c)[0];a.parentNode.insertBefore(d,a)})();
</script>"""
# https://docs.chartbeat.com/cbp/tracking/standard-websites/our-javascript
CHARTBEAT = """<script type='text/javascript'>
    (function() {
        var _sf_async_config = window._sf_async_config = (window._sf_async_config || {});
        _sf_async_config.uid = 12345;
        _sf_async_config.domain = 'example.com';
        function loadChartbeat() {
            var e = document.createElement('script');
            var n = document.getElementsByTagName('script')[0];
            e.type = 'text/javascript';
            e.async = true;
            e.src = '//static.chartbeat.com/js/chartbeat.js';
            n.parentNode.insertBefore(e, n);
        }
        loadChartbeat();
     })();
</script>"""


@pytest.mark.parametrize(
    ("html", "service"),
    [
        (TEALIUM, "tealium"),
        # (as on ../shared/bench-pages/dropbox-blog.html: the URL's slashes JS-escaped)
        (
            '<script>(function (a, b, c, d) { a = "\\/\\/tags.tiqcdn.com\\/utag\\/acme\\/blog'
            '\\/prod\\/utag.js"; b = document; c = "script"; d = b.createElement(c);'
            " d.src = a; })();</script>",
            "tealium",
        ),
        ('<script src="//tags.tiqcdn.com/utag/acme/main/prod/utag.sync.js"></script>', "tealium"),
        ('<script src="/static/tealium/utag.js"></script>', "tealium"),  # self-hosted
        ("<script>utag.view({page_name: 'home'});</script>", "tealium"),
        ("<script>utag.link({event_name: 'click'});</script>", "tealium"),
        ('<img src="https://collect.tealiumiq.com/event?x=1" alt="">', "tealium"),
        (CHARTBEAT, "chartbeat"),
        ('<script async src="//static.chartbeat.com/js/chartbeat_mab.js"></script>', "chartbeat"),
        (
            '<script src="https://s3.amazonaws.com/static.chartbeat.com/js/chartbeat.js"></script>',
            "chartbeat",
        ),
        # https://support.optimizely.com/hc/en-us/articles/4411731640973
        ('<script src="https://cdn.optimizely.com/js/1234567.js"></script>', "optimizely"),
        (
            '<script src="https://cdn.optimizely.com/public/3013110282/s/site.js"></script>',
            "optimizely",
        ),
        # https://docs.developers.optimizely.com/web/docs/push
        (
            "<script>window['optimizely'] = window['optimizely'] || [];"
            ' window["optimizely"].push({type: "event", eventName: "watchedVideo"});</script>',
            "optimizely",
        ),
        (
            "<script>window.optimizely = window.optimizely || [];"
            " window.optimizely.push(['activate', 'x']);</script>",
            "optimizely",
        ),
        # Outbrain's loader reached through an AMD loader
        (
            '<script>require(["//widgets.outbrain.com/outbrain.js"], function () {'
            " OBR.extern.researchWidget(); });</script>",
            "outbrain",
        ),
        (
            "<script>define('ob', ['https://widgets.outbrain.com/outbrain.js'], f);</script>",
            "outbrain",
        ),
    ],
)
def test_documented_loaders_are_their_vendors(html: str, service: str) -> None:
    assert services(html) == [service]


def test_a_service_allowed_alone_gets_its_snippet_live() -> None:
    # Services: a visitor who allows Tealium (and nothing else) gets its loader; one who allows
    # the category gets both; another service of the category does not unlock it.
    rewriter = GATE.rewriter(frozenset(), frozenset({"tealium"}))
    assert rewriter is not None
    assert rewriter.feed(TEALIUM.encode()) + rewriter.close() == TEALIUM.encode()
    assert services(TEALIUM, frozenset({"analytical"})) == []
    other = GATE.rewriter(frozenset(), frozenset({"chartbeat"}))
    assert other is not None
    assert b'data-consent-service="tealium"' in other.feed(TEALIUM.encode()) + other.close()
