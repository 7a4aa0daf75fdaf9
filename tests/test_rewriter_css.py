"""Vendor URLs in CSS: ``<style>`` content and the ``style`` attributes the rewriter parses."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rewriter import GATE, chunked, cut_at, rewrite, unchanged

from consentgate.html import Gate
from consentgate.html.css import url_tokens
from consentgate.policy import Policy

TABOOLA = b"//cdn.taboola.com/libtrc/static/thumbnails/a.png"
REMOVE = Gate(Policy(vendors=GATE.policy.vendors, mode="remove"))


def style(css: bytes) -> bytes:
    return b"<head><style>" + css + b"</style></head><p>x</p>"


def test_vendor_url_in_a_style_element_is_made_inert_and_kept_for_activation() -> None:
    css = b".a{color:red;background:url(" + TABOOLA + b") no-repeat}\n.b{margin:0}"
    out = rewrite(style(css))
    assert out == (
        b'<head><style data-consent-css="' + css + b'" data-consent="marketing"'
        b' data-consent-service="taboola">'
        b".a{color:red;background:url(data:,) no-repeat}\n.b{margin:0}</style></head><p>x</p>"
    )


def test_every_quoting_and_escape_of_a_vendor_url_is_neutralised() -> None:
    for written in (
        b"url(" + TABOOLA + b")",
        b"url( '" + TABOOLA + b"' )",
        b'url("https:' + TABOOLA + b'")',
        b"URL(" + TABOOLA.upper() + b")",
        b"url(//cdn.tab\\6f ola.com/a.png)",  # an escape in the host
        b"u\\72l(//cdn.taboola.com/a.png)",  # an escape in the function name
        b"url(//cdn.taboola.com/a b.png)",  # malformed (a space): fail closed
        b'image-set("' + TABOOLA + b'" 1x)',
    ):
        out = rewrite(style(b".a{background:" + written + b"}"))
        assert b"taboola" not in out.split(b">", 2)[2], written
        assert b"data:," in out, written


METRICA = b"//cdn.jsdelivr.net/npm/yandex-metrica-watch/tag.js"
FONT = b"//cdn.jsdelivr.net/npm/mathjax-full@3/es5/output/chtml/fonts/woff-v2/MathJax_Zero.woff"


def test_on_a_host_a_vendor_has_a_path_of_only_that_path_is_gated() -> None:
    # jsdelivr.net serves every npm package; Yandex.Metrica's tag is one of them.
    fonts = b"@font-face{font-family:Z;src:url(" + FONT + b") format('woff')}"
    unchanged(style(fonts))
    unchanged(style(fonts + b".a{background:url(//cdn.jsdelivr.net/npm/x@1/a b.png)}"))
    for written in (
        b"url(" + METRICA + b")",
        b"url('https:" + METRICA + b"')",
        b"url(//cdn.jsdelivr.net/npm/yandex-metrica-watch)",
        b"url(//cdn.jsdelivr.net/npm/\\79 andex-metrica-watch/a.gif)",  # escaped in the path
        b"url(//cdn.jsdelivr.net/npm/yandex%2Dmetrica-watch/a.gif)",  # percent-escaped
        b'url("//cdn.jsdelivr.net/npm/yandex-metrica-watch(1)/a.gif")',  # "(" in a string
        b"url(//cdn.jsdelivr.net/npm/yandex-metrica-watch/a b.gif)",  # malformed: fail closed
        b"url(//fastly.jsdelivr.net/npm/yandex-metrica-watch/a.gif)",
    ):
        out = rewrite(style(fonts + b".a{background:" + written + b"}"))
        rewritten = out.split(b">", 2)[2]
        assert written.split(b"(", 1)[1] not in rewritten, written
        assert b"data:," in rewritten and FONT in rewritten, written


def test_import_of_a_vendor_stylesheet_is_neutralised() -> None:
    out = rewrite(style(b'@import "https://cdn.taboola.com/x.css";\n@import url(/site.css);'))
    assert out.endswith(b'>@import "data:,";\n@import url(/site.css);</style></head><p>x</p>')


def test_other_css_stays_byte_for_byte() -> None:
    unchanged(style(b".a{background:url(/img/a.png)} .b{background:url('https://example.org/b')}"))
    # A vendor host outside a URL (a comment, a selector, text) loads nothing: left as it is.
    unchanged(
        style(
            b'/* url(//cdn.taboola.com/x) */ a[href^="https://www.facebook.com/"]{x:y}'
            b'.c::after{content:"//cdn.taboola.com"}'
        )
    )
    unchanged(b"<textarea>.a{background:url(" + TABOOLA + b")}</textarea>")


def test_granted_visitor_and_allow_listed_urls_are_untouched() -> None:
    html = style(b".a{background:url(" + TABOOLA + b")}")
    assert rewrite(html, frozenset({"marketing"})) == html
    assert rewrite(html, services=frozenset({"taboola"})) == html
    gate = Gate(Policy(vendors=GATE.policy.vendors, allow=("cdn.taboola.com",)))
    assert rewrite(html, gate=gate) == html
    assert rewrite(html, host="cdn.taboola.com") == html  # the site's own host


def test_vendors_of_two_categories_are_neutralised_without_activation() -> None:
    out = rewrite(
        style(
            b".a{background:url(" + TABOOLA + b")}"
            b".b{background:url(https://www.google-analytics.com/p.gif)}"
        )
    )
    # Activating it when one category is granted would load the other: inert until reload.
    assert out.startswith(b"<head><style>.a{background:url(data:,)}.b{background:url(data:,)}")


def test_site_tag_on_a_style_element_is_final_when_granted() -> None:
    html = b'<style data-consent="necessary">.a{background:url(' + TABOOLA + b")}</style>"
    assert rewrite(html) == html


def test_style_attribute_on_a_parsed_element_is_gated() -> None:
    html = (
        b'<img alt="" src="/a.png" style="background-image: url(&quot;'
        b'http://images.taboola.com/t/a.jpg&quot;); width: 1px">'
    )
    out = rewrite(html)
    assert out == (
        b'<img style="background-image: url(&quot;data:,&quot;); width: 1px" data-consent-style='
        b'"background-image: url(&quot;http://images.taboola.com/t/a.jpg&quot;); width: 1px"'
        b' data-consent="marketing" data-consent-service="taboola" alt="" src="/a.png">'
    )
    # Its own source gated for the same vendor: one activation restores both.
    out = rewrite(b"<img src=//cdn.taboola.com/p.gif style='background:url(" + TABOOLA + b")'>")
    assert out == (
        b"<img style='background:url(data:,)' data-consent-style='background:url("
        + TABOOLA
        + b')\' data-consent-src="//cdn.taboola.com/p.gif" data-consent="marketing"'
        b' data-consent-service="taboola">'
    )
    out = rewrite(b"<textarea style=background:url(" + TABOOLA + b")></textarea>")
    assert out.startswith(b'<textarea style="background:url(data:,)" data-consent-style=')
    unchanged(b'<img src="/a.png" style="background:url(/b.png)">')


TABOOLA_SPAN = (
    b'<span class="thumb" style="background-image: url(&quot;'
    b'https://images.taboola.com/taboola/image/fetch/a.jpg&quot;);">x</span>'
)


def test_style_attribute_on_any_element_is_gated() -> None:
    out = rewrite(b"<li>" + TABOOLA_SPAN + b"</li>")
    assert out == (
        b'<li><span style="background-image: url(&quot;data:,&quot;);" data-consent-style='
        b'"background-image: url(&quot;https://images.taboola.com/taboola/image/fetch/a.jpg'
        b'&quot;);" data-consent="marketing" data-consent-service="taboola" class="thumb">'
        b"x</span></li>"
    )
    # Every spelling a browser reads as url(…) or image-set(…): letter case, unquoted values,
    # CSS escapes, character references, any element.
    for tag in (
        b"<DIV STYLE='background:URL(" + TABOOLA + b")'>",
        b"<a href=/ style=background:url(" + TABOOLA + b")>",
        b'<section style="background:u\\72 l(' + TABOOLA + b')">',
        b'<p style="background:ur\\6c (' + TABOOLA + b')">',
        b'<p style="background:u&#114;l(' + TABOOLA + b')">',
        b'<p style="background:url&lpar;' + TABOOLA + b')">',
        b'<p style="background:url(&#47;/cdn.taboola.com/a.png)">',
        b'<p style="background-image:-webkit-image-set(&quot;' + TABOOLA + b'&quot; 1x)">',
        b'<p title="a" style = "background:url(' + TABOOLA + b')" id=b>',
    ):
        out = rewrite(tag)
        assert b"data:," in out, tag
        assert (
            b"taboola"
            not in out.replace(b'data-consent-service="taboola"', b"").split(
                b"data-consent-style="
            )[0]
        ), tag


def test_style_attributes_that_load_nothing_from_a_vendor_stay_byte_for_byte() -> None:
    unchanged(b'<div style="transform:translate(1px,2px);color:rgb(0,0,0)">x</div>')
    unchanged(b'<span style="background:url(/img/a.png)">x</span>')
    unchanged(b"<span style='background:url(https://example.org/a.png)'>x</span>")
    unchanged(b'<span style="font-family:&quot;Arial&quot;">x</span>')
    unchanged(b'<span data-style="background:url(' + TABOOLA + b')">x</span>')
    # Granted, or the site's own tag: untouched.
    assert rewrite(TABOOLA_SPAN, frozenset({"marketing"})) == TABOOLA_SPAN
    assert rewrite(TABOOLA_SPAN, services=frozenset({"taboola"})) == TABOOLA_SPAN
    tagged = TABOOLA_SPAN.replace(b"<span", b'<span data-consent="necessary"')
    assert rewrite(tagged) == tagged


def test_style_attribute_markup_that_is_not_a_tag_is_not_touched() -> None:
    styled = b"<span style=background:url(" + TABOOLA + b")>"
    for html in (
        b'<a title="' + styled + b'">x</a>',
        b"<a title='" + styled + b"'>x</a>",
        b"<!-- " + styled + b" -->",
        b'<script type="text/x-template">' + styled + b"</script>",
        b"<textarea>" + styled + b"</textarea>",
        b"<style>/* " + styled + b" */</style>",
        b"</p " + styled[1:],  # an end tag's attributes are ignored by browsers
    ):
        unchanged(html)
    # A real one right after such markup is still found.
    out = rewrite(b'<a title="<span style=x>">' + styled)
    assert out.startswith(b'<a title="<span style=x>"><span style="background:url(data:,)"')


def test_a_styled_plain_tag_split_anywhere_gives_the_same_output() -> None:
    html = b"<p>a</p>" + TABOOLA_SPAN + b'<div style="color:red">' + TABOOLA_SPAN
    whole = rewrite(html)
    assert whole.count(b"data-consent-style=") == 2
    for cut in range(1, len(html)):
        assert cut_at(html, [cut]) == whole, cut


def test_remove_mode_only_neutralises() -> None:
    out = rewrite(style(b".a{background:url(" + TABOOLA + b")}"), gate=REMOVE)
    assert out == style(b".a{background:url(data:,)}")
    html = b"<textarea style=\"background:url('" + TABOOLA + b"')\"></textarea>"
    out = rewrite(html, gate=REMOVE)
    assert out == b"<textarea style=\"background:url('data:,')\"></textarea>"
    out = rewrite(TABOOLA_SPAN, gate=REMOVE)
    assert out == (
        b'<span style="background-image: url(&quot;data:,&quot;);" class="thumb">x</span>'
    )


def test_a_style_element_split_anywhere_gives_the_same_output() -> None:
    html = style(b"/* a */ .a{background:url(" + TABOOLA + b")} .b{x:url(/c)}" * 20)
    whole = rewrite(html)
    assert b"taboola" in whole.split(b">", 2)[1]  # (kept in data-consent-css only)
    for size in (1, 2, 7, 64, 500):
        assert chunked(html, [size] * (len(html) // size)) == whole, size


def test_a_huge_style_element_in_small_chunks_is_linear() -> None:
    html = style(b".a{background:url(" + TABOOLA + b")}" + b".x{color:red}>b{}\n" * 200_000)
    out = chunked(html, [512] * (len(html) // 512))  # quadratic rescanning would take minutes
    assert out.startswith(b"<head><style data-consent-css=")


def test_url_tokens_reads_like_a_browser() -> None:
    css = b'/* url(//a.b/c) */ .x{background:url( "//d.e/f" )} .y{b:url(g\\29h)} .z{c:"//i.j"}'
    assert [(css[s:e], url, bad) for s, e, url, bad in url_tokens(css)] == [
        (b"//d.e/f", b"//d.e/f", False),
        (b"g\\29h", b"g)h", False),
    ]


_CSS_FRAGMENTS = [
    b"<style>",
    b"</style>",
    b"<style data-consent=marketing>",
    b"url(",
    b"URL(",
    b")",
    b"'",
    b'"',
    b"//cdn.taboola.com/x.png",
    b"https://www.google-analytics.com/a",
    b"/local.png",
    b"@import ",
    b"/*",
    b"*/",
    b"\\",
    b"\\6f ",
    b" ",
    b"\n",
    b"{",
    b"}",
    b";",
    b"<textarea",
    b"<img",
    b" style=",
    b'"background:url(',
    b"&quot;",
    b">",
    b"</textarea>",
    b"x",
    b"image-set(",
    b"<span",
    b"<DIV",
    b" STYLE=",
    b"&#117;",
    b"u\\72 l(",
    b"<!--",
    b"-->",
    b"<a title=",
]
_css_html = st.lists(st.sampled_from(_CSS_FRAGMENTS), max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html=_css_html,
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=8),
    remove=st.booleans(),
)
def test_css_rewriting_is_chunking_invariant_idempotent_and_never_raises(
    html: bytes, cuts: list[int], remove: bool
) -> None:
    gate = REMOVE if remove else GATE
    whole = rewrite(html, gate=gate)
    assert cut_at(html, cuts, gate) == whole
    assert rewrite(whole, gate=gate) == whole
