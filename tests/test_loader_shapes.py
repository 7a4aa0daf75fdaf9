"""A large first-party script that names a vendor's URL as data is not that vendor's loader
(issue 15); a loader of any shape still is, large or small (consentgate/html/loaders.py)."""

from __future__ import annotations

import pytest

from consentgate.gate import VendorIndex
from consentgate.html import Gate
from consentgate.html.loaders import loaded_vendors, names_as_data, why_counted
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

INDEX = VendorIndex(BUILTIN_VENDORS)
GATE = Gate(Policy(vendors=BUILTIN_VENDORS))
GPT = "//www.googletagservices.com/tag/js/gpt.js"
#: Site code that names no vendor and no loader: 9 KB of it make a script "large".
BUNDLE = "".join(f"app.f{i} = function (x) {{ return x * {i}; }};\n" for i in range(300))
assert len(BUNDLE) > 9 * 1024


def rewrite(html: bytes, chunk: int = 0) -> bytes:
    rewriter = GATE.rewriter(frozenset())
    assert rewriter is not None
    if not chunk:
        return rewriter.feed(html) + rewriter.close()
    parts = [rewriter.feed(html[i : i + chunk]) for i in range(0, len(html), chunk)]
    return b"".join(parts) + rewriter.close()


def script(code: str, *, large: bool) -> bytes:
    """An inline script of ``code``, in the middle of 9 KB of site code when ``large``."""
    body = f"var app = {{}};\n{BUNDLE}{code}\n{BUNDLE}" if large else code
    return f"<script>{body}</script>".encode()


def service(html: bytes) -> str | None:
    out = rewrite(html)
    if out == html:
        return None
    marker = b'data-consent-service="'
    at = out.index(marker) + len(marker)
    return out[at : out.index(b'"', at)].decode()


# The Guardian's bootstrap, as on ../shared/bench-pages/guardian-1.html: its config object
# names gpt.js for another file to load.
GUARDIAN = (
    'window.guardian = {"config": {"page": {"shouldHideAdverts": false, "pbIndexSites": '
    '[{"bp": "D", "id": 208264}], "googletagJsUrl":"' + GPT + '", '
    '"idApiUrl": "https://idapi.theguardian.com"}}};'
)
AS_DATA = [
    GUARDIAN,
    "var config = {lib: '" + GPT + "', retries: 3};",
    'var c = {"a": 1,\n  "adsLibrary" :  "https:' + GPT + '"\n};',
    # JSON inside a string (JSON.parse of a server-rendered blob): \" quotes, \/ slashes
    'var c = JSON.parse("{\\"n\\": 1, \\"gptLib\\": \\"https:\\/\\/www.googletagservices.com'
    '/tag/js/gpt.js\\"}");',
]


@pytest.mark.parametrize("code", AS_DATA)
def test_a_large_script_naming_a_vendor_url_as_data_runs(code: str) -> None:
    html = script(code, large=True)
    assert rewrite(html) == html
    assert rewrite(html, chunk=1000) == html


@pytest.mark.parametrize("code", AS_DATA)
def test_a_small_script_naming_it_is_gated_whatever_its_shape(code: str) -> None:
    # Snippets are small: in a small script any mention of a vendor's URL counts.
    assert service(script(code, large=False)) == "doubleclick"


LOADERS = [
    # creating an element and setting its src, each spelling
    "var s = document.createElement('script'); s.async = true; s.src = '" + GPT + "';"
    " document.head.appendChild(s);",
    "var s = document.createElement('script'); s.setAttribute('src', '" + GPT + "');",
    "var img = new Image(); img.src = 'https:" + GPT + "?x=1';",
    # handed to a loader as {src: …}
    "loader.add({id: 'gpt', src: '" + GPT + "'});",
    'inject({"scriptSrc": "' + GPT + '"});',
    # requests
    "fetch('https:" + GPT + "', {mode: 'no-cors'});",
    "navigator.sendBeacon('https:" + GPT + "', payload);",
    "var x = new XMLHttpRequest(); x.open('GET', '" + GPT + "'); x.send();",
    # written, imported
    "document.write('<script src=\"" + GPT + "\"><\\/script>');",
    "import('https:" + GPT + "').then(start);",
    "importScripts('https:" + GPT + "');",
    "$.getScript('" + GPT + "');",
    "loadScript('" + GPT + "', function () { ready(); });",
    # the snippet's IIFE, handed the URL
    "(function (w, d, s, u) { var e = d.createElement(s); e.src = u; })"
    "(window, document, 'script', '" + GPT + "');",
    "})(window, document, 'script', '" + GPT + "', 'gpt');\nvar later = 1;",
    # a property value near a loader's shape, or whose key is read back elsewhere
    "loadScript({'name': 'gpt', 'lib': '" + GPT + "'});",
    "var cfg = {'gptLib': '" + GPT + "'};\n" + BUNDLE + "var s = document.createElement"
    "('script'); s.src = cfg.gptLib;",
    # not a property's whole value: an array, a sum, a template, a ternary
    'var libs = {"preload": ["' + GPT + '"]};',
    "var cfg = {'lib': '" + GPT + "' + version};",
    "var cfg = {lib: `https:" + GPT + "`};",
    "var lib = old ? 'x' : '" + GPT + "';",
    "var lib = '" + GPT + "';",
    # the vendor's own call: the URL as data beside it does not clear it
    'var cfg = {"gptLib": "' + GPT + '"};\ngoogletag.cmd.push(function () {});',
    # a URL in an object as a loader's key names it
    "var opts = {url: '" + GPT + "'};",
]


