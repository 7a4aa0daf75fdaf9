"""Small streaming body stages: each takes bytes as they come and gives back what it can emit.

The middleware chains them (decode → transcode → rewrite → head start → inject → encode) so a
page streams through in bounded memory whatever its size.
"""

from __future__ import annotations

import codecs
import functools
import re
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .encodings import TRANSCODED, Action, Reading, Source, reading
from .sniff import SNIFF_LIMIT, sniff

try:  # optional: only used when the app sends br-encoded HTML
    import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

try:  # zstd: in the standard library from Python 3.14, before that its backport (a dependency)
    from compression import zstd  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the Python version
    try:
        from backports import zstd  # type: ignore[import-not-found, no-redef, unused-ignore]
    except ImportError:
        zstd = None


_CODEC_ERRORS: tuple[type[Exception], ...] = (
    (zlib.error,)
    + ((brotli.error,) if brotli is not None else ())
    + ((zstd.ZstdError,) if zstd is not None else ())
)
#: The largest zstd window decoded (2**23, 8 MB): what Chromium decodes, and bounded memory.
ZSTD_WINDOW_LOG = 23


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


def codings(value: str) -> list[str]:
    """A ``Content-Encoding`` value's codings, in the order they were applied, lowercased and
    without ``identity``."""
    return [c for c in (p.strip().lower() for p in value.split(",")) if c and c != "identity"]


def decodable(encoding: str) -> bool:
    """Whether consentgate can decode (and re-encode) a content coding."""
    return (
        encoding in ("gzip", "x-gzip", "deflate")
        or (encoding == "br" and brotli is not None)
        or (encoding == "zstd" and zstd is not None)
    )


def _decodable() -> tuple[str, ...]:
    return tuple(c for c in ("gzip", "deflate", "br", "zstd") if decodable(c))


DECODABLE: tuple[str, ...] = _decodable()


@functools.lru_cache(maxsize=256)
def narrow_accept(value: bytes) -> bytes:
    """A request's ``Accept-Encoding`` without the codings consentgate cannot decode, so that
    an inner app never answers in one: ``*`` stands for the ones it can (an app may pick any
    coding for it), ``identity`` and anything refused (``;q=0``) stay."""
    parts = [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    named = {p.partition(";")[0].strip().lower() for p in parts}
    kept: list[str] = []
    for part in parts:
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        refused = re.search(r"q\s*=\s*0(?:\.0*)?\s*$", params) is not None
        if coding == "*" and not refused:
            rest = ";" + params if params else ""
            kept += [c + rest for c in DECODABLE if c not in named]
        elif refused or coding in ("identity", "x-gzip") or decodable(coding):
            kept.append(part)
    return ", ".join(kept).encode("latin-1")


def narrow_request(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]] | None:
    """A request's headers with its ``Accept-Encoding`` narrowed (``narrow_accept``); None when
    nothing changes (most browsers ask for nothing consentgate cannot decode). On every request:
    one pass, and a lookup of values already seen."""
    changed: list[tuple[bytes, bytes]] | None = None
    for key, value in headers:
        if key == b"accept-encoding":
            narrowed = _NARROWED.get(value)
            if narrowed is None:
                narrowed = narrow_accept(value)
                if len(_NARROWED) >= 256:
                    _NARROWED.clear()
                _NARROWED[value] = narrowed
            if narrowed != value:
                changed = [
                    (k, _NARROWED.get(v) or narrow_accept(v) if k == key else v)
                    for k, v in (changed or headers)
                ]
    return changed


_NARROWED: dict[bytes, bytes] = {}


