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
    import brotli  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None


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
        out = b""
        for stage in self.stages:
            out = stage.feed(out) + stage.close()
        return out


_BODY_END = re.compile(rb"</body", re.IGNORECASE)
_DOCUMENT = re.compile(rb"<(?:html|body|!doctype)[\s>]", re.IGNORECASE)
#: How much we keep back after a ``</body`` in case it was not the last one.
_MAX_HELD = 64 * 1024


class Injector:
    """Inserts ``snippet`` before the last ``</body``, or at the end of a document without one.

    Fragments (no ``<html``, ``<body`` or doctype anywhere) get nothing: they are pieces of pages.
    """

    def __init__(self, snippet: bytes) -> None:
        self.snippet = snippet
        self.held = b""  # from the last ``</body`` seen on, or a short tail that may start one
        self.anchored = False  # ``held`` starts with ``</body``
        self.document = False
        self.carry = b""  # tail kept to find markers split across chunks

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        if not self.document:
            self.document = _DOCUMENT.search(self.carry + chunk) is not None
            self.carry = (self.carry + chunk)[-10:]
        data = self.held + chunk
        last = None
        for last in _BODY_END.finditer(data):  # noqa: B007 - only the last one counts
            pass
        if last is not None:
            self.anchored = True
            self.held = data[last.start() :]
            out = data[: last.start()]
            if len(self.held) > _MAX_HELD:  # an early ``</body`` in a script string, most likely
                out, self.held, self.anchored = data, b"", False
            return out
        if self.anchored and len(data) <= _MAX_HELD:
            self.held = data
            return b""
        self.anchored = False
        keep = len(data) - 6  # a partial ``</body`` may end this chunk
        self.held = data[keep:] if keep > 0 else data
        return data[:keep] if keep > 0 else b""

    def close(self) -> bytes:
        held, self.held = self.held, b""
        if self.anchored:
            return self.snippet + held
        if self.document:
            return held + self.snippet
        return held


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
