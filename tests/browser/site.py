"""A small site full of real vendors' official snippets, wrapped in ConsentMiddleware."""

from __future__ import annotations

import base64
import hashlib

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import consentgate
from consentgate import ConsentMiddleware, Policy, Vendor

from .fakes import MODULE

SECRET = "browser-tests-secret-not-for-production"

# A loader followed by inline code that needs it: activation must keep the parser's order.
EXAMPLE_LIB = Vendor(
    id="examplelib",
    name="Example Analytics",
    category="analytical",
    privacy_url="https://lib.example-analytics.com/privacy",
    urls=("lib.example-analytics.com",),
    inline=("ExampleLib.init",),
    cookies=("_exlib",),
)

GA4 = """
<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST123"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());
  gtag('config', 'G-TEST123');
</script>"""

GTM = """
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-TEST12');</script>"""

META_PIXEL = """
<script>
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
src="https://www.facebook.com/tr?id=123456789&ev=PageView&noscript=1"></noscript>"""

YANDEX = """
<script type="text/javascript">
   (function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};
   m[i].l=1*new Date();
   for (var j = 0; j < document.scripts.length; j++) {
     if (document.scripts[j].src === r) { return; }}
   k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,
   a.parentNode.insertBefore(k,a)})
   (window, document, "script", "https://mc.yandex.ru/metrika/tag.js", "ym");
   ym(12345678, "init", {clickmap:true, trackLinks:true, accurateTrackBounce:true});
</script>
<noscript><div><img src="https://mc.yandex.ru/watch/12345678"
 style="position:absolute; left:-9999px;" alt=""></div></noscript>"""

UMAMI = """
<script defer src="https://cloud.umami.is/script.js"
 data-website-id="94db1cb1-74f4-4a40-ad6c-962362670409"></script>"""

EXAMPLE_LIB_SNIPPET = """
<script src="https://lib.example-analytics.com/lib.js"></script>
<script>ExampleLib.init("site-1");</script>"""

YOUTUBE = """
<iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ"
 title="YouTube video player" frameborder="0"
 allow="accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture"
 allowfullscreen></iframe>"""

PIXEL = """
<img height="1" width="1" style="display:none" alt=""
 src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif">"""


def page(title: str, body: str, head: str = "") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{head}
</head>
<body>
<header><h1 id="heading">{title}</h1><nav><a href="/">Home</a> <a href="/plain">Plain</a>
<a href="/privacy">Privacy</a></nav></header>
<main>
<p id="lead">Some content the banner must not push around.</p>
{body}
</main>
</body>
</html>"""


TRACKERS = page(
    "Trackers",
    "\n".join([EXAMPLE_LIB_SNIPPET, GTM, META_PIXEL, YANDEX, UMAMI, YOUTUBE, PIXEL]),
    head=GA4,
)


async def trackers(request: Request) -> Response:
    return HTMLResponse(TRACKERS)


async def plain(request: Request) -> Response:
    return HTMLResponse(page("Plain", "<p>No trackers here.</p>"))


async def privacy(request: Request) -> Response:
    return HTMLResponse(page("Privacy policy", "<p>What we collect and why.</p>"))


CSP_NONCE = "cGFnZS1ub25jZS0x"


async def strict_csp(request: Request) -> Response:
    """GA4 under a strict policy: the re-created inline config only runs with the page's nonce."""
    head = GA4.replace("<script>", f'<script nonce="{CSP_NONCE}">')
    csp = (
        f"script-src 'self' 'nonce-{CSP_NONCE}' https://www.googletagmanager.com; "
        "object-src 'none'; base-uri 'none'"
    )
    return HTMLResponse(
        page("Strict CSP", "<p>Strict policy.</p>", head=head),
        headers={"Content-Security-Policy": csp},
    )


async def nonce_only(request: Request) -> Response:
    """Only nonce'd scripts (and what they load) run: consentgate.js must carry the nonce."""
    head = GA4.replace("<script>", f'<script nonce="{CSP_NONCE}">')
    csp = f"script-src 'nonce-{CSP_NONCE}' 'strict-dynamic'; object-src 'none'; base-uri 'none'"
    return HTMLResponse(
        page("Nonce only", "<p>Strict dynamic.</p>", head=head),
        headers={"Content-Security-Policy": csp},
    )


async def denied_mode(request: Request) -> Response:
    """GA4 loading in Consent Mode's denied state: the site marks its config necessary."""
    head = GA4.replace("<script>", '<script data-consent="necessary">')
    return HTMLResponse(page("Denied mode", "<p>Cookieless pings.</p>", head=head))


MODULE_SRI = "sha384-" + base64.b64encode(hashlib.sha384(MODULE.encode()).digest()).decode()

