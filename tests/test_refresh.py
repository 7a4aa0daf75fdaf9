"""Refreshes: the URL a ``Refresh`` header or a ``<meta http-equiv=refresh>`` navigates to, read
in every spelling Chromium follows (checked in Chromium: tests/browser/test_gating.py), and more
loosely where browsers differ."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentgate.refresh import refresh_urls, without_blocked_refresh

URL = b"https://www.facebook.com/tr?id=1"


@pytest.mark.parametrize(
    "value",
    [
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
    ],
)
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
