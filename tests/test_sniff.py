"""What counts as a page: a body a browser sniffs as HTML (no usable Content-Type), and XML
types, read as XHTML, are gated too; other bodies pass as the app sent them."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest
from helpers import SECRET, body, raw_app, run, start

from consentgate import ConsentMiddleware
from consentgate.responder import FAILURE_PAGE
from consentgate.sniff import sniff

GTM = b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"></script>'
XGTM = b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"/>'
XHTML = b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head><body>%s</body></html>'


def gated(text: bytes) -> bool:
    return b"data-consent-src=" in text and b' src="https://www.googletagmanager.com' not in text


def bare_start(headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": headers or []}


async def serve(*messages: dict[str, Any]) -> Any:
    return await run(ConsentMiddleware(raw_app(*messages), secret_key=SECRET))


@pytest.mark.parametrize(
    "head",
    [
        b"<!DOCTYPE html>",
        b"<!doctype HTML>",
        b"\n\t <html>",
        b"<HEAD>",
        b"<script src=x>",
        b"<iframe ",
        b"<h1>",
        b"<div>",
        b"<font>",
        b"<table>",
        b"<a href=x>",
        b"<style>",
        b"<title>",
        b"<b>",
        b"<body>",
        b"<br>",
        b"<p>",
        b"<!-- a comment -->",
        b"<!-->",
    ],
)
def test_the_html_patterns_are_html(head: bytes) -> None:
    assert sniff(head) == "text/html"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello <html>",
        b"<abbr>",  # (the pattern must end with a space or ">")
        b"<htmlx>",
        b"<p\n>",
        b"\xef\xbb\xbf<html>",  # (a byte-order mark first: text)
        "<html>".encode("utf-16-le"),
        b'{"html": "<p>"}',
        b"\x89PNG\r\n",
    ],
)
def test_anything_else_is_not(head: bytes) -> None:
    assert sniff(head) is None


def test_an_xml_declaration_is_xml() -> None:
    assert sniff(b' <?xml version="1.0"?><html/>') == "text/xml"


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"content-type", b"unknown/unknown")],
        [(b"content-type", b"*/*")],
        [(b"content-type", b"nonsense")],
    ],
)
@pytest.mark.anyio
async def test_a_page_without_a_usable_type_is_gated_as_the_browser_sniffs_it(
    headers: list[tuple[bytes, bytes]],
) -> None:
    page = b"<html><head>" + GTM + b"</head><body><p>Hi</p></body></html>"
    rec = await serve(bare_start(headers), body(page))
    assert rec.status == 200 and gated(rec.body) and b"<p>Hi</p>" in rec.body
    assert dict(rec.messages[0]["headers"])[b"content-type"] == b"text/html"


@pytest.mark.anyio
async def test_a_sniffed_page_streamed_in_small_pieces_is_gated() -> None:
    page = b"  <!DOCTYPE html><p>" + b"x" * 3000 + GTM
    pieces = [body(page[i : i + 100], more=True) for i in range(0, len(page), 100)]
    rec = await serve(bare_start(), *pieces, body(b""))
    assert gated(rec.body) and rec.body.startswith(b"  <!DOCTYPE html><p>")


@pytest.mark.anyio
async def test_a_body_sniffed_as_neither_passes_as_it_came() -> None:
    data = b'{"script": "' + GTM.replace(b'"', b"'") + b'"}'
    headers = [(b"content-length", b"%d" % len(data)), (b"etag", b'"v1"')]
    rec = await serve(bare_start(headers), body(data))
    assert rec.body == data
    assert rec.messages[0]["headers"] == headers  # (no Vary, no new type)


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/xhtml+xml",
        b"application/xml",
        b"text/xml; charset=utf-8",
        b"application/atom+xml",
    ],
)
@pytest.mark.anyio
async def test_xml_types_holding_xhtml_are_gated(content_type: bytes) -> None:
    page = b'<?xml version="1.0"?>' + XHTML % XGTM
    rec = await serve(start(content_type), body(page))
    assert rec.status == 200 and gated(rec.body)
    assert b"consentgate-banner" not in rec.body  # (HTML of ours would break XML)
    ElementTree.fromstring(rec.body)


@pytest.mark.anyio
async def test_an_svg_document_is_gated() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<script href="https://www.googletagmanager.com/gtm.js?id=GTM-X"/></svg>'
    )
    rec = await serve(start(b"image/svg+xml"), body(svg))
    assert b'data-consent-href="https://www.googletagmanager.com' in rec.body


@pytest.mark.anyio
async def test_an_xml_doctype_with_an_internal_subset_fails_closed() -> None:
    # Its entities could spell a vendor's URL (or markup) that the rewriter never sees.
    page = (
        b'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY t "https://www.googletagmanager.com/'
        b'gtm.js">]>' + XHTML % b'<script src="&t;"/>'
    )
    rec = await serve(start(b"application/xhtml+xml"), body(page))
    assert rec.status == 502 and rec.body == FAILURE_PAGE
    plain = b'<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    plain += b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">' + XHTML % XGTM
    rec = await serve(start(b"application/xhtml+xml"), body(plain))
    assert rec.status == 200 and gated(rec.body)


# -- XHTML: prefixed elements, xml-stylesheet ---------------------------------------------------

PREFIXED = (
    b'<?xml version="1.0"?><root xmlns:h="http://www.w3.org/1999/xhtml"><h:p>Hi</h:p>%s</root>'
)


@pytest.mark.parametrize(
    "element",
    [
        b'<h:script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"/>',
        b'<h:script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"></h:script>',
        b"<h:script>gtag('config', 'G-1');</h:script>",
        b"<h:script>\n(function(){var s=document.createElement('script');"
        b"s.src='https://www.googletagmanager.com/gtm.js';})();</h:script>",
    ],
)
@pytest.mark.anyio
async def test_a_prefixed_xhtml_script_is_gated(element: bytes) -> None:
    rec = await serve(start(b"application/xml"), body(PREFIXED % (element + b"<h:p>after</h:p>")))
    out = rec.body
    assert b'<h:script type="text/plain"' in out, out
    assert out.endswith(b"<h:p>after</h:p></root>")  # (what follows is read as markup again)


@pytest.mark.anyio
async def test_prefixed_pixels_and_frames_are_gated() -> None:
    inner = (
        b'<h:img src="https://www.facebook.com/tr?id=1&amp;ev=PageView"/>'
        b'<h:iframe src="https://www.youtube.com/embed/x"></h:iframe>'
    )
    rec = await serve(start(b"text/xml"), body(PREFIXED % inner))
    ElementTree.fromstring(rec.body)  # (still XML: no placeholder of HTML, values for all)
    assert b'<h:img data-consent-src="https://www.facebook.com/tr' in rec.body
    assert b' src="https://www.youtube.com' not in rec.body
    assert b' src="https://www.facebook.com' not in rec.body


@pytest.mark.anyio
async def test_a_prefixed_script_split_over_many_chunks_ends_at_its_own_end_tag() -> None:
    page = PREFIXED % (b"<h:script>var a = '" + b"x" * 5000 + b"'; gtag('config');</h:script>")
    pieces = [body(page[i : i + 64], more=True) for i in range(0, len(page), 64)]
    rec = await serve(start(b"application/xml"), *pieces, body(b""))
    assert b'<h:script type="text/plain"' in rec.body and rec.body.endswith(b"</root>")


@pytest.mark.anyio
async def test_an_xml_stylesheet_on_a_vendor_loads_nothing() -> None:
    pi = b'<?xml-stylesheet type="text/css" href="https://www.googletagmanager.com/x.css"?>'
    own = b'<?xml-stylesheet type="text/xsl" href="/site.xsl"?>'
    page = b'<?xml version="1.0"?>' + pi + own + XHTML % b"<p>Hi</p>"
    rec = await serve(start(b"application/xhtml+xml"), body(page))
    assert b'<?xml-stylesheet type="text/css" data-consent-href="https://www.googletag' in rec.body
    assert own in rec.body  # (the site's own stays)
    # In HTML it is a bogus comment, which loads nothing: left as it is.
    rec = await serve(start(b"text/html"), body(pi + b"<p>Hi</p>"))
    assert rec.body.startswith(pi)


@pytest.mark.anyio
async def test_a_gated_xhtml_iframe_leaves_the_document_well_formed() -> None:
    frame = b'<iframe src="https://www.youtube.com/embed/x" width="5"></iframe>'
    rec = await serve(start(b"application/xhtml+xml"), body(XHTML % frame))
    assert b' src="https://www.youtube.com' not in rec.body
    ElementTree.fromstring(rec.body)


@pytest.mark.parametrize(
    "script",
    [
        b'<script><img src="https://www.facebook.com/tr?id=1"/></script>',
        b'<script src="https://www.googletagmanager.com/gtm.js?id=GTM-X">'
        b'<img src="https://www.facebook.com/tr?id=1"/></script>',
        b'<h:script xmlns:h="http://www.w3.org/1999/xhtml">'
        b'<h:img src="https://www.facebook.com/tr?id=1"/></h:script>',
    ],
)
@pytest.mark.anyio
async def test_an_element_inside_an_xhtml_script_is_read_as_markup(script: bytes) -> None:
    # XML parses a script's content: an <img> in it is an element, and it loads.
    rec = await serve(start(b"application/xhtml+xml"), body(XHTML % script))
    assert b' src="https://www.facebook.com' not in rec.body
    assert b'data-consent-src="https://www.facebook.com/tr?id=1"' in rec.body
    ElementTree.fromstring(rec.body)


@pytest.mark.anyio
async def test_cdata_in_an_xhtml_script_stays_code() -> None:
    code = b"<![CDATA[ var tag = '<img src=\"https://www.facebook.com/tr?id=1\"/>'; ]]>"
    rec = await serve(
        start(b"application/xhtml+xml"), body(XHTML % (b"<script>" + code + b"</script>"))
    )
    assert code in rec.body