class Decoder:
    """Undoes one content coding: gzip/deflate, br with the brotli package, zstd."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._brotli = brotli.Decompressor() if encoding == "br" and brotli else None
        self._zstd = _zstd_decompressor() if encoding == "zstd" else None
        # 47 = 32 + 15: zlib detects a gzip or zlib header itself.
        self._zlib = zlib.decompressobj(47) if encoding not in ("br", "zstd") else None
        self._raw_tried = False

    def feed(self, chunk: bytes) -> bytes:
        try:
            return self._feed(chunk)
        except _CODEC_ERRORS as exc:
            raise Unreadable(f"corrupt {self.encoding} body: {exc}") from exc

    def _feed(self, chunk: bytes) -> bytes:
        if self._brotli is not None:
            return bytes(self._brotli.process(chunk))
        if self._zstd is not None:
            return self._zstd_feed(chunk)
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

    def _zstd_feed(self, chunk: bytes) -> bytes:
        # A zstd body may hold several frames one after another (as the zstd tool reads them).
        assert self._zstd is not None
        out = [self._zstd.decompress(chunk)]
        while self._zstd.eof and self._zstd.unused_data:
            rest = self._zstd.unused_data
            self._zstd = _zstd_decompressor()
            out.append(self._zstd.decompress(rest))
        return b"".join(out)

    def close(self) -> bytes:
        if self._zlib is not None:
            try:
                return self._zlib.flush()
            except zlib.error as exc:
                raise Unreadable(f"corrupt {self.encoding} body: {exc}") from exc
        return b""


def _zstd_decompressor() -> Any:
    return zstd.ZstdDecompressor(
        options={zstd.DecompressionParameter.window_log_max: ZSTD_WINDOW_LOG}
    )


class Encoder:
    """Applies one content coding again, after the rewriting."""

    def __init__(self, encoding: str) -> None:
        self._brotli = brotli.Compressor() if encoding == "br" and brotli else None
        self._zstd = zstd.ZstdCompressor() if encoding == "zstd" and zstd else None
        wbits = 31 if encoding in ("gzip", "x-gzip") else 15
        self._zlib = (
            zlib.compressobj(6, zlib.DEFLATED, wbits)
            if self._brotli is None and self._zstd is None
            else None
        )

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        if self._brotli is not None:
            return bytes(self._brotli.process(chunk))
        if self._zstd is not None:
            # Flush per message so streamed pages keep streaming.
            flush = self._zstd.FLUSH_BLOCK
            return bytes(self._zstd.compress(chunk)) + bytes(self._zstd.flush(flush))
        assert self._zlib is not None
        return self._zlib.compress(chunk) + self._zlib.flush(zlib.Z_SYNC_FLUSH)

    def close(self) -> bytes:
        if self._brotli is not None:
            return bytes(self._brotli.finish())
        if self._zstd is not None:
            return bytes(self._zstd.flush())
        assert self._zlib is not None
        return self._zlib.flush()


def decoders(value: str) -> list[Stage]:
    """The stages that undo a ``Content-Encoding`` (last applied, first undone); Unreadable
    when one of its codings cannot be decoded."""
    found = codings(value)
    for coding in found:
        if not decodable(coding):
            raise Unreadable(f"Content-Encoding {coding!r} cannot be decoded")
    return [Decoder(coding) for coding in reversed(found)]


def encoders(value: str) -> list[Stage]:
    """The stages that apply a ``Content-Encoding``'s codings again, in its order."""
    return [Encoder(coding) for coding in codings(value)]


# -- character encodings (encodings.py decides; these stages read) ---------------------------


class Charset:
    """Reads a body as a browser does: ASCII-compatible bytes go on as they are, UTF-16 and
    ISO-2022-JP are transcoded to UTF-8, the replacement encoding becomes one U+FFFD.

    Holds the body's first bytes until it can tell (a byte-order mark, and without a charset in
    the header the prescan's 1024 bytes). ``found`` is the decision, once made. ``strict``: an
    escape byte (ISO-2022's) in a body whose encoding nothing fixed (see encodings.py) is
    Unreadable: a browser may read it otherwise than as the bytes pass.
    """

    def __init__(
        self,
        header: str | None,
        *,
        xml: bool = False,
        strict: bool = True,
        found: Reading | None = None,
    ) -> None:
        self.header, self.xml, self.strict = header, xml, strict
        self.head = b""
        self.found: Reading | None = None
        self._transcoder: Transcoder | None = None
        self._skip = 0  # bytes of a byte-order mark still to drop
        self._replaced: bool | None = None  # (replacement encoding: whether U+FFFD went out)
        self._watch = False
        if found is not None:
            self._decide(found)

    @property
    def needed(self) -> bool:
        """Whether the body must go through this stage: not when its first bytes already told
        that it is read as it is, and no escape byte needs looking for."""
        return self.found is None or self.transcodes or self._watch

    @property
    def transcodes(self) -> bool:
        """Whether what goes out is UTF-8 of another encoding (the header must then say so)."""
        return self.found is not None and self.found.action is not Action.PASS

    def feed(self, chunk: bytes) -> bytes:
        if self.found is None:
            self.head += chunk
            found = reading(self.header, self.head, False, self.xml)
            if found is None:
                return b""
            chunk, self.head = self.head, b""
            self._decide(found)
        return self._read(chunk, False)

    def close(self) -> bytes:
        return self.finish(b"")

    def finish(self, chunk: bytes) -> bytes:
        if self.found is None:
            chunk, self.head = self.head + chunk, b""
            found = reading(self.header, chunk, True, self.xml)
            assert found is not None
            self._decide(found)
        return self._read(chunk, True)

    def _decide(self, found: Reading) -> None:
        self.found = found
        action = found.action
        if action is Action.TRANSCODE:
            self._transcoder = Transcoder(TRANSCODED[found.encoding])
            # (The byte-order mark is not text: a browser drops it, and UTF-8 needs none.)
            self._skip = 2 if found.source is Source.BOM else 0
        elif action is Action.REPLACE:
            self._replaced = False
        else:
            self._watch = self.strict and not found.settled

    def _read(self, chunk: bytes, final: bool) -> bytes:
        if self._transcoder is not None:
            if self._skip:
                chunk, self._skip = chunk[self._skip :], 0
            out = self._transcoder.feed(chunk)
            return out + self._transcoder.close() if final else out
        if self._replaced is not None:
            if chunk and not self._replaced:
                self._replaced = True
                return "\ufffd".encode()
            return b""
        if self._watch and chunk.find(b"\x1b") >= 0:
            raise Unreadable(
                "an escape byte in a page that declares no encoding: a browser may read it as "
                "ISO-2022-JP"
            )
        return chunk


