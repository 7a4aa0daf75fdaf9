"""Refreshes: the URL a ``Refresh`` header or a ``<meta http-equiv=refresh>`` navigates to, read
in every spelling Chromium follows (checked in Chromium: tests/browser/test_gating.py), and more
loosely where browsers differ; and the rewriter's ``<meta>`` refreshes to a vendor."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.refresh import refresh_urls, without_blocked_refresh
from consentgate.vendors import BUILTIN_VENDORS

URL = b"https://www.facebook.com/tr?id=1"
SPELLINGS = (
    b"0;url=" + URL,
    b"0;URL=" + URL,
    b"0; Url=" + URL,
    b"  0 ;  url =  " + URL + b"  ",
    b"\n0\n;\nurl\n=\n" + URL + b"\n",
    b"0; url='" + URL + b"'",
    b'0; url="' + URL + b'"',
    b"0; url='" + URL,  # (no closing quote: up to the end)
    b"0; '" + URL + b"'",
    b"0; " + URL,
    b"0," + URL,
    b"0 " + URL,
    b"0.5;url=" + URL,
    b"0.;url=" + URL,
    b"10;url=" + URL,
    # No delay: Chromium ignores these; read all the same (fails closed).
    b"url=" + URL,
    b";url=" + URL,
    b", " + URL,
)
GATE = Gate(Policy(vendors=BUILTIN_VENDORS))
NONE: frozenset[str] = frozenset()


def rewrite(html: bytes, granted: frozenset[str] = NONE, gate: Gate = GATE, **kw: object) -> bytes:
    rewriter = gate.rewriter(granted, **kw)  # type: ignore[arg-type]
    assert rewriter is not None
    return rewriter.feed(html) + rewriter.close()


def meta(content: bytes, equiv: bytes = b'"refresh"') -> bytes:
    quoted = b"'" + content + b"'" if b'"' in content else b'"' + content + b'"'
    return b"<meta http-equiv=" + equiv + b" content=" + quoted + b">"


@pytest.mark.parametrize("value", SPELLINGS)
def test_every_spelling_names_its_url(value: bytes) -> None:
    assert refresh_urls(value) == [URL]


def test_a_quoted_url_is_read_up_to_its_first_and_its_last_closing_quote() -> None:
    # The HTML standard stops at the first closing quote, Chromium at the last.
    assert refresh_urls(b"0;url='https://a.example/x'y'z") == [
        b"https://a.example/x",
        b"https://a.example/x'y",
    ]


def test_a_refresh_without_a_url_names_none() -> None:
    for value in (b"", b"0", b" 5 ", b"0;", b"0; url=", b"0;url=''"):
        assert refresh_urls(value) == [], value
    # "url" with no "=" is the URL itself (a relative one), as the browsers read it.
    assert refresh_urls(b"0;url https://a.example/") == [b"url https://a.example/"]


def test_without_blocked_refresh() -> None:
    def blocked(url: bytes) -> bool:
        return b"facebook.com" in url

    assert without_blocked_refresh(b"0;url=" + URL, blocked) is None
    assert without_blocked_refresh(b"5", blocked) == b"5"
    own = b"3; url=/next"
    assert without_blocked_refresh(own, blocked) is own


@given(st.binary(max_size=64))
def test_any_value_is_read_without_raising(value: bytes) -> None:
    for url in refresh_urls(value):
        assert url and url == url.strip(b"\t\n\x0b\x0c\r ")


@pytest.mark.parametrize("value", SPELLINGS)
def test_a_meta_refresh_to_a_vendor_waits_in_every_spelling(value: bytes) -> None:
    html = meta(value)
    out = rewrite(html)
    # Its content moves aside whole (as written), named for the vendor's service.
    assert out == (
        b"<meta data-consent-content="
        + html[html.index(b"content=") + 8 : -1]
        + b' data-consent="marketing" data-consent-service="meta-pixel" http-equiv="refresh">'
    )
    assert rewrite(out) == out  # (rewritten once for all)
    assert rewrite(html, frozenset({"marketing"})) == html
    assert rewrite(html, services=frozenset({"meta-pixel"})) == html
    assert rewrite(html, services=frozenset({"facebook"})) == out


def test_http_equiv_in_any_spelling_and_content_with_references() -> None:
    for equiv in (b"REFRESH", b"Refresh", b"'refresh'", b'" refresh "', b'"&#114;efresh"'):
        out = rewrite(meta(b"0;url=" + URL, equiv))
        assert b"data-consent-content=" in out and b" content=" not in out, equiv
    for content in (
        b"0;url=https:&#47;&#47;www.facebook.com/tr",
        b"0;url=https://www&period;facebook.com/tr",
        b"0&#59;url=&quot;https://www.facebook.com/tr&quot;",
        b"0;url=https://www.face\tbook.com/tr",
        b"0;url=//www.facebook.com/tr",
    ):
        out = rewrite(meta(content))
        assert b"data-consent-content=" in out and b" content=" not in out, content
    upper = b"<META HTTP-EQUIV=Refresh CONTENT=0;URL=https://www.facebook.com/tr>"
    assert rewrite(upper) == (
        b'<META data-consent-content="0;URL=https://www.facebook.com/tr" data-consent="marketing"'
        b' data-consent-service="meta-pixel" HTTP-EQUIV=Refresh>'
    )


def test_other_refreshes_and_other_metas_stay() -> None:
    for html in (
        meta(b"5"),  # a reload
        meta(b"0;url=/next"),
        meta(b"0;url=https://example.org/"),
        meta(b"0;url=https://www.facebook.com/tr", b'"x-refresh"'),
        meta(b"IE=edge", b'"X-UA-Compatible"'),
        b'<meta property="og:image" content="https://www.facebook.com/tr?id=1">',
        b'<meta name="refresh" content="0;url=https://www.facebook.com/tr">',
        b'<meta http-equiv="refresh">',
        b'<main http-equiv="x" content="0;url=/x">',
    ):
        assert rewrite(html) == html, html
    # (The site's own host is not a vendor.)
    own = meta(b"0;url=https://www.facebook.com/tr")
    assert rewrite(own, host="www.facebook.com") == own


def test_a_meta_refresh_is_read_wherever_the_browser_acts_on_it() -> None:
    html = meta(b"0;url=" + URL)
    out = rewrite(html)
    # Without scripting, a <noscript>'s; in an iframe's own document, the iframe's.
    assert rewrite(b"<noscript>" + html + b"</noscript>") == b"<noscript>" + out + b"</noscript>"
    srcdoc = rewrite(b"<iframe srcdoc='" + html.replace(b'"', b"&quot;") + b"'></iframe>")
    assert b"data-consent-content=&quot;0;url=" in srcdoc and b" content=&quot;" not in srcdoc
    # Cut anywhere, the same output.
    page = b"<head>" + html + b"<title>t</title></head><body><p>x</p>"
    whole = rewrite(page)
    for cut in range(1, len(page)):
        rewriter = GATE.rewriter(NONE)
        assert rewriter is not None
        assert rewriter.feed(page[:cut]) + rewriter.feed(page[cut:]) + rewriter.close() == whole


def test_remove_mode_and_the_sites_own_tag() -> None:
    remove = Gate(Policy(vendors=BUILTIN_VENDORS, mode="remove"))
    assert rewrite(meta(b"0;url=" + URL), gate=remove) == b'<meta http-equiv="refresh">'
    # Tagged by the site: its content waits for that category whatever its URL.
    tagged = b'<meta http-equiv="refresh" content="0;url=/offer" data-consent="marketing">'
    out = rewrite(tagged)
    assert out == (
        b'<meta data-consent-content="0;url=/offer" http-equiv="refresh" data-consent="marketing">'
    )
    assert rewrite(tagged, frozenset({"marketing"})) == tagged
