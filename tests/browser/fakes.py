"""Local stand-ins for third-party hosts, so browser tests are offline and exact.

Each fake script records that it ran in ``window.__cg`` (in execution order), sets the first-party
cookies the real vendor sets, and makes the beacon request the real vendor makes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _script(name: str, body: str) -> str:
    return f"(window.__cg = window.__cg || []).push({name!r});\n{body}"


def _cookie(name: str, value: str) -> str:
    return f'document.cookie = "{name}={value}; path=/; max-age=3600";\n'


def _beacon(url: str) -> str:
    return f"new Image().src = {url!r};\n"


GTAG = _script(
    "gtag.js",
    # Keep what Consent Mode told Google, so tests can read the defaults and updates.
    "window.__gcm = (window.dataLayer || []).filter(function (a) { return a[0] === 'consent'; })"
    ".map(function (a) { return [a[1], JSON.parse(JSON.stringify(a[2]))]; });\n"
    + _cookie("_ga", "GA1.1.111.222")
    + _cookie("_ga_TEST123", "GS1.1.333")
    + _beacon("https://www.google-analytics.com/g/collect?v=2&tid=G-TEST123&en=page_view"),
)
GTM = _script("gtm.js", "")
FBEVENTS = _script(
    "fbevents.js",
    _cookie("_fbp", "fb.1.111.222")
    + _beacon("https://www.facebook.com/tr/?id=123456789&ev=PageView"),
)
METRIKA = _script(
    "tag.js",
    _cookie("_ym_uid", "111222")
    + _cookie("_ym_d", "333")
    + _beacon("https://mc.yandex.ru/watch/12345678?page-url=x"),
)
# Metrica's tag.js as its official snippet's CDN option loads it (from a public npm CDN): it
# runs the calls queued in ym.a, and an init sends Metrica's hit.
METRIKA_CDN = _script(
    "tag.js (cdn)",
    "(window.ym && window.ym.a || []).forEach(function (a) {\n"
    "  if (a[1] === 'init') new Image().src = 'https://mc.yandex.ru/watch/' + a[0];\n"
    "});\n",
)
UMAMI = _script("umami.js", _beacon("https://cloud.umami.is/api/send?website=94db1cb1"))
EXAMPLE_LIB = _script(
    "examplelib.js",
    "window.ExampleLib = {init: function (id) {\n"
    "  window.__cg.push('examplelib.init');\n"
    + _cookie("_exlib", "1")
    + "  new Image().src = 'https://lib.example-analytics.com/hit?id=' + id;\n}};\n",
)
MODULE = _script("module.js", "export const loaded = true;\n")
SVG_SCRIPT = "(window.__cg = window.__cg || []).push('svg-script.js');\n"
YOUTUBE = "<!doctype html><title>YouTube</title><p>A video player.</p>"


@dataclass(frozen=True, slots=True)
class Fake:
    body: bytes
    content_type: str
    delay: float = 0.0


# Longest prefix wins; keys are "host/path-prefix".
FAKES: dict[str, Fake] = {
    "www.googletagmanager.com/gtag/js": Fake(GTAG.encode(), "text/javascript"),
    "www.googletagmanager.com/gtm.js": Fake(GTM.encode(), "text/javascript"),
    "connect.facebook.net/en_US/fbevents.js": Fake(FBEVENTS.encode(), "text/javascript"),
    "mc.yandex.ru/metrika/tag.js": Fake(METRIKA.encode(), "text/javascript"),
    "cdn.jsdelivr.net/npm/yandex-metrica-watch/tag.js": Fake(
        METRIKA_CDN.encode(), "text/javascript"
    ),
    "cloud.umami.is/script.js": Fake(UMAMI.encode(), "text/javascript"),
    # Slow on purpose: the inline call after it must still wait for it.
    "lib.example-analytics.com/lib.js": Fake(EXAMPLE_LIB.encode(), "text/javascript", 0.4),
    "www.youtube.com/embed/": Fake(YOUTUBE.encode(), "text/html"),
    "lib.example-analytics.com/module.js": Fake(MODULE.encode(), "text/javascript"),
    "lib.example-analytics.com/svg-script.js": Fake(SVG_SCRIPT.encode(), "text/javascript"),
}


def fake_for(host: str, path: str) -> Fake:
    key = host + path
    best = max((k for k in FAKES if key.startswith(k)), key=len, default=None)
    return FAKES[best] if best else Fake(GIF, "image/gif")
