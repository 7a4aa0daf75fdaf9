"""How a gated element is rewritten: the inert start tag, what is moved aside, placeholders.

A gated element keeps every byte but the attributes that load (``elements.MOVED``): they move to
``data-consent-<name>`` with a ``data-consent``/``-service`` naming why, a script gets
``type="text/plain"``, an iframe is hidden behind a click-to-load placeholder. The client puts it
all back once the visitor allows. Event handlers, beacons, a refresh's ``content`` and CSS naming
a blocked vendor are moved aside the same way on any element (``extras``); a refresh is not put
back (see ``refresh.py``). What is gated is ``decisions.py``'s call.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Final, NamedTuple, Protocol

from ..policy import Vendor
from .cssgate import CssGate, Moved
from .decisions import (
    Context,
    Decision,
    Hits,
    blocked_beacons,
    blocked_code,
    blocked_refresh,
    tagged,
)
from .elements import MOVED, PLACEHOLDERS
from .markup import Attr, Buf, attr_text, first, rebuild


class Size(NamedTuple):
    """A frame's box as its attributes give it: ``width`` and ``height``, each a number of CSS
    pixels (``"560"``) or a percentage (``"100%"``) as a browser reads them, and ``border``:
    whether it has the browser's default 2px frame border (no ``frameborder="0"``)."""

    width: str
    height: str
    border: bool = True


#: What a browser makes of an iframe without width and height (and an SVG the same).
DEFAULT_SIZE: Final = Size("300", "150")


class Placeholder(Protocol):
    """Renders the click-to-load stand-in of a gated iframe: the vendor (None: the site tagged
    it), the category and the iframe's own size, which the stand-in keeps (see ``sizer``)."""

    def __call__(
        self, vendor: Vendor | None, category: str, size: Size = DEFAULT_SIZE
    ) -> bytes: ...


# The rules for parsing dimension values: leading spaces, digits, maybe a fraction and a "%".
_DIMENSION = re.compile(rb"[\t\n\f\r ]*([0-9]+)(?:\.[0-9]*)?(%?)")
#: A frame at most this big in either direction was never meant to be seen (a 1x1 beacon).
_TINY = 1
# Inline styles that hide an element, as tracking iframes write them.
_HIDDEN_STYLE = re.compile(
    rb"display\s*:\s*none|visibility\s*:\s*hidden|(?<![-\w])(?:width|height)\s*:\s*[01](?:px)?\s*(?:;|$|!)"
)


def dimension(attrs: list[Attr], name: bytes, default: str) -> str:
    """The attribute ``name`` as a browser sizes a frame by it: ``"560"`` for ``560px``,
    ``"100%"``; ``default`` when missing or not a dimension (no leading digit)."""
    attr = first(attrs, name)
    if attr is None:
        return default
    match = _DIMENSION.match(attr.value)
    if match is None:
        return default
    number = match.group(1).lstrip(b"0")[:6] or b"0"  # (a million pixels: large enough)
    return (number + match.group(2)).decode("ascii")


def frame_size(attrs: list[Attr]) -> Size:
    return Size(
        dimension(attrs, b"width", DEFAULT_SIZE.width),
        dimension(attrs, b"height", DEFAULT_SIZE.height),
        _bordered(first(attrs, b"frameborder"), first(attrs, b"style")),
    )


# An inline style that takes the frame's border away (the one style sheet seen here).
_NO_BORDER = re.compile(rb"(?<![-\w])border(?:-width|-style)?\s*:\s*(?:0|none|hidden)\b")


def _bordered(frameborder: Attr | None, style: Attr | None) -> bool:
    """Whether a frame has the browser's default 2px border: Chromium drops it for a
    ``frameborder`` that reads as the number 0 (``"0"``, ``"no"``, ``""``), and an inline
    ``border:0`` or ``border:none`` does."""
    if style is not None and _NO_BORDER.search(style.value.lower()) is not None:
        return False
    if frameborder is None:
        return True
    match = _DIMENSION.match(frameborder.value)
    return match is not None and int(match.group(1)) != 0


