"""Per-request ASGI plumbing: holds ``http.response.start`` until the first body message decides
whether the body streams through untouched or through the rewriting pipeline."""

from __future__ import annotations

import logging
import re
import zlib
from typing import TYPE_CHECKING

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Message, Scope, Send

from .consent import Consent
from .headstart import HeadStart
from .streams import Decoder, Encoder, Injector, Pipeline, Stage, Transcoder, decodable

if TYPE_CHECKING:
    from .middleware import ConsentMiddleware

logger = logging.getLogger("consentgate")

_UNTOUCHED_STATUS = frozenset({204, 206, 304})
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]{1,128})'")
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)
_BOMS = {b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"}
_warned: set[str] = set()


class Responder:
    def __init__(
        self, mw: ConsentMiddleware, scope: Scope, send: Send, consent: Consent,
        issue: Consent | None,
    ) -> None:
        self.mw = mw
        self.scope = scope
        self.downstream = send
        self.consent = consent
        self.issue = issue  # a consent cookie to (re-)issue with this response
        self.start: Message | None = None
        self.html = False  # the start message announced HTML we may have to change
        self.pipeline: Pipeline | None = None
        self.failed = False
        self.passthrough = False  # decided at the start: nothing more to do with this response

    async def send(self, message: Message) -> None:
        if self.passthrough:
            await self.downstream(message)
            return
        kind = message["type"]
        if kind == "http.response.start":
            self.on_start(message)
            if not self.html:
                self.passthrough = True
                await self.flush_start()
        elif self.start is not None and kind in ("http.response.body", "http.response.pathsend"):
            await self.on_first(message)
        elif kind == "http.response.body" and self.pipeline is not None:
            await self.on_body(message)
        else:
            await self.flush_start()
            await self.downstream(message)

    def on_start(self, message: Message) -> None:
        self.start = message
        media, cookies = "", False
        for key, value in message.get("headers", ()):  # one pass, no header object for most
            key = key.lower()  # ASGI asks for lowercase; an app that sends otherwise stays gated
            if key == b"content-type":
                media = value.decode("latin-1").split(";", 1)[0].strip().lower()
            elif key == b"set-cookie":
                cookies = True
        status = message.get("status", 200)
        if media not in ("text/html", "application/xhtml+xml") and not cookies and not self.issue:
            return  # untouched: neither its headers nor its body concern us
        # Header names are case-insensitive; Starlette's header objects match lowercase only.
        message["headers"] = [(k.lower(), v) for k, v in message.get("headers", ())]
        headers = MutableHeaders(raw=message["headers"])
        self.drop_cookies(headers)
        if self.issue is not None:
            headers.append("set-cookie", self.mw.cookie_header(self.scope, self.issue))
        html = (
            media in ("text/html", "application/xhtml+xml")
            and status >= 200
            and status not in _UNTOUCHED_STATUS
        )
        self.html = html and self.scope.get("method") != "HEAD"
        if html and not self.html:
            # A HEAD answer must carry the headers a GET would: the GET body is ours, not the app's.
            self.mark_changed(headers)
            del headers["content-length"]

    def drop_cookies(self, headers: MutableHeaders) -> None:
        """Cookies of categories the visitor has not granted never reach the browser."""
        policy = self.mw.policy
        if "set-cookie" not in headers:
            return
        values = headers.getlist("set-cookie")
        kept = []
        for value in values:
            found = policy.cookie_category(value.split("=", 1)[0].strip())
            if found is None or self.consent.allows(found[0], found[1]):
                kept.append(value)
        if len(kept) != len(values):
            del headers["set-cookie"]
            for value in kept:
                headers.append("set-cookie", value)

    async def flush_start(self) -> None:
        if self.start is not None:
            start, self.start = self.start, None
            await self.downstream(start)

    async def on_first(self, message: Message) -> None:
        assert self.start is not None
        headers = MutableHeaders(raw=self.start["headers"])
        if message["type"] == "http.response.pathsend":
            self.pipeline = self.build(headers, b"")
            if self.pipeline is None:
                self.mark_personal(headers)
                await self.flush_start()
                await self.downstream(message)
                return
            await self.stream_file(message["path"], headers)
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        self.pipeline = self.build(headers, body[:2])
        if self.pipeline is None:
            self.mark_personal(headers)
            await self.flush_start()
            await self.downstream(message)
            return
        try:
            out = self.pipeline.feed(body) if more else self.pipeline.finish(body)
        except (zlib.error, OSError, ValueError) as exc:
            # We cannot read what the app sent; neither could a browser. Leave it as it was.
            self.warn_once("undecodable", f"consentgate left an undecodable HTML body as is: {exc}")
            self.pipeline = None
            await self.flush_start()
            await self.downstream(message)
            return
        self.mark_changed(headers)
        if more:
            del headers["content-length"]
        else:
            headers["content-length"] = str(len(out))
        await self.flush_start()
        await self.downstream({"type": "http.response.body", "body": out, "more_body": more})

    async def on_body(self, message: Message) -> None:
        assert self.pipeline is not None
        if self.failed:
            return
        more = message.get("more_body", False)
        try:
            chunk = message.get("body", b"")
            out = self.pipeline.feed(chunk) if more else self.pipeline.finish(chunk)
        except (zlib.error, OSError, ValueError) as exc:
            self.warn_once("undecodable", f"consentgate cut an undecodable HTML body short: {exc}")
            self.failed = True
            out, more = b"", False
        await self.downstream({"type": "http.response.body", "body": out, "more_body": more})

    async def stream_file(self, path: str, headers: MutableHeaders) -> None:
        self.mark_changed(headers)
        del headers["content-length"]
        await self.flush_start()
        async with await anyio.open_file(path, "rb") as file:
            while chunk := await file.read(64 * 1024):
                await self.on_body({"body": chunk, "more_body": True})
        await self.on_body({"body": b"", "more_body": False})

    def build(self, headers: MutableHeaders, head: bytes) -> Pipeline | None:
        """The stages this body needs, or None when it passes through untouched."""
        mw = self.mw
        stages: list[Stage] = []
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            if not decodable(encoding):
                self.warn_once(
                    encoding,
                    f"consentgate cannot decode Content-Encoding {encoding!r}, so this HTML "
                    "passes through ungated: put the compressing middleware (GZipMiddleware) "
                    "outside ConsentMiddleware, i.e. add it after ConsentMiddleware, "
                    "or install 'brotli' for br",
                )
                return None
            stages.append(Decoder(encoding))
        match = _CHARSET.search(headers.get("content-type", ""))
        charset = match.group(1).lower() if match else _BOMS.get(head[:2])
        if charset and charset.startswith(("utf-16", "utf-32")):
            stages.append(Transcoder(charset))
            headers["content-type"] = _CHARSET.sub("charset=utf-8", headers["content-type"])
        consent = self.consent
        if not mw.gate.optional <= consent.granted:  # else nothing to gate: no parsing at all
            request_headers = Headers(scope=self.scope)
            placeholder = mw.placeholders(
                request_headers.get("accept-language"), self.scope.get("root_path", "")
            )
            rewriter = mw.gate.rewriter(consent.granted, consent.services,
                                        host=request_headers.get("host"), placeholder=placeholder)
            if rewriter is not None:
                stages.append(rewriter)
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media == "text/html":  # a snippet of HTML would make an XHTML page fail to parse
            if self.mw.consent_mode_url:
                stages.append(HeadStart(self.head_snippet(headers)))
            # A site that renders cookie_settings_link() itself may skip the injection for
            # visitors who chose: their pages then pass through untouched.
            if not consent.decided or self.mw.inject_settings:
                stages.append(Injector(self.snippet(headers)))
        if not stages or (len(stages) == 1 and isinstance(stages[0], Decoder)):
            return None
        if encoding not in ("", "identity"):
            stages.append(Encoder(encoding))
        return Pipeline(stages)

    def snippet(self, headers: MutableHeaders) -> bytes:
        nonce = _NONCE.search(headers.get("content-security-policy", ""))
        return self.mw.snippet(self.scope, self.consent, nonce.group(1) if nonce else None)

    def head_snippet(self, headers: MutableHeaders) -> bytes:
        nonce = _NONCE.search(headers.get("content-security-policy", ""))
        return self.mw.head_snippet(self.scope, self.consent, nonce.group(1) if nonce else None)

    def mark_changed(self, headers: MutableHeaders) -> None:
        """The body now depends on the visitor's cookie: no shared cache may keep it."""
        self.mark_personal(headers)
        # The app's validator names its own bytes, not ours.
        if "etag" in headers:
            del headers["etag"]

    def mark_personal(self, headers: MutableHeaders) -> None:
        """What this visitor gets is not what another would: keep it out of shared caches.

        Also for a page passed through whole for a visitor who granted everything: a cache
        keeping it would hand its live trackers to the next visitor, who chose nothing.
        """
        headers.add_vary_header("Cookie")
        directives = [
            d.strip() for d in headers.get("cache-control", "").split(",") if d.strip()
        ]
        kept = [
            d for d in directives if d.lower() != "public" and not d.lower().startswith("s-maxage")
        ]
        if not any(d.lower() in ("private", "no-store") for d in kept):
            kept.insert(0, "private")
        headers["cache-control"] = ", ".join(kept)

    def warn_once(self, key: str, text: str) -> None:
        if key not in _warned:
            _warned.add(key)
            logger.warning(text)
