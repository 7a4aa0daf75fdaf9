from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consentgate.linkheader import without_blocked_hints


def vendor(url: bytes) -> bool:
    return b"tracker.example" in url


def test_hints_to_a_blocked_url_are_dropped_and_the_others_kept_as_written() -> None:
    value = (
        b"<https://tracker.example>; rel=preconnect, </app.css>; rel=preload; as=style,"
        b' <https://cdn.example/f.woff2>; rel="preload"; as=font; crossorigin'
    )
    assert without_blocked_hints(value, vendor) == (
        b"</app.css>; rel=preload; as=style, "
        b'<https://cdn.example/f.woff2>; rel="preload"; as=font; crossorigin'
    )
    for rel in (
        b"dns-prefetch",
        b'"preload"',
        b"PREFETCH",
        b'"modulepreload prefetch"',
        b"stylesheet",
        b"prerender",
    ):
        assert without_blocked_hints(b"<https://tracker.example/x>; rel=" + rel, vendor) is None


def test_values_without_a_blocked_hint_are_returned_unchanged() -> None:
    for value in (
        b"</app.css>; rel=preload; as=style",
        b'<https://tracker.example/about>; rel="canonical"',  # not a hint: nothing is fetched
        b'<https://tracker.example/>; rel=author; title="a, b; <c>"',
        b"",
    ):
        assert without_blocked_hints(value, vendor) is value


def test_commas_and_semicolons_in_quoted_params_and_urls_do_not_split_a_link() -> None:
    value = (
        b'</a,b.css>; title="x, <https://tracker.example>; rel=preconnect"; rel=preload,'
        b" <https://tracker.example>; rel=preconnect"
    )
    assert without_blocked_hints(value, vendor) == (
        b'</a,b.css>; title="x, <https://tracker.example>; rel=preconnect"; rel=preload'
    )


def test_an_unreadable_value_is_dropped_whole() -> None:
    for value in (
        b"https://tracker.example; rel=preconnect",
        b"<https://tracker.example",
        b'</a.css>; rel="preload',
    ):
        assert without_blocked_hints(value, vendor) is None


_URLS = (b"https://tracker.example/p", b"/own.css", b"https://cdn.example/x,y")
_RELS = (b"preconnect", b'"preload"', b"canonical", b'"icon"', b"PREFETCH", b'"next prefetch"')
_PARAMS = (b"", b"; as=style", b'; title="a, <b>; rel=preconnect"', b"; crossorigin")
_link = st.tuples(st.sampled_from(_URLS), st.sampled_from(_RELS), st.sampled_from(_PARAMS))


@given(st.lists(_link, max_size=5))
def test_exactly_the_blocked_hints_go(links: list[tuple[bytes, bytes, bytes]]) -> None:
    written = [b"<" + url + b">; rel=" + rel + params for url, rel, params in links]
    blocked = [
        vendor(url)
        and rel.strip(b'"').lower() != b"canonical"
        and rel.strip(b'"').lower() != b"icon"
        for url, rel, _ in links
    ]
    value = b", ".join(written)
    kept = without_blocked_hints(value, vendor)
    if not any(blocked):
        assert kept is value
    else:
        assert kept == (
            b", ".join(w for w, b in zip(written, blocked, strict=True) if not b) or None
        )


@given(st.binary(max_size=200))
def test_never_raises(value: bytes) -> None:
    kept = without_blocked_hints(value, vendor)
    assert kept is None or kept is value or without_blocked_hints(kept, vendor) == kept
