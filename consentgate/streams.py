"""Small streaming body stages: each takes bytes as they come and gives back what it can emit.

The middleware chains them (decode → transcode → rewrite → inject → encode) so a page streams
through in bounded memory whatever its size.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Sequence
from typing import Protocol

try:  # optional: only used when the app sends br-encoded HTML
    import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None


#: What a stage raises on a body it cannot read (corrupt compression, bad transcoding).
UNREADABLE: tuple[type[Exception], ...] = (zlib.error, OSError, ValueError) + (
    (brotli.error,) if brotli is not None else ()
)


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


_BODY_END = re.compile(rb"</body", re.IGNORECASE)
_DOCUMENT = re.compile(rb"<(?:html|body|!doctype)[\s>]|</(?:body|html)>", re.IGNORECASE)
#: Only the end of a page is searched for ``</body``: the cost stays flat whatever the page size.
_TAIL = 8 * 1024
_HEAD = 4 * 1024


class Injector:
    """Inserts ``snippet`` before the last ``</body`` of the page's tail, or at the end.

    Only the last few KB are held back and searched, so a big page costs one copy. A ``</body``
    further up (a page with kilobytes of markup after it) gets the snippet appended at the end,
    which browsers move into the body just the same. Fragments (no ``<html``, ``<body``, doctype,
    ``</body>`` or ``</html>`` in their head or tail) get nothing: they are pieces of pages.
    """

    def __init__(self, snippet: bytes) -> None:
        self.snippet = snippet
        self.tail = b""
        self.head = b""
        self.document = False

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        if not self.document and len(self.head) < _HEAD:
            self.head += chunk[: _HEAD - len(self.head)]
            self.document = _DOCUMENT.search(self.head) is not None
        data = self.tail + chunk if self.tail else chunk
        if len(data) <= _TAIL:
            self.tail = data
            return b""
        self.tail = data[-_TAIL:]
        return data[:-_TAIL]

    def close(self) -> bytes:
        return self.finish(b"")

    def finish(self, chunk: bytes) -> bytes:
        if chunk and not self.document and len(self.head) < _HEAD:
            self.document = _DOCUMENT.search(self.head + chunk[:_HEAD]) is not None
        data = self.tail + chunk if self.tail else chunk
        self.tail = b""
        view = memoryview(data)
        start = max(0, len(data) - _TAIL)
        at = _last_body_end(data, start)
        if at >= 0:
            return b"".join((view[:at], self.snippet, view[at:]))
        if self.document or _DOCUMENT.search(data, start):
            return b"".join((view, self.snippet))
        return data


def is_document(page: bytes) -> bool:
    """Whether a whole body is a page rather than a fragment, by its head and tail alone."""
    if page.startswith((b"<!DOCTYPE", b"<!doctype")):  # most pages: no regex needed
        return True
    tail = max(0, len(page) - _TAIL)
    return bool(_DOCUMENT.search(page, 0, _HEAD) or _DOCUMENT.search(page, tail))


def _last_body_end(data: bytes, start: int) -> int:
    """Offset of the last ``</body`` at or after ``start``, any case; -1 when there is none."""
    # memrchr finds the usual spellings; the regex then only reads the few bytes after them.
    last = max(data.rfind(b"</body", start), data.rfind(b"</BODY", start))
    for match in _BODY_END.finditer(data, last + 1 if last >= 0 else start):
        last = match.start()
    return last


class Decoder:
    """Undoes gzip/deflate (and br with the brotli package) Content-Encoding."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._brotli = brotli.Decompressor() if encoding == "br" and brotli else None
        # 47 = 32 + 15: zlib detects a gzip or zlib header itself.
        self._zlib = zlib.decompressobj(47) if encoding != "br" else None
        self._raw_tried = False

    def feed(self, chunk: bytes) -> bytes:
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
            return self._zlib.flush()
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
        self._decoder = codecs.getincrementaldecoder(charset)(errors="replace")

    def feed(self, chunk: bytes) -> bytes:
        return self._decoder.decode(chunk).encode("utf-8")

    def close(self) -> bytes:
        return self._decoder.decode(b"", final=True).encode("utf-8")
