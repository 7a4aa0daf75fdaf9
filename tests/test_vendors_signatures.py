"""Inline signatures are matched as code tokens (issue 15): not inside a longer name, and not in
a JS comment; in a string they count (loaders put their URLs there)."""

from __future__ import annotations

import pytest

from consentgate.gate import VendorIndex, js_comments
from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

INDEX = VendorIndex(BUILTIN_VENDORS)
GATE = Gate(Policy(vendors=BUILTIN_VENDORS))


def ids(code: bytes, *, js: bool = True) -> list[str]:
    return [v.id for v in INDEX.match_code(code, js=js)]


def rewrite(html: bytes) -> bytes:
    rewriter = GATE.rewriter(frozenset())
    assert rewriter is not None
    return rewriter.feed(html) + rewriter.close()


@pytest.mark.parametrize(
    "script",
    [
        b'<script>var shop = {"is_account_page": true, "currency": "EUR"};</script>',
        b"<script>var scroll_tmr = setTimeout(function () {}, 50);</script>",
        b"<script>// no gtag('config') here any more\nwindow.dataLayer = [];</script>",
        b"<script>/* Help: the banner loads https://www.googletagmanager.com/gtag/js?id=G-1,"
        b" see its src */\nvar consentHelp = 1;</script>",
        b"<script>\n// was: s.src = '//p.tanx.com/x';\n"
        b"var s = document.createElement('script'); s.src = '/static/app.js';</script>",
    ],
)
def test_issue_15_examples_are_not_gated(script: bytes) -> None:
    assert rewrite(script) == script


def test_a_snippet_is_still_gated() -> None:
    script = b"<script>// Google tag\nwindow.dataLayer = []; gtag('config', 'G-1');</script>"
    assert b'data-consent-service="google-analytics"' in rewrite(script)
    loader = b"<script>// loader\nvar s = document.createElement('script');"
    loader += b" s.src = '//p.tanx.com/x'; // (no signature: its URL tells)</script>"
    assert b'data-consent-service="ad-exchanges"' in rewrite(loader)


@pytest.mark.parametrize(
    "code",
    [
        b"window.gtag('config', 'G-1')",
        b"x(); gtag('config', 'G-1')",
        b"if (x) gtag('config', 'G-1')",
        b"gtag('config', 'G-1')",
        b"\tgtag('config', 'G-1')",
    ],
)
def test_a_signature_after_a_dot_a_space_or_a_semicolon_counts(code: bytes) -> None:
    assert ids(code) == ["google-analytics"]


@pytest.mark.parametrize(
    "code",
    [
        b"mygtag('config', 'G-1')",
        b"$gtag('config', 'G-1')",
        b"\xc3\xa9gtag('config', 'G-1')",  # a non-ASCII letter is a name's too
        b"var scroll_tmr = 1;",
        b"var _tmrx = 1;",
        b'var shop = {"is_account_page": true};',
        b"var s_accounts = [];",
    ],
)
def test_a_signature_inside_a_longer_name_does_not_count(code: bytes) -> None:
    assert ids(code) == []


def test_names_that_are_signatures_count() -> None:
    assert ids(b"var _tmr = window._tmr || (window._tmr = []);") == ["vk-pixel"]
    assert ids(b'var s_account = "rsid";') == ["adobe-analytics"]
    assert ids(b"var s_account\n= 1") == ["adobe-analytics"]


def test_prefix_and_url_signatures_may_go_on() -> None:
    # A signature that ends in "_" is a prefix; a URL's path may go on.
    assert ids(b"containerId: 'adfox_153613'") == ["yandex-direct"]
    assert ids(b'hm.src = "https://hm.baidu.com/hm.js?1";') == ["baidu-tongji"]
    src = b'"//www.googleadservices.com/pagead/conversion_async.js"'
    assert ids(src) == ["google-ads"]
    # A URL's host is still a token: not the end of a longer host.
    assert ids(b'"https://notstatic.hotjar.com.example/x"') == []


@pytest.mark.parametrize(
    "code",
    [
        b'var s = "https://static.hotjar.com/c/hotjar.js";',
        b"var s = 'https://static.hotjar.com/c/hotjar.js';",
        b"var s = `https://static.hotjar.com/c/${id}.js`;",
        b'var s = "// not a comment: https://static.hotjar.com/x.js";',
    ],
)
def test_a_signature_in_a_string_counts(code: bytes) -> None:
    assert ids(code) == ["hotjar"]


@pytest.mark.parametrize(
    "code",
    [
        b"/* gtag('config', 'G-1') */ var a = 1;",
        b"/*\n * gtag('config', 'G-1')\n */\nvar a = 1;",
        b"// gtag('config', 'G-1')\nvar a = 1;",
        b"var a = 1; // gtag('config', 'G-1')",
        b"var u = 'https://example.org/'; // gtag('config', 'G-1')",
        b"var a = \"/*\"; // gtag('config', 'G-1')",
        b"var r = /['\"]/g; // gtag('config', 'G-1')",
        b"var d = a / b; // gtag('config', 'G-1')",
    ],
)
def test_a_signature_in_a_comment_does_not_count(code: bytes) -> None:
    assert ids(code) == []


@pytest.mark.parametrize(
    "code",
    [
        # Not comments: in strings, template literals, regex literals, a URL's "//".
        b"var a = '/* x */'; gtag('config', 'G-1')",
        b"var a = `// x`; gtag('config', 'G-1')",
        b"var a = `line\n// x\n`; gtag('config', 'G-1')",
        b"var r = /\\/\\/ x/; gtag('config', 'G-1')",
        b"var a = \"it's\"; gtag('config', 'G-1')",
        b"var a = x / 2, b = y / 3; gtag('config', 'G-1')",
        # In doubt, a signature counts: a "/*" that never ends, a "//" right after ":", an
        # unclosed template literal.
        b"/* gtag('config', 'G-1')",
        b"/* x */ a = b /* c; " * 50 + b"gtag('config', 'G-1')",
        b"var a = {u:// gtag('config', 'G-1')\n}",
        b"var a = `x; // gtag('config', 'G-1')",
    ],
)
def test_a_signature_that_may_be_code_counts(code: bytes) -> None:
    assert ids(code) == ["google-analytics"]


def test_outside_js_a_double_slash_is_no_comment() -> None:
    # Start tags and URLs are not JS: their "//" starts no comment.
    assert ids(b"// gtag('config'", js=False) == ["google-analytics"]
    assert ids(b"https://stats.example.org//matomo.php?idsite=1", js=False) == ["matomo"]
    tag = b'<script defer src="//stats.example.org/s.js" data-website-id="1"></script>'
    assert b'data-consent-service="umami"' in rewrite(tag)


def test_event_handlers_are_js_too() -> None:
    kept = b"<body onload=\"go(); // gtag('config', 'G-1')\">"
    assert rewrite(kept) == kept
    gated = b"<body onload=\"go(); gtag('config', 'G-1')\">"
    assert b'data-consent-service="google-analytics"' in rewrite(gated)


def test_js_comments_spans() -> None:
    code = b"a = '//'; // one\nb = \"/*\"; /* two */ c = `/* ${x} */`; d = e / f; // three"
    spans = [code[a:b] for a, b in js_comments(code, len(code))]
    assert spans == [b"// one", b"/* two */", b"// three"]
    assert js_comments(code, 11) == js_comments(code, len(code))[:1]  # (those starting before)
    # Past the last "*/" a "/*" is no comment: read on as code.
    code = b"/* one */ a /* b /* c"
    assert [code[a:b] for a, b in js_comments(code, len(code))] == [b"/* one */"]
