"""The rewriter never raises, whatever the page: attribute values of any shape (categories the
site's policy does not have, empty values, NUL bytes, bytes that are not UTF-8, megabytes,
unbalanced quotes, srcdoc documents inside one another), cut into any chunks; and what the
site tags with a category nobody can grant stays gated."""

from __future__ import annotations

import html

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser
from test_rewriter import GATE, NONE, cut_at, rewrite
from test_rewriter_pages import live_references

from consentgate.html import Gate, default_placeholder
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

REMOVE = Gate(Policy(vendors=BUILTIN_VENDORS, mode="remove"))
YOUTUBE = GATE.vendors["youtube"]

# Category names a page may write that no policy has (Category refuses them all), and some
# it has, as pages spell them.
INVALID_CATEGORIES = [
    b"Ads!",
    b"",
    b" ",
    b"ads!",
    b"statistics",
    b"marketing analytical",
    b"marketing,",
    b"\x00",
    b"market\x00ing",
    b"\xff\xfe",
    b"caf\xc3\xa9",
    b"caf\xe9",
    b"-",
    b"a" * 40,
    b"&quot;",
    b"<",
    b">",
    b"'",
    b'"',
    b"\t\n",
]
CATEGORIES = [
    b"marketing",
    b"analytical",
    b"preference",
    b"necessary",
    b"MARKETING",
    b" marketing ",
]
SERVICES = [
    b"youtube",
    b"YOUTUBE",
    b"",
    b"unknown-vendor",
    b"google-analytics",
    b"meta-pixel",
    b"you tube",
    b"\x00",
    b"\xff",
    b"youtube\x00",
    b"a" * 300,
]
URLS = [
    b"https://www.youtube.com/embed/x",
    b"//www.google-analytics.com/analytics.js",
    b"https://www.facebook.com/tr?id=1&amp;ev=PageView",
    b"/own.js",
    b"",
    b"javascript:;",
    b"javascript:fbq('track')",
    b"https://cdn.taboola.com/x.png 1x, /a.png 2x",
    b"url(//cdn.taboola.com/x.png)",
    b"new Image().src='//www.facebook.com/tr'",
]
NAMES = [
    b"src",
    b"href",
    b"data-consent",
    b"data-consent-service",
    b"srcdoc",
    b"style",
    b"onload",
    b"onerror",
    b"ping",
    b"type",
    b"rel",
    b"srcset",
    b"background",
    b"action",
    b"poster",
    b"data",
    b"SRC",
    b"Data-Consent",
    b"x",
    b"=",
    b'"',
    b"'",
    b"a\x00b",
    b"\xff",
    b"data-consent-src",
    b"imagesrcset",
    b"xlink:href",
]
TAGS = [
    b"iframe",
    b"img",
    b"script",
    b"link",
    b"video",
    b"source",
    b"style",
    b"div",
    b"a",
    b"noscript",
    b"embed",
    b"object",
    b"image",
    b"svg",
    b"body",
    b"textarea",
    b"title",
    b"IFRAME",
    b"frame",
    b"input",
    b"area",
    b"td",
    b"plaintext",
    b"math",
]

_bytes = st.binary(max_size=24)
_value = st.one_of(
    st.sampled_from(INVALID_CATEGORIES + CATEGORIES + SERVICES + URLS),
    _bytes,
    st.builds(bytes.__add__, st.sampled_from(URLS), _bytes),
)


def _srcdoc(document: bytes) -> bytes:
    """A document as a srcdoc attribute's value (escaped as a page would write it)."""
    return document.replace(b"&", b"&amp;").replace(b'"', b"&quot;")


def _attr(name: bytes, value: bytes, quote: bytes) -> bytes:
    if quote == b"none":
        return b" " + name
    if quote == b"open":  # an unbalanced quote
        return b" " + name + b'="' + value
    return b" " + name + b"=" + quote + value + quote


_attrs = st.lists(
    st.builds(
        _attr, st.sampled_from(NAMES), _value, st.sampled_from([b'"', b"'", b"", b"none", b"open"])
    ),
    max_size=5,
).map(b"".join)


def _element(tag: bytes, attrs: bytes, close: bytes, content: bytes, end: bool) -> bytes:
    return b"<" + tag + attrs + close + content + (b"</" + tag + b">" if end else b"")


