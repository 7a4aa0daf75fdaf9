"""Loaders of the browser's surface beyond src: SVG filter images and animations that set an
href, Attribution Reporting's attributionsrc, compression dictionaries, import maps."""

from __future__ import annotations

import json
import re

import pytest

from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

GATE = Gate(Policy(vendors=BUILTIN_VENDORS))
TR = "https://www.facebook.com/tr?id=1"


def rewrite(html: bytes) -> bytes:
    rewriter = GATE.rewriter(frozenset(), host="shop.example")
    assert rewriter is not None
    return rewriter.feed(html) + rewriter.close()


def every_cut(html: bytes) -> None:
    whole = rewrite(html)
    for cut in range(1, len(html)):
        rewriter = GATE.rewriter(frozenset(), host="shop.example")
        assert rewriter is not None
        out = rewriter.feed(html[:cut]) + rewriter.feed(html[cut:]) + rewriter.close()
        assert out == whole, cut


@pytest.mark.parametrize("attr", ["href", "xlink:href", "HREF"])
def test_an_svg_filter_image_on_a_vendor_waits(attr: str) -> None:
    page = f'<svg><filter id="f"><feImage {attr}="{TR}"/></filter></svg>'.encode()
    out = rewrite(page)
    assert re.search(rb'[\s"](?:href|xlink:href)="https://www\.facebook', out, re.I) is None
    assert b'data-consent-service="meta-pixel"' in out


@pytest.mark.parametrize(
    "animation",
    [
        f'<set attributeName="href" to="{TR}"/>',
        f'<set attributeName="xlink:href" to="{TR}"/>',
        f'<animate attributeName="href" values="a.png; {TR}" dur="1s"/>',
        f'<animate attributeName="href" from="a.png" to="{TR}" dur="1s"/>',
        f'<animate attributeName="href" from="{TR}" by="x" dur="1s"></animate>',
    ],
)
def test_svg_animations_that_set_a_vendors_href_wait(animation: str) -> None:
    page = f'<svg><image href="a.png">{animation}</image></svg>'.encode()
    out = rewrite(page)
    assert b'data-consent-service="meta-pixel"' in out
    for name in (b"to", b"values", b"from"):
        assert f' {name.decode()}="{TR}'.encode() not in out


def test_svg_animations_of_other_attributes_are_untouched() -> None:
    page = f'<svg><rect><set attributeName="fill" to="{TR}"/></rect></svg>'.encode()
    assert rewrite(page) == page
    page = b'<svg><image href="a.png"><set attributeName="href" to="b.png"/></image></svg>'
    assert rewrite(page) == page


@pytest.mark.parametrize(
    "tag",
    [
        f'<img src="/a.png" attributionsrc="{TR}">',
        f'<a href="/" attributionsrc="/x {TR}">x</a>',
        f'<area href="/" attributionsrc="{TR}">',
        f'<script src="/app.js" attributionsrc="{TR}"></script>',
    ],
)
def test_attribution_sources_on_a_vendor_wait(tag: str) -> None:
    out = rewrite(tag.encode())
    assert b" attributionsrc=" not in out
    assert b"data-consent-attributionsrc=" in out
    assert b'src="/a.png"' in out or b"<img" not in out  # (the element's own source stays)


def test_compression_dictionaries_on_a_vendor_wait() -> None:
    out = rewrite(b'<link rel="compression-dictionary" href="https://www.facebook.com/d">')
    assert b"data-consent-href=" in out


def test_new_loaders_split_anywhere_give_the_same_output() -> None:
    every_cut(
        f'<svg><feImage xlink:href="{TR}"/><set attributeName="href" to="{TR}"/></svg>'.encode()
    )
    every_cut(f'<a href="/" attributionsrc="{TR}">x</a>'.encode())


# -- import maps ---------------------------------------------------------------------------------


def importmap(value: object, attrs: str = "") -> bytes:
    return f'<script type="importmap"{attrs}>{json.dumps(value)}</script>'.encode()


def content(out: bytes) -> object:
    start = out.index(b">") + 1
    return json.loads(out[start : out.rindex(b"</script>")])


def test_import_map_entries_naming_a_vendor_are_dropped_the_sites_kept() -> None:
    page = importmap(
        {
            "imports": {
                "app": "/js/app.js",
                "gtm": "https://www.googletagmanager.com/gtm.js",
                "pixel/": "https://connect.facebook.net/en_US/",
            },
            "scopes": {
                "/admin/": {"fb": "https://connect.facebook.net/fbevents.js", "x": "/x.js"},
                "https://www.googletagmanager.com/": {"a": "/a.js"},
            },
            "integrity": {"https://www.googletagmanager.com/gtm.js": "sha384-x", "/a.js": "s"},
        }
    )
    out = rewrite(page)
    assert out.startswith(b'<script type="importmap">')
    assert content(out) == {
        "imports": {"app": "/js/app.js"},
        "scopes": {"/admin/": {"x": "/x.js"}},
        "integrity": {"/a.js": "s"},
    }


def test_import_map_urls_are_read_as_json_and_as_urls() -> None:
    # JSON escapes, a protocol-relative URL, a host that maps to a vendor's, a relative URL
    # after a vendor's <base>.
    raw = (
        b'<script type="importmap">{"imports": {"a": "https:\\/\\/www.googletagmanager.com/x.js",'
        b' "b": "//connect.facebook.net/x.js", "c": "https://www.\\u0067oogletagmanager.com/",'
        b' "d": "/mine.js"}}</script>'
    )
    assert content(rewrite(raw)) == {"imports": {"d": "/mine.js"}}
    based = b'<base href="https://www.googletagmanager.com/">' + importmap(
        {"imports": {"e": "gtm.js"}}
    )
    out = rewrite(based)
    assert b"gtm.js" not in out.split(b"</base>")[-1].split(b">", 2)[-1]


def test_import_maps_without_vendors_and_unreadable_ones() -> None:
    page = importmap({"imports": {"app": "/js/app.js"}})
    assert rewrite(page) == page
    # Not JSON a browser reads: it maps nothing (Chromium reports an error), so it is left as
    # it is unless it names a vendor, when it goes inert as a whole.
    broken = b'<script type="importmap">{"imports": {"a": "https://www.googletagmanager.com/x.js"'
    broken += b"</script>"
    assert b"googletagmanager" not in rewrite(broken).split(b"data-consent", 1)[0]
