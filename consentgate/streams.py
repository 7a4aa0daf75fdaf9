"""Small streaming body stages: each takes bytes as they come and gives back what it can emit.

The middleware chains them (decode → transcode → rewrite → head start → inject → encode) so a
page streams through in bounded memory whatever its size.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Callable, Sequence
from typing import Protocol

try:  # optional: only used when the app sends br-encoded HTML
    import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None


_CODEC_ERRORS: tuple[type[Exception], ...] = (zlib.error,) + (
    (brotli.error,) if brotli is not None else ()
)


class Unreadable(Exception):
    """A body consentgate cannot read: corrupt or unknown compression, an unknown charset.

    (Any other exception out of a stage is a bug of ours; both fail closed.)"""


class Stage(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...
    def close(self) -> bytes: ...


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = stages

    def feed(self, chunk: bytes) -> bytes:
        for stage in self.stages:
            chunk = stage.feed(chunk)
        return chunk

    def close(self) -> bytes:
        return self.finish(b"")

    def finish(self, chunk: bytes) -> bytes:
        """Feed the last chunk and close: for a body sent in one message, with fewer copies."""
        for stage in self.stages:
            finish = getattr(stage, "finish", None)
            if finish is not None:
                chunk = finish(chunk)
            else:
                out, rest = stage.feed(chunk), stage.close()
                chunk = out + rest if rest else out
        return chunk


_DOCUMENT = re.compile(rb"<(?:html|body|!doctype)[\s>]|</(?:body|html)>", re.IGNORECASE)
#: How much of a body's head and tail tell a page from a fragment of one.
_TAIL = 8 * 1024
_HEAD = 4 * 1024


class Injector:
    """Appends ``snippet`` after the page, holding nothing back.

    Everything the stages before it decided goes on at once, so a page that streams its
    ``<head>`` early is seen early. Browsers move markup that follows ``</body>`` or ``</html>``
    into the body, so the end of the page is as good a place as any, and the only one known
    without waiting. Fragments (no ``<html``, ``<body``, doctype, ``</body>`` or ``</html>`` in
    their first 4 KB or last 8 KB) get nothing: they are pieces of pages. ``ready``, asked at the
    end, says whether markup appended there is read as markup (the rewriter's
    ``ended_in_data``): after a body cut inside a comment, script or raw text element the
    snippet would become its text (or bring a cut-off script to life), so it is left out.
    """

    def __init__(self, snippet: bytes, ready: Callable[[], bool] | None = None) -> None:
        self.snippet = snippet
        self.ready = ready
        self.head = b""
        # A copy of the last bytes that went by (none of them are held), trimmed in amortised
        # steps: a page sent a byte at a time must not copy 8 KB a byte.
        self.tail = bytearray()
        self.document = False

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        if not self.document:
            if len(self.head) < _HEAD:
                self.head += chunk[: _HEAD - len(self.head)]
                self.document = _DOCUMENT.search(self.head) is not None
            self.tail += chunk[-_TAIL:]
            if len(self.tail) > 2 * _TAIL:
                del self.tail[:-_TAIL]
        return chunk

    def close(self) -> bytes:
        return self.finish(b"")

    def finish(self, chunk: bytes) -> bytes:
        chunk = self.feed(chunk)
        if self.ready is not None and not self.ready():
            return chunk
        if self.document or _DOCUMENT.search(self.tail, max(0, len(self.tail) - _TAIL)):
            return b"".join((chunk, self.snippet))
        return chunk


def is_document(page: bytes) -> bool:
    """Whether a whole body is a page rather than a fragment, by its head and tail alone."""
    if page.startswith((b"<!DOCTYPE", b"<!doctype")):  # most pages: no regex needed
        return True
    tail = max(0, len(page) - _TAIL)
    return bool(_DOCUMENT.search(page, 0, _HEAD) or _DOCUMENT.search(page, tail))


# -- the start of the head: Consent Mode defaults -------------------------------------------
# Two things must be in place before the page's own markup is rendered or run: the Google
# Consent Mode defaults (before any Google tag executes) and consentgate's stylesheet (so
# placeholders and the banner are styled on first paint). Only the first few KB are searched; a
# page whose <head> is not found there passes unchanged (the end-of-body snippet still carries
# the stylesheet).

#: How far into the body the ``<head>`` start tag is looked for.
HEAD_LIMIT = 4 * 1024

_HEAD_TAG = re.compile(rb"<head(?:\s[^<>]*)?>", re.IGNORECASE)
# Once markup that belongs after <head> shows up, the page has no <head> tag of its own.
_TOO_LATE = re.compile(rb"<(?:body|script|link|style|meta|title)[\s/>]", re.IGNORECASE)
_HTML_TAG = re.compile(rb"<html(?:\s[^<>]*)?>", re.IGNORECASE)


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
        window = data[:HEAD_LIMIT]
        late = _TOO_LATE.search(window)
        end = late.start() if late else len(window)
        head = _HEAD_TAG.search(window, 0, end)
        if head is None:
            if late is None and not final and len(data) < HEAD_LIMIT:
                return None  # the start tag may still be coming
            head = _HTML_TAG.search(window, 0, end)
        if head is None:
            return self._release(data)
        return self._release(data[: head.end()] + self.snippet + data[head.end() :])

    def _release(self, data: bytes) -> bytes:
        self.done = True
        self.buffer = b""
        return data


class Decoder:
    """Undoes gzip/deflate (and br with the brotli package) Content-Encoding."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._brotli = brotli.Decompressor() if encoding == "br" and brotli else None
        # 47 = 32 + 15: zlib detects a gzip or zlib header itself.
        self._zlib = zlib.decompressobj(47) if encoding != "br" else None
        self._raw_tried = False

    def feed(self, chunk: bytes) -> bytes:
        try:
            return self._feed(chunk)
        except _CODEC_ERRORS as exc:
            raise Unreadable(f"corrupt {self.encoding} body: {exc}") from exc

    def _feed(self, chunk: bytes) -> bytes:
        if self._brotli is not None:
            return bytes(self._brotli.process(chunk))
        assert self._zlib is not None
        try:
            return self._zlib.decompress(chunk)
        except zlib.error:
            # Some servers send raw deflate under "deflate"; only the first chunk can tell.
            if self.encoding != "deflate" or self._raw_tried or self._zlib.unused_data:
                raise
            self._raw_tried = True
            self._zlib = zlib.decompressobj(-15)
            return self._zlib.decompress(chunk)

    def close(self) -> bytes:
        if self._zlib is not None:
            try:
                return self._zlib.flush()
            except zlib.error as exc:
                raise Unreadable(f"corrupt {self.encoding} body: {exc}") from exc
        return b""