def unseen(attrs: list[Attr], size: Size) -> bool:
    """Whether a frame was never meant to be seen: ``hidden``, ``aria-hidden``, 0 or 1 pixel
    wide or high, or hidden by its inline style (``display:none``, ``visibility:hidden``, a
    width or height of 0 or 1px) — how ad exchanges' sync frames and analytics' beacons
    are written. (A stylesheet may hide a frame too: that is not known here.)"""
    if first(attrs, b"hidden") is not None:
        return True
    aria = first(attrs, b"aria-hidden")
    if aria is not None and aria.value.strip().lower() == b"true":
        return True
    if any(not v.endswith("%") and int(v) <= _TINY for v in (size.width, size.height)):
        return True
    style = first(attrs, b"style")
    return style is not None and _HIDDEN_STYLE.search(style.value.lower()) is not None


def placeholder_for(render: Placeholder, decision: Decision, attrs: list[Attr]) -> bytes:
    """The click-to-load stand-in of a gated iframe, or nothing: only content a visitor came to
    see — a vendor's embed (``Vendor.embed``: video, map, post) or an iframe the site tagged
    itself — that is meant to be seen gets one. An ad slot, an ad exchange's or an analytics
    frame, or any hidden or 1x1 frame is made inert silently: asking to "allow" what nobody
    would see only pushes the page down."""
    category, vendor = decision
    if vendor is not None and not vendor.embed:
        return b""
    size = frame_size(attrs)
    return b"" if unseen(attrs, size) else render(vendor, category, size)


def sizer(size: Size) -> str:
    """An empty inline SVG of the frame's size, the placeholder's first child: it gives the
    stand-in the box the frame will have (the stylesheet lays the text over it), so allowing
    it moves nothing. SVG, because its width and height attributes size it as an iframe's do
    (a missing one defaults to the same 300x150) and markup needs no inline style, which a
    strict CSP would block."""
    framed = " consentgate-framed" if size.border else ""
    # (A width in percent is of the frame's container: the placeholder takes the whole line, as
    # the stylesheet says, and the SVG that share of it.)
    fluid = " consentgate-fluid" if size.width.endswith("%") else ""
    # A viewBox gives it the frame's aspect ratio too: a site's `svg{height:auto}` then keeps
    # the proportions rather than falling back to 150px. (The attributes alone set its size.)
    ratio = (
        f' viewBox="0 0 {size.width} {size.height}"'
        if size.width.isdigit() and size.height.isdigit() and int(size.width) and int(size.height)
        else ""
    )
    return (
        f'<svg class="consentgate-sizer{framed}{fluid}" width="{size.width}" '
        f'height="{size.height}"{ratio} aria-hidden="true" focusable="false"></svg>'
    )


def default_placeholder(
    vendor: Vendor | None, category: str, size: Size = DEFAULT_SIZE, *, allowable: bool = True
) -> bytes:
    """A plain click-to-load placeholder (the middleware normally renders its own template),
    of the frame's ``size``.

    ``category`` is whatever the page wrote in ``data-consent`` (any text: it is escaped);
    ``allowable=False`` (a category the policy does not have, which nobody can grant) leaves
    out the button."""
    esc = html.escape
    if vendor is not None:
        name = esc(vendor.name)
        field = f'<input type="hidden" name="service" value="{esc(vendor.id)}">'
        service = f' data-consent-service="{esc(vendor.id)}"'
        privacy = (
            f' <a href="{esc(vendor.privacy_url)}" rel="noopener" target="_blank">'
            f"{name} privacy notice</a>"
            if vendor.privacy_url
            else ""
        )
    else:
        name = f"{esc(category)} content"
        field = f'<input type="hidden" name="category" value="{esc(category)}">'
        service = privacy = ""
    form = (
        (
            f'<form method="post" action="/consentgate/consent">'
            f'<input type="hidden" name="action" value="allow">{field}'
            f'<button type="submit">Allow {name}</button></form>'
        )
        if allowable
        else ""
    )
    text = (
        f'<div class="consentgate-placeholder" data-consent-placeholder="{esc(category)}"'
        f'{service}>{sizer(size)}<div class="consentgate-placeholder-body">'
        f"<p>This content is hosted by {name} and is blocked until you allow it."
        f"{privacy}</p>{form}</div></div>"
    )
    return text.encode("ascii", "xmlcharrefreplace")  # (never raises, whatever the text)


