"""Vendor URLs in CSS for one response: ``<style>`` elements and ``style`` attributes.

When CSS names a host of a vendor the visitor has not granted, that vendor's ``url(…)``,
``@import`` and ``image-set()`` strings become ``data:,`` (no request in any browser) and every
other byte stays as it was; the original goes into ``data-consent-css`` (elements) or
``data-consent-style`` (attributes), with ``data-consent``/``-service``, for the client to put
back once allowed. With vendors of several categories, an element gated for something else, or
in mode="remove", the URLs are only neutralised. How CSS is read is ``css.py``'s business.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import NamedTuple

from ..gate import VendorIndex, split_url
from ..policy import Vendor
from . import css
from .markup import (
    WS,
    Attr,
    Buf,
    attr_text,
    first,
    parse_attrs,
    raw_offset,
    resolve_references,
)

Decision = tuple[str, Vendor | None]


class Moved(NamedTuple):
    """Attributes of one start tag that load or run a blocked vendor's code: their names, what
    takes their place (if anything), their originals as ``data-consent-<name>`` for the client
    to put back, and the vendors (maybe more than once)."""

    names: set[bytes]
    replaced: list[bytes]
    originals: list[bytes]
    vendors: list[Vendor]


class HostVendors:
    """The vendors with a rule on each ``//host`` found in CSS (as written), and whether all
    their rules there name a path (then a URL's path decides), remembered per Gate: the same few
    hosts (fonts, CDNs) come back in every stylesheet. Bounded: pages choose what they write."""

    def __init__(self, index: VendorIndex, kept: int = 4096) -> None:
        self._index = index
        self._kept = kept
        self._found: dict[bytes, tuple[bytes, tuple[Vendor, ...], bool]] = {}

    def __call__(self, raw: bytes) -> tuple[bytes, tuple[Vendor, ...], bool]:
        """(host, its vendors, whether only paths of it are theirs) of a host as it follows
        "//" in CSS."""
        found = self._found.get(raw)
        if found is None:
            parts = split_url(b"//" + raw)
            host = parts[0] if parts is not None else b""
            vendors = tuple(self._index.host_vendors(host)) if host else ()
            found = (host, vendors, bool(vendors) and self._index.path_rules(host))
            if len(self._found) >= self._kept:
                self._found.clear()
            self._found[raw] = found
        return found


class CssGate:
    """The CSS rules of one HtmlRewriter: which URLs its visitor's choices block."""

    def __init__(
        self,
        index: VendorIndex,
        hosts: HostVendors,
        host: bytes | None,
        remove: bool,
        blocked: Callable[[Vendor], bool],
        tagged: Callable[[list[Attr]], tuple[bool, Decision | None]],
    ) -> None:
        self._index = index
        self._hosts = hosts
        self._host = host  # the site's own: never a vendor
        self._remove = remove
        self._blocked = blocked
        self._tagged = tagged

    def blocked_in(self, text: Buf, start: int, end: int) -> bool:
        """Whether text[start:end] may name a URL of a vendor this visitor has not granted."""
        host_of, own = self._hosts, self._host
        for raw in css.hosts(text, start, end):
            host, vendors, _ = host_of(raw)
            if vendors and host != own and self._blocked_on(text, start, end, raw) is not None:
                return True
        return False

    def _blocked_on(self, text: Buf, start: int, end: int, raw: bytes) -> Vendor | None:
        """A blocked vendor that text[start:end] may load from on the host ``raw`` (as
        ``css.hosts`` found it): any with a rule on it; when every rule there names a path,
        one whose path a URL on that host (read as long as it could be) starts with."""
        host, vendors, by_path = self._hosts(raw)
        if host == self._host:
            return None
        blocked = [v for v in vendors if self._blocked(v)]
        if not blocked or not by_path:
            return blocked[0] if blocked else None
        for url in css.urls_on(text, start, end, raw):
            parts = split_url(url)
            vendor = self._index.match_host(*parts, own_host=self._host) if parts else None
            if vendor is not None and self._blocked(vendor):
                return vendor
        return None

    def _vendor(self, url: bytes, malformed: bool) -> Vendor | None:
        """The blocked vendor a URL in CSS loads from, if any."""
        parts = split_url(url)
        if parts is not None:
            vendor = self._index.match_host(*parts, own_host=self._host)
            return vendor if vendor is not None and self._blocked(vendor) else None
        if malformed:
            # It loads nothing today, but a browser may read it otherwise: fail closed when it
            # names a blocked vendor's host anywhere.
            for raw in css.hosts(url, 0, len(url)):
                vendor = self._blocked_on(url, 0, len(url), raw)
                if vendor is not None:
                    return vendor
        return None

    def _spans(self, text: bytes) -> tuple[list[tuple[int, int]], list[Vendor]]:
        """Spans of the blocked URLs in a stylesheet, and their vendors."""
        spans: list[tuple[int, int]] = []
        vendors: list[Vendor] = []
        for start, end, url, malformed in css.url_tokens(text):
            vendor = self._vendor(url, malformed)
            if vendor is not None:
                spans.append((start, end))
                if vendor not in vendors:
                    vendors.append(vendor)
        return spans, vendors

    def consent(
        self,
        attrs: list[Attr],
        vendors: list[Vendor],
        carried: tuple[str, Vendor | None] | None = None,
    ) -> list[bytes] | None:
        """The ``data-consent`` attributes to add so the client restores the original (CSS, or
        event handlers) once its vendors are allowed; None when no single choice may restore it
        all (vendors of several categories, or an element already gated for something else)."""
        category = vendors[0].category
        if any(v.category != category for v in vendors):
            return None
        service = vendors[0].id if len(vendors) == 1 else None
        has_category: str | None
        if carried is not None:  # the element's own decision: _inert_tag adds its attributes
            has_category, has_service = carried[0], carried[1].id if carried[1] else None
        else:
            tag, svc = first(attrs, b"data-consent"), first(attrs, b"data-consent-service")
            has_category = tag.value.strip(WS).lower().decode("latin-1") if tag else None
            has_service = svc.value.strip(WS).decode("latin-1") if svc else None
        if has_category not in (None, category) or has_service not in (None, service):
            return None
        added = []
        if has_category is None:
            added.append(b' data-consent="' + attr_text(category) + b'"')
        if carried is None and has_service is None and service is not None:
            added.append(b' data-consent-service="' + attr_text(service) + b'"')
        return added

    def restyle(self, attrs: list[Attr]) -> Moved | None:
        """``style`` when it loads a blocked vendor's URL: the style with those URLs made inert,
        and the original for ``data-consent-style`` (see ``HtmlRewriter._extras``)."""
        attr = first(attrs, b"style")
        if attr is None or not attr.raw:
            return None
        value = attr.value
        refs = b"&" in value
        if not refs and b"//" not in value and b"\\" not in value:
            return None  # no absolute URL: nothing can be a vendor's
        text = (
            html.unescape(value.decode("latin-1")).encode("latin-1", "replace") if refs else value
        )
        if not self.blocked_in(text, 0, len(text)):
            return None
        resolved, anchors = resolve_references(value) if refs else (value, [])
        spans, vendors = self._spans(resolved)
        if not spans:
            return None
        if anchors:
            starts = [a[0] for a in anchors]
            spans = [
                (raw_offset(anchors, starts, a), raw_offset(anchors, starts, b)) for a, b in spans
            ]
        quote = attr.raw[:1] if attr.raw[:1] in (b'"', b"'") else b""
        inert = Attr(b"style", quote + css.replace_spans(value, spans) + quote, 0, 0)
        return Moved(
            {b"style"},
            [b" style=" + inert.quoted()],
            [b" data-consent-style=" + attr.quoted()],
            vendors,
        )

    def style_element(
        self, buf: Buf, name_end: int, start: int, content_end: int
    ) -> tuple[Moved, bytes] | None:
        """A ``<style>``'s content buf[start:content_end] (its start tag's name ends at
        name_end) with blocked vendors' URLs made inert, and the original for
        ``data-consent-css`` (see ``HtmlRewriter._extras``); None when nothing changes."""
        if content_end <= start or not self.blocked_in(buf, start, content_end):
            return None
        tagged, decision = self._tagged(parse_attrs(buf, name_end, start - 1))
        if tagged and decision is None:
            return None
        text = bytes(buf[start:content_end])
        spans, vendors = self._spans(text)
        if not spans:
            return None
        original = text.replace(b"&", b"&amp;").replace(b'"', b"&quot;")
        return (
            Moved(set(), [], [b' data-consent-css="' + original + b'"'], vendors),
            css.replace_spans(text, spans),
        )