class Transcoder:
    """Turns a body in another encoding (UTF-16, ISO-2022-JP) into UTF-8, so the byte-level
    rewriter reads what a browser reads."""

    def __init__(self, charset: str) -> None:
        try:
            self._decoder = codecs.getincrementaldecoder(charset)(errors="replace")
        except LookupError as exc:  # (not one of TRANSCODED's: a bug of ours)
            raise Unreadable(f"unknown charset {charset!r}") from exc

    def feed(self, chunk: bytes) -> bytes:
        return self._decoder.decode(chunk).encode("utf-8")

    def close(self) -> bytes:
        return self._decoder.decode(b"", final=True).encode("utf-8")


class Sniffer:
    """The body of a response without a usable ``Content-Type``: held (as it came) until its
    first bytes, decoded, tell whether a browser sniffs it as HTML or XML (sniff.py). Then it
    goes through the pipeline ``build`` makes for that type (decoding, reading, rewriting and
    encoding it), or, when it is neither (or ``build`` has nothing to do), on as it came.
    ``media`` is the type found, once ``decided``."""

    def __init__(self, decoding: Sequence[Stage], build: Callable[[str], Pipeline | None]) -> None:
        self.decoding = Pipeline(decoding)
        self.build = build
        self.held: list[bytes] = []
        self.head = b""
        self.decided = False
        self.media: str | None = None
        self.inner: Pipeline | None = None

    def feed(self, chunk: bytes) -> bytes:
        if self.decided:
            return self.inner.feed(chunk) if self.inner is not None else chunk
        self.held.append(chunk)
        self.head += self.decoding.feed(chunk)
        if len(self.head) < SNIFF_LIMIT:
            return b""
        return self._decide(final=False)

    def close(self) -> bytes:
        return self.finish(b"")

    def finish(self, chunk: bytes) -> bytes:
        if self.decided:
            return self.inner.finish(chunk) if self.inner is not None else chunk
        self.held.append(chunk)
        if len(self.head) < SNIFF_LIMIT:
            self.head += self.decoding.finish(chunk)
        return self._decide(final=True)

    def _decide(self, *, final: bool) -> bytes:
        self.decided = True
        self.media = sniff(self.head)
        self.head = b""
        self.inner = self.build(self.media) if self.media is not None else None
        held, self.held = b"".join(self.held), []
        if self.inner is None:
            return held
        return self.inner.finish(held) if final else self.inner.feed(held)


class XmlProlog:
    """Refuses an XML document whose DOCTYPE has an internal subset (``<!DOCTYPE html [ … ]>``):
    its entities may expand to a vendor's URL (``src="&gtm;"``) or to markup (``&tag;`` → a
    ``<script>``), its attribute-list declarations may give elements a default ``src``, and the
    rewriter reads neither. The prolog (what comes before the root element: the XML
    declaration, comments, processing instructions, the DOCTYPE) is held until its end is seen,
    so a refusal sends the failure page rather than part of one."""

    def __init__(self, limit: int = 64 * 1024) -> None:
        self.held = b""
        self.done = False
        self.limit = limit

    def feed(self, chunk: bytes) -> bytes:
        if self.done:
            return chunk
        self.held += chunk
        if not _prolog_ended(self.held, final=False):
            if len(self.held) > self.limit:
                raise Unreadable("an XML prolog of more than 64 KB")
            return b""
        self.done = True
        held, self.held = self.held, b""
        return held

    def close(self) -> bytes:
        if self.done:
            return b""
        _prolog_ended(self.held, final=True)
        self.done = True
        held, self.held = self.held, b""
        return held


_PROLOG_TOKEN = re.compile(rb"[^<]*+<(?:!--|\?|!DOCTYPE|!)?", re.IGNORECASE)


def _prolog_ended(data: bytes, *, final: bool) -> bool:
    """Whether the root element's start tag (or the end) is in ``data``; Unreadable at a
    DOCTYPE with an internal subset before it."""
    pos = 0
    while True:
        token = _PROLOG_TOKEN.match(data, pos)
        if token is None or token.end() >= len(data):
            return final
        opener = token.group()[token.group().rfind(b"<") :].lower()
        if opener == b"<!--":
            close = data.find(b"-->", token.end())
        elif opener == b"<?":
            close = data.find(b"?>", token.end())
        elif opener == b"<!doctype":
            close = _doctype_end(data, token.end())
        elif opener == b"<!":
            close = data.find(b">", token.end())
        else:
            return True  # the root element: the prolog is over
        if close < 0:
            return final
        pos = close + 1


def _doctype_end(data: bytes, pos: int) -> int:
    """Where the DOCTYPE from ``pos`` ends (-1: not yet in ``data``); Unreadable when it has
    an internal subset."""
    quote = None
    for at in range(pos, len(data)):
        byte = data[at]
        if quote is not None:
            if byte == quote:
                quote = None
        elif byte in b"\"'":
            quote = byte
        elif byte == 0x5B:  # "["
            raise Unreadable(
                "an XML DOCTYPE with an internal subset: its entities and defaults are not read"
            )
        elif byte == 0x3E:
            return at
    return -1