class Encoder:
    def __init__(self, encoding: str) -> None:
        self._brotli = brotli.Compressor() if encoding == "br" and brotli else None
        wbits = 31 if encoding == "gzip" else 15
        self._zlib = zlib.compressobj(6, zlib.DEFLATED, wbits) if self._brotli is None else None

    def feed(self, chunk: bytes) -> bytes:
        if self._brotli is not None:
            return bytes(self._brotli.process(chunk))
        assert self._zlib is not None
        # Flush per message so streamed pages keep streaming.
        return self._zlib.compress(chunk) + self._zlib.flush(zlib.Z_SYNC_FLUSH) if chunk else b""

    def close(self) -> bytes:
        if self._brotli is not None:
            return bytes(self._brotli.finish())
        assert self._zlib is not None
        return self._zlib.flush()


def decodable(encoding: str) -> bool:
    return encoding in ("gzip", "x-gzip", "deflate") or (encoding == "br" and brotli is not None)


class Transcoder:
    """Turns a UTF-16/32 body into UTF-8, so the byte-level rewriter can see its markup."""

    def __init__(self, charset: str) -> None:
        try:
            self._decoder = codecs.getincrementaldecoder(charset)(errors="replace")
        except LookupError as exc:  # ("utf-16x"): what a browser cannot read either
            raise Unreadable(f"unknown charset {charset!r}") from exc

    def feed(self, chunk: bytes) -> bytes:
        return self._decoder.decode(chunk).encode("utf-8")

    def close(self) -> bytes:
        return self._decoder.decode(b"", final=True).encode("utf-8")
