"""A body that ends inside a tag, comment or element: the rewriter drops a tag the end cuts
short (as the tokenizer does), and ``ended_in_data`` says whether markup appended after its
output (the middleware's banner) is read as markup.

Read with an HTML5 parser (lexbor, through selectolax), as a browser reads the page followed
by the banner.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser
from test_rewriter import GATE, NONE
from test_rewriter_pages import PAGES, live_references

from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

BANNER = b'<div id="cg-banner">banner</div>'
PIXEL_URL = b"https://www.facebook.com/tr?id=1&amp;ev=PageView"
REMOVE = Gate(Policy(vendors=BUILTIN_VENDORS, mode="remove"))


def finish(html: bytes, cuts: list[int] | None = None, gate: Gate = GATE) -> tuple[bytes, bool]:
    """(output, ended_in_data) for a visitor without consent, html fed cut at ``cuts``."""
    rewriter = gate.rewriter(NONE)
    assert rewriter is not None
    assert rewriter.ended_in_data is False  # (not known before close())
    out, last = [], 0
    for point in [*sorted(set(cuts or [])), len(html)]:
        out.append(rewriter.feed(html[last:point]))
        last = max(last, point)
    out.append(rewriter.close())
    return b"".join(out), rewriter.ended_in_data


def trackers(page: bytes) -> list[tuple[str, str, bool]]:
    return [ref for ref in live_references(page) if ref[2]]


def banner_is_markup(page: bytes) -> bool:
    """Whether the banner appended after page is read as an element (maybe of the content of
    a <template>, which the tree keeps apart)."""
    tree = LexborHTMLParser(page + BANNER)
    if tree.css_first("#cg-banner") is not None:
        return True
    for template in tree.css("template"):  # (its content, serialized: read again)
        html = template.html or ""
        content = html[html.index(">") + 1 : -len("</template>")]
        if LexborHTMLParser("<body>" + content).css_first("#cg-banner") is not None:
            return True
    return False


# A tag cut in each of the tokenizer's tag states.
CUT_TAGS = [
    b'<img src="' + PIXEL_URL,  # a double-quoted value
    b"<img src='" + PIXEL_URL,  # a single-quoted value
    b"<img src=" + PIXEL_URL,  # an unquoted value
    b'<img src="' + PIXEL_URL + b'"',  # after a quoted value
    b'<img src="' + PIXEL_URL + b'" ',  # before an attribute name
    b'<img src="' + PIXEL_URL + b'" alt',  # an attribute name
    b'<img src="' + PIXEL_URL + b'" alt ',  # after an attribute name
    b'<img src="' + PIXEL_URL + b'" alt=',  # before an attribute value
    b'<img src="' + PIXEL_URL + b'" /',  # a self-closing start tag
    b'<img title="a>b" src=' + PIXEL_URL,  # (a ">" in an earlier value)
    b"<img src=" + PIXEL_URL + b' title="',
    b"<script async src=https://www.google-analytics.com/analytics.js",
    b'<iframe src="https://www.youtube.com/embed/x',
    b'<link rel=preconnect href="https://www.google-analytics.com',
    b"<img",  # the tag's name
    b"</div",  # end tags
    b'</div x="a>',
    b"</p class=",
]


@pytest.mark.parametrize("cut", CUT_TAGS)
def test_a_tag_cut_short_by_the_end_is_dropped_and_the_banner_after_it_is_markup(
    cut: bytes,
) -> None:
    html = b"<p>x</p>" + cut
    if cut in (CUT_TAGS[0], CUT_TAGS[2], CUT_TAGS[11], CUT_TAGS[12]):
        assert trackers(html + BANNER), "passed on as it is, the banner would complete it"
    for cuts in ([], list(range(len(html)))):  # whole, and a byte at a time
        out, ended = finish(html, cuts)
        assert out == b"<p>x</p>"
        assert ended is True
        assert trackers(out + BANNER) == []
        assert banner_is_markup(out)


@pytest.mark.parametrize(
    "html",
    [
        b"<p>x</p>",
        b"",
        b"<textarea>a</textarea>",
        b"<script>x</script>",
        b"<style>a{}</style>",
        b"<!-- x -->",
        b"<svg><title>a</title>",
        b"<svg><script/>",  # (closed by the rewriter for both readings)
        b"<p>a < b",
        b"<noscript><img src=x></noscript>",
    ],
)
def test_ended_in_data_after_a_body_ending_in_the_data_state(html: bytes) -> None:
    out, ended = finish(html)
    assert ended is True
    assert banner_is_markup(out)
    assert finish(html, list(range(len(html))))[1] is True


@pytest.mark.parametrize(
    "html",
    [
        b"<!-- never closed ",
        b"<!-",
        b"<!",
        b"</",
        b"<!DOCTYPE html",
        b"<?xml x",
        b"</3 x",
        b"<script>var a = 1;",
        b"<script>x</script",  # (to the tokenizer, "</script" then the end: script text)
        b"<script>x</script a='",  # an end tag cut short: dropped, the script goes on
        b"<style>a{}",
        b"<style>a{}</style ",
        b"<title>a",
        b"<title>a</title x=",
        b"<textarea>a",
        b"<xmp>a",
        b"<iframe>a",
        b"<iframe src=/own>a</iframe x",
        b"<noembed>a",
        b"<noframes>a",
        b"<plaintext>a",
        b"<svg><title>a",
        b"<svg></svg><plaintext>a",  # (to HTML the rest is text)
        b"<noscript>a",
        b"<noscript>a</noscript x",
        b"<title>",  # (the end right after a start tag)
        b"<!--",
    ],
)
def test_not_ended_in_data_when_markup_appended_would_be_text(html: bytes) -> None:
    out, ended = finish(html)
    assert ended is False
    assert finish(html, list(range(len(html))))[1] is False
    # (lexbor reads noscript as a browser without scripting does, markup inside, and an SVG
    # <title> is SVG's: markup inside. Not the data state to HTML: False is the safe answer.)
    if b"noscript" not in html and b"<svg>" not in html:
        assert not banner_is_markup(out)


def test_inline_code_cut_short_by_the_end_is_made_inert() -> None:
    # The start of a snippet whose signature was in the part cut off, for all we know.
    html = b"<p>x</p><script>\n  var _gaq = _gaq || [];\n  _gaq.pu"
    assert trackers(html)
    out, ended = finish(html)
    assert out == b'<p>x</p><script type="text/plain">\n  var _gaq = _gaq || [];\n  _gaq.pu'
    assert ended is False and trackers(out + BANNER) == []
    assert finish(b"<script type=module>import x")[0] == (
        b'<script type="text/plain" data-consent-type="module">import x'
    )
    assert finish(b"<script>x", gate=REMOVE)[0] == b""
    # Complete, loading a source, of a type that does not run, or tagged by the site: as it is.
    for html in (
        b"<script>var a = 1;</script>",
        b"<script src=/own.js>x",
        b"<script type=application/json>{",
        b'<script data-consent="necessary">x',
    ):
        assert finish(html)[0] == html
    # Nothing is gated for a visitor who allowed every service.
    rewriter = GATE.rewriter(NONE, frozenset(GATE.vendors))
    assert rewriter is not None
    assert rewriter.feed(b"<script>var _gaq") + rewriter.close() == b"<script>var _gaq"


@pytest.mark.parametrize(
    "html", [b"<script>x</script ", b"<script></script a=", b"<script>x</script a='>"]
)
def test_a_script_whose_end_tag_the_end_cuts_short_is_cut_inline_code(html: bytes) -> None:
    # The end tag is dropped, so the body ends inside the script: as "<script>x", made inert
    # (a browser never runs it), and the output rewritten again is the same.
    out, ended = finish(html)
    content = html[len(b"<script>") : html.index(b"</script")]
    assert out == b'<script type="text/plain">' + content and ended is False
    assert finish(out) == (out, False)


@pytest.mark.parametrize("tail", [b"", b"</script>"])
def test_a_gated_scripts_vendor_handler_waits_with_it(tail: bytes) -> None:
    # Gated by the signature in its handler: the handler waits too, as it does when read again.
    html = b"<script onload=fbq('init')>" + tail
    out, _ = finish(html)
    assert out == (
        b'<script data-consent-onload="fbq(\'init\')" type="text/plain"'
        b' data-consent="marketing" data-consent-service="meta-pixel">' + tail
    )
    assert finish(out)[0] == out


def test_a_cut_scripts_vendor_handler_waits_as_on_any_script() -> None:
    html = b"<script onload=https://www.google-analytics.com/a.js>x"
    out, ended = finish(html)
    assert out == (
        b'<script data-consent-onload="https://www.google-analytics.com/a.js"'
        b' data-consent="analytical" data-consent-service="universal-analytics"'
        b' type="text/plain">x'
    )
    assert ended is False and finish(out) == (out, False)


def test_a_tag_cut_short_by_the_end_inside_noscript_is_dropped() -> None:
    # Without scripting, a noscript holds markup: the banner would complete the pixel there.
    html = b'<noscript><img src="' + PIXEL_URL
    assert trackers(html + BANNER)
    out, ended = finish(html)
    assert out == b"<noscript>" and ended is False
    assert trackers(out + BANNER) == []
    # Cut at an end tag before the body's end, it passes as it is (a known limit: the reading
    # without scripting runs on past that end tag, into bytes the rewriter read as markup).
    html = b"<noscript><b class=x</noscript><p>"
    assert finish(html)[0] == html


def test_a_lone_lt_at_the_end_is_not_the_data_state() -> None:
    # "<" then the end is text to the tokenizer, but markup appended after it would not
    # always be read as it is ("<" then "div>" is a tag): not the data state, say so.
    out, ended = finish(b"<p>a <")
    assert out == b"<p>a <" and ended is False


def test_a_dropped_iframe_cut_short_leaves_the_output_in_the_data_state() -> None:
    out, ended = finish(
        b'<p>x</p><iframe src="https://www.youtube.com/embed/x">fallback', gate=REMOVE
    )
    assert b"youtube" not in out.split(b"</div>")[-1]  # (only the placeholder names it)
    assert ended is True and banner_is_markup(out)


def test_a_tag_cut_short_inside_a_srcdoc_document_passes_as_it_is() -> None:
    # Nothing is appended after a srcdoc document; the browser drops the cut tag there itself.
    html = b'<iframe srcdoc="<p>a</p><b class=x"></iframe>'
    out, _ = finish(html)
    assert out == html


def test_feed_after_the_last_chunk_ends_a_tag_so_nothing_is_dropped() -> None:
    html = b'<p>x</p><img src="' + PIXEL_URL + b'" alt="a>b">'
    out, ended = finish(html, [12, 30, len(html) - 3, len(html) - 1])
    assert out == finish(html)[0]
    assert b"data-consent-src" in out and ended is True


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_a_page_cut_at_every_offset_holds_no_live_tracker_with_the_banner_after_it(
    page: Path,
) -> None:
    html = page.read_bytes()
    assert trackers(html)
    for cut in range(len(html) + 1):
        out, ended = finish(html[:cut])
        assert trackers(out + BANNER) == [], cut
        if ended:
            assert banner_is_markup(out), cut


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.sampled_from(PAGES), data=st.data())
def test_any_page_cut_anywhere_and_fed_in_any_chunks_holds_no_live_tracker(
    page: Path, data: st.DataObject
) -> None:
    html = page.read_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(html)), label="cut")
    body = html[:cut]
    chunks = data.draw(
        st.lists(st.integers(min_value=0, max_value=cut), max_size=6), label="chunks"
    )
    out, ended = finish(body, chunks)
    assert (out, ended) == finish(body)
    assert trackers(out + BANNER) == []
    if ended:
        assert banner_is_markup(out)
