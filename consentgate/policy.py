"""The consent policy as plain data: categories, vendors (services) and the policy itself.

Nothing here does any work at request time; the middleware validates a ``Policy`` once at start-up
and the other modules read it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from . import cookiedb
from .cookiedb import PrefixTable

NECESSARY = "necessary"

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_TAG_ID = re.compile(r"^[A-Za-z]{1,4}-$")


def check_link(option: str, url: str) -> str:
    """``url`` when it is safe to render as a link for visitors: ``http(s)://host…`` or a path
    on this site. Anything else (``javascript:``, ``data:``, ``//other.host``, a value with
    characters a URL parser strips or drops, which could hide a scheme) is a ValueError naming
    ``option``: configuration is read once, so a bad link fails at start-up."""
    plain = not any(ord(ch) <= 32 or ch in '<>"\\' for ch in url)
    lowered = url.lower()
    if plain and lowered.startswith(("http://", "https://")):
        try:
            host = urlsplit(url).hostname
        except ValueError:  # (an unbalanced "[" in the host)
            host = None
        if host:
            return url
    elif plain and url.startswith("/") and not url.startswith("//"):
        return url
    raise ValueError(
        f"{option} must be an http(s):// URL or a path on this site starting with a single '/' "
        f"(no spaces, control characters, quotes or backslashes), not {url!r}"
    )


Mode = Literal["inert", "remove"]


class CookieRule(NamedTuple):
    """Whom a cookie name belongs to: its category and service (a vendor id, or None), and
    where that was learnt: ``"site"`` (``Policy.cookies``), ``"vendor"`` (the registry or the
    site's vendors) or ``"database"`` (the Open Cookie Database)."""

    category: str
    service: str | None
    source: str


#: A cookie declared in a required category: known, and never gated. (False, not None, so that
#: a longer pattern of this kind stops the lookup before a shorter, gated one.)
_UNGATED: Literal[False] = False
_UNSEEN = object()
#: Cookie names whose prefix lookup is kept (emptied when full: the names the browser sends
#: on withdrawal are the visitor's to choose).
_MEMO = 4096
_MEMO_NAME = 128
_Found = CookieRule | Literal[False]


@dataclass(frozen=True, slots=True)
class Category:
    """A purpose a visitor can consent to. ``required`` categories are always granted."""

    name: str
    title: str
    description: str
    required: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"category name {self.name!r} must be 1-32 lowercase letters, digits, '-' or '_', "
                "starting with a letter"
            )


@dataclass(frozen=True, slots=True)
class Vendor:
    """A third-party service inside a category (Google Analytics, YouTube, Meta Pixel ...).

    ``urls`` are patterns ``host-suffix[/path-prefix]``: ``"google-analytics.com"`` matches any
    URL on that host or its subdomains, ``"facebook.com/tr"`` only that path on facebook.com.
    ``inline`` are substrings that identify the vendor's inline snippet. ``cookies`` are the
    cookie names the vendor sets; a trailing ``*`` makes a prefix (``"_ga_*"``). ``embed``: the
    vendor serves content a visitor comes to see (a video, a map, a post), so its gated iframes
    get a click-to-load placeholder; other vendors' iframes (ad slots, sync and analytics
    frames) are made inert without one. ``tag_ids``: the prefixes of the Google tag (gtag.js)
    IDs that name this product (``"AW-"`` for Google Ads): a gtag.js loader (``id=AW-…``) or
    inline config (``gtag('config', 'AW-…')``) found as another such vendor's (Google Analytics,
    whose URL and calls they share) is this vendor's when it names only its IDs.
    """

    id: str
    name: str
    category: str
    privacy_url: str = ""
    urls: tuple[str, ...] = ()
    inline: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    embed: bool = False
    tag_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for prefix in self.tag_ids:
            if not _TAG_ID.match(prefix):
                raise ValueError(
                    f"Vendor({self.id!r}).tag_ids: {prefix!r} must be 1-4 letters and '-', "
                    "as Google tag IDs start ('AW-', 'G-')"
                )
        if not _NAME.match(self.id):
            raise ValueError(
                f"vendor id {self.id!r} must be 1-32 lowercase letters, digits, '-' or '_', "
                "starting with a letter"
            )
        if self.privacy_url:  # (empty: the vendor has no notice to link)
            check_link(f"Vendor({self.id!r}).privacy_url", self.privacy_url)


