"""The per-response decisions of consentgate/html/decisions.py, without streaming a page: each
is a function of an element's parsed attributes and a small frozen context."""

from __future__ import annotations

from consentgate.gate import TAG_SIG, TAG_URL
from consentgate.html.decisions import (
    Context,
    all_granted,
    blocked,
    blocked_beacons,
    blocked_code,
    code,
    cut_inline,
    decide,
    script_type,
    site_tag,
    tagged,
    url_vendor,
)
from consentgate.html.engine import Gate
from consentgate.html.markup import Attr, parse_attrs
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

GATE = Gate(Policy(vendors=BUILTIN_VENDORS))
FLAGS = TAG_URL | TAG_SIG
GA = "https://www.google-analytics.com/analytics.js"


def context(
    granted: frozenset[str] = frozenset({"necessary"}),
    services: frozenset[str] = frozenset(),
    host: bytes | None = None,
) -> Context:
    return Context(granted, services, host, GATE.index, GATE.vendors)


def attrs(tag: str) -> list[Attr]:
    """The attributes of a start tag's text, as the tokenizer hands them over."""
    raw = tag.encode()
    return parse_attrs(raw, raw.index(b" ") if b" " in raw else len(raw) - 1, len(raw) - 1)


def test_a_vendor_is_blocked_unless_its_category_or_itself_is_granted() -> None:
    ga = GATE.vendors["google-analytics"]
    assert blocked(context(), ga)
    assert not blocked(context(frozenset({ga.category})), ga)
    assert not blocked(context(services=frozenset({ga.id})), ga)
    assert not all_granted(context())
    assert all_granted(context(frozenset(v.category for v in GATE.vendors.values())))


def test_a_script_from_a_vendor_is_gated_for_its_category() -> None:
    decision = decide(context(), b"script", attrs(f'<script src="{GA}">'), [], FLAGS)
    assert decision is not None
    assert decision == ("analytical", GATE.vendors["universal-analytics"])
    assert (
        decide(
            context(frozenset({"analytical"})), b"script", attrs(f'<script src="{GA}">'), [], FLAGS
        )
        is None
    )


def test_a_script_already_inert_or_from_the_sites_host_is_not_gated() -> None:
    assert (
        decide(context(), b"script", attrs(f'<script type="text/plain" src="{GA}">'), [], FLAGS)
        is None
    )
    own = context(host=b"www.google-analytics.com")
    assert decide(own, b"script", attrs(f'<script src="{GA}">'), [], FLAGS) is None


def test_inline_code_decides_by_the_vendors_it_is_a_snippet_of() -> None:
    ga = GATE.vendors["google-analytics"]
    assert decide(context(), b"script", attrs("<script>"), [ga], 0) == ("analytical", ga)
    assert decide(context(), b"script", attrs("<script>"), [], 0) is None


def test_the_sites_own_tag_is_final() -> None:
    tag = attrs('<img data-consent="marketing" src="/own.png">')
    assert tagged(context(), tag) == (True, ("marketing", None))
    assert tagged(context(frozenset({"marketing"})), tag) == (True, None)
    assert decide(context(), b"img", tag, [], 0) == ("marketing", None)
    # With attributes moved aside, the data-consent is ours: judged as if untagged.
    ours = attrs('<img data-consent="marketing" data-consent-style="x" src="/own.png">')
    assert site_tag(context(), ours) == (False, None)


def test_a_link_loads_only_with_a_rel_that_fetches() -> None:
    font = "https://connect.facebook.net/en_US/fbevents.js"
    assert (
        decide(context(), b"link", attrs(f'<link rel="canonical" href="{font}">'), [], FLAGS)
        is None
    )
    sheet = decide(context(), b"link", attrs(f'<link rel="preconnect" href="{font}">'), [], FLAGS)
    assert sheet is not None


def test_a_srcset_is_read_url_by_url() -> None:
    pixel = "https://www.facebook.com/tr?id=1"
    found = url_vendor(
        context(), attrs(f'<img srcset="/a.png 1x, {pixel} 2x">'), (b"src", b"srcset"), FLAGS
    )
    assert found is GATE.vendors["meta-pixel"]
    assert url_vendor(context(), attrs('<img srcset="/a.png 1x">'), (b"srcset",), FLAGS) is None


def test_script_types_and_inline_code_cut_short() -> None:
    assert script_type(attrs('<script type=" Module; x=1">')) == b"module"
    assert cut_inline(attrs("<script>"))
    assert not cut_inline(attrs('<script src="/a.js">'))
    assert not cut_inline(attrs('<script type="application/json">'))


def test_the_code_an_attribute_runs() -> None:
    assert code(attrs('<a onclick="ga(1)">')[0]) == b"ga(1)"
    assert code(attrs('<a href=" java\tscript:ga(%31)">')[0]) == b"ga(1)"
    assert code(attrs('<a href="/page">')[0]) is None
    assert code(attrs('<a title="javascript:x">')[0]) is None


def test_handlers_and_beacons_naming_a_blocked_vendor() -> None:
    tag = attrs("<a onclick=\"new Image().src='https://www.facebook.com/tr?id=1'\" id=x>")
    hits = blocked_code(context(), tag)
    assert [(a.name, [v.id for v in vs]) for a, vs in hits] == [(b"onclick", ["meta-pixel"])]
    assert blocked_code(context(frozenset({"marketing"})), tag) == []
    ping = attrs('<a href="/x" ping="https://www.facebook.com/tr?id=1">')
    assert [a.name for a, _ in blocked_beacons(context(), ping, FLAGS)] == [b"ping"]
    assert blocked_beacons(context(), attrs('<a href="/x" ping="/own">'), FLAGS) == []
