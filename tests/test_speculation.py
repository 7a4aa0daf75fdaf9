from __future__ import annotations

import json

from consentgate.speculation import MAX_RULES, RulesFilter, without_blocked_rules


def blocked(url: bytes) -> bool:
    return b"px.ads.linkedin.com" in url


def test_rules_naming_a_blocked_url_or_pattern_are_dropped_and_the_rest_kept() -> None:
    rules = {
        "prefetch": [
            {"source": "list", "urls": ["/next", "https://px.ads.linkedin.com/collect?p=1"]},
            {"source": "list", "urls": ["/own"]},
        ],
        "prerender": [
            {
                "where": {
                    "and": [
                        {"href_matches": "https://*.linkedin.com/*"},
                        {"not": {"href_matches": "https://px.ads.linkedin.com/x/*"}},
                    ]
                }
            },
            {"where": {"href_matches": "/articles/*"}, "eagerness": "moderate"},
        ],
        "tag": "site",
    }
    out = json.loads(without_blocked_rules(json.dumps(rules).encode(), blocked))
    assert out == {
        "prefetch": [{"source": "list", "urls": ["/own"]}],
        "prerender": [{"where": {"href_matches": "/articles/*"}, "eagerness": "moderate"}],
        "tag": "site",
    }


def test_rules_with_nothing_blocked_are_the_same_bytes() -> None:
    body = b'{"prefetch": [{"source": "list", "urls": ["/a", "https://example.org/b"]}]}\n'
    assert without_blocked_rules(body, blocked) is body


def test_unreadable_or_oversized_rules_are_served_as_none() -> None:
    for body in (b"{", b"[1, 2]", b"\xff\xfe{}", b"[" * 100_000, b'"x"'):
        assert without_blocked_rules(body, blocked) == b"{}"
    stage = RulesFilter(blocked)
    assert stage.feed(b'{"prefetch": []' + b" " * MAX_RULES) == b""
    assert stage.feed(b"}") == b""
    assert stage.close() == b"{}"


# -- document rules: Chromium prefetches the page's own links ------------------------------------

EXCLUDED = [{"protocol": "*", "hostname": "px.ads.linkedin.com"}]


def guard(where: object) -> dict[str, object]:
    guarded = {"not": {"href_matches": EXCLUDED}}
    return guarded if where is None else {"and": [where, guarded]}


def test_document_rules_that_may_match_another_origin_are_narrowed() -> None:
    for where in (
        None,
        {"selector_matches": "a.prefetch"},
        {"href_matches": "https://*/*"},
        {"href_matches": ["/*", "//cdn.example/*"]},
        {"or": [{"href_matches": "/*"}, {"selector_matches": "a"}]},
        {"not": {"href_matches": "/logout"}},
        {"href_matches": {"hostname": "*"}},
    ):
        rule: dict[str, object] = {"source": "document", "eagerness": "eager"}
        if where is not None:
            rule["where"] = where
        body = json.dumps({"prefetch": [rule]}).encode()
        out = json.loads(without_blocked_rules(body, blocked, EXCLUDED))
        assert out == {
            "prefetch": [{"source": "document", "eagerness": "eager", "where": guard(where)}]
        }


def test_document_rules_on_the_pages_own_origin_only_are_kept_as_they_are() -> None:
    # WordPress's own rule, and others whose every pattern is a path on the page's origin.
    wordpress = (
        b'{"prefetch":[{"source":"document","where":{"and":[{"href_matches":"\\/*"},'
        b'{"not":{"href_matches":["\\/wp-*.php","\\/wp-admin\\/*"]}},'
        b'{"not":{"selector_matches":"a[rel~=\\"nofollow\\"]"}}]},"eagerness":"conservative"}]}'
    )
    assert without_blocked_rules(wordpress, blocked, EXCLUDED) is wordpress
    for where in (
        {"href_matches": "/articles/*"},
        {"href_matches": {"pathname": "/a/*"}},
        {"or": [{"href_matches": "/a/*"}, {"href_matches": ["/b/*"]}]},
    ):
        body = json.dumps({"prerender": [{"where": where}]}).encode()
        assert without_blocked_rules(body, blocked, EXCLUDED) is body


def test_without_exclusions_an_open_document_rule_is_dropped() -> None:
    body = b'{"prefetch": [{"source": "document"}, {"urls": ["/next"]}]}'
    assert json.loads(without_blocked_rules(body, blocked)) == {"prefetch": [{"urls": ["/next"]}]}


def test_json_escapes_in_rule_urls_are_read_as_json() -> None:
    body = b'{"prefetch": [{"urls": ["https://px.ads.\\u006cinkedin.com/c"]}, {"urls": ["/a"]}]}'
    assert json.loads(without_blocked_rules(body, blocked)) == {"prefetch": [{"urls": ["/a"]}]}


def test_rules_written_back_cannot_end_a_script() -> None:
    body = b'{"prefetch": [{"source": "document", "tag": "\\u003c/script>"}]}'
    out = without_blocked_rules(body, blocked, EXCLUDED)
    assert b"<" not in out
    assert json.loads(out)["prefetch"][0]["tag"] == "</script>"


# -- inline rules, in the rewriter ---------------------------------------------------------------


def rewrite(html: bytes) -> bytes:
    from consentgate.html import Gate
    from consentgate.policy import Policy
    from consentgate.vendors import BUILTIN_VENDORS

    rewriter = Gate(Policy(vendors=BUILTIN_VENDORS)).rewriter(frozenset(), host="shop.example")
    assert rewriter is not None
    return rewriter.feed(html) + rewriter.close()


def inline(rules: bytes) -> bytes:
    return b"<script type=speculationrules>" + rules + b"</script>"


def test_inline_document_rules_are_narrowed_to_no_blocked_vendor() -> None:
    out = rewrite(inline(b'{"prefetch": [{"source": "document", "eagerness": "immediate"}]}'))
    rules = json.loads(out[out.index(b">") + 1 : out.rindex(b"</script>")])
    (rule,) = rules["prefetch"]
    hosts = {p["hostname"] for p in rule["where"]["not"]["href_matches"]}
    assert {"facebook.com", "*.facebook.com", "*.google-analytics.com"} <= hosts
    assert rule["eagerness"] == "immediate"


def test_inline_rules_on_the_pages_own_origin_are_untouched() -> None:
    page = inline(b'{"prefetch":[{"source":"document","where":{"href_matches":"/*"}}]}')
    assert rewrite(page) == page
    # After a <base> on another host, a path is on that host: narrowed.
    based = b'<base href="https://cdn.example/">' + page
    assert b'"not"' in rewrite(based)


def test_inline_rules_naming_a_vendor_in_json_escapes_are_inert() -> None:
    for url in (b"https://www.\\u0066acebook.com/x", b"https:\\/\\/www.facebook.com\\/x"):
        out = rewrite(inline(b'{"prefetch": [{"urls": ["' + url + b'"]}]}'))
        assert out.startswith(b'<script type="text/plain" data-consent-type="speculationrules"')
