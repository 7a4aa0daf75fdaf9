"""What to gate for one response: pure functions of an element's parsed attributes.

``Context`` holds what a response's decisions depend on (the categories and services the visitor
granted, the site's own host, the policy's vendor lookups); everything here is a function of it
and of the attributes ``markup.parse_attrs`` read, so each rule can be tested without streaming a
page. How a gated element is then rewritten is ``edits.py``'s business; where elements are in a
stream, ``tokenizer.py``'s.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes

from ..gate import (
    C0_SPACE,
    HINT_RELS,
    TAB_NEWLINE,
    TAG_SIG,
    TAG_URL,
    VendorIndex,
    decode_attr,
    resolve_url,
)
from ..policy import Vendor
from ..refresh import refresh_urls
from .elements import LINK_RELS, SCRIPT_SOURCES, SOURCES
from .markup import WS, Attr, first

Decision = tuple[str, Vendor | None]  # (category, vendor): the element is gated for them
Hits = list[tuple[Attr, list[Vendor]]]  # attributes, each with the blocked vendors it names


@dataclass(frozen=True, slots=True)
class Context:
    """What one response's decisions depend on."""

    granted: frozenset[str]  # categories the visitor granted (the required ones included)
    services: frozenset[str]  # vendors (ids) granted one by one
    host: bytes | None  # the request's host: URLs on it never count as a vendor's
    index: VendorIndex
    vendors: Mapping[str, Vendor]  # the policy's vendors by id
    # The base URL a <base href> on another host set (relative URLs resolve against it).
    base: str | None = None


def lookup(ctx: Context, value: bytes) -> tuple[bool, Vendor | None]:
    """``VendorIndex.lookup_url`` of an attribute's raw URL, resolved against the document's
    base URL when a ``<base href>`` names another host: (covered by a rule, its vendor)."""
    found = ctx.index.lookup_url(value, ctx.host)
    if ctx.base is None or found[0]:
        return found
    resolved = resolve_url(value, ctx.base)
    return found if resolved is None else ctx.index.lookup_url(resolved, ctx.host)


# Attributes other than sources that are moved aside with a data-consent of their own (besides
# event handlers, data-consent-on…).
MOVED_ATTRS: Final = frozenset(
    (
        b"data-consent-style",
        b"data-consent-ping",
        b"data-consent-background",
        b"data-consent-attributionsrc",
    )
)
# Beacons: attributes whose URLs are requested besides the element's own loads (a ping on each
# click of a link; a legacy background image; Attribution Reporting's attributionsrc, a
# background request as an image or script loads or a link is clicked).
BEACONS: Final = (b"ping", b"background", b"attributionsrc")
# SVG animation elements load what they set when they animate an href.
ANIMATES: Final = frozenset((b"set", b"animate"))
_HREFS: Final = frozenset((b"href", b"xlink:href"))
# What a <link> loads: the hints, icons, the manifest, compression dictionaries (elements.py).
LINK_LOADS: Final = HINT_RELS | frozenset(r.encode() for r in LINK_RELS)
JS_TYPES: Final = frozenset(
    t.encode()
    for t in (
        "",
        "module",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    )
)
SCRIPT_URL_ATTRS: Final = frozenset(
    (b"href", b"src", b"action", b"formaction", b"data", b"xlink:href")
)


def blocked(ctx: Context, vendor: Vendor) -> bool:
    """Whether the visitor granted the vendor neither by category nor one by one."""
    return vendor.category not in ctx.granted and vendor.id not in ctx.services


def blocked_url(ctx: Context, url: bytes) -> bool:
    """Whether a URL (resolved against the document's base) is a vendor's the visitor has not
    granted."""
    vendor = lookup(ctx, url)[1]
    return vendor is not None and blocked(ctx, vendor)


def all_granted(ctx: Context) -> bool:
    """Whether this visitor granted every vendor of the policy (by category or one by one)."""
    return not any(blocked(ctx, v) for v in ctx.vendors.values())


def tagged(ctx: Context, attrs: list[Attr]) -> tuple[bool, Decision | None]:
    """(tagged, decision) for a ``data-consent`` element: a site's own tag is final."""
    tag = first(attrs, b"data-consent")
    if tag is None:
        return False, None
    category = tag.value.strip(WS).lower().decode("latin-1")
    service = first(attrs, b"data-consent-service")
    vendor = (
        ctx.vendors.get(service.value.strip(WS).decode("latin-1")) if service is not None else None
    )
    if category in ctx.granted or (vendor is not None and vendor.id in ctx.services):
        return True, None
    return True, (category, vendor)


