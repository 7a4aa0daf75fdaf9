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
