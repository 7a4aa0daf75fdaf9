"""The cookie declaration: the table a cookie policy needs, in the visitor's language.

``cookie_declaration()`` in templates and ``GET /consentgate/cookies`` (HTML, or JSON with
``?format=json`` or ``Accept: application/json``) list, grouped by category: the consent cookie;
the cookies of every service the banner lists (the same accessor, so the two never disagree);
and the site's declared cookies (``Policy(cookies=...)``). Each with its provider, our purpose
text, its lifetime and whether it is set on the site's domain (first party) or another.

The category shown is the one the policy gates the cookie as (``Policy.cookie_rule``), so the
declaration is always in step with what is gated. Lifetimes come from the vendor's documentation
where the registry has it (``vendors.COOKIE_FACTS``), else from the Open Cookie Database's
retention; purposes are our texts (``purpose.<kind>`` / ``purpose.<category>`` in i18n.py),
never the database's descriptions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from markupsafe import Markup

from . import cookiedb
from .consent import Consent
from .cookie import CookieSettings
from .i18n import localise_categories, texts_for
from .policy import NECESSARY, Policy, Vendor
from .vendors import COOKIE_FACTS
from .views import category_views

logger = logging.getLogger("consentgate")
#: Renderings kept per language (few exist); a flood of odd headers empties the cache.
_KEPT = 64
_SOURCE = "Open Cookie Database"

Party = Literal["first", "third"]


@dataclass(frozen=True, slots=True)
class DeclaredCookie:
    """One row. ``name`` ends in ``*`` for a pattern (every cookie whose name starts so)."""

    name: str
    provider: str
    service: str | None
    purpose: str
    lifetime: str
    party: Party
    privacy_url: str
    #: Where the lifetime comes from: a vendor's page, "Open Cookie Database", or "" (the site).
    lifetime_source: str


@dataclass(frozen=True, slots=True)
class DeclaredCategory:
    name: str
    title: str
    description: str
    #: False for required categories (always set); True: only with the visitor's consent.
    gated: bool
    cookies: tuple[DeclaredCookie, ...]


@dataclass(frozen=True, slots=True)
class Declaration:
    lang: str
    categories: tuple[DeclaredCategory, ...]

    def as_json(self) -> dict[str, Any]:
        """The JSON of ``GET /consentgate/cookies?format=json`` (documented in the README)."""
        return {
            "language": self.lang,
            "categories": [
                {**asdict(c), "cookies": [asdict(k) for k in c.cookies]} for c in self.categories
            ],
            "sources": {"open_cookie_database": cookiedb.SOURCE},
        }


# -- lifetimes ------------------------------------------------------------------------------

_AMOUNT = re.compile(r"^\s*(\d{1,5})\s*(minute|hour|day|week|month|year)s?\b", re.IGNORECASE)
_SESSION = re.compile(r"^\s*(end of )?sess?ion", re.IGNORECASE)
_PERSISTENT = ("forever", "permanent", "no expiration", "unlimited", "persistent")


def _plural(lang: str, n: int, forms: list[str]) -> str:
    if len(forms) == 3 and lang.split("-")[0] == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return forms[0]
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return forms[1]
        return forms[2]
    if lang.split("-")[0] == "fr":
        return forms[0] if n <= 1 else forms[-1]
    return forms[0] if n == 1 else forms[-1]


def lifetime_text(retention: str, lang: str, texts: Mapping[str, str]) -> str:
    """A documented lifetime ("2 years", "Session", "13 months after last activity") in the
    visitor's language; one that cannot be read is "not stated" rather than English prose."""
    match = _AMOUNT.match(retention)
    if match:
        n, unit = int(match.group(1)), match.group(2).lower()
        forms = texts.get(f"lifetime.{unit}", "{n}").split("|")
        return _plural(lang, n, forms).replace("{n}", str(n))
    if _SESSION.match(retention):
        return texts["lifetime.session"]
    if retention.strip().lower() in _PERSISTENT:
        return texts["lifetime.persistent"]
    return texts["lifetime.unknown"]