# Every kind of element and attribute the client must restore, in one page.
ELEMENTS = f"""
<link rel="preload" as="image" href="https://px.ads.linkedin.com/collect/?preload=1">
<script nomodule src="https://lib.example-analytics.com/legacy.js"></script>
<script type="text/x-template" src="https://lib.example-analytics.com/template.html"></script>
<script type="module" id="mod" src="https://lib.example-analytics.com/module.js"
 integrity="{MODULE_SRI}" crossorigin="anonymous" referrerpolicy="no-referrer"></script>
<picture id="pic">
 <source srcset="https://px.ads.linkedin.com/collect/?source=1" media="(min-width: 1px)">
 <img alt="ad" width="1" height="1" src="https://px.ads.linkedin.com/collect/?img=1">
</picture>
<img id="retina" alt="" width="1" height="1" src="https://px.ads.linkedin.com/collect/?src=1"
 srcset="https://px.ads.linkedin.com/collect/?srcset=1 1x">
<link rel="preload" as="image" imagesrcset="https://px.ads.linkedin.com/collect/?imagesrcset=1 1x">
<video width="2" height="2" poster="https://px.ads.linkedin.com/collect/?poster=1"></video>
<input type="image" alt="go" width="1" height="1"
 src="https://px.ads.linkedin.com/collect/?input=1">
<table background="https://px.ads.linkedin.com/collect/?background=1"><tr><td>cell</td></tr>
</table>
<video width="2" height="2" crossorigin="anonymous"><track default kind="captions"
 src="https://px.ads.linkedin.com/collect/?track=1"></video>
<a id="pinged" href="#pinged" ping="https://px.ads.linkedin.com/collect/?ping=1">a link</a>
"""


async def elements(request: Request) -> Response:
    return HTMLResponse(page("Elements", ELEMENTS))


# Vendor URLs in CSS: a stylesheet's background and the style attributes of an <img> and a <span>.
CSS = """
<style>#bg { width: 10px; height: 10px; background: url(https://lib.example-analytics.com/bg.png); }
#own { width: 10px; height: 10px; background: url(/plain?own=1); }</style>
<div id="bg"></div><div id="own"></div>
<img id="styled" alt="" src="/plain?img=1" width="10" height="10"
 style="background-image: url('https://lib.example-analytics.com/attr.png')">
<span id="thumb" style="display:block;width:10px;height:10px;background-image:
 url(&quot;https://lib.example-analytics.com/span.png&quot;)"></span>
"""


async def css_urls(request: Request) -> Response:
    return HTMLResponse(page("CSS", CSS))


# Embedded content and SVG that load from a vendor: <object data>, <embed src>, an SVG <image>
# (href and xlink:href), an SVG <script href> and an inline SVG script with a vendor's snippet;
# then pixels inside an SVG <title> and <style>, which are markup there (text to HTML).
FOREIGN = """
<object id="obj" width="10" height="10" type="image/gif"
 data="https://lib.example-analytics.com/object.gif"></object>
<embed id="emb" width="10" height="10" type="image/gif"
 src="https://lib.example-analytics.com/embed.gif">
<svg width="20" height="20" xmlns:xlink="http://www.w3.org/1999/xlink">
 <image id="img1" width="10" height="10" href="https://lib.example-analytics.com/svg-href.gif"/>
 <image id="img2" width="10" height="10"
  xlink:href="https://lib.example-analytics.com/svg-xlink.gif"/>
 <script href="https://lib.example-analytics.com/svg-script.js"/>
 <script>window.__svgInline = 1; window.ExampleLib &amp;&amp; ExampleLib.init("svg");</script>
</svg>
<p id="after">after</p>
<svg width="1" height="1"><title><img alt="" src="https://lib.example-analytics.com/svg-title.gif">
</title><style><img alt="" src="https://lib.example-analytics.com/svg-style.gif"></style></svg>
"""


async def foreign(request: Request) -> Response:
    return HTMLResponse(page("Foreign", FOREIGN))


# Inline event handlers with a vendor's snippet, on an element Python parses and on <body>, and
# one on an ordinary <button> that sends a beacon of its own.
HANDLERS = """
<img id="broken" alt="" width="1" height="1" src="/missing.png"
 onerror="window.__handled = (window.__handled || 0) + 1; fbq('track', 'PageView')">
<img id="beacon" alt="" width="1" height="1" src="/missing-too.png"
 onerror="new Image().src = 'https://px.ads.linkedin.com/collect/?handler=1'">
<button id="clicked" type="button"
 onclick="new Image().src = 'https://px.ads.linkedin.com/collect/?click=1'">click</button>
"""


async def handlers(request: Request) -> Response:
    body = page("Handlers", HANDLERS).replace(
        "<body>", "<body onload=\"window.__bodyload = 1; fbq('track', 'PageView')\">"
    )
    return HTMLResponse(body)


