"""Speculation rules files (``application/speculationrules+json``, which a page names in its
``Speculation-Rules`` header): Chromium fetches the file and prefetches or prerenders what it
lists before anything on the page asks for it. Rules that name a blocked vendor's URL are
dropped for the visitor; the site's own stay. (Inline ``<script type="speculationrules">`` is
gated by the rewriter, as a script, with the same reading of document rules.)

Document rules (``"source": "document"``, or a ``where`` without ``urls``) make Chromium
prefetch the page's own links, so a footer link to a vendor's site would open a connection to
it. A document rule whose ``where`` can only match links on the page's own origin (every
``href_matches`` of it relative, such as WordPress's ``"/*"``) stays as it is; any other is
narrowed to ``{"and": [where, {"not": {"href_matches": [blocked vendors' hosts]}}]}`` (the
``exclusions``), or dropped when the caller has none to give.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

MEDIA_TYPE = "application/speculationrules+json"
#: A rules file bigger than this is not read: served as no rules (``{}``).
MAX_RULES = 256 * 1024


def without_blocked_rules(
    body: bytes, blocked: Callable[[bytes], bool], exclusions: Sequence[Any] | None = None
) -> bytes:
    """``body`` without the rules that name a URL (or a URL pattern) ``blocked`` refuses, and
    with document rules narrowed by ``exclusions`` (see the module's docstring); the same bytes
    when nothing changes; ``{}`` when it cannot be read: rules are only hints, and an unread
    one may name a tracker."""
    try:
        rules = json.loads(body) if len(body) <= MAX_RULES else None
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        rules = None
    if not isinstance(rules, dict):
        return b"{}"
    kept, changed = filter_rules(rules, blocked, exclusions)
    return dumps(kept) if changed else body


def filter_rules(
    rules: dict[str, Any],
    blocked: Callable[[bytes], bool],
    exclusions: Sequence[Any] | None,
    *,
    relative_safe: bool = True,
) -> tuple[dict[str, Any], bool]:
    """(the rules without those naming a blocked URL, document rules narrowed; whether any
    changed). ``relative_safe``: relative patterns match the page's own origin only (not so
    after a ``<base>`` on another host)."""
    changed = False
    kept: dict[str, Any] = {}
    for action, entries in rules.items():
        if isinstance(entries, list):
            left = []
            for rule in entries:
                if any(map(blocked, strings(rule))):
                    changed = True
                    continue
                narrowed = _narrowed(rule, exclusions, relative_safe)
                if narrowed is not rule:
                    changed = True
                    if narrowed is None:
                        continue
                left.append(narrowed)
            entries = left
        kept[action] = entries
    return kept, changed


def dumps(rules: Any) -> bytes:
    """Rules as JSON that is ASCII, and cannot end a script element ("<" escaped)."""
    return json.dumps(rules, separators=(",", ":")).replace("<", "\\u003c").encode("ascii")


def _narrowed(rule: Any, exclusions: Sequence[Any] | None, relative_safe: bool) -> Any:
    """A document rule that may match a link to another origin, narrowed by ``exclusions``
    (None: dropped); any other rule as it is."""
    if not isinstance(rule, dict) or "urls" in rule:
        return rule
    if rule.get("source", "document") != "document":
        return rule
    where = rule.get("where")
    if where is not None and _own_origin_only(where, relative_safe):
        return rule
    if not exclusions:
        return None
    guard = {"not": {"href_matches": list(exclusions)}}
    return {**rule, "where": guard if where is None else {"and": [where, guard]}}


def _own_origin_only(where: Any, relative_safe: bool) -> bool:
    """Whether a document rule's condition can only match links on the page's own origin."""
    if not isinstance(where, dict) or len(where) != 1:
        return False
    ((key, value),) = where.items()
    if key == "href_matches":
        patterns = value if isinstance(value, list) else [value]
        return bool(patterns) and all(_relative(p, relative_safe) for p in patterns)
    if key == "and" and isinstance(value, list):
        return any(_own_origin_only(c, relative_safe) for c in value)
    if key == "or" and isinstance(value, list):
        return bool(value) and all(_own_origin_only(c, relative_safe) for c in value)
    return False  # (not, selector_matches …: may match any link)


def _relative(pattern: Any, relative_safe: bool) -> bool:
    """Whether a URL pattern inherits the page's origin: a path (not "//host"), or a
    pattern object naming no protocol, host, port or base URL."""
    if not relative_safe:
        return False
    if isinstance(pattern, str):
        return pattern.startswith("/") and not pattern.startswith(("//", "/\\"))
    if isinstance(pattern, dict):
        return not {"protocol", "hostname", "port", "baseURL"} & set(pattern)
    return False


def exclusion_patterns(hosts: Sequence[bytes]) -> list[dict[str, str]]:
    """URL patterns (``href_matches`` objects) matching any URL on ``hosts`` or below them."""
    found: list[dict[str, str]] = []
    for host in hosts:
        name = host.decode("ascii", "replace")
        found.append({"protocol": "*", "hostname": name})
        found.append({"protocol": "*", "hostname": "*." + name})
    return found


def strings(value: Any) -> Iterator[bytes]:
    """Every string in a rule (its ``urls``, its ``href_matches`` patterns, nested or not)."""
    if isinstance(value, str):
        yield value.encode("utf-8", "replace")
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)


class RulesFilter:
    """A body stage: holds the rules file (small by nature) and gives it back filtered."""

    def __init__(
        self, blocked: Callable[[bytes], bool], exclusions: Sequence[Any] | None = None
    ) -> None:
        self.blocked = blocked
        self.exclusions = exclusions
        self.body = bytearray()

    def feed(self, chunk: bytes) -> bytes:
        if len(self.body) <= MAX_RULES:  # (past it, the whole file goes as no rules)
            self.body += chunk
        return b""

    def close(self) -> bytes:
        return without_blocked_rules(bytes(self.body), self.blocked, self.exclusions)