@dataclass(frozen=True, slots=True)
class CookieFacts:
    """What a vendor documents of one of its cookies, for the cookie declaration: its purpose
    (a kind our texts word: ``visitor_id``, ``session``, ``throttle``, ``campaign``; "" for
    the purpose of the vendor's category), its
    lifetime as documented (``"2 years"``, ``"session"``) and the page that says so."""

    purpose: str
    lifetime: str
    source: str


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(
        NECESSARY,
        "Strictly necessary",
        "Needed for the site to work: security, your session and remembering this choice. "
        "These cannot be switched off.",
        required=True,
    ),
    Category(
        "analytical",
        "Analytics",
        "Help us understand how visitors use the site by collecting and reporting information "
        "anonymously.",
    ),
    Category(
        "preference",
        "Preferences",
        "Remember choices you make, such as language or theme, to give you a more personal site.",
    ),
    Category(
        "marketing",
        "Marketing",
        "Used by advertising partners to show you relevant ads and measure their effectiveness, "
        "possibly across other sites.",
    ),
)


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything a visitor is asked about, validated once at start-up.

    Sequences may be given as lists and ``cookies`` as a dict (``{"theme": "preference"}``):
    they are kept as tuples.
    """

    categories: Sequence[Category] = DEFAULT_CATEGORIES
    vendors: Sequence[Vendor] = ()
    revision: str = "1"
    #: URL patterns (same form as ``Vendor.urls``) the site declares necessary: never gated.
    allow: Sequence[str] = ()
    #: Cookie names (trailing ``*`` = prefix) the site itself sets, and their categories.
    cookies: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    mode: Mode = "inert"
    privacy_policy_url: str = "/privacy"
    #: Changes to how the Open Cookie Database's categories gate (``{"Functional":
    #: "preference"}``; None: not gated), over :data:`cookiedb.DEFAULT_CATEGORIES`; kept as the
    #: whole mapping's (database category, category) pairs.
    cookie_categories: Mapping[str, str | None] | Sequence[tuple[str, str | None]] = ()
    #: The ids of the vendors (services) the site uses, which visitors are told about: the
    #: banner, the preferences page, the receipt and the cookie declaration list these. None:
    #: every vendor of this policy. (The middleware lists the site's own ``vendors`` and these
    #: of the built-in registry; it gates by the whole registry whatever is listed.)
    services: Sequence[str] | None = None
    names: frozenset[str] = field(init=False)
    #: The database's categories left ungated because the policy lacks their default category.
    unmapped_cookie_categories: tuple[str, ...] = field(init=False, repr=False)
    optional: tuple[str, ...] = field(init=False)
    vendor_ids: frozenset[str] = field(init=False)
    #: ``cookies`` as (name, category) pairs, however they were given.
    cookie_pairs: tuple[tuple[str, str], ...] = field(init=False, repr=False)
    _cookie_names: dict[str, _Found] = field(init=False, repr=False)
    _cookie_prefixes: PrefixTable = field(init=False, repr=False)
    _cookie_memo: dict[str, object] = field(init=False, repr=False, compare=False)
    _required: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "vendors", tuple(self.vendors))
        object.__setattr__(self, "allow", tuple(self.allow))
        if self.services is not None:
            object.__setattr__(self, "services", tuple(dict.fromkeys(map(str, self.services))))
            for service in self.services:
                if not _NAME.match(service):
                    raise ValueError(f"services names {service!r}, which is no vendor id")
        pairs = self.cookies.items() if isinstance(self.cookies, Mapping) else self.cookies
        object.__setattr__(self, "cookie_pairs", tuple((str(n), str(c)) for n, c in pairs))
        # (Read on every request of a visitor without a choice: worked out once.)
        object.__setattr__(
            self, "_required", frozenset(c.name for c in self.categories if c.required)
        )
        names = self._check_categories()
        if not self.revision or len(self.revision) > 32:
            raise ValueError("revision must be a non-empty string of at most 32 characters")
        if self.mode not in ("inert", "remove"):
            raise ValueError(f"mode must be 'inert' or 'remove', not {self.mode!r}")
        check_link("privacy_policy_url", self.privacy_policy_url)
        ids = self._check_vendors(names)
        for cookie, category in self.cookie_pairs:
            if category not in names:
                raise ValueError(f"cookie {cookie!r} is declared in unknown category {category!r}")
        self._check_cookie_categories(names)
        self._index_cookies()
        object.__setattr__(self, "names", frozenset(names))
        object.__setattr__(self, "vendor_ids", frozenset(ids))
        object.__setattr__(
            self, "optional", tuple(c.name for c in self.categories if not c.required)
        )

    def _check_categories(self) -> list[str]:
        names = [c.name for c in self.categories]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate category names in {names}")
        if NECESSARY not in names:
            raise ValueError(f"categories must include {NECESSARY!r}")
        if not next(c for c in self.categories if c.name == NECESSARY).required:
            raise ValueError(f"the {NECESSARY!r} category must be required=True")
        return names

    def _check_vendors(self, names: list[str]) -> set[str]:
        ids: set[str] = set()
        for vendor in self.vendors:
            if vendor.category not in names:
                raise ValueError(
                    f"vendor {vendor.id!r} is in unknown category {vendor.category!r}; "
                    f"known categories: {', '.join(names)}"
                )
            if vendor.id in ids:
                raise ValueError(f"duplicate vendor id {vendor.id!r}")
            ids.add(vendor.id)
        return ids

    def _check_cookie_categories(self, names: list[str]) -> None:
        """The given entries must name the database's categories and the policy's; a default
        whose category this policy lacks (a site with categories of its own) gates nothing,
        and is listed in ``unmapped_cookie_categories`` (the middleware says so at start)."""
        given = self.cookie_categories
        mapping = dict(given.items() if isinstance(given, Mapping) else given)
        unknown = sorted(set(mapping) - set(cookiedb.DEFAULT_CATEGORIES))
        if unknown:
            raise ValueError(
                f"cookie_categories names {', '.join(map(repr, unknown))}: the Open Cookie "
                f"Database's categories are {', '.join(cookiedb.DEFAULT_CATEGORIES)}"
            )
        for ocd, category in mapping.items():
            if category is not None and category not in names:
                raise ValueError(
                    f"cookie_categories maps {ocd!r} to unknown category {category!r}; use one "
                    f"of {', '.join(names)}, or None for not gated"
                )
        whole = {**cookiedb.DEFAULT_CATEGORIES, **mapping}
        unmapped = tuple(o for o, c in whole.items() if c is not None and c not in names)
        whole.update(dict.fromkeys(unmapped))
        object.__setattr__(self, "cookie_categories", tuple(whole.items()))
        object.__setattr__(self, "unmapped_cookie_categories", unmapped)

    def _index_cookies(self) -> None:
        """One index of every cookie name known, in order of precedence: the site's own
        declarations, then the vendors' (the built-in registry's and the site's), then the Open
        Cookie Database's. Exact names go into a dict, prefix patterns into one table; each
        entry is resolved once, here, against the patterns of the sources above it, so that a
        lookup is one dict probe and, for a name not listed, one probe per prefix length."""
        tiers = [self._site_cookies(), self._vendor_cookies(), self._database_cookies()]
        exact: dict[str, _Found] = {}
        prefixes: dict[str, _Found] = {}
        above: list[PrefixTable] = []
        for tier in tiers:
            own = PrefixTable({p: found for p, is_prefix, found in tier if is_prefix})
            for pattern, is_prefix, found in tier:
                # A pattern of a source above that covers this one decides it (a site's
                # "_ga*": "necessary" un-gates the registry's "_ga" and the database's "_ga_x").
                value = found
                for table in above:
                    cover = table.find(pattern)
                    if cover is not None:
                        value = cover  # type: ignore[assignment]
                        break
                target = prefixes if is_prefix else exact
                if pattern not in target:
                    target[pattern] = value
            above.append(own)
        object.__setattr__(self, "_cookie_names", exact)
        object.__setattr__(self, "_cookie_prefixes", PrefixTable(prefixes))
        object.__setattr__(self, "_cookie_memo", {})

    def _rule(self, category: str, service: str | None, source: str) -> _Found:
        return _UNGATED if category in self.required else CookieRule(category, service, source)

    def _site_cookies(self) -> list[tuple[str, bool, _Found]]:
        return [
            (p.rstrip("*"), p.endswith("*"), self._rule(c, None, "site"))
            for p, c in self.cookie_pairs
        ]

    def _vendor_cookies(self) -> list[tuple[str, bool, _Found]]:
        return [
            (p.rstrip("*"), p.endswith("*"), self._rule(v.category, v.id, "vendor"))
            for v in self.vendors
            for p in v.cookies
        ]

    def _database_cookies(self) -> list[tuple[str, bool, _Found]]:
        """The database's cookies as the mapping gates them; one of a platform the policy has
        as a vendor of the same category (by name: "Hotjar") belongs to that service, so that
        allowing the service alone allows it. Shared names ("token", "s") are left out."""
        services = {v.name.lower(): v for v in self.vendors}
        mapping = self.database_categories()
        found: list[tuple[str, bool, _Found]] = []
        exact, prefixes = cookiedb.patterns()
        for entry in itertools.chain(exact.values(), prefixes.values()):
            category = mapping[entry.ocd_category]
            if entry.shared:
                continue  # (known, not gated on the database's word: the site's own, likely)
            if category is None:
                found.append((entry.name, entry.prefix, _UNGATED))
                continue
            vendor = services.get(entry.platform.lower())
            service = vendor.id if vendor is not None and vendor.category == category else None
            found.append((entry.name, entry.prefix, self._rule(category, service, "database")))
        return found

    @property
    def required(self) -> frozenset[str]:
        return self._required

    def database_categories(self) -> dict[str, str | None]:
        """Each of the database's categories and the category it gates as (None: not gated)."""
        return dict(self.cookie_categories)

    def cookie_rule(self, name: str) -> CookieRule | None:
        """What gates the cookie ``name``; None for a cookie nobody lists, or one listed in a
        required category (never gated)."""
        found = self._cookie_names.get(name)
        if found is None:
            # Names not listed exactly (the site's own, patterns' instances) come back on every
            # response: the prefix table's answer is kept, in a bounded memo.
            memo = self._cookie_memo
            found = memo.get(name, _UNSEEN)  # type: ignore[assignment]
            if found is _UNSEEN:
                found = self._cookie_prefixes.find(name)  # type: ignore[assignment]
                if len(name) <= _MEMO_NAME:  # (a long name is a visitor's doing: not kept)
                    if len(memo) >= _MEMO:
                        memo.clear()
                    memo[name] = found
        return found or None

    def cookie_category(self, name: str) -> tuple[str, str | None] | None:
        """``(category, vendor id or None)`` of a cookie that is gated; None for the others."""
        rule = self.cookie_rule(name)
        return (rule.category, rule.service) if rule is not None else None

    def vendor(self, vendor_id: str) -> Vendor | None:
        return next((v for v in self.vendors if v.id == vendor_id), None)

    def listed_services(self, category: str | None = None) -> tuple[Vendor, ...]:
        """The services visitors are told about (of ``category``), in the policy's order:
        those ``services`` names, or every vendor when it is None."""
        listed = self.services
        return tuple(
            v
            for v in self.vendors
            if (listed is None or v.id in listed) and (category is None or v.category == category)
        )

    def unknown_services(self) -> list[str]:
        """The ids ``services`` names that are no vendor of this policy."""
        return [s for s in self.services or () if s not in self.vendor_ids]
