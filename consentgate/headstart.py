"""A streaming stage that puts a snippet right after the page's ``<head>`` start tag.

Two things must be in place before the page's own markup is rendered or run: the Google Consent
Mode defaults (before any Google tag executes) and consentgate's stylesheet (so placeholders and
the banner are styled on first paint, without layout shift). Only the first few KB are searched;
a page whose ``<head>`` is not found there passes unchanged (the end-of-body snippet still
carries the stylesheet).
"""

from __future__ import annotations

import re

#: How far into the body the ``<head>`` start tag is looked for.
LIMIT = 4 * 1024

_HEAD = re.compile(rb"<head(?:\s[^<>]*)?>", re.IGNORECASE)
# Once markup that belongs after <head> shows up, the page has no <head> tag of its own.
_TOO_LATE = re.compile(rb"<(?:body|script|link|style|meta|title)[\s/>]", re.IGNORECASE)
_HTML = re.compile(rb"<html(?:\s[^<>]*)?>", re.IGNORECASE)


class HeadStart:
    """Insert ``snippet`` after ``<head ...>`` (or, for a page without one, after ``<html ...>``
    when that comes before any other markup)."""

    def __init__(self, snippet: bytes) -> None:
        self.snippet = snippet
        self.buffer = b""
        self.done = not snippet

    def feed(self, chunk: bytes) -> bytes:
        if self.done:
            return chunk
        self.buffer += chunk
        out = self._place(final=False)
        return out if out is not None else b""

    def close(self) -> bytes:
        if self.done:
            return b""
        out = self._place(final=True)
        return out if out is not None else b""

    def _place(self, *, final: bool) -> bytes | None:
        data = self.buffer
        window = data[:LIMIT]
        late = _TOO_LATE.search(window)
        end = late.start() if late else len(window)
        head = _HEAD.search(window, 0, end)
        if head is None:
            if late is None and not final and len(data) < LIMIT:
                return None  # the start tag may still be coming
            head = _HTML.search(window, 0, end)
        if head is None:
            return self._release(data)
        return self._release(data[: head.end()] + self.snippet + data[head.end() :])

    def _release(self, data: bytes) -> bytes:
        self.done = True
        self.buffer = b""
        return data
