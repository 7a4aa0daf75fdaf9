"""Foreign content does not leak: once an inline <svg> or <math> is closed as the tree builder
closes it (the end tag of its root, a start tag that breaks out of it), raw text and RCDATA
elements after it are HTML's again, and their text is left as it is; where the tokenizer cannot
tell, both readings are still rewritten (fail closed)."""

from __future__ import annotations

import pytest

from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

GATE = Gate(Policy(vendors=BUILTIN_VENDORS))
IMG = b'<img src="https://www.facebook.com/tr?id=1">'
FIELDS = [
    b"<textarea name=snippet>" + IMG + b"</textarea>",
    b"<xmp>" + IMG + b"</xmp>",
    b"<title>" + IMG + b"</title>",
    b"<style>/*" + IMG + b"*/</style>",
    b"<noembed>" + IMG + b"</noembed>",
    b"<iframe>" + IMG + b"</iframe>",
]


def rewrite(html: bytes) -> bytes:
    rewriter = GATE.rewriter(frozenset())
    assert rewriter is not None
    return rewriter.feed(html) + rewriter.close()


def every_cut_gives(html: bytes, expected: bytes) -> None:
    for cut in range(1, len(html)):
        rewriter = GATE.rewriter(frozenset())
        assert rewriter is not None
        out = rewriter.feed(html[:cut]) + rewriter.feed(html[cut:]) + rewriter.close()
        assert out == expected, cut


CLOSED = [
    b'<svg viewBox="0 0 1 1"><path d="M0 0"/></svg>',
    b"<svg><g><circle r=1 /></g></svg>",
    b"<SVG><Path/></SVG >",
    b"<math><mi>x</mi><mo>+</mo><mn>1</mn></math>",
    b"<svg><title>Icon</title><desc>A chart</desc><path/></svg>",
    b"<svg><foreignObject></foreignObject></svg>",
    b"<svg><svg><rect/></svg></svg>",
    b"<svg><![CDATA[ </svg> <svg> ]]></svg>",
    b"<svg/>",
    b"<math/>",
    b"<svg><path><p>",  # a <p> breaks out of it
    b"<math><mrow><div>",
    b"<svg><font color=red>",
    b"<svg><g><span>",
]


@pytest.mark.parametrize("before", CLOSED)
@pytest.mark.parametrize("field", FIELDS)
def test_text_after_closed_foreign_content_is_left_as_it_is(before: bytes, field: bytes) -> None:
    page = before + b"<form>" + field + b"</form>"
    assert rewrite(page) == page


def test_an_admin_form_after_an_icon_saves_its_snippet_unchanged() -> None:
    page = (
        b'<header><svg class="logo" viewBox="0 0 24 24"><title>Home</title><path d="M1 1"/></svg>'
        b'</header><form method=post><textarea name="head_code"><script async src="https://www.'
        b'googletagmanager.com/gtag/js?id=G-1"></script></textarea></form>'
    )
    assert rewrite(page) == page
    every_cut_gives(page, page)


OPEN = [
    b"<svg>",  # never closed: to the end of the body
    b"<svg><path>",
    b"<svg><g>",
    b"<svg><font>",  # (a <font> without color, face or size stays in it)
    b"<math><mi>x</mi>",
    b"<svg><svg></svg>",  # the outer one is still open
    b"<svg><desc>a <b>b</b></desc></svg>",  # an HTML element may be open in the desc
    b"<svg><foreignObject><div></svg>",
    b"<svg><math></svg>",
    b"<noscript><svg></noscript>",  # one reading only: foreign from here on
]


@pytest.mark.parametrize("before", OPEN)
def test_where_foreign_content_may_be_open_both_readings_are_rewritten(before: bytes) -> None:
    page = before + b"<textarea>" + IMG + b"</textarea>"
    out = rewrite(page)
    assert b'data-consent-service="meta-pixel"' in out
    assert b' src="https://www.facebook.com' not in out


def test_breakouts_inside_an_integration_point_close_nothing() -> None:
    # In a foreignObject the content is HTML's: a <p> there is no breakout, the svg stays open.
    page = b"<svg><foreignObject><p>x</p></foreignObject><textarea>" + IMG + b"</textarea>"
    assert b"data-consent-src=" in rewrite(page)


def test_the_same_output_however_the_body_is_cut() -> None:
    page = (
        b"<svg><title>t</title><path/></svg><textarea>" + IMG + b"</textarea>"
        b"<math><mi>x</mi></math><xmp>" + IMG + b"</xmp><svg><desc>a<b>b</b></desc></svg>"
        b"<title>" + IMG + b"</title>"
    )
    whole = rewrite(page)
    assert whole.count(b"data-consent-src=") == 1  # (the last: the desc leaves it open)
    every_cut_gives(page, whole)


@pytest.mark.parametrize("text", [b"<", b"x < y", b"1<2"])
def test_text_in_a_root_read_in_another_chunk_leaves_a_breakout_closing_it(text: bytes) -> None:
    # Text with a "<" in <math>, fed after the chunk that opened it, is no integration point's
    # content: the <embed> after it still breaks out, and the <style> after that is HTML's.
    page = b"<math>" + text + b"<embed><style>" + IMG + b"</style>"
    whole = rewrite(page)
    assert whole == page
    for second in range(len(b"<math>") + 1, len(page)):
        rewriter = GATE.rewriter(frozenset())
        assert rewriter is not None
        chunks = (page[:6], page[6:second], page[second:])
        out = b"".join(rewriter.feed(c) for c in chunks) + rewriter.close()
        assert out == whole, second
