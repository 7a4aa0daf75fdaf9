"""Per-request ASGI plumbing: holds ``http.response.start`` until the first body message decides
whether the body streams through untouched or through the rewriting pipeline."""

from __future__ import annotations

import enum
import functools
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any, Final, Protocol

import anyio
import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Message, Scope, Send

from .consent import Consent
from .encodings import PRESCAN, TRANSCODED, Action, lookup, reading
from .gate import own_host, split_url
from .html import Gate
from .linkheader import without_blocked_hints
from .pages import Pages, own_origin
from .policy import Policy
from .refresh import without_blocked_refresh
from .speculation import MEDIA_TYPE as _RULES
from .speculation import RulesFilter
from .streams import (
    Charset,
    HeadStart,
    Injector,
    Pipeline,
    Sniffer,
    Stage,
    Unreadable,
    XmlProlog,
    decoders,
    encoders,
    is_document,
)

logger = logging.getLogger("consentgate")
#: Cookie names the Open Cookie Database made us drop, each logged once: a generic name
#: ("token", "locale") may be the site's own (bounded: only the database's names get in).
_REPORTED: set[str] = set()


def _report_dropped(name: str, category: str) -> None:
    _REPORTED.add(name)
    logger.warning(
        "consentgate: dropped Set-Cookie %r for a visitor who has not granted %s: the Open "
        "Cookie Database lists it. If it is your own, declare it: Policy(cookies={%r: "
        "'necessary'}) (logged once a name)",
        name,
        category,
        name,
    )


_UNTOUCHED_STATUS = frozenset({204, 206, 304})
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]{1,128})'")
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)
_warned: set[str] = set()
#: XML types a browser renders as documents (XHTML, SVG, or XML that an XSLT turns into one).
_XML = ("text/xml", "application/xml", "text/xsl")
#: Types a browser treats as none and sniffs (sniff.py): as no Content-Type at all.
_SNIFFED = ("", "unknown/unknown", "application/unknown", "*/*")
_PERSONAL = ((b"vary", b"Cookie"), (b"cache-control", b"private"))
_BODY = "http.response.body"
_FILES = ("http.response.pathsend", "http.response.zerocopysend")
_CHUNK = 64 * 1024
_READ = frozenset(
    {
        b"content-type",
        b"content-encoding",
        b"set-cookie",
        b"cache-control",
        b"vary",
        b"etag",
        b"content-security-policy",
        b"link",
        b"refresh",
    }
)


# Content-Type -> (media type, what kind of markup, the WHATWG encoding its charset names):
# apps send the same few again.
_TYPES: dict[bytes, tuple[str, str | None, str | None]] = {}


def _type(content_type: bytes) -> tuple[str, str | None, str | None]:
    media = content_type.decode("latin-1").split(";", 1)[0].strip().lower()
    if len(_TYPES) >= 256:
        _TYPES.clear()
    charset = _charset(content_type)
    found = _TYPES[content_type] = (media, _kind(media), lookup(charset) if charset else None)
    return found


def _kind(media: str) -> str | None:
    """ "html", "xml" (read as XHTML: a browser renders it, scripts and all), "sniff" (no usable
    type: the browser sniffs it) or None (not a document the browser renders as markup)."""
    if media == "text/html":
        return "html"
    if media in _XML or media.endswith("+xml"):
        return "xml"
    if media in _SNIFFED or "/" not in media:
        return "sniff"
    return None


@functools.lru_cache(maxsize=256)
def _charset(content_type: bytes) -> str | None:
    match = _CHARSET.search(content_type.decode("latin-1"))
    return match.group(1).lower() if match else None


@functools.lru_cache(maxsize=256)
def _nonce(policy: bytes) -> str | None:
    match = _NONCE.search(policy.decode("latin-1"))
    return match.group(1) if match else None


def _varies_on_cookie(values: list[str]) -> bool:
    """Whether ``Vary`` values already name Cookie (any case) or ``*``."""
    return any(
        token.strip().lower() in ("cookie", "*") for value in values for token in value.split(",")
    )


def _merged(values: list[str]) -> list[str]:
    """The comma-separated elements of a field's lines (``Vary``, ``Cache-Control``), each
    once (letter case aside; the first spelling kept), without empty ones."""
    seen: set[str] = set()
    merged = []
    for value in values:
        for element in value.split(","):
            element = element.strip()
            if element and element.lower() not in seen:
                seen.add(element.lower())
                merged.append(element)
    return merged


