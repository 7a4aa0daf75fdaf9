"""The ASGI middleware: reads the consent cookie, serves consentgate's endpoints and hands every
other response to a :class:`~consentgate.responder.Responder`, which gates HTML as it streams.

Configuration is checked and worked out here, once; what each request needs is handed on as
small objects: the policy, the cookie settings, the pages, the proof of consent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import jinja2
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from . import consent as consent_module
from .consent import SCOPE_KEY, Consent
from .consentlog import DEFAULT_FILENAME, ConsentLog, open_log
from .cookie import ConsentCookie, CookieSettings, check_keys
from .declaration import STATE_KEY as DECLARATIONS_KEY
from .declaration import Declarations
from .endpoints import Endpoints
from .html import Gate
from .pages import Pages, load_assets
from .policy import Policy, Vendor
from .proof import Proof
from .responder import Responder
from .signals import Signals, SignalSettings, default_consent, read_signals
from .streams import narrow_request
from .vendors import BUILTIN_VENDORS

logger = logging.getLogger("consentgate")
_current = consent_module._current  # the request's consent, for the template helpers

ConsentLogOption = str | os.PathLike[str] | ConsentLog | None
#: Where the first layer sits: a bar along the bottom, a box in a bottom corner or in the middle.
BannerLayout = Literal["bar", "box", "center"]
#: The control that re-opens the choice: a small button in a bottom corner, or an inline link
#: after the page's content ("end"), which never covers anything.
SettingsPosition = Literal["bottom-left", "bottom-right", "end"]


class ConsentMiddleware:
    """Wrap any ASGI app: ``app = ConsentMiddleware(app, secret_key="...")``.

    The few arguments most sites set are keywords of their own; the rest come as small settings
    objects, each validated when made: ``policy=Policy(...)`` (categories, vendors, allow-list,
    the site's cookies, mode), ``cookie=CookieSettings(...)``, ``signals=SignalSettings(...)``,
    and ``consent_log`` (a path or URL, or a log from ``open_log(...)``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str | Sequence[str],
        privacy_policy_url: str | None = None,
        revision: str | None = None,
        policy: Policy | None = None,
        builtin_vendors: bool = True,
        cookie_categories: Mapping[str, str | None] | None = None,
        cookie: CookieSettings | None = None,
        signals: SignalSettings | None = None,
        consent_log: ConsentLogOption = DEFAULT_FILENAME,
        language: str | None = None,
        texts: Mapping[str, Mapping[str, str]] | None = None,
        templates: Sequence[jinja2.BaseLoader] = (),
        prefix: str = "/consentgate",
        inject_settings: bool = True,
        banner_layout: BannerLayout = "bar",
        settings_position: SettingsPosition = "bottom-left",
        debug: bool = False,
    ) -> None:
        self.app = app
        keys = [secret_key] if isinstance(secret_key, str) else list(secret_key)
        check_keys(keys)
        if not prefix.startswith("/") or prefix.endswith("/") or len(prefix) < 2:
            raise ValueError("prefix must start with '/' and not end with one, e.g. '/consentgate'")
        _one_of("banner_layout", banner_layout, BannerLayout)
        _one_of("settings_position", settings_position, SettingsPosition)
        self.policy = _site_policy(
            policy or Policy(), builtin_vendors, privacy_policy_url, revision, cookie_categories
        )
        if self.policy.unmapped_cookie_categories:
            logger.warning(
                "consentgate: the policy has no category for the Open Cookie Database's %s "
                "cookies, so they are not gated; map them, e.g. cookie_categories={%r: %r}",
                ", ".join(self.policy.unmapped_cookie_categories),
                self.policy.unmapped_cookie_categories[0],
                self.policy.optional[0] if self.policy.optional else None,
            )
        self.cookie = cookie or CookieSettings()
        self.codec = ConsentCookie(keys, policy=self.policy, max_age=self.cookie.max_age)
        self.inject_settings = inject_settings
        self.prefix = prefix
        self._endpoint_paths = prefix + "/"

        signals = signals or SignalSettings()
        self.gpc_refuses = signals.refused_by_gpc(self.policy)
        self.honour_dnt = signals.honour_dnt
        self.jurisdiction = signals.jurisdiction
        # Without a jurisdiction resolver every visitor without a choice has the same consent.
        self._fresh = Consent(granted=self.policy.required, decided=False)

        self.consent_log = _open(consent_log)
        assets = load_assets()
        self.pages = Pages(
            self.policy,
            prefix=prefix,
            assets=assets,
            signals=self.signals,
            templates=templates,
            language=language,
            texts=texts,
            receipts=self.consent_log is not None,
            consent_mode=signals.consent_mode,
            layout=banner_layout,
            settings_position=settings_position,
            learn_services=debug,
        )
        self.proof = (
            Proof(self.consent_log, self.policy, self.pages.texts_hash)
            if self.consent_log is not None
            else None
        )
        self.gate = Gate(self.policy, placeholder=self.pages.placeholder)
        self.declarations = Declarations(
            self.policy,
            self.cookie,
            render=self.pages.renderer.render,
            language=language,
            texts=texts,
            listed=self.listed_services,
        )
        self.endpoints = Endpoints(self, assets)
        if debug:
            # The inventory reads what the app sends before it is gated (see inventory.py).
            # Without debug the app is called directly: nothing is added to a request's path.
            from .inventory import Observer

            self.app = Observer(app, self.gate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reading = self.codec.read_request(scope["headers"], self.cookie.full_name)
        stored = reading.consent
        if stored is not None and stored.decided:
            consent = stored
            issue = stored if reading.stale_key else None
        else:
            consent = self.undecided(scope, stored)
            issue = None
            if stored is None and self.proof is not None:
                issue = await self.proof.record_signal_refusal(scope, consent, self.honoured)
        state = scope.setdefault("state", {})
        state[SCOPE_KEY] = consent
        state[DECLARATIONS_KEY] = self.declarations  # (for cookie_declaration() in templates)
        token = _current.set(consent)
        try:
            path = scope["path"]
            if self._endpoint_paths in path:  # a cheap test first: most requests are not ours
                root = scope.get("root_path", "")
                if root and path.startswith(root):
                    path = path[len(root) :]
                if path.startswith(self._endpoint_paths):
                    await self.endpoints(scope, receive, send, path[len(self.prefix) :])
                    return
            # The app must not answer in a coding consentgate cannot decode (it would fail).
            narrowed = narrow_request(scope["headers"])
            if narrowed is not None:
                scope["headers"] = narrowed
            await self.app(scope, receive, Responder(self, scope, send, consent, issue).send)
        finally:
            _current.reset(token)

    def signals(self, scope: Scope) -> Signals:
        return read_signals(
            Headers(scope=scope),
            gpc_refuses=self.gpc_refuses,
            honour_dnt=self.honour_dnt,
            jurisdiction=self.jurisdiction,
        )

    def honoured(self, scope: Scope) -> bool:
        """Whether a browser signal of this request refused something."""
        return self.signals(scope).honoured

    def undecided(self, scope: Scope, previous: Consent | None) -> Consent:
        """The consent of a visitor without a choice for the current revision: required
        categories, plus what the jurisdiction's opt-out rules allow (minus GPC/DNT refusals)."""
        if self.jurisdiction is None:
            # Opt-in everywhere: signals can only refuse what is not granted anyway, so no
            # header need be read (most of what a request of an API client would cost).
            return (
                self._fresh
                if previous is None
                else Consent(granted=self._fresh.granted, decided=False, previous=previous)
            )
        return default_consent(self.policy, self.signals(scope), previous)

    def consent_of(self, scope: Scope) -> Consent:
        consent = scope.get("state", {}).get(SCOPE_KEY)
        return consent if isinstance(consent, Consent) else self.undecided(scope, None)

    def injects(self, consent: Consent) -> bool:
        """Whether HTML pages get a snippet: the banner, or the control that re-opens it."""
        return not consent.decided or self.inject_settings

    def listed_services(self, category: str | None = None) -> tuple[Vendor, ...]:
        """The services visitors are told about (of ``category``): what the banner, the
        preferences page, the receipt and the cookie declaration list. The site's own vendors
        and the built-in ones ``Policy(services=[…])`` declares (with ``debug``, also those the
        rewriter met on this process's pages). The whole registry gates, whatever is listed."""
        return self.pages.services.listed(category)

    def settled(self, consent: Consent) -> bool:
        """Whether nothing on a page is gated for this visitor: every optional category granted."""
        return self.gate.optional <= consent.granted

    def cookie_header(self, scope: Scope, consent: Consent) -> str:
        """The ``Set-Cookie`` value that stores ``consent``."""
        return self.cookie.header(
            self.codec.dumps(consent), scope.get("scheme") in ("https", "wss")
        )


_DEFAULTS = Policy()


def _one_of(name: str, value: object, choices: object) -> None:
    allowed = get_args(choices)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")


def _open(option: ConsentLogOption) -> ConsentLog | None:
    if option is None:
        logger.warning(
            "consentgate: consent_log=None, so no proof of consent is kept; "
            "GDPR Art. 7(1) expects you to be able to demonstrate consent"
        )
        return None
    if isinstance(option, (str, os.PathLike)):
        return open_log(option)
    return option


def _site_policy(
    policy: Policy,
    builtin: bool,
    privacy_policy_url: str | None,
    revision: str | None,
    cookie_categories: Mapping[str, str | None] | None = None,
) -> Policy:
    """The policy the middleware runs: the built-in vendors merged under the site's (a site
    vendor with a built-in id replaces it), and the two most-set fields given on their own."""
    for name, value in (("privacy_policy_url", privacy_policy_url), ("revision", revision)):
        if value is not None and getattr(policy, name) not in (value, getattr(_DEFAULTS, name)):
            raise ValueError(
                f"{name} is given twice, as {value!r} and in policy as "
                f"{getattr(policy, name)!r}: give it once"
            )
    if cookie_categories is not None and not isinstance(cookie_categories, Mapping):
        raise ValueError(
            "cookie_categories must map the Open Cookie Database's categories to the policy's "
            f"(or None), e.g. {{'Functional': 'preference'}}, not {cookie_categories!r}"
        )
    site = Policy(
        categories=policy.categories,
        vendors=_merge_vendors(builtin, policy.vendors, policy),
        revision=revision if revision is not None else policy.revision,
        allow=policy.allow,
        cookies=policy.cookie_pairs,
        # (The Open Cookie Database's categories: the option's changes over the policy's.)
        cookie_categories={**policy.database_categories(), **(cookie_categories or {})},
        mode=policy.mode,
        privacy_policy_url=(
            privacy_policy_url if privacy_policy_url is not None else policy.privacy_policy_url
        ),
        # Listed: the site's own vendors and the built-in ones it declares (see Services).
        services=[*(policy.services or ()), *(v.id for v in policy.vendors)],
    )
    unknown = site.unknown_services()
    if unknown:
        raise ValueError(
            f"Policy(services=…) names {', '.join(map(repr, unknown))}, which "
            f"{'is no vendor' if len(unknown) == 1 else 'are no vendors'}: use the ids of "
            "consentgate.vendors.BUILTIN_VENDORS or of the policy's own vendors"
        )
    return site


def _merge_vendors(builtin: bool, site: Sequence[Vendor], policy: Policy) -> tuple[Vendor, ...]:
    """Site vendors override built-in ones with the same id."""
    merged: dict[str, Vendor] = {}
    if builtin:
        merged.update((v.id, v) for v in BUILTIN_VENDORS)
    merged.update((v.id, v) for v in site)
    missing = sorted({v.category for v in merged.values()} - policy.names)
    if builtin and missing:
        # Dropping those vendors would let their trackers run ungated: refuse instead.
        raise ValueError(
            f"the built-in vendor registry uses the categories {', '.join(missing)}: add them to "
            "the policy's categories, or pass builtin_vendors=False and declare your own vendors"
        )
    return tuple(merged.values())