_elements = st.builds(
    _element,
    st.sampled_from(TAGS),
    _attrs,
    st.sampled_from([b">", b"/>", b" >", b""]),
    st.one_of(st.just(b""), _bytes, st.sampled_from(URLS)),
    st.booleans(),
)
# Documents whose iframes hold documents (srcdoc) holding documents …
_documents = st.recursive(
    st.lists(_elements, max_size=4).map(b"".join),
    lambda inner: st.lists(
        st.one_of(
            _elements,
            inner.map(
                lambda doc: (
                    b'<iframe srcdoc="' + _srcdoc(doc) + b'" src="https://www.youtube.com/embed/x">'
                    b"</iframe>"
                )
            ),
        ),
        max_size=4,
    ).map(b"".join),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    page=_documents,
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    remove=st.booleans(),
    granted=st.sets(st.sampled_from(["marketing", "analytical"])),
)
def test_any_attributes_in_any_chunks_never_raise_and_give_the_one_shot_output(
    page: bytes, cuts: list[int], remove: bool, granted: set[str]
) -> None:
    gate = REMOVE if remove else GATE
    rewriter = gate.rewriter(frozenset(granted))
    assert rewriter is not None
    whole = rewriter.feed(page) + rewriter.close()
    assert isinstance(whole, bytes)
    rewriter = gate.rewriter(frozenset(granted))
    assert rewriter is not None
    out, last = [], 0
    for point in sorted({min(c, len(page)) for c in cuts}):
        out.append(rewriter.feed(page[last:point]))
        last = point
    out += [rewriter.feed(page[last:]), rewriter.close()]
    assert b"".join(out) == whole


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_arbitrary_bytes_in_any_chunks_never_raise(data: bytes, cuts: list[int]) -> None:
    assert cut_at(data, cuts) == rewrite(data)


@pytest.mark.parametrize("category", INVALID_CATEGORIES)
@pytest.mark.parametrize("tag", [b"iframe", b"img", b"script", b"video"])
def test_an_element_tagged_with_a_category_nobody_can_grant_stays_gated(
    category: bytes, tag: bytes
) -> None:
    quoted = html.escape(category.decode("latin-1")).encode("latin-1")
    page = (
        b"<"
        + tag
        + b' data-consent="'
        + quoted
        + b'" src="https://www.youtube.com/embed/x">'
        + (b"</" + tag + b">" if tag != b"img" else b"")
    )
    services = frozenset(GATE.vendors)
    for granted in (NONE, frozenset({"marketing", "analytical"})):
        rewriter = GATE.rewriter(granted, services)
        assert rewriter is not None
        out = rewriter.feed(page) + rewriter.close()
        tree = LexborHTMLParser(b"<body>" + out)
        assert [n for n in tree.css(tag.decode()) if "src" in n.attributes] == [], out
        assert b'data-consent-src="https://www.youtube.com/embed/x"' in out


def test_an_iframe_tagged_with_an_unknown_category_gets_a_placeholder_without_a_button() -> None:
    out = rewrite(b'<iframe data-consent="Ads!" src="https://www.youtube.com/embed/x"></iframe>')
    assert out.startswith(b'<div class="consentgate-placeholder" data-consent-placeholder="ads!">')
    assert b"<button" not in out and b"<form" not in out
    # A category the policy has keeps its button.
    out = rewrite(b'<iframe data-consent="preference" src="/widgets/weather"></iframe>')
    assert b'<button type="submit">Allow preference content</button>' in out


@given(vendor=st.sampled_from([None, YOUTUBE]), category=st.text(), allowable=st.booleans())
def test_default_placeholder_never_raises_and_escapes_any_category(
    vendor: object, category: str, allowable: bool
) -> None:
    out = default_placeholder(vendor, category, allowable=allowable)  # type: ignore[arg-type]
    assert out.isascii()
    # The category stays in its attribute and its text: the elements are those of any other.
    plain = default_placeholder(vendor, "x", allowable=allowable)  # type: ignore[arg-type]
    assert _elements_of(out) == _elements_of(plain)


def _elements_of(fragment: bytes) -> list[tuple[str, list[str]]]:
    body = LexborHTMLParser(b"<body>" + fragment).body
    assert body is not None
    return [(n.tag or "", sorted(n.attributes)) for n in body.traverse()]


@pytest.mark.parametrize("quote", [b'"', b"'", b""])
def test_megabyte_attributes_with_unbalanced_quotes_in_small_chunks(quote: bytes) -> None:
    big = (b"a>b\"c'd\x00\xff<" * 100_000)[: 1 << 20]
    page = (
        b'<div data-consent="Ads!" data-x='
        + quote
        + big
        + b' src="//www.youtube.com/e">'
        + b'<img src="https://www.facebook.com/tr?id=1" title='
        + quote
        + big
        + b"<p>x"
        + b'<iframe data-consent="Ads!" src="https://www.youtube.com/embed/x" title='
        + quote
        + big
        + b"</iframe>"
    )
    assert [ref for ref in live_references(page) if ref[2]]
    whole = rewrite(page)
    assert cut_at(page, list(range(0, len(page), 4096))) == whole
    assert [ref for ref in live_references(whole) if ref[2]] == []