# "<script … />" read as HTML reads it (before any <svg>) and after an <svg> (where the
# rewriter closes it): in both, the pixel after the comment must not load before consent.
SELF_CLOSING = """
<script src="/plain?script=1" />
<!-- </script><img id="px1" alt="" src="https://px.ads.linkedin.com/collect/?html=1"> -->
<p id="between">between</p>
<svg width="1" height="1"><path d="M0 0"/></svg>
<script src="/plain?script=2" />
<!-- </script><img id="px2" alt="" src="https://px.ads.linkedin.com/collect/?svg=1"> -->
<p id="end">end</p>
"""


async def self_closing(request: Request) -> Response:
    return HTMLResponse(page("Self-closing", SELF_CLOSING))


# "javascript:" URLs that send a vendor a beacon: a frame's runs as it loads, a link's on a click.
JS_URLS = """
<iframe id="frame" title="frame" width="10" height="10"
 src="javascript:void(new Image().src = 'https://px.ads.linkedin.com/collect/?frame=1')"></iframe>
<a id="link" href="javascript:void(new Image().src = 'https://px.ads.linkedin.com/collect/?link=1')"
 >link</a>
"""


async def js_urls(request: Request) -> Response:
    return HTMLResponse(page("javascript: URLs", JS_URLS))


# Speculation rules: Chromium prefetches every URL they list, before the page asks for any.
SPECULATION = """
<script type="speculationrules">
{"prefetch": [{"source": "list", "urls": ["https://px.ads.linkedin.com/collect/?prefetch=1"]}]}
</script>
<p id="speculating">speculating</p>
"""


async def speculation(request: Request) -> Response:
    return HTMLResponse(page("Speculation rules", SPECULATION))


async def speculation_header(request: Request) -> Response:
    return HTMLResponse(
        page("Speculation rules file", "<p>rules elsewhere</p>"),
        headers={"speculation-rules": '"/rules.json"'},
    )


async def rules_file(request: Request) -> Response:
    rules = (
        '{"prefetch": [{"source": "list", "urls": '
        '["https://px.ads.linkedin.com/collect/?rules=1"]}]}'
    )
    return Response(rules, media_type="application/speculationrules+json")


async def link_header(request: Request) -> Response:
    # Chromium fetches a Link header's preload before it reads a byte of the page.
    hint = "<https://px.ads.linkedin.com/collect/?link=1>; rel=preload; as=image"
    return HTMLResponse(page("Link header", "<p>hinted</p>"), headers={"link": hint})


async def refresh_header(request: Request) -> Response:
    # Chromium follows a Refresh header as it shows the page (here at once: no delay).
    refresh = "0; url=https://px.ads.linkedin.com/collect/?refresh=header"
    return HTMLResponse(page("Refresh header", "<p>refreshing</p>"), headers={"refresh": refresh})


# A meta refresh (at once, its URL in quotes) to a vendor: Chromium follows it as the page loads.
REFRESH_META = (
    '<meta http-equiv="refresh"'
    " content=\"0; URL='https://px.ads.linkedin.com/collect/?refresh=meta'\">"
)


async def refresh_meta(request: Request) -> Response:
    return HTMLResponse(page("Refresh meta", "<p>refreshing</p>", head=REFRESH_META))


# Inline code that tries to end its script early ("</Script>" in any case) or to move the
# tokenizer into escaped script data ("<!--<script>"), where the real end tag no longer ends it.
BREAKOUT = jinja2.Environment(autoescape=True)
consentgate.install_jinja2(BREAKOUT)
BREAKOUT_TEMPLATE = BREAKOUT.from_string(
    '{% call consent_script("necessary") %}'
    "window.__ran = \"</Script><img src=x onerror='window.__xss=1'>\";"
    'window.__after = "<!--<script>";'
    "{% endcall %}"
    '<p id="after">after the script</p>'
)


async def consent_script_breakout(request: Request) -> Response:
    return HTMLResponse(page("consent_script", BREAKOUT_TEMPLATE.render()))


def build_app(*, consent_log: str | None, **options: object) -> ConsentMiddleware:
    inner = Starlette(
        routes=[
            Route("/", trackers),
            Route("/plain", plain),
            Route("/privacy", privacy),
            Route("/csp", strict_csp),
            Route("/csp-nonce", nonce_only),
            Route("/denied-mode", denied_mode),
            Route("/elements", elements),
            Route("/css", css_urls),
            Route("/foreign", foreign),
            Route("/handlers", handlers),
            Route("/self-closing", self_closing),
            Route("/link-header", link_header),
            Route("/refresh-header", refresh_header),
            Route("/refresh-meta", refresh_meta),
            Route("/js-urls", js_urls),
            Route("/speculation", speculation),
            Route("/speculation-header", speculation_header),
            Route("/rules.json", rules_file),
            Route("/consent-script", consent_script_breakout),
        ]
    )
    options.setdefault("policy", Policy(vendors=[EXAMPLE_LIB]))
    return ConsentMiddleware(
        inner,
        secret_key=SECRET,
        privacy_policy_url="/privacy",
        consent_log=consent_log,
        **options,  # type: ignore[arg-type]
    )
