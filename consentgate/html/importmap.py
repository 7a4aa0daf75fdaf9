"""Import maps (``<script type="importmap">``): entries that map a module specifier, or a scope,
to a blocked vendor's URL are dropped; the site's own stay. A browser fetches a mapped URL as
soon as a module imports the specifier, and a map cannot be changed once modules load, so the
entries are not kept for later: a visitor who allows the vendor gets them with the next page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

#: What ``filtered`` returns for a map that is not JSON a browser reads (which then maps
#: nothing): the caller decides whether naming a vendor makes it inert as a whole.
UNREADABLE: Final = b""
_SECTIONS: Final = ("imports", "integrity")


def filtered(content: bytes, blocked: Callable[[bytes], bool]) -> bytes | None:
    """The map ``content`` without the entries whose URL (or scope, or integrity key)
    ``blocked`` refuses, as JSON that cannot end the script element; None when nothing is
    dropped (the bytes stay as they are); ``UNREADABLE`` when it is not a JSON object."""
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        return UNREADABLE
    if not isinstance(value, dict):
        return UNREADABLE
    changed = False
    kept: dict[str, Any] = {}
    for section, entries in value.items():
        if section in _SECTIONS and isinstance(entries, dict):
            left = _entries(entries, blocked, keys=section == "integrity")
            changed |= len(left) != len(entries)
            entries = left
        elif section == "scopes" and isinstance(entries, dict):
            scopes: dict[str, Any] = {}
            for scope, mapping in entries.items():
                if _blocked(scope, blocked):
                    changed = True
                    continue
                if isinstance(mapping, dict):
                    left = _entries(mapping, blocked)
                    changed |= len(left) != len(mapping)
                    mapping = left
                scopes[scope] = mapping
            entries = scopes
        kept[section] = entries
    if not changed:
        return None
    # (ASCII, and "<" escaped: no "</script" or "<!--" can end or change the script's data.)
    return json.dumps(kept).replace("<", "\\u003c").encode("ascii")


def _blocked(url: object, blocked: Callable[[bytes], bool]) -> bool:
    return isinstance(url, str) and blocked(url.encode("utf-8", "surrogatepass"))


def _entries(
    entries: dict[str, Any], blocked: Callable[[bytes], bool], keys: bool = False
) -> dict[str, Any]:
    """Entries whose value (with ``keys``, whose key) is no blocked vendor's URL. (A specifier
    that is a vendor's URL, mapped to the site's copy, keeps the browser off the vendor: kept.)"""
    if keys:
        return {k: v for k, v in entries.items() if not _blocked(k, blocked)}
    return {k: v for k, v in entries.items() if not _blocked(v, blocked)}


__all__ = ["UNREADABLE", "filtered"]
