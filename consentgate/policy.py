"""The consent policy as plain data: categories, vendors (services) and the policy itself.

Nothing here does any work at request time; the middleware validates a ``Policy`` once at start-up
and the other modules read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

NECESSARY = "necessary"

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


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
    cookie names the vendor sets; a trailing ``*`` makes a prefix (``"_ga_*"``).
    """

    id: str
    name: str
    category: str
    privacy_url: str = ""
    urls: tuple[str, ...] = ()
    inline: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.id):
            raise ValueError(
                f"vendor id {self.id!r} must be 1-32 lowercase letters, digits, '-' or '_', "
                "starting with a letter"
            )
        if self.privacy_url:  # (empty: the vendor has no notice to link)
            check_link(f"Vendor({self.id!r}).privacy_url", self.privacy_url)


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
    names: frozenset[str] = field(init=False)
    optional: tuple[str, ...] = field(init=False)
    vendor_ids: frozenset[str] = field(init=False)
    #: ``cookies`` as (name, category) pairs, however they were given.
    cookie_pairs: tuple[tuple[str, str], ...] = field(init=False, repr=False)
    _cookie_names: dict[str, tuple[str, str | None]] = field(init=False, repr=False)
    _cookie_prefixes: tuple[tuple[str, str, str | None], ...] = field(init=False, repr=False)
    _required: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "vendors", tuple(self.vendors))
        object.__setattr__(self, "allow", tuple(self.allow))
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

    def _index_cookies(self) -> None:
        """Cookie names (exact, in a dict) and prefixes the vendors and the site declare."""
        exact: dict[str, tuple[str, str | None]] = {}
        prefixes: list[tuple[str, str, str | None]] = []
        owners: list[tuple[str, str, str | None]] = [
            (p, v.category, v.id) for v in self.vendors for p in v.cookies
        ]
        owners += [(p, category, None) for p, category in self.cookie_pairs]
        for pattern, category, vendor_id in owners:
            if category in self.required:
                continue
            if pattern.endswith("*"):
                prefixes.append((pattern[:-1], category, vendor_id))
            else:
                exact.setdefault(pattern, (category, vendor_id))
        object.__setattr__(self, "_cookie_names", exact)
        object.__setattr__(self, "_cookie_prefixes", tuple(prefixes))

    @property
    def required(self) -> frozenset[str]:
        return self._required

    def cookie_category(self, name: str) -> tuple[str, str | None] | None:
        """``(category, vendor id or None)`` of a cookie; None for cookies nobody declared."""
        found = self._cookie_names.get(name)
        if found is not None:
            return found
        for prefix, category, vendor_id in self._cookie_prefixes:
            if name.startswith(prefix):
                return category, vendor_id
        return None

    def vendor(self, vendor_id: str) -> Vendor | None:
        return next((v for v in self.vendors if v.id == vendor_id), None)

    def services(self, category: str) -> tuple[Vendor, ...]:
        return tuple(v for v in self.vendors if v.category == category)