def site_tag(ctx: Context, attrs: list[Attr]) -> tuple[bool, Decision | None]:
    """``tagged`` for an element's own sources. With attributes moved aside, the data-consent
    is ours, for them: the element is judged as if untagged, so that rewriting the output
    changes nothing."""
    is_tagged, decision = tagged(ctx, attrs)
    if is_tagged and any(
        a.name in MOVED_ATTRS or a.name.startswith(b"data-consent-on") for a in attrs
    ):
        return False, None
    return is_tagged, decision


def attr_vendors(ctx: Context, attr: Attr, flags: int) -> Iterator[Vendor]:
    """The vendors an attribute's URLs point at: one URL, or a list (``srcset``, by commas;
    ``ping``, by spaces). ``flags``: the tag's ``VendorIndex.tag_flags``."""
    if attr.name.endswith(b"srcset"):
        urls = [c.strip(WS).split(None, 1)[0] for c in attr.value.split(b",") if c.strip(WS)]
    elif attr.name == b"ping" or attr.name == b"attributionsrc":
        urls = attr.value.split()
    elif attr.name == b"values":  # (an SVG animation's, separated by semicolons)
        urls = attr.value.split(b";")
    else:
        urls = [attr.value]
    index = ctx.index
    for url in urls:
        covered, vendor = lookup(ctx, url) if flags & TAG_URL else (False, None)
        if vendor is not None:
            yield vendor
        # A self-hosted tracker endpoint (matomo.php …) is known by a signature alone.
        elif not covered and flags & TAG_SIG:
            yield from index.match_code(decode_attr(url), js=False)[:1]


def url_vendor(
    ctx: Context, attrs: list[Attr], names: tuple[bytes, ...], flags: int
) -> Vendor | None:
    """The first vendor the URLs of the attributes ``names`` (in that order) point at."""
    for name in names:
        attr = first(attrs, name)
        if attr is not None and attr.raw:
            for vendor in attr_vendors(ctx, attr, flags):
                return vendor
    return None


def script_type(attrs: list[Attr]) -> bytes:
    """A script's type, lowercased, without parameters ("" when it has none)."""
    kind = first(attrs, b"type")
    return kind.value.split(b";", 1)[0].strip(WS).lower() if kind else b""


def cut_inline(attrs: list[Attr]) -> bool:
    """Whether a script runs inline code of its own: of a type that runs, loading no source,
    not tagged by the site (whose ``data-consent`` decides)."""
    return (
        script_type(attrs) in JS_TYPES
        and first(attrs, b"data-consent") is None
        and not any(first(attrs, name) for name in SCRIPT_SOURCES)
    )


def decide_script(
    ctx: Context, attrs: list[Attr], code_vendors: list[Vendor], flags: int
) -> Decision | None:
    """(category, vendor) when a script must be gated: by the site's tag, its source's vendor,
    or a vendor its code (or loader attributes: ``code_vendors``) is a snippet of."""
    js_type = script_type(attrs)
    if js_type not in JS_TYPES and js_type != b"speculationrules":
        return None  # already inert (text/plain, JSON, templates …)
    is_tagged, decision = site_tag(ctx, attrs)
    if is_tagged:
        return decision
    for source in SCRIPT_SOURCES if flags & TAG_URL else ():
        src = first(attrs, source)
        if src is None:
            continue
        covered, vendor = lookup(ctx, src.value)
        if vendor is not None:
            return (vendor.category, vendor) if blocked(ctx, vendor) else None
        if covered:
            return None  # allow-listed, or the site's own host
        break  # (a browser loads the first it knows of: src, href in SVG)
    for vendor in code_vendors:
        if blocked(ctx, vendor):
            return vendor.category, vendor
    return None