def inert_tag(
    buf: Buf,
    start: int,
    name_end: int,
    end: int,
    name: bytes,
    attrs: list[Attr],
    decision: Decision,
    remove: bool,
    drop: frozenset[bytes] = frozenset(),
    extra: Sequence[Buf] = (),
) -> bytes:
    """The start tag buf[start:end] of a gated element ``name``: its sources moved aside (in
    mode="remove", dropped), ``drop`` dropped, ``extra`` added, and why it is gated."""
    category, vendor = decision
    added: list[Buf] = list(extra)
    moved = MOVED[name]
    if name == b"script":
        added.append(b' type="text/plain"')
    for old, new in moved.items():
        attr = first(attrs, old)
        if attr is not None and attr.raw is not None and not remove:
            added.append(b" " + new + b"=" + attr.quoted())
    if first(attrs, b"data-consent") is None:
        added.append(b' data-consent="' + attr_text(category) + b'"')
    if vendor is not None and first(attrs, b"data-consent-service") is None:
        added.append(b' data-consent-service="' + attr_text(vendor.id) + b'"')
    if name in PLACEHOLDERS:
        added.append(b" data-consent-hidden hidden")
    return rebuild(buf, start, name_end, end, attrs, drop | frozenset(moved), added)


def moved(hits: Hits) -> Moved | None:
    """Attributes dropped whole (each with its blocked vendors), kept as data-consent-<name>."""
    if not hits:
        return None
    # (An SVG xlink:href as data-consent-xlink-href, as the client knows it.)
    return Moved(
        {attr.name for attr, _ in hits},
        [],
        [
            b" data-consent-" + attr.name.replace(b":", b"-") + b"=" + attr.quoted()
            for attr, _ in hits
        ],
        [v for _, hit in hits for v in hit],
    )


def extras(
    ctx: Context,
    css_gate: CssGate,
    remove: bool,
    attrs: list[Attr],
    decision: Decision | None,
    srcdoc: bytes | None,
    styled: bool,
    handled: bool,
    beacons: int = 0,
    css_moved: Moved | None = None,
    runs: frozenset[bytes] = frozenset(),
) -> tuple[frozenset[bytes], list[bytes]]:
    """The attributes to drop from a start tag, and those to add, besides its own sources:
    a rewritten srcdoc, a style made inert, event handlers and (with ``beacons``, the tag's
    flags) ``ping``/``background`` URLs and a refresh's ``content`` moved out of the way, and a
    ``<style>``'s original CSS (``css_moved``). ``runs``: the attributes in which this element
    runs a ``javascript:`` URL.

    The originals go into ``data-consent-<name>`` for the client to put back, under one
    ``data-consent`` for them all: with vendors of several categories, an element gated for
    something else, or in mode="remove", nothing could restore them, and they are dropped.
    """
    drop: set[bytes] = set()
    added: list[bytes] = []
    if srcdoc is not None:
        drop.add(b"srcdoc")
        added.append(srcdoc)
    styles = (
        css_moved,
        css_gate.restyle(attrs) if styled else None,
        moved(blocked_code(ctx, attrs, runs)) if handled else None,
    )
    refresh = moved(blocked_refresh(ctx, attrs, beacons)) if beacons else None
    # An element gated for any of these waits whole, as the site's tag would make it wait when
    # read again: its own pings and backgrounds too.
    gated = decision is not None or any(one.vendors for one in (*styles, refresh) if one)
    beacon = moved(blocked_beacons(ctx, attrs, beacons, gated)) if beacons else None
    found = [one for one in (*styles, beacon, refresh) if one is not None]
    if not found:
        return frozenset(drop), added
    if decision is None:
        is_tagged, own = tagged(ctx, attrs)
        if is_tagged and own is None:
            return frozenset(drop), added  # the site's own tag, granted
    originals: list[bytes] = []
    vendors: list[Vendor] = []
    for one in found:
        drop |= one.names
        added += one.replaced
        originals += one.originals
        vendors += [v for v in one.vendors if v not in vendors]
    if not remove:
        # (No vendor: only URLs of an element the site tagged, which its tag restores.)
        consent = css_gate.consent(attrs, vendors, decision) if vendors else []
        if consent is not None:
            added += originals + consent
    return frozenset(drop), added
