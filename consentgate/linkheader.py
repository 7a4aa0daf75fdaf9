"""``Link`` response headers: resource hints to a blocked vendor are dropped, as the rewriter makes
``<link rel=preconnect|preload …>`` elements inert. A ``Link: <https://www.googletagmanager.com>;
rel=preconnect`` reaches the browser before the page does, and it acts on it at once.

Read as RFC 8288 writes it: comma-separated link-values ``<URI>`` with ``;``-separated params,
a param value a token or a quoted string (which may hold commas and semicolons).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .gate import HINT_RELS

_LINK_VALUE = re.compile(
    rb'[ \t]*<([^>]*)>((?:[ \t]*;[ \t]*[^ \t;,="]+[ \t]*'
    rb'(?:=[ \t]*(?:"(?:[^"\\]|\\.)*"|[^ \t;,"]*))?)*)[ \t]*(?:,|$)'
)
_REL = re.compile(rb';[ \t]*rel[ \t]*=[ \t]*(?:"([^"]*)"|([^ \t;,"]*))', re.IGNORECASE)


def without_blocked_hints(value: bytes, blocked: Callable[[bytes], bool]) -> bytes | None:
    """``value`` without the link-values that hint at a URL ``blocked`` refuses (the same value
    when none does); None when nothing is left, or when the value cannot be read: these are
    hints, so dropping one costs the page no content, and an unread one may name a tracker."""
    kept: list[bytes] = []
    changed = False
    pos = 0
    while pos < len(value):
        link = _LINK_VALUE.match(value, pos)
        if link is None or link.end() == pos:
            return None
        pos = link.end()
        rel = _REL.search(link.group(2))  # (the first rel counts, RFC 8288 §3.3)
        rels = (rel.group(1) or rel.group(2) or b"").lower().split() if rel is not None else []
        if HINT_RELS.intersection(rels) and blocked(link.group(1).strip()):
            changed = True
        else:
            kept.append(link.group().strip(b" \t,"))
    if not changed:
        return value
    return b", ".join(kept) or None