def decide(
    ctx: Context, name: bytes, attrs: list[Attr], code_vendors: list[Vendor], flags: int
) -> Decision | None:
    """(category, vendor) when the element ``name`` must be gated for this visitor."""
    if name == b"script":
        return decide_script(ctx, attrs, code_vendors, flags)
    if name == b"link":
        rel = first(attrs, b"rel")
        if rel is None or not LINK_LOADS.intersection(rel.value.lower().split()):
            return None
    elif name in ANIMATES:
        target = first(attrs, b"attributename")
        if target is None or _text(target).strip(WS).lower() not in _HREFS:
            return None  # (it animates something else: its values are no URLs)
    names = SOURCES[name]
    if not any(a.name in names for a in attrs):
        return None  # nothing to load (already inert, or empty)
    is_tagged, decision = site_tag(ctx, attrs)
    if is_tagged:
        return decision
    vendor = url_vendor(ctx, attrs, names, flags)
    if vendor is not None and blocked(ctx, vendor):
        return vendor.category, vendor
    return None


def code(attr: Attr, runs: frozenset[bytes] = SCRIPT_URL_ATTRS) -> bytes | None:
    """The code an attribute runs: an event handler's, or a ``javascript:`` URL's as the URL
    parser reads it (tabs and newlines dropped, percent-escapes decoded) when the attribute is
    one of ``runs``, those in which the element runs such a URL; None for others."""
    if not attr.name.startswith(b"on") and attr.name not in runs:
        return None
    value = attr.value
    if value.find(b"&") >= 0:  # (all of them: "?" starts no query in code)
        value = html.unescape(value.decode("latin-1")).encode("latin-1", "replace")
    if attr.name.startswith(b"on"):
        return value
    url = TAB_NEWLINE.sub(b"", value).lstrip(C0_SPACE)
    if url[:11].lower() != b"javascript:":
        return None
    return unquote_to_bytes(url[11:])


def blocked_code(ctx: Context, attrs: list[Attr], runs: frozenset[bytes] = frozenset()) -> Hits:
    """Event handlers (``on*``) and ``javascript:`` URLs holding a blocked vendor's snippet,
    or loading from its URL (``new Image().src='https://…/tr?…'``: a beacon of its own). Only
    the attributes ``runs`` names are read for such URLs: the element's own (an ``<object>``
    runs its ``data``, never an ``action``)."""
    index, hits = ctx.index, []
    for attr in attrs:
        found_code = code(attr, runs) if attr.raw else None
        if found_code is not None:
            found = index.match_code(found_code)
            lowered = found_code.lower()
            if index.find_needles(lowered):
                found += index.code_url_vendors(lowered)
            hit = [v for v in found if blocked(ctx, v)]
            if hit:
                hits.append((attr, hit))
    return hits


def blocked_beacons(ctx: Context, attrs: list[Attr], flags: int, gated: bool = False) -> Hits:
    """``ping`` (sent on every click of a link), legacy ``background`` (an image) and
    ``attributionsrc`` URLs of a blocked vendor, and any of them on an element the site tagged
    with a category not granted, or that is gated (``gated``, or by one of them): its
    data-consent then restores them with the rest, as it would if read again, tagged."""
    is_tagged, own = tagged(ctx, attrs)
    hits = [
        (attr, [v for v in attr_vendors(ctx, attr, flags) if blocked(ctx, v)])
        for attr in attrs
        if attr.name in BEACONS and attr.raw
    ]
    # (One of a blocked vendor gates the element: all of them wait with it.)
    return hits if gated or (is_tagged and own is not None) or any(h for _, h in hits) else []


def _text(attr: Attr) -> bytes:
    """An attribute's value as the browser reads it (character references resolved)."""
    value = attr.value
    if value.find(b"&") < 0:
        return value
    return html.unescape(value.decode("latin-1")).encode("latin-1", "replace")


def blocked_refresh(ctx: Context, attrs: list[Attr], flags: int) -> Hits:
    """A refresh's ``content`` (``<meta http-equiv="refresh" content="0;url=…">``: the browser
    goes there as the page loads) when its URL is a blocked vendor's, or whatever its URL on an
    element the site tagged with a category not granted. ``flags``: the tag's. (Only a
    ``<meta>`` acts on the pair; on any other element, moving it aside changes nothing.)"""
    kind, content = first(attrs, b"http-equiv"), first(attrs, b"content")
    if kind is None or content is None or not content.raw:
        return []
    if _text(kind).strip(WS).lower() != b"refresh":
        return []
    hit: list[Vendor] = []
    for url in refresh_urls(_text(content)) if flags & TAG_URL else ():
        vendor = lookup(ctx, url)[1]
        if vendor is not None and blocked(ctx, vendor) and vendor not in hit:
            hit.append(vendor)
    is_tagged, own = tagged(ctx, attrs)
    return [(content, hit)] if hit or (is_tagged and own is not None) else []
