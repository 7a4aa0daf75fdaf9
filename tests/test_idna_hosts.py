"""Hosts as the URL parser reads them: a non-ASCII host is mapped by UTS #46 before the request
(fullwidth letters, ideographic full stops, ignored code points), so a host that maps to a
vendor's is that vendor's, however it is spelt in the page."""

from __future__ import annotations

import html.entities

import idna
import pytest

from consentgate.gate import HOST_REFERENCES, idna_host, split_url
from consentgate.html import Gate
from consentgate.policy import Policy
from consentgate.vendors import BUILTIN_VENDORS

GATE = Gate(Policy(vendors=BUILTIN_VENDORS))


def wide(text: str) -> str:
    """``text`` in fullwidth forms (U+FF01-U+FF5E: "a" is U+FF41, "." U+FF0E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# Each spells www.facebook.com (Meta Pixel's host) as Chromium's URL parser reads it.
SPELLINGS = [
    wide("www.facebook.com"),  # fullwidth letters and full stop (U+FF0E)
    "www\u3002facebook\uff61com",  # ideographic (U+3002) and halfwidth (U+FF61) full stops
    "www.face\u00adbook.com",  # a soft hyphen: ignored
    "www.face\u200bbook.com",  # a zero-width space: ignored
    "WWW." + wide("FACEBOOK") + ".COM",  # capitals, fullwidth or not
    "www%E3%80%82facebook.com",  # an ideographic full stop, percent-encoded
    "www.%EF%BD%86acebook.com",  # a fullwidth "f", percent-encoded
    "www.face%C2%ADbook.com",  # a soft hyphen, percent-encoded
    "www&#xFF0E;facebook.com",  # a character reference to a fullwidth full stop
    "www.&#65350;acebook.com",  # a decimal one to a fullwidth "f"
    "www.facebook.com&#x3002;",  # a trailing ideographic full stop
]


def rewrite(html: bytes) -> bytes:
    rewriter = GATE.rewriter(frozenset())
    assert rewriter is not None
    return rewriter.feed(html) + rewriter.close()


@pytest.mark.parametrize("host", SPELLINGS)
def test_a_pixel_on_a_host_that_maps_to_a_vendor_waits_for_consent(host: str) -> None:
    page = f'<p>x</p><img src="https://{host}/tr?id=1&amp;ev=PageView" alt="">'.encode()
    out = rewrite(page)
    assert b" src=" not in out
    assert b'data-consent-service="meta-pixel"' in out


@pytest.mark.parametrize("host", SPELLINGS[:4])
def test_a_script_on_a_host_that_maps_to_a_vendor_is_inert(host: str) -> None:
    mapped = host.replace("facebook", "googletagmanager").replace(
        wide("facebook"), wide("googletagmanager")
    )
    page = f'<script async src="https://{mapped}/gtag/js?id=G-1"></script>'.encode()
    assert b'type="text/plain"' in rewrite(page)


def test_split_url_maps_hosts_by_uts46() -> None:
    spelt = "https://" + wide("www.example.com") + "/a"
    assert split_url(spelt.encode()) == (b"www.example.com", b"/a")
    assert split_url(b"https://www%E3%80%82example.com/") == (b"www.example.com", b"/")
    # A non-ASCII label stays one, sent as punycode: no vendor's ASCII host.
    assert split_url("https://caf\u00e9.example/".encode()) == (b"xn--caf-dma.example", b"/")
    # A host the parser refuses (a disallowed code point, invalid UTF-8 behind escapes) makes
    # no request: not a URL on any host.
    assert split_url("https://a\u2024com/".encode()) is None
    assert idna_host(b"\xff\xfe") is not None  # (raw bytes: read as windows-1252, then mapped)


def test_hosts_that_map_elsewhere_and_ascii_hosts_are_untouched() -> None:
    page = f"<img src='https://{wide('example.org')}/a.png'><img src='https://x.example/\u00e9'>"
    assert rewrite(page.encode()) == page.encode()
    assert rewrite(b'<img src="https://example.org/a%C3%A9.png">') == (
        b'<img src="https://example.org/a%C3%A9.png">'
    )


@pytest.mark.parametrize(
    "host",
    [
        "www.face&shy;book.com",
        "www.face&ZeroWidthSpace;book.com",
        "www.&fopf;acebook.com",
        "www.face&NegativeThinSpace;book.com",
    ],
)
def test_named_references_that_map_into_a_vendors_host_are_read(host: str) -> None:
    out = rewrite(f'<img src="https://{host}/tr?id=1" alt="">'.encode())
    assert b'data-consent-service="meta-pixel"' in out


def test_the_references_looked_for_are_every_one_that_maps_to_ascii_or_nothing() -> None:
    found = set()
    for name, value in html.entities.html5.items():
        try:
            mapped = idna.uts46_remap("a" + value + "b", std3_rules=False, transitional=False)
        except idna.IDNAError:
            continue
        if mapped.isascii() and not value.isascii():
            found.add(name.lower())
    assert set(HOST_REFERENCES) == found
