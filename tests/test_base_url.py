"""The document's base URL: relative URLs after a ``<base href>`` on a vendor's host are that
vendor's; the first ``<base>`` with an href wins; consentgate's own script, stylesheet and
endpoints in the page do not follow a site's ``<base>``."""

from __future__ import annotations

from helpers import SECRET
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consentgate import ConsentMiddleware
from consentgate.gate import base_url, resolve_url
from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

GATE = Gate(Policy(vendors=BUILTIN_VENDORS))
GTM = b'<base href="https://www.googletagmanager.com/">'


def rewrite(html: bytes, host: str | None = "shop.example") -> bytes:
    rewriter = GATE.rewriter(frozenset(), host=host)
    assert rewriter is not None
    return rewriter.feed(html) + rewriter.close()


GTM_GATED = (
    b'<base data-consent-href="https://www.googletagmanager.com/" data-consent="analytical"'
    b' data-consent-service="google-tag-manager">'
)


def test_a_relative_script_after_a_vendors_base_is_that_vendors() -> None:
    out = rewrite(GTM + b'<script async src="gtm.js?id=GTM-1"></script>')
    assert out == GTM_GATED + (
        b'<script type="text/plain" data-consent-src="gtm.js?id=GTM-1" data-consent="analytical"'
        b' data-consent-service="google-tag-manager" async></script>'
    )


def test_a_vendors_base_waits_so_that_what_no_reader_resolves_stays_on_the_site() -> None:
    # A relative url() in CSS, a handler's URL: no reader resolves them against the base. With
    # the base gated, the browser reads them against the page's own URL: no vendor is contacted.
    css = (
        b'<div style="background:url(tr?id=1)"></div><style>p{background:url(tr?id=2)}</style>'
        b"<p onclick=\"new Image().src='tr?id=3'\">x</p>"
    )
    out = rewrite(GTM + css)
    assert out == GTM_GATED + css
    # A later <base> would become the document's: it waits too (for the same consent).
    later = b'<base href="https://www.facebook.com/">'
    assert rewrite(GTM + later + css) == GTM_GATED + (
        b'<base data-consent-href="https://www.facebook.com/" data-consent="analytical"'
        b' data-consent-service="google-tag-manager">' + css
    )
    # Granted, it is the page's base again, as it was.
    rewriter = GATE.rewriter(frozenset({"analytical"}), host="shop.example")
    assert rewriter is not None
    assert rewriter.feed(GTM + later + css) + rewriter.close() == GTM + later + css
    remove = Gate(Policy(vendors=BUILTIN_VENDORS, mode="remove")).rewriter(frozenset())
    assert remove is not None
    assert b"href" not in (remove.feed(GTM) + remove.close())


def test_relative_pixels_pings_and_paths_after_a_vendors_base_wait() -> None:
    base = b'<base href="https://www.facebook.com/a/b/">'
    for tag in (
        b'<img src="tr?id=1" alt="">',
        b'<img src="/tr?id=1" alt="">',
        b'<img src="../../tr?id=1" alt="">',
        b'<img srcset="x.png 1x, /tr?id=1 2x" alt="">',
        b'<a href="/" ping="/tr">x</a>',
        b'<iframe src="plugins/like.php"></iframe>',
        b'<link rel="preload" as="image" href="tr">',
    ):
        out = rewrite(base + tag)
        assert b"data-consent=" in out, tag


def test_the_first_base_with_an_href_wins() -> None:
    # A <base> without an href sets nothing; the first with one is the document's base URL.
    first = b'<base target="_top">' + GTM + b'<base href="https://cdn.example/">'
    assert b'type="text/plain"' in rewrite(first + b'<script src="gtm.js"></script>')
    later = b'<base href="https://cdn.example/">' + GTM
    page = later + b'<script src="gtm.js"></script>'
    assert rewrite(page) == page


def test_a_base_on_the_sites_own_host_or_a_cdn_changes_nothing() -> None:
    for base in (
        b'<base href="/shop/">',
        b'<base href="https://shop.example/">',
        b'<base href="https://cdn.example/assets/">',
    ):
        page = base + b'<script src="gtm.js"></script><img src="tr?id=1">'
        assert rewrite(page) == page
    # Absolute URLs mean what they say whatever the base (a vendor's, which waits itself).
    page = b'<base href="https://www.facebook.com/"><img src="https://cdn.example/a.png">'
    assert rewrite(page).endswith(b'><img src="https://cdn.example/a.png">')


def test_the_base_is_read_however_the_body_is_cut() -> None:
    page = GTM + b'<p>text</p><script src="gtm.js"></script>'
    whole = rewrite(page)
    for cut in range(1, len(page)):
        rewriter = GATE.rewriter(frozenset(), host="shop.example")
        assert rewriter is not None
        out = rewriter.feed(page[:cut]) + rewriter.feed(page[cut:]) + rewriter.close()
        assert out == whole, cut


def test_an_inline_documents_base_is_its_parents() -> None:
    page = GTM + b'<iframe srcdoc="<script src=&quot;gtm.js&quot;></script>"></iframe>'
    assert b"data-consent-src=&quot;gtm.js&quot;" in rewrite(page)


def test_resolution_follows_the_url_parser() -> None:
    base = base_url(b"HTTPS://WWW.Facebook.com/a/b")
    assert base == "https://www.facebook.com/a/b"
    assert resolve_url(b"../tr", base) == b"https://www.facebook.com/tr"
    assert resolve_url(b"\\tr", base) == b"https://www.facebook.com/tr"  # (a backslash: "/")
    assert resolve_url(b"t\nr", base) == b"https://www.facebook.com/a/tr"
    assert resolve_url(b"https://x.example/", base) is None  # absolute
    assert resolve_url(b"//x.example/", base) is None
    assert resolve_url(b"data:,x", base) is None
    assert resolve_url(b"  ", base) is None  # empty: nothing is fetched
    assert base_url(b"/relative/") is None


def page_app(body: str) -> Starlette:
    async def home(request: object) -> HTMLResponse:
        return HTMLResponse(body)

    return Starlette(routes=[Route("/", home)])


def test_consentgates_own_urls_do_not_follow_a_sites_base() -> None:
    page = (
        '<!doctype html><html><head><base href="https://cdn.example/">'
        "</head><body><p>hi</p></body></html>"
    )
    app = ConsentMiddleware(page_app(page), secret_key=SECRET)
    with TestClient(app, base_url="http://shop.example") as client:
        html = client.get("/").text
    assert 'href="//shop.example/consentgate/static/consentgate.css?v=' in html
    assert 'src="//shop.example/consentgate/static/consentgate.js?v=' in html
    assert 'data-consent-endpoint="//shop.example/consentgate/consent"' in html
    assert 'action="//shop.example/consentgate/consent"' in html
    # No URL of ours is left relative, for the <base> to take elsewhere.
    assert '="/consentgate' not in html


def test_a_host_header_that_is_no_host_leaves_our_urls_root_relative() -> None:
    app = ConsentMiddleware(page_app("<html><body><p>hi</p></body></html>"), secret_key=SECRET)
    with TestClient(app) as client:
        html = client.get("/", headers={"host": 'x"/><script>'}).text
    assert 'src="/consentgate/static/consentgate.js?v=' in html
    assert "<script>" not in html.split("consentgate.js", 1)[0]
