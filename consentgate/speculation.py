"""Speculation rules files (``application/speculationrules+json``, which a page names in its
``Speculation-Rules`` header): Chromium fetches the file and prefetches or prerenders what it
lists before anything on the page asks for it. Rules that name a blocked vendor's URL are
dropped for the visitor; the site's own stay. (Inline ``<script type="speculationrules">`` is
gated by the rewriter, as a script.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

MEDIA_TYPE = "application/speculationrules+json"
#: A rules file bigger than this is not read: served as no rules (``{}``).
MAX_RULES = 256 * 1024


def without_blocked_rules(body: bytes, blocked: Callable[[bytes], bool]) -> bytes:
    """``body`` without the rules that name a URL (or a URL pattern) ``blocked`` refuses; the
    same bytes when none does; ``{}`` when it cannot be read: rules are only hints, and an
    unread one may name a tracker."""
    try:
        rules = json.loads(body) if len(body) <= MAX_RULES else None
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        rules = None
    if not isinstance(rules, dict):
        return b"{}"
    changed = False
    kept: dict[str, Any] = {}
    for action, entries in rules.items():
        if isinstance(entries, list):
            left = [r for r in entries if not any(map(blocked, _strings(r)))]
            changed |= len(left) != len(entries)
            entries = left
        kept[action] = entries
    return json.dumps(kept).encode() if changed else body


def _strings(value: Any) -> Iterator[bytes]:
    """Every string in a rule (its ``urls``, its ``href_matches`` patterns, nested or not)."""
    if isinstance(value, str):
        yield value.encode("utf-8", "replace")
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


class RulesFilter:
    """A body stage: holds the rules file (small by nature) and gives it back filtered."""

    def __init__(self, blocked: Callable[[bytes], bool]) -> None:
        self.blocked = blocked
        self.body = bytearray()

    def feed(self, chunk: bytes) -> bytes:
        if len(self.body) <= MAX_RULES:  # (past it, the whole file goes as no rules)
            self.body += chunk
        return b""

    def close(self) -> bytes:
        return without_blocked_rules(bytes(self.body), self.blocked)
