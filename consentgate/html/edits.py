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
from collections.abc import Callable, Sequence

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

#: Renders the click-to-load stand-in of a gated iframe: (vendor or None, category) -> markup.
Placeholder = Callable[[Vendor | None, str], bytes]


def default_placeholder(vendor: Vendor | None, category: str, *, allowable: bool = True) -> bytes:
    """A plain click-to-load placeholder (the middleware normally renders its own template).

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
        f"{service}><p>This content is hosted by {name} and is blocked until you allow it."
        f"{privacy}</p>{form}</div>"
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
    found = [
        one
        for one in (
            css_moved,
            css_gate.restyle(attrs) if styled else None,
            moved(blocked_code(ctx, attrs, runs)) if handled else None,
            moved(blocked_beacons(ctx, attrs, beacons)) if beacons else None,
            moved(blocked_refresh(ctx, attrs, beacons)) if beacons else None,
        )
        if one is not None
    ]
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
