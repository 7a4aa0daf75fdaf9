"""What the Open Cookie Database knows about a cookie: ``lookup("_hjSessionUser_123")``.

The data (``_data.py``) is generated from the database's CSV by ``python -m
consentgate.cookiedb.build PATH.csv``; it holds facts only: name or prefix pattern, platform,
the database's category, domain, retention, controller and privacy link. Licence: Apache-2.0
(``LICENSE`` and ``NOTICE`` beside this file, carried in the wheel).

Exact names are found in a dict, prefix patterns in one table per prefix length (a cookie name
costs one slice and one dict lookup per distinct length, longest first): both built once, at
import. Where a name is listed twice, the most restrictive category wins (Marketing, then
Analytics, Personalization, Functional, Security, Necessary): privacy fails closed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: The database's categories and consentgate's: those mapped to None are not gated by default
#: (they hold the session, CSRF and load-balancer cookies sites need), but are declared.
DEFAULT_CATEGORIES: Mapping[str, str | None] = MappingProxyType(
    {
        "Analytics": "analytical",
        "Marketing": "marketing",
        "Personalization": "preference",
        "Functional": None,
        "Security": None,
        "Necessary": None,
    }
)
#: Ordinary words the database lists as a tracker's cookie on the tracker's own domain
#: ("token": Adform's, "locale": Facebook's, "sessionid": Instagram's). A site that sets one on
#: its own domain names its own cookie: see :attr:`KnownCookie.shared`.
SHARED_WORDS = frozenset(
    {
        "audience",
        "audit",
        "callback",
        "hash",
        "locale",
        "optout",
        "sessionid",
        "sync",
        "token",
        "uuid",
        "version",
        "viewer",
        "visitor",
    }
)
#: Names (and prefix patterns) this short are shared by too many sites' own cookies ("s", "id",
#: "uid", the prefix "_s" of "_session") to gate on the database's word.
SHARED_LENGTH = 3
SOURCE = "Open Cookie Database (https://github.com/jkwakman/Open-Cookie-Database), Apache-2.0"


@dataclass(frozen=True, slots=True)
class KnownCookie:
    """One entry of the database. ``prefix``: ``name`` is a pattern every cookie starting with it
    matches (``_hjSessionUser_`` for ``_hjSessionUser_123``). ``ocd_category`` is the database's
    category; ``category`` consentgate's by :data:`DEFAULT_CATEGORIES` (None: not gated by
    default). ``domain`` is where the database says it is set ("" for the site's own domain);
    ``retention`` its lifetime as the database words it."""

    name: str
    prefix: bool
    platform: str
    ocd_category: str
    category: str | None
    domain: str
    retention: str
    controller: str
    privacy_url: str

    @property
    def shared(self) -> bool:
        """A name sites use for cookies of their own: at most :data:`SHARED_LENGTH` characters,
        or one of :data:`SHARED_WORDS`. The database's word alone does not gate it (the site's
        own "token" or "locale" would be dropped); a site or vendor declaration still does."""
        return len(self.name) <= SHARED_LENGTH or self.name.lower() in SHARED_WORDS

    @property
    def third_party(self) -> bool:
        """Set on a domain of its own (the vendor's), not on the site's."""
        return bool(self.domain)


@functools.cache
def _entries() -> tuple[KnownCookie, ...]:
    # (Read on first use, not at import: the build script, which writes _data.py, is in this
    # package and must run when _data.py is missing or stale.)
    from . import _data

    return tuple(
        KnownCookie(
            name,
            bool(prefix),
            _data.PLATFORMS[platform],
            _data.CATEGORIES[category],
            DEFAULT_CATEGORIES[_data.CATEGORIES[category]],
            _data.DOMAINS[domain],
            _data.RETENTIONS[retention],
            _data.CONTROLLERS[controller],
            _data.PRIVACY_URLS[url],
        )
        for name, prefix, platform, category, domain, retention, controller, url in _data.COOKIES
    )


class PrefixTable:
    """Prefix patterns as one dict per length: ``find(name)`` slices ``name`` once per distinct
    length no longer than it, longest first, instead of trying every pattern."""

    __slots__ = ("_by_size", "_longest")

    def __init__(self, patterns: Mapping[str, object]) -> None:
        tables: dict[int, dict[str, object]] = {}
        for pattern, value in patterns.items():
            tables.setdefault(len(pattern), {})[pattern] = value
        ordered = [(n, tables[n]) for n in sorted(tables, reverse=True)]
        self._longest = max(tables, default=0)
        # For each name length, only the tables of patterns that fit in it: a short name (most
        # are) costs a few probes, not one per length the patterns have.
        self._by_size = [
            tuple((n, t) for n, t in ordered if n <= size) for size in range(self._longest + 1)
        ]

    def find(self, name: str) -> object | None:
        """The value of the longest pattern ``name`` starts with; None when none does."""
        for length, table in self._by_size[min(len(name), self._longest)]:
            found = table.get(name[:length])
            if found is not None:
                return found
        return None


@functools.cache
def _index() -> tuple[dict[str, KnownCookie], dict[str, KnownCookie], PrefixTable]:
    exact: dict[str, KnownCookie] = {}
    prefixes: dict[str, KnownCookie] = {}
    for entry in _entries():  # (sorted: the first of a name is its most restrictive row)
        (prefixes if entry.prefix else exact).setdefault(entry.name, entry)
    return exact, prefixes, PrefixTable(prefixes)


def lookup(name: str) -> KnownCookie | None:
    """The database's entry for the cookie ``name``: its exact name, else the longest prefix
    pattern it starts with; None for a cookie the database does not know."""
    exact, _, table = _index()
    found = exact.get(name)
    if found is not None:
        return found
    match = table.find(name)
    return match if isinstance(match, KnownCookie) else None


def patterns() -> tuple[Mapping[str, KnownCookie], Mapping[str, KnownCookie]]:
    """The exact names and the prefix patterns, one entry each (its most restrictive row), for
    indexes of their own (the policy merges them under the registry's and the site's)."""
    exact, prefixes, _ = _index()
    return MappingProxyType(exact), MappingProxyType(prefixes)


def entries() -> Iterator[KnownCookie]:
    """Every entry, sorted by name (a name listed twice comes once per row)."""
    return iter(_entries())


__all__ = [
    "DEFAULT_CATEGORIES",
    "SHARED_LENGTH",
    "SHARED_WORDS",
    "SOURCE",
    "KnownCookie",
    "PrefixTable",
    "entries",
    "lookup",
    "patterns",
]