@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
@pytest.mark.parametrize("code", LOADERS)
def test_a_loader_of_any_shape_is_gated_large_or_small(code: str, large: bool) -> None:
    html = script(code, large=large)
    assert service(html) == "doubleclick"
    assert rewrite(html, chunk=1000) == rewrite(html)


@pytest.mark.parametrize(
    ("code", "vendor"),
    [
        # Lotame's loader inside the Guardian's 16 KB head script (bench page guardian-1)
        (
            "if (shouldServeLotame()) { var script = document.createElement('script');"
            " script.src = 'https://tags.crwdcntrl.net/c/12666/cc.js';"
            " document.body.appendChild(script) }",
            "lotame",
        ),
        # New Relic's agent snippet (salon-1, seattletimes-1): its name, wherever it is
        (
            'window.NREUM || (NREUM = {}); NREUM.init = {"privacy": {"cookies_enabled": true}};',
            "new-relic",
        ),
        # an AMD loader (Outbrain's widget through require)
        ("require(['//widgets.outbrain.com/outbrain.js'], function () {});", "outbrain"),
        # Yandex Metrica's snippet with its CDN option
        (
            "(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(argu"
            "ments)};m[i].l=1*new Date();k=e.createElement(t),a=e.getElementsByTagName(t)"
            "[0],k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})(window, document, "
            '"script", "https://cdn.jsdelivr.net/npm/yandex-metrica-watch/tag.js", "ym");'
            ' ym(12345, "init", {clickmap: true});',
            "yandex-metrica",
        ),
    ],
)
def test_real_loaders_inside_large_scripts_stay_gated(code: str, vendor: str) -> None:
    assert service(script(code, large=True)) == vendor


def test_only_the_vendors_named_as_data_are_set_aside() -> None:
    # One vendor's URL as data, another's loader: the script is the second vendor's.
    # (The loader far from the URL: one near it would count the URL too.)
    code = GUARDIAN + "\n" + BUNDLE + "var s = document.createElement('script');"
    code += " s.src = 'https://tags.crwdcntrl.net/c/1/cc.js';"
    assert service(script(code, large=True)) == "lotame"


def test_hits_are_tokens_and_a_mention_in_a_comment_keeps_the_script_gated() -> None:
    code = b"/* was: s.src = '" + GPT.encode() + b"' */ var a = {'u': '" + GPT.encode() + b"'};"
    code += b" my_googletag.cmd = 1;"  # (inside a longer name: no hit)
    hits = INDEX.signature_hits(code)
    assert [(code[s:e], url, [v.id for v in vs]) for s, e, url, vs in hits] == [
        (b"googletagservices.com/tag/js/gpt.js", True, ["doubleclick"]),
        (b"googletagservices.com/tag/js/gpt.js", True, ["doubleclick"]),
    ]
    # The one in the comment is no property's value: it counts (the comment scanner, which
    # match_code may have run over the whole script, is not run twice; it can only keep a
    # script gated).
    assert service(script(code.decode(), large=True)) == "doubleclick"
    assert service(script(code.decode().split("*/")[1], large=True)) is None


def test_every_occurrence_is_a_hit_and_calls_are_not_urls() -> None:
    code = b"googletag.cmd.push(f); googletag.cmd.push(g); var u = 'https://static.chartbeat.com/';"
    hits = INDEX.signature_hits(code)
    assert [(code[s:e], url) for s, e, url, _ in hits] == [
        (b"googletag.cmd", False),
        (b"googletag.cmd", False),
        (b"static.chartbeat.com", True),
    ]


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ('{"a": 1, "gpt": "' + GPT + '"}', None),
        ('{"a": 1, "src": "' + GPT + '"}', "a loader's key (src)"),
        ('{"a": 1, "gpt": "' + GPT + '"}; use(x.gpt)', "its key (gpt) is read elsewhere"),
        ('{"a": 1, "gpt": "' + GPT + '" + v}', "not a property's value"),
        ("f('" + GPT + "')", "not a property's value"),
        ("x = a" + GPT, "not in a quoted string"),
        ('{"gpt": "' + GPT + ' "}', "not in a quoted string"),  # (a space: not a URL's)
        ('fetch(u, {"gpt": "' + GPT + '"})', "a loader's shape near it (fetch()"),
    ],
)
def test_why_a_url_counts(code: str, why: str | None) -> None:
    raw = code.encode()
    start = raw.index(b"googletagservices")
    end = start + len(b"googletagservices.com/tag/js/gpt.js")
    assert why_counted(raw, start, end) == why
    assert names_as_data(raw, start, end) is (why is None)


def test_vendor_calls_count_beside_another_vendors_url_as_data() -> None:
    # gtag(, fbq(, _paq.push: the vendors' own calls count wherever they are; DoubleClick's
    # URL, a config value, does not.
    calls = "fbq('init', '1'); _paq.push(['trackPageView']); gtag('config', 'G-1');"
    large = f"{GUARDIAN}\n{BUNDLE}{calls}".encode()
    assert [v.id for v in loaded_vendors(INDEX, memoryview(large))] == [
        "meta-pixel",
        "matomo",
        "google-analytics",
    ]
    assert service(script(f"{GUARDIAN}\n{BUNDLE}{calls}", large=True)) == "meta-pixel"
    # Small, the same URL counts (snippets are small): DoubleClick comes first.
    small = f"{GUARDIAN}\n{calls}"
    assert service(script(small, large=False)) == "doubleclick"