@functools.lru_cache(maxsize=256)
def _private(cache_control: str) -> str:
    """``Cache-Control`` without what lets a shared cache keep the response, plus ``private``
    (once: a ``private="Set-Cookie"`` that limits it to some fields goes, the plain one covers
    the whole response)."""
    kept = [
        d
        for d in _merged([cache_control])
        if d.lower() != "public" and not d.lower().startswith(("s-maxage", "private="))
    ]
    if not any(d.lower() in ("private", "no-store") for d in kept):
        kept.insert(0, "private")
    return ", ".join(kept)


class Failure(enum.Enum):
    """Why a page could not be sent as consentgate would send it: it then fails closed."""

    #: The app's body cannot be read (corrupt or unknown compression, unknown charset).
    UNREADABLE = 502
    #: A fault in consentgate itself.
    FAULT = 500


#: What a visitor gets instead of a page that could not be gated: a page with nothing in it to
#: load or run. (After part of a page went out, the rest is cut instead: see Responder.fail.)
FAILURE_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Page unavailable</title>"
    b"<p>This page could not be shown with your privacy choices applied. Please try again "
    b"later.</p></html>"
)
_FAILURE_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", b"%d" % len(FAILURE_PAGE)),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


class _Done:
    """An awaitable that is already done: what ``send`` returns when it only holds a message."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()  # (a generator that ends at once)


_DONE: Final = _Done()


class Site(Protocol):
    """What a response needs of the middleware, and no more."""

    @property
    def policy(self) -> Policy: ...
    @property
    def gate(self) -> Gate: ...
    @property
    def pages(self) -> Pages: ...
    def settled(self, consent: Consent) -> bool: ...
    def injects(self, consent: Consent) -> bool: ...
    def cookie_header(self, scope: Scope, consent: Consent) -> str: ...


class Responder:
    """One response's state. ``send`` is what the app calls; ``downstream`` is the server's."""

    # Immutable defaults on the class: a response that passes through (JSON, images …) sets
    # only what __init__ does.
    start: Message | None = None  # held until the first body message
    started = False  # whether a start (the app's, or the failure page's) went out
    pipeline: Pipeline | None = None
    failed = False  # the rest of what the app sends is dropped
    passthrough = False  # nothing more to do with this response
    from_file = False  # the body comes from a file message (its length is not known)
    waiting: list[Message] | None = None  # other messages sent while the start waits
    media = ""
    kind: str | None = None  # (see _kind)
    label: str | None = None  # the encoding the Content-Type's charset names
    appends: bytes | None = None  # the snippet, when appending it is the only change
    charset: Charset | None = None  # the stage that reads the body's encoding, when built
    sniffer: Sniffer | None = None  # the stage that sniffs a body without a usable type
    # The start's headers this module reads, lowercased names, from on_start's one pass.
    fields: dict[bytes, bytes]

    def __init__(
        self,
        site: Site,
        scope: Scope,
        send: Send,
        consent: Consent,
        issue: Consent | None,
    ) -> None:
        self.site = site
        self.scope = scope
        self.downstream = send
        self.consent = consent
        self.issue = issue  # a consent cookie to (re-)issue with this response

    def send(self, message: Message) -> Awaitable[None]:
        """What the app calls as its ``send``: returns what it awaits. (Not a coroutine itself:
        a response passing through awaits the server's own ``send``, one frame less per
        message, which is most of what this adds to a JSON request.)"""
        if self.passthrough:
            return self.downstream(message)
        if self.failed:
            return _DONE
        kind = message["type"]
        if kind == _BODY and type(message.get("body", b"")) is not bytes:
            # ASGI says bytes; a bytearray or memoryview body must not make us raise.
            message = {**message, "body": bytes(message["body"])}
        if kind == "http.response.start":
            try:
                through = self.on_start(message)
            except Exception as exc:  # a fault of ours: nothing of this response goes out
                return self.fail(Failure.FAULT, exc)
            if through:
                self.passthrough = self.started = True
                return self.downstream(message)
            self.start = message
            return _DONE
        if self.start is not None and self.pipeline is None and (kind == _BODY or kind in _FILES):
            if (
                self.appends is not None
                and kind == _BODY
                and not message.get("more_body", False)
                and self.plain(message.get("body", b""))
            ):
                return self.append(message)
            return self.on_first(message)
        if self.pipeline is not None and (kind == _BODY or kind in _FILES):
            return self.on_body(message)
        if kind == "http.response.early_hint":
            return self.early_hint(message)
        return self.forward(message)

    def early_hint(self, message: Message) -> Awaitable[None]:
        """A 103 Early Hints (the ``http.response.early_hint`` extension): its ``links`` are
        ``Link`` values, acted on before the page exists, so gated as the header is. Sent on
        without what was dropped; not at all when nothing is left."""
        links = message.get("links")
        if self.site.settled(self.consent) or not links:
            return self.forward(message)
        blocked = self.hint_blocker()
        kept = []
        for value in links if isinstance(links, (list, tuple)) else ():
            # (The extension sends bytes; anything else is unread, so it may name a tracker.)
            try:
                left = without_blocked_hints(value, blocked) if isinstance(value, bytes) else None
            except Exception:  # a fault of ours: hints are only hints, drop it
                left = None
            if left is not None:
                kept.append(left)
        if not kept:
            return _DONE
        if kept == list(links):
            return self.forward(message)
        return self.forward({**message, "links": kept})

    async def forward(self, message: Message) -> None:
        """Any other message (trailers, ``debug`` …), after the held start if there is one. While
        the start waits for what the body's first bytes decide, it waits with it."""
        if self.start is not None and self.pipeline is not None:
            self.waiting = [*(self.waiting or ()), message]
            return
        await self.flush_start()
        await self.downstream(message)

    def on_start(self, message: Message) -> bool:
        """Reads the start once. True when the body can go through as the app sends it."""
        raw = message.get("headers") or ()
        self.fields = fields = {}
        lowercase = True
        for key, value in raw:  # one pass, no header object for most responses
            if key in _READ:
                fields[key] = value
            elif not key.islower():
                # ASGI asks for lowercase names; an app that sends otherwise stays gated.
                lowercase = False
                if key.lower() in _READ:
                    fields[key.lower()] = value
        content_type = fields.get(b"content-type", b"")
        media, kind, self.label = _TYPES.get(content_type) or _type(content_type)
        html = kind is not None
        if (
            not html
            and b"set-cookie" not in fields
            and not self.issue
            and b"link" not in fields
            and b"refresh" not in fields
            and media != _RULES
        ):
            return True  # neither its headers nor its body concern us
        raw = self.edit_headers(message, raw, lowercase)
        return self.passes(message.get("status", 200), raw, media, kind)

    def edit_headers(
        self, message: Message, raw: Any, lowercase: bool
    ) -> list[tuple[bytes, bytes]]:
        """The start's header list, made lowercase and a list, without the hints and cookies
        this visitor has not granted, with the consent cookie to (re-)issue."""
        fields = self.fields
        if not lowercase:  # Starlette's header objects match lowercase names only
            message["headers"] = raw = [(k.lower(), v) for k, v in raw]
        elif not isinstance(raw, list):
            message["headers"] = raw = list(raw)
        if (b"link" in fields or b"refresh" in fields) and not self.site.settled(self.consent):
            self.drop_hints(raw)
        # (A visitor who granted every category keeps every cookie: nothing to look up.)
        if b"set-cookie" in fields and not self.site.settled(self.consent):
            self.drop_cookies(raw)
        if self.issue is not None:
            MutableHeaders(raw=raw).append(
                "set-cookie", self.site.cookie_header(self.scope, self.issue)
            )
        return raw  # type: ignore[no-any-return]

    def passes(
        self, status: int, raw: list[tuple[bytes, bytes]], media: str, kind: str | None
    ) -> bool:
        """Whether the body goes through as the app sends it (its headers marked as needed);
        False when it goes through the pipeline, or gets the snippet appended."""
        if media == _RULES and status == 200:
            if self.scope.get("method") == "HEAD" or self.site.settled(self.consent):
                self.mark_personal(raw)  # (what another visitor gets may differ)
                return True
            self.media = media
            return False
        if kind is None or status < 200 or status in _UNTOUCHED_STATUS:
            return True
        self.media, self.kind = media, kind
        site, consent = self.site, self.consent
        if kind == "sniff" and (self.scope.get("method") == "HEAD" or site.settled(consent)):
            return True  # (what a browser would sniff is unknown, or there is nothing to gate)
        if self.scope.get("method") == "HEAD":
            # A HEAD answer must carry the headers a GET would: the GET body is ours, not the app's.
            self.mark_changed(raw)
            del MutableHeaders(raw=raw)["content-length"]
            return True
        if site.settled(consent):  # nothing to gate: at most a snippet to add
            if media != "text/html" or not (site.pages.consent_mode_url or site.injects(consent)):
                # Passed whole (everything granted, nothing to inject), yet still personal.
                self.mark_personal(raw)
                return True
            if not site.pages.consent_mode_url:
                self.appends = self.only_appends()
        return False

    def only_appends(self) -> bytes | None:
        """The snippet, when adding it after the page is all this body needs (everything is
        granted, no Consent Mode defaults go into the head): when there is nothing to decode."""
        if self.encoding():
            return None
        return self.site.pages.snippet(self.scope, self.consent, self.nonce())

    def plain(self, body: bytes) -> bool:
        """Whether a whole body is read as bytes as it is (the snippet can go after it): not in
        an encoding that must be transcoded first (UTF-16 by its byte-order mark, …)."""
        label = self.label
        if (
            label is not None
            and label not in TRANSCODED
            and label != "replacement"
            and body[:1] not in (b"\xfe", b"\xff")
        ):
            return True  # (the usual case: no reading needed)
        found = reading(label, body[:PRESCAN], True)
        return found is not None and found.action is Action.PASS

    def encoding(self) -> str:
        """The body's Content-Encoding, lowercased; "" when there is none (or identity)."""
        value = self.fields.get(b"content-encoding", b"").decode("latin-1").strip().lower()
        return "" if value == "identity" else value

    def nonce(self) -> str | None:
        """The CSP nonce the app's own scripts carry, for consentgate's to carry too."""
        policy = self.fields.get(b"content-security-policy")
        return _nonce(policy) if policy is not None else None

    def drop_cookies(self, raw: list[tuple[bytes, bytes]]) -> None:
        """Cookies of categories the visitor has not granted never reach the browser: the
        site's declared cookies, the vendors' and every one the Open Cookie Database gates
        (one dict probe a name; a prefix table for names not listed exactly)."""
        rule_of = self.site.policy.cookie_rule
        allows = self.consent.allows
        kept = []
        for item in raw:
            if item[0] == b"set-cookie":
                name = item[1].split(b"=", 1)[0].strip().decode("latin-1")
                rule = rule_of(name)
                if rule is not None and not allows(rule.category, rule.service):
                    if rule.source == "database" and name not in _REPORTED:
                        _report_dropped(name, rule.category)
                    continue
            kept.append(item)
        if len(kept) != len(raw):
            raw[:] = kept

    def drop_hints(self, raw: list[tuple[bytes, bytes]]) -> None:
        """``Link`` headers' resource hints (preconnect, preload …) to vendors the visitor has
        not granted, and a ``Refresh`` header to one: the browser would contact them before the
        page asks it to (or instead of showing it)."""
        blocked = self.hint_blocker()
        kept = []
        for key, value in raw:
            if key == b"link":
                left = without_blocked_hints(value, blocked)
            elif key == b"refresh":
                left = without_blocked_refresh(value, blocked)
            else:
                left = value
            if left is not None:
                kept.append((key, left))
        raw[:] = kept

    def hint_blocker(self) -> Callable[[bytes], bool]:
        """Whether a hint's URL belongs to a vendor this visitor has not granted. A URL pattern
        (with a ``*``, as speculation rules write them) is refused by its host alone."""
        index, consent = self.site.gate.index, self.consent
        own = own_host(Headers(scope=self.scope).get("host"))

        def blocked(url: bytes) -> bool:
            parts = split_url(url)
            if parts is None:
                return False
            if url.find(b"*") >= 0:
                vendors = index.host_vendors(parts[0], own)
            else:
                vendor = index.match_host(*parts, own)
                vendors = [vendor] if vendor is not None else []
            return any(not consent.allows(v.category, v.id) for v in vendors)

        return blocked

    async def flush_start(self) -> None:
        if self.start is not None:
            start, self.start = self.start, None
            self.started = True
            await self.downstream(start)

    async def fail(self, reason: Failure, exc: BaseException) -> None:
        """Fails closed: before anything went out, the visitor gets ``FAILURE_PAGE`` instead of
        the page; after, the body ends where the gated part of it did. Nothing the stages had
        not decided goes out, and what the app sends next is dropped."""
        self.failed, self.pipeline, self.start = True, None, None
        key = f"{reason.name}:{type(exc).__name__}"
        first = key not in _warned
        _warned.add(key)
        logger.error(
            "consentgate could not gate %s %s (%s: %s) and sent %s instead",
            self.scope.get("method", "GET"),
            self.scope.get("path", ""),
            reason.name.lower(),
            exc,
            "the rest of the body cut" if self.started else f"a {reason.value} page",
            exc_info=exc if first else None,  # (one traceback of each kind: no flood)
        )
        if self.started:
            await self.downstream({"type": _BODY, "body": b"", "more_body": False})
            return
        self.started = True
        await self.downstream(
            {
                "type": "http.response.start",
                "status": reason.value,
                "headers": list(_FAILURE_HEADERS),
            }
        )
        if self.scope.get("method") != "HEAD":
            await self.downstream({"type": _BODY, "body": FAILURE_PAGE})

    def run(self, chunk: bytes, more: bool) -> bytes | Failure:
        """The pipeline's output for ``chunk``, or why it failed (the exception is kept)."""
        assert self.pipeline is not None
        try:
            return self.pipeline.feed(chunk) if more else self.pipeline.finish(chunk)
        except Unreadable as exc:
            self.error = exc
            return Failure.UNREADABLE
        except Exception as exc:  # a fault of ours must not send what was to be gated
            self.error = exc
            return Failure.FAULT

    async def on_first(self, message: Message) -> None:
        assert self.start is not None
        headers = MutableHeaders(raw=self.start["headers"])
        kind = message["type"]
        body = message.get("body", b"") if kind == _BODY else b""
        more = message.get("more_body", False)
        try:
            self.pipeline = pipeline = self.build(body[:PRESCAN], kind == _BODY and not more)
        except Unreadable as exc:
            await self.fail(Failure.UNREADABLE, exc)
            return
        except Exception as exc:
            await self.fail(Failure.FAULT, exc)
            return
        if pipeline is None:
            self.mark_personal(headers.raw)
            await self.flush_start()
            await self.downstream(message)
            return
        if kind != _BODY:
            self.from_file = True
            await self.on_file(message)
            return
        out = self.run(body, more)
        if isinstance(out, Failure):
            await self.fail(out, self.error)
            return
        await self.emit(out, more)

    async def emit(self, out: bytes, more: bool) -> None:
        """Sends what the pipeline made of a body message, after the start if it is still held:
        its headers are settled with the first output (or the end), since the body's first
        bytes may decide them (its encoding, a sniffed type)."""
        if self.start is not None:
            if more and not out and self.undecided():
                return  # (the start waits for what the body's first bytes decide)
            self.settle_headers(self.start["headers"], more or self.from_file, len(out))
            await self.flush_start()
            for waiting in self.waiting or ():
                await self.downstream(waiting)
            self.waiting = None
        await self.downstream({"type": _BODY, "body": out, "more_body": more})

    def undecided(self) -> bool:
        """Whether the stages still hold the body's first bytes to decide what it is."""
        sniffer, charset = self.sniffer, self.charset
        return (sniffer is not None and not sniffer.decided) or (
            charset is not None and charset.found is None
        )

    def settle_headers(self, raw: list[tuple[bytes, bytes]], more: bool, length: int) -> None:
        """The start's headers for a body that went through the pipeline."""
        if self.sniffer is not None and self.sniffer.media is None:
            return  # (sniffed as neither HTML nor XML: it went on as it came, headers too)
        self.mark_changed(raw)
        headers = MutableHeaders(raw=raw)
        if more:
            del headers["content-length"]
        else:
            headers["content-length"] = str(length)
        content_type = self.content_type()
        if content_type is not None:
            headers["content-type"] = content_type

    def content_type(self) -> str | None:
        """A new ``Content-Type`` for the body that goes out, or None to keep the app's: the
        sniffed type, said; ``charset=utf-8`` for a body transcoded to UTF-8."""
        media = self.sniffer.media if self.sniffer is not None else None
        transcoded = self.charset is not None and self.charset.transcodes
        if not transcoded:
            return media
        value = media or self.fields.get(b"content-type", b"").decode("latin-1")
        if _CHARSET.search(value):
            return _CHARSET.sub("charset=utf-8", value, count=1)
        return value + "; charset=utf-8"

    async def append(self, message: Message) -> None:
        """The whole page in one message, and the snippet to add after it: the page goes as the
        app wrote it, the snippet in a message of its own (browsers move what follows
        ``</html>`` into the body), so a big page is not copied."""
        start, self.start, self.passthrough = self.start, None, True
        assert start is not None and self.appends is not None
        body = message.get("body", b"")
        self.started = True
        if not is_document(body):  # a fragment of a page: it gets nothing, yet is personal
            self.mark_personal(start["headers"])
            await self.downstream(start)
            await self.downstream(message)
            return
        self.resize(start["headers"], len(body) + len(self.appends))
        await self.downstream(start)
        await self.downstream({"type": _BODY, "body": body, "more_body": True})
        await self.downstream({"type": _BODY, "body": self.appends})

    async def on_body(self, message: Message) -> None:
        if message["type"] != _BODY:
            await self.on_file(message)
            return
        if self.pipeline is None:  # (failed while the app was sending this)
            return
        more = message.get("more_body", False)
        out = self.run(message.get("body", b""), more)
        if isinstance(out, Failure):
            await self.fail(out, self.error)
            return
        await self.emit(out, more)

    async def on_file(self, message: Message) -> None:
        """A file the app asks the server to send (``pathsend``, ``zerocopysend``): read here
        and sent through the pipeline like a streamed body."""
        more = message.get("more_body", False) if message["type"] != _FILES[0] else False
        try:
            chunks = _file_chunks(message)
            async for chunk in chunks:
                await self.on_body({"type": _BODY, "body": chunk, "more_body": True})
                if self.failed:
                    return
        except OSError as exc:
            await self.fail(Failure.UNREADABLE, exc)
            return
        if not more:
            await self.on_body({"type": _BODY, "body": b"", "more_body": False})

    def build(self, head: bytes, final: bool) -> Pipeline | None:
        """The stages this body needs, or None when it passes through untouched (``head``: the
        first bytes of the first body message, ``final``: the whole body)."""
        coding = self.fields.get(b"content-encoding", b"").decode("latin-1")
        try:
            decoding = decoders(coding)
        except Unreadable as exc:  # what it cannot read, it cannot gate nor add to
            raise Unreadable(
                f"{exc}: put the compressing middleware (GZipMiddleware) outside "
                "ConsentMiddleware, i.e. add it after ConsentMiddleware, or install 'brotli' "
                "for br"
            ) from exc
        if self.kind == "sniff":
            self.sniffer = Sniffer(decoding, functools.partial(self.full, coding, None, False))
            return Pipeline([self.sniffer])
        return self.full(coding, None if decoding else head, final, self.media)

    def full(self, coding: str, head: bytes | None, final: bool, media: str) -> Pipeline | None:
        """The pipeline of a body of type ``media``: decoded, read, changed and encoded again;
        None when nothing changes."""
        changes = self.changes(media, head, final)
        if changes is None:  # decoding alone would only cost time
            return None
        return Pipeline([*decoders(coding), *changes, *encoders(coding)])

    def changes(self, media: str, head: bytes | None, final: bool) -> list[Stage] | None:
        """The stages that read and change a decoded body of type ``media``; None for none."""
        site, consent = self.site, self.consent
        xml = media != "text/html"
        changes: list[Stage] = []
        rewriter = None
        if media == _RULES:
            exclusions = site.gate.speculation_exclusions(consent.granted, consent.services)
            return [RulesFilter(self.hint_blocker(), exclusions)]
        if not site.settled(consent):  # else nothing to gate: no parsing at all
            request_headers = Headers(scope=self.scope)
            placeholder = site.pages.placeholders(
                request_headers.get("accept-language"),
                own_origin(self.scope) + self.scope.get("root_path", ""),  # (see own_origin)
            )
            rewriter = site.gate.rewriter(
                consent.granted,
                consent.services,
                host=request_headers.get("host"),
                placeholder=placeholder,
                xml=xml,
            )
            if rewriter is not None:
                if xml:
                    changes.append(XmlProlog())
                changes.append(rewriter)
                if site.pages.services.learn:  # (debug: what the page gates, see Services)
                    changes.append(site.pages.services.watch(self.scope.get("path", "/")))
        if media == "text/html":  # a snippet of HTML would make an XHTML page fail to parse
            nonce = self.nonce()
            if site.pages.consent_mode_url:
                changes.append(HeadStart(site.pages.head_snippet(self.scope, consent, nonce)))
            if site.injects(consent):
                # (After a body cut inside a comment or a script, the snippet would be its text.)
                ready = (lambda: rewriter.ended_in_data) if rewriter is not None else None
                changes.append(Injector(site.pages.snippet(self.scope, consent, nonce), ready))
        if not changes:
            return None
        found = reading(self.label, head, final, xml) if head is not None else None
        charset = self.charset = Charset(
            self.label, xml=xml, strict=not site.settled(consent), found=found
        )
        if charset.needed:  # (not for most pages: UTF-8 said by the header, no BOM)
            changes.insert(0, charset)
        return changes

    # The header changes below take the start's header list: a MutableHeaders view is made only
    # when the app's own Vary, Cache-Control or ETag need merging, not on every page.

    def mark_changed(self, raw: list[tuple[bytes, bytes]]) -> None:
        """The body now depends on the visitor's cookie: no shared cache may keep it."""
        self.mark_personal(raw)
        # The app's validator names its own bytes, not ours.
        if b"etag" in self.fields:
            del MutableHeaders(raw=raw)["etag"]

    def resize(self, raw: list[tuple[bytes, bytes]], length: int) -> None:
        """``mark_changed`` for a body of ``length`` bytes."""
        raw[:] = [field for field in raw if field[0] != b"content-length"]
        self.mark_changed(raw)
        raw.append((b"content-length", b"%d" % length))

    def mark_personal(self, raw: list[tuple[bytes, bytes]]) -> None:
        """What this visitor gets is not what another would: keep it out of shared caches.

        Also for a page passed through whole for a visitor who granted everything: a cache
        keeping it would hand its live trackers to the next visitor, who chose nothing.
        """
        fields = self.fields
        if b"vary" not in fields and b"cache-control" not in fields:
            raw += _PERSONAL  # the usual case
            return
        headers = MutableHeaders(raw=raw)
        if b"vary" not in fields:
            headers.append("vary", "Cookie")
        elif not _varies_on_cookie(varies := headers.getlist("vary")):
            # (A framework that already varies on Cookie, as Django's sessions do, keeps its
            # value.) One line, each value once: "Vary: , Cookie" helps no cache.
            headers["vary"] = ", ".join([*_merged(varies), "Cookie"])
        if b"cache-control" not in fields:
            headers.append("cache-control", "private")
        else:  # (every line of it: "Cache-Control: max-age=60" and "Cache-Control: public")
            headers["cache-control"] = _private(", ".join(headers.getlist("cache-control")))

    error: BaseException  # what made ``run`` fail


async def _file_chunks(message: Message) -> AsyncIterator[bytes]:
    """The bytes of a ``pathsend`` (a path) or ``zerocopysend`` (an open file, from ``offset``
    for ``count`` bytes, or from where it stands to its end) message, a chunk at a time."""
    if message["type"] == _FILES[0]:
        async with await anyio.open_file(message["path"], "rb") as file:
            while chunk := await file.read(_CHUNK):
                yield chunk
        return
    file = message["file"]
    fd = file if isinstance(file, int) else file.fileno()
    offset: int | None = message.get("offset")
    left: int | None = message.get("count")
    while left is None or left > 0:
        size = _CHUNK if left is None else min(_CHUNK, left)
        if offset is None:
            chunk = await anyio.to_thread.run_sync(os.read, fd, size)
        else:
            chunk = await anyio.to_thread.run_sync(os.pread, fd, size, offset)
            offset += len(chunk)
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk
