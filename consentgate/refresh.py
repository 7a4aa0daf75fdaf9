"""Refreshes: the URL a ``Refresh`` response header, or a ``<meta http-equiv="refresh">``
element's ``content``, sends the browser to. ``Refresh: 0; url=https://www.facebook.com/tr?…``
navigates to a vendor before the visitor has read a word: such a header is dropped for a visitor
who has not granted that vendor (``responder.py``), and such an element's ``content`` waits, as
``data-consent-content`` (``html/decisions.py``: ``blocked_refresh``). That one is not put back
by ``consentgate.js`` once allowed (in Chromium it would then navigate away from the page the
visitor just accepted on, its delay counted from then): it is served live from the next page
load on.

Read as the browsers read it, and more loosely where they differ (privacy fails closed): the delay
is whatever comes before the first ``;``, ``,`` or space (the HTML standard takes digits and dots,
Chromium a number); one ``;`` or ``,`` and spaces follow; then ``url =`` in any letter case and
spacing, or not; a URL in quotes ends at a closing quote (the first, as the standard says, and the
last, as Chromium does: both readings are looked at) or, without one, at the end. A value with no
delay (``url=…``, ``;url=…``), which Chromium ignores, is read as if it had one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

_WS: Final = b"\t\n\x0b\x0c\r "
# The delay: anything up to the first separator (or the end: then there is no URL).
_DELAY: Final = re.compile(rb"[^;,\t\n\x0b\x0c\r ]*")
_QUOTES: Final = (b'"', b"'")


def refresh_urls(value: bytes) -> list[bytes]:
    """The URLs (as written, relative ones too) a refresh ``value`` may navigate to; none when
    it reloads the page itself."""
    text = value.strip(_WS)
    starts = []
    if text[:3].lower() == b"url" or text[:1] in (b";", b","):
        starts.append(text.lstrip(b";,").lstrip(_WS))  # no delay
    delay = _DELAY.match(text).end()  # type: ignore[union-attr] # (never None: all optional)
    if 0 < delay < len(text):
        rest = text[delay:].lstrip(_WS)
        if rest[:1] in (b";", b","):
            rest = rest[1:].lstrip(_WS)
        starts.append(rest)
    urls: list[bytes] = []
    for rest in starts:
        for url in _readings(rest):
            if url and url not in urls:
                urls.append(url)
    return urls


def _readings(rest: bytes) -> tuple[bytes, ...]:
    """The URL after the delay and its separator: after an optional ``url =``, out of its
    quotes (up to the first closing quote, and up to the last)."""
    if rest[:3].lower() == b"url":
        after = rest[3:].lstrip(_WS)
        if after[:1] == b"=":
            rest = after[1:].lstrip(_WS)
    quote = rest[:1]
    if quote not in _QUOTES:
        return (rest.strip(_WS),)
    body = rest[1:]
    return (
        body.partition(quote)[0].strip(_WS),
        (body.rpartition(quote)[0] if quote in body else body).strip(_WS),
    )


def without_blocked_refresh(value: bytes, blocked: Callable[[bytes], bool]) -> bytes | None:
    """``value``, or None when the refresh may navigate to a URL ``blocked`` refuses."""
    return None if any(blocked(url) for url in refresh_urls(value)) else value