def _seconds_text(seconds: int, lang: str, texts: Mapping[str, str]) -> str:
    days = seconds // 86400
    if days >= 365 and days % 365 == 0:
        return lifetime_text(f"{days // 365} years", lang, texts)
    if days >= 1:
        return lifetime_text(f"{days} days", lang, texts)
    return lifetime_text(f"{max(1, seconds // 60)} minutes", lang, texts)


# -- the rows --------------------------------------------------------------------------------


def _known(pattern: str) -> cookiedb.KnownCookie | None:
    """The database's entry for a declared name or pattern ("_ga_*": its "_ga_" pattern)."""
    stem = pattern.rstrip("*")
    exact, prefixes = cookiedb.patterns()
    return (prefixes if pattern.endswith("*") else exact).get(stem) or exact.get(stem)


class Declarations:
    """Builds and renders the declaration of one site (its policy and consent cookie)."""

    def __init__(
        self,
        policy: Policy,
        cookie: CookieSettings,
        *,
        render: Any,
        language: str | None = None,
        texts: Mapping[str, Mapping[str, str]] | None = None,
        listed: Callable[..., Sequence[Vendor]] | None = None,
    ) -> None:
        self.policy = policy
        #: The services visitors are told about, of a category or (no argument) all: the
        #: banner's own accessor (the middleware's ``listed_services``), so the two agree.
        self.listed = listed or policy.listed_services
        self.cookie = cookie
        self.render = render  # (name, context) -> str: the site's template renderer
        self.language = language
        self.texts = texts or {}
        self._kept: dict[tuple[Any, ...], Any] = {}
        self._by_service: dict[str, list[str]] | None = None

    def texts_for(self, accept_language: str | None) -> tuple[str, dict[str, str]]:
        return texts_for(accept_language, language=self.language, overrides=self.texts)

    def declaration(self, accept_language: str | None) -> Declaration:
        lang, texts = self.texts_for(accept_language)
        key = (lang, "declaration", self._services_key())
        if key not in self._kept:
            self._keep(key, self._build(lang, texts))
        return self._kept[key]  # type: ignore[no-any-return]

    def html(self, accept_language: str | None) -> Markup:
        """The tables alone (what ``cookie_declaration()`` puts in a page)."""
        lang, texts = self.texts_for(accept_language)
        key = (lang, "html", self._services_key())
        if key not in self._kept:
            context = {"declaration": self.declaration(accept_language), "t": texts, "lang": lang}
            self._keep(key, Markup(self.render("declaration.html", context)))
        return self._kept[key]  # type: ignore[no-any-return]

    def _services_key(self) -> tuple[str, ...]:
        # (With debug the list grows as pages show services: a rendering is kept per list.)
        return tuple(v.id for v in self.listed())

    def _keep(self, key: tuple[Any, ...], value: Any) -> None:
        if len(self._kept) >= _KEPT:
            self._kept.clear()
        self._kept[key] = value

    def _build(self, lang: str, texts: Mapping[str, str]) -> Declaration:
        rows: dict[str, list[DeclaredCookie]] = {c.name: [] for c in self.policy.categories}
        listed: set[str] = set()

        def add(category: str, row: DeclaredCookie) -> None:
            if row.name not in listed:
                listed.add(row.name)
                rows.setdefault(category, []).append(row)

        site = texts["this_site"]
        add(
            NECESSARY,
            DeclaredCookie(
                self.cookie.full_name,
                site,
                None,
                texts["purpose.consent"],
                _seconds_text(self.cookie.max_age, lang, texts),
                "first",
                self.policy.privacy_policy_url,
                "",
            ),
        )
        for pattern, category in self.policy.cookie_pairs:
            add(self._gated_as(pattern, category), self._site_row(pattern, category, lang, texts))
        views = localise_categories(
            category_views(self.policy, Consent(), self.listed), texts, self.texts.get(lang)
        )
        for view in views:
            for service in view.services:
                vendor = self.policy.vendor(service.id)
                if vendor is None:
                    continue
                # The registry's patterns, then what the database adds for that service.
                patterns = [*vendor.cookies, *self._database_cookies().get(vendor.id, ())]
                for pattern in patterns:
                    rule = self.policy.cookie_rule(pattern.rstrip("*"))
                    if rule is not None and rule.source == "site":
                        continue  # (the site declares it: its own row says so)
                    row = self._vendor_row(vendor, pattern, lang, texts)
                    add(self._gated_as(pattern, vendor.category), row)
        categories = tuple(
            DeclaredCategory(
                v.name,
                v.title,
                v.description,
                not v.required,
                tuple(sorted(rows.get(v.name, ()), key=_order)),
            )
            for v in views
        )
        return Declaration(lang, categories)

    def _database_cookies(self) -> dict[str, list[str]]:
        """Per service, the database's cookies the policy gates as that service's (its
        platform is the vendor's: Google Analytics' FPID, _gali …), as names or patterns."""
        if self._by_service is None:
            found: dict[str, list[str]] = {}
            exact, prefixes = cookiedb.patterns()
            for entry in (*exact.values(), *prefixes.values()):
                rule = self.policy.cookie_rule(entry.name)
                if rule is not None and rule.source == "database" and rule.service:
                    name = entry.name + "*" if entry.prefix else entry.name
                    found.setdefault(rule.service, []).append(name)
            self._by_service = found
        return self._by_service

    def _gated_as(self, pattern: str, fallback: str) -> str:
        """The category the policy gates ``pattern`` as: the declaration shows what is done."""
        rule = self.policy.cookie_rule(pattern.rstrip("*"))
        if rule is not None:
            return rule.category
        return fallback if fallback in self.policy.required else NECESSARY

    def _purpose(self, kind: str | None, category: str, texts: Mapping[str, str]) -> str:
        if kind and f"purpose.{kind}" in texts:
            return texts[f"purpose.{kind}"]
        if f"purpose.{category}" in texts:
            return texts[f"purpose.{category}"]
        # A category of the site's own: its description says what it is for.
        found = next((c for c in self.policy.categories if c.name == category), None)
        return found.description if found is not None else ""

    def _vendor_row(
        self, vendor: Vendor, pattern: str, lang: str, texts: Mapping[str, str]
    ) -> DeclaredCookie:
        facts = COOKIE_FACTS.get(pattern)
        known = _known(pattern)
        if facts is not None:
            lifetime, source, kind = facts.lifetime, facts.source, facts.purpose
        elif known is not None:
            lifetime, source, kind = known.retention, _SOURCE, None
        else:
            lifetime, source, kind = "", "", None
        return DeclaredCookie(
            pattern,
            vendor.name,
            vendor.id,
            self._purpose(kind, vendor.category, texts),
            lifetime_text(lifetime, lang, texts),
            "third" if known is not None and known.third_party else "first",
            vendor.privacy_url,
            source if lifetime else "",
        )

    def _site_row(
        self, pattern: str, category: str, lang: str, texts: Mapping[str, str]
    ) -> DeclaredCookie:
        # (Its lifetime is the site's to know: the database's entry of that name may be another
        # platform's, so none is claimed.)
        return DeclaredCookie(
            pattern,
            texts["this_site"],
            None,
            self._purpose(None, category, texts),
            texts["lifetime.unknown"],
            "first",
            self.policy.privacy_policy_url,
            "",
        )


def _order(row: DeclaredCookie) -> tuple[str, str]:
    return (row.provider.lower(), row.name.lower())


#: Where the middleware leaves its Declarations in the request's scope["state"].
STATE_KEY = "consentgate.declarations"
_warned: list[bool] = []


def cookie_declaration(request: Any = None) -> Markup:
    """The declaration's tables for the request being served, in its visitor's language.

    ``request`` is anything with an ASGI ``scope`` (Starlette's and Django's requests) or the
    scope itself. Outside a site wrapped in ``ConsentMiddleware`` there is nothing to declare:
    the answer is empty, and a warning is logged once.
    """
    scope = getattr(request, "scope", request)
    state = scope.get("state") if isinstance(scope, Mapping) else None
    found = state.get(STATE_KEY) if isinstance(state, Mapping) else None
    if not isinstance(found, Declarations):
        if not _warned:
            _warned.append(True)
            logger.warning(
                "consentgate: cookie_declaration() was called outside a request served through "
                "ConsentMiddleware (or without the request): it renders nothing"
            )
        return Markup("")
    accept_language = None
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            accept_language = value.decode("latin-1")
            break
    return found.html(accept_language)
