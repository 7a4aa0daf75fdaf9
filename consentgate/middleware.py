"""The ASGI middleware: reads the consent cookie, serves consentgate's endpoints and rewrites
HTML responses (gating trackers, injecting the banner) as they stream through."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import jinja2
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import consent as consent_module
from .consent import SCOPE_KEY, Consent
from .consentlog import (
    DEFAULT_FILENAME,
    ConsentEntry,
    ConsentLog,
    ConsentLogError,
    StoredConsentLog,
    open_log,
)
from .consentlog.receipt import receipt_response
from .cookie import ConsentCookie, cookie_names, new_consent_id
from .endpoints import (
    Endpoints,
    Refused,
    Rejection,
    expired_cookie_headers,
    host_name,
    safe_next,
)
from .i18n import localise_categories, texts_for
from .policy import DEFAULT_CATEGORIES, Category, Mode, Policy, Vendor
from .render import Renderer, Urls, category_views, texts_hash
from .responder import Responder
from .rewriter import Gate, Placeholder
from .signals import DEFAULT_GPC_REFUSES, Jurisdiction, Signals, default_consent, read_signals
from .vendors import BUILTIN_VENDORS

logger = logging.getLogger("consentgate")
_current = consent_module._current  # the request's consent, for the template helpers

DAY = 24 * 60 * 60
#: Shorter keys can be guessed, and a guessed key forges any visitor's consent.
MIN_SECRET_LENGTH = 32
#: Browsers keep at most ~180 cookies a domain: more names than this in one request are not a
#: browser's, and expiring each on every variant of the host would make a huge response.
MAX_EXPIRED = 512
#: Seconds a consent log of the site's own may take to store a choice before it is refused.
CUSTOM_LOG_TIMEOUT = 10.0


class ConsentMiddleware:
    """Wrap any ASGI app: ``app = ConsentMiddleware(app, secret_key="...")``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str | Sequence[str],
        categories: Sequence[Category] = DEFAULT_CATEGORIES,
        vendors: Sequence[Vendor] = (),
        builtin_vendors: bool = True,
        allow: Sequence[str] = (),
        cookies: Mapping[str, str] | None = None,
        revision: str = "1",
        mode: Mode = "inert",
        max_age: int = 180 * DAY,
        privacy_policy_url: str = "/privacy",
        cookie_name: str = "consentgate",
        cookie_domain: str | None = None,
        secure: bool | None = None,
        host_prefix: bool = False,
        prefix: str = "/consentgate",
        language: str | None = None,
        texts: Mapping[str, Mapping[str, str]] | None = None,
        templates: Sequence[jinja2.BaseLoader] = (),
        consent_log: str | os.PathLike[str] | ConsentLog | None = DEFAULT_FILENAME,
        log_user_agent: bool = False,
        log_ip: bool = False,
        gpc_refuses: Sequence[str] | None = None,
        honour_dnt: bool = False,
        jurisdiction: Jurisdiction | None = None,
        consent_mode: bool = False,
        inject_settings: bool = True,
    ) -> None:
        self.app = app
        self.inject_settings = inject_settings
        keys = [secret_key] if isinstance(secret_key, str) else list(secret_key)
        _check_keys(keys)
        if not isinstance(max_age, int) or max_age <= 0:
            raise ValueError("max_age must be a positive number of seconds")
        if not prefix.startswith("/") or prefix.endswith("/") or len(prefix) < 2:
            raise ValueError("prefix must start with '/' and not end with one, e.g. '/consentgate'")
        if host_prefix and cookie_domain:
            raise ValueError("host_prefix=True cannot be combined with cookie_domain: "
                             "__Host- cookies may not carry a Domain")
        if host_prefix and secure is False:
            raise ValueError("host_prefix=True requires secure cookies; drop secure=False")
        if cookie_domain is not None and not host_name(cookie_domain.lstrip(".").lower()):
            raise ValueError(f"cookie_domain {cookie_domain!r} is not a host name such as "
                             "'example.com'")
        if not cookie_name or any(ch in cookie_name for ch in " ;,=\t\r\n\"\\"):
            raise ValueError(f"cookie_name {cookie_name!r} is not a valid cookie name")
        self.policy = Policy(
            categories=tuple(categories),
            vendors=_merge_vendors(builtin_vendors, vendors, categories),
            revision=revision,
            allow=tuple(allow),
            cookies=tuple((cookies or {}).items()),
            mode=mode,
            privacy_policy_url=privacy_policy_url,
        )
        self.codec = ConsentCookie(keys, policy=self.policy, max_age=max_age)
        self.max_age = max_age
        self.cookie_name = f"__Host-{cookie_name}" if host_prefix else cookie_name
        self.cookie_domain = cookie_domain
        self.secure = True if host_prefix else secure
        self.prefix = prefix
        self._endpoint_paths = prefix + "/"
        self.language = language
        self.texts = texts or {}
        self.renderer = Renderer(templates)
        self.endpoints = Endpoints(self)
        self.gate = Gate(self.policy, placeholder=self.placeholder)
        self.consent_log: ConsentLog | None
        if consent_log is None:
            logger.warning(
                "consentgate: consent_log=None, so no proof of consent is kept; "
                "GDPR Art. 7(1) expects you to be able to demonstrate consent"
            )
            self.consent_log = None
        elif isinstance(consent_log, (str, os.PathLike)):
            self.consent_log = open_log(consent_log, store_user_agent=log_user_agent,
                                        store_ip=log_ip)
        else:
            self.consent_log = consent_log
        self._log_failing = False
        self._snippets: dict[tuple[str, bytes | None, str | None, frozenset[str], frozenset[str]],
                            bytes] = {}
        self._placeholders: dict[tuple[str, str, str | None, str], bytes] = {}
        css, js = (self.endpoints.assets.get(n) for n in ("consentgate.css", "consentgate.js"))
        self.css_url = f"{prefix}/static/consentgate.css?v={css.version if css else ''}"
        self.js_url = f"{prefix}/static/consentgate.js?v={js.version if js else ''}"
        self._init_signals(gpc_refuses, honour_dnt, jurisdiction, consent_mode)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reading = self.codec.read_request(scope["headers"], self.cookie_name)
        stored = reading.consent
        if stored is not None and stored.decided:
            consent = stored
            issue = stored if reading.stale_key else None
        else:
            consent = self.undecided(scope, stored)
            issue = None
            if stored is None and self.consent_log is not None:
                issue = await self.record_signal_refusal(scope, consent)
        scope.setdefault("state", {})[SCOPE_KEY] = consent
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
            await self.app(scope, receive, Responder(self, scope, send, consent, issue).send)
        finally:
            _current.reset(token)

    # -- browser signals, jurisdiction, Consent Mode (signals.py, headstart.py) ---------------

    def _init_signals(
        self,
        gpc_refuses: Sequence[str] | None,
        honour_dnt: bool,
        jurisdiction: Jurisdiction | None,
        consent_mode: bool,
    ) -> None:
        if gpc_refuses is None:  # marketing, when the site has such a category
            gpc_refuses = sorted(DEFAULT_GPC_REFUSES & set(self.policy.optional))
        self.gpc_refuses = frozenset(gpc_refuses)
        unknown = self.gpc_refuses - set(self.policy.optional)
        if unknown:
            raise ValueError(
                f"gpc_refuses names {', '.join(sorted(unknown))}, which are not optional "
                f"categories; choose from {', '.join(self.policy.optional)}"
            )
        if jurisdiction is not None and not callable(jurisdiction):
            raise ValueError("jurisdiction must be a callable taking the request headers")
        self.honour_dnt = honour_dnt
        self.jurisdiction = jurisdiction
        self._fresh = Consent(granted=self.policy.required, decided=False)
        mode_js = self.endpoints.assets.get("consent-mode.js")
        self.consent_mode_url = (
            f"{self.prefix}/static/consent-mode.js?v={mode_js.version}"
            if consent_mode and mode_js
            else None
        )
        self._heads: dict[tuple[str, str | None, str], bytes] = {}

    def signals(self, scope: Scope) -> Signals:
        return read_signals(
            Headers(scope=scope),
            gpc_refuses=self.gpc_refuses,
            honour_dnt=self.honour_dnt,
            jurisdiction=self.jurisdiction,
        )

    def head_snippet(self, scope: Scope, consent: Consent, nonce: str | None) -> bytes:
        """What goes right after ``<head>`` with ``consent_mode``: the Consent Mode defaults."""
        root = scope.get("root_path", "")
        state = self.state_json(consent)
        key = (root, nonce, state)
        if key not in self._heads:
            if len(self._heads) >= 1024:
                self._heads.clear()
            html = self.renderer.render("head.html", {
                "consent_mode_url": root + self.consent_mode_url if self.consent_mode_url else None,
                "nonce": nonce,
                "state": state,
            })
            self._heads[key] = html.encode("ascii", "xmlcharrefreplace")
        return self._heads[key]

    def state_json(self, consent: Consent) -> str:
        return _state_json(consent.decided, consent.granted, consent.services,
                           self.policy.revision)

    def injects(self, consent: Consent) -> bool:
        """Whether HTML pages get a snippet: the banner, or the control that re-opens it."""
        return not consent.decided or self.inject_settings

    def settled(self, consent: Consent) -> bool:
        """Whether nothing on a page is gated for this visitor: every optional category granted."""
        return self.gate.optional <= consent.granted

    def undecided(self, scope: Scope, previous: Consent | None) -> Consent:
        """The consent of a visitor without a choice for the current revision: required
        categories, plus what the jurisdiction's opt-out rules allow (minus GPC/DNT refusals)."""
        if self.jurisdiction is None:
            # Opt-in everywhere: signals can only refuse what is not granted anyway, so no
            # header need be read (most of what a request of an API client would cost).
            return self._fresh if previous is None else Consent(
                granted=self._fresh.granted, decided=False, previous=previous)
        return default_consent(self.policy, self.signals(scope), previous)

    def consent_of(self, scope: Scope) -> Consent:
        consent = scope.get("state", {}).get(SCOPE_KEY)
        return consent if isinstance(consent, Consent) else self.undecided(scope, None)

    def set_cookie(self, response: Response, scope: Scope, consent: Consent) -> None:
        secure = self.secure if self.secure is not None else scope.get("scheme") in ("https", "wss")
        response.set_cookie(
            self.cookie_name,
            self.codec.dumps(consent),
            max_age=self.max_age,
            path="/",
            domain=self.cookie_domain,
            secure=secure,
            httponly=True,
            samesite="lax",
        )

    def cookie_header(self, scope: Scope, consent: Consent) -> str:
        response = Response()
        self.set_cookie(response, scope, consent)
        return response.headers["set-cookie"]

    def expire_withdrawn(
        self, response: Response, scope: Scope, before: Consent, after: Consent
    ) -> None:
        doomed = []
        for name in cookie_names(scope["headers"]):
            found = self.policy.cookie_category(name)
            if found and not after.allows(found[0], found[1]) and name != self.cookie_name:
                doomed.append(name)
                if len(doomed) >= MAX_EXPIRED:
                    break
        host = Headers(scope=scope).get("host", "")
        for value in expired_cookie_headers(doomed, host, self.cookie_domain):
            response.headers.append("set-cookie", value)

    async def record(self, request: Request, consent: Consent, source: str) -> None:
        """Store proof of the choice; a choice that cannot be proven is not confirmed."""
        if self.consent_log is None:
            return
        assert consent.consent_id and consent.given_at
        entry = ConsentEntry(
            consent_id=consent.consent_id,
            time=consent.given_at,
            granted=tuple(sorted(consent.granted)),
            refused=tuple(sorted(self.policy.names - consent.granted)),
            services=tuple(sorted(consent.services)),
            revision=self.policy.revision,
            texts_hash=self.texts_hash(request.headers),
            source=source,
            user_agent=request.headers.get("user-agent"),
            ip=request.client.host if request.client else None,
        )
        try:
            # (The built-in logs bound every wait themselves; a log of the site's own gets this.)
            bound = None if isinstance(self.consent_log, StoredConsentLog) else CUSTOM_LOG_TIMEOUT
            with anyio.fail_after(bound):
                await self.consent_log.append(entry)
        except (ConsentLogError, TimeoutError) as exc:
            # Once per outage: a dead database must not flood the logs with one line a click.
            if not self._log_failing:
                logger.error("consentgate: the consent log cannot store choices: %s", exc,
                             exc_info=exc)
            self._log_failing = True
            raise Rejection(Refused.STORAGE) from exc
        if self._log_failing:
            logger.warning("consentgate: the consent log stores choices again")
            self._log_failing = False

    async def record_signal_refusal(self, scope: Scope, consent: Consent) -> Consent | None:
        """Record, once per browser, the refusal a GPC/DNT signal implies (GDPR Art. 7(1)).

        Only for page navigations (not the assets they pull in parallel), and only when the
        signal refused something. Returns the implied consent to store in the cookie, so the
        record is not made again; None when there is nothing to record or it failed.
        """
        for name, value in scope["headers"]:  # (no header object for API requests)
            if name == b"accept":
                if value.find(b"text/html") >= 0:
                    break
                return None
        else:
            return None
        if not self.signals(scope).honoured:
            return None
        implied = Consent(
            granted=consent.granted,
            revision=self.policy.revision,
            given_at=datetime.now(UTC).replace(microsecond=0),
            consent_id=new_consent_id(),
            implied=True,
        )
        try:
            await self.record(Request(scope), implied, source="gpc")
        except Rejection:  # already logged; the next page tries again
            return None
        return implied

    async def receipt(self, request: Request) -> Response:
        """The visitor's own consent records, as a page or (``?format=json``) as JSON."""
        if self.consent_log is None:
            return PlainTextResponse("This site keeps no consent log.", status_code=404)
        consent = self.consent_of(request.scope)
        shown = consent if consent.consent_id or consent.previous is None else consent.previous
        want_json = request.query_params.get("format") == "json" or (
            "application/json" in request.headers.get("accept", "")
        )

        def render_html(receipt: dict[str, Any]) -> str:
            return self.render_page("receipt.html", request, receipt=receipt)

        titles = {c.name: c.title for c in self.policy.categories}
        titles.update({v.id: v.name for v in self.policy.vendors})

        return await receipt_response(
            self.consent_log,
            shown.consent_id,
            want_json=want_json,
            render_html=render_html,
            titles=titles,
        )

    # -- rendering ----------------------------------------------------------------------------

    def context(self, request_headers: Headers, scope: Scope, consent: Consent) -> dict[str, Any]:
        lang, texts = texts_for(
            request_headers.get("accept-language"), language=self.language, overrides=self.texts
        )
        signals = self.signals(scope)
        root = scope.get("root_path", "")
        urls = self.urls(root)
        path = scope.get("path", "/")
        query = scope.get("query_string", b"").decode("latin-1")
        return {
            "t": texts,
            "lang": lang,
            "urls": urls,
            "consent": consent,
            "categories": localise_categories(
                category_views(self.policy, consent), texts, self.texts.get(lang)
            ),
            "next": path + (f"?{query}" if query else ""),
            "gpc": signals.gpc and bool(signals.refused),
            "dnt": signals.dnt and bool(signals.refused),
            "css_url": root + self.css_url,
            "js_url": root + self.js_url,
        }

    def snippet(self, scope: Scope, consent: Consent, nonce: str | None) -> bytes:
        """What goes into an HTML page: assets, and the banner or the settings control."""
        # The settings control depends on few things, so returning visitors share renderings;
        # the banner also names the page to come back to.
        language = None
        for name, value in scope["headers"]:
            if name == b"accept-language":
                language = value
                break
        key = (scope.get("root_path", ""), language, nonce, consent.granted, consent.services)
        # (Browsers send a few dozen bytes: a longer header is rendered, not kept as a key.)
        keep = consent.decided and (language is None or len(language) <= 256)
        if keep:
            cached = self._snippets.get(key)
            if cached is not None:
                return cached
        state = self.state_json(consent)
        context = self.context(Headers(scope=scope), scope, consent)
        context.update(nonce=nonce, state=state)
        html = self.renderer.render("assets.html", context)
        html += self.renderer.render(
            "settings_link.html" if consent.decided else "banner.html", context
        )
        # Character references keep the snippet right in whatever ASCII-compatible charset.
        snippet = html.encode("ascii", "xmlcharrefreplace")
        if keep:
            if len(self._snippets) >= 1024:
                self._snippets.clear()
            self._snippets[key] = snippet
        return snippet

    def placeholder(self, vendor: Vendor | None, category: str) -> bytes:
        """The click-to-load stand-in for a gated iframe, in the default language."""
        return self.placeholders(None, "")(vendor, category)

    def placeholders(self, accept_language: str | None, root: str) -> Placeholder:
        """Placeholders for one response: in the visitor's language, under the app's root path.

        Renderings are kept per (language, root, vendor, category): few of each exist.
        """
        lang, texts = texts_for(accept_language, language=self.language, overrides=self.texts)

        def render(vendor: Vendor | None, category: str) -> bytes:
            key = (lang, root, vendor.id if vendor else None, category)
            if key not in self._placeholders:
                views = [v for v in category_views(self.policy, Consent()) if v.name == category]
                localised = localise_categories(views, texts, self.texts.get(lang))
                if len(self._placeholders) >= 4096:
                    self._placeholders.clear()
                # A page may tag an element with a category the policy does not have ("Ads!"
                # from user content): nobody can grant it, so its placeholder offers no button.
                known = bool(localised) or (vendor is not None and vendor.category == category)
                html = self.renderer.render("placeholder.html", {
                    "vendor": vendor,
                    "category": localised[0] if localised else _Unknown(category),
                    "allowable": known,
                    "t": texts,
                    "lang": lang,
                    "urls": self.urls(root),
                    "css_url": root + self.css_url,
                })
                self._placeholders[key] = html.encode("ascii", "xmlcharrefreplace")
            return self._placeholders[key]

        return render

    def urls(self, root: str) -> Urls:
        prefix = root + self.prefix
        return Urls(
            consent=f"{prefix}/consent",
            preferences=f"{prefix}/preferences",
            banner=f"{prefix}/banner",
            receipt=f"{prefix}/receipt" if self.consent_log is not None else "",
            static=f"{prefix}/static",
            privacy=self.policy.privacy_policy_url,
        )

    def render_page(self, name: str, request: Request, **extra: Any) -> str:
        """One of consentgate's own pages, linking back to where the visitor came from."""
        context = self.context(request.headers, request.scope, self.consent_of(request.scope))
        next_url = request.query_params.get("next") or request.headers.get("referer")
        context["next"] = safe_next(next_url, request.headers.get("host", ""))
        context.update(extra)
        return self.renderer.render(name, context)

    def texts_hash(self, request_headers: Headers) -> str:
        _, texts = texts_for(
            request_headers.get("accept-language"), language=self.language, overrides=self.texts
        )
        return texts_hash(texts, self.policy.categories, self.policy.vendors, self.policy.revision)


@dataclass(frozen=True, slots=True)
class _Unknown:
    """A category named on a page but not in the policy, as the placeholder shows it."""

    name: str

    @property
    def title(self) -> str:
        return self.name


def _check_keys(keys: Sequence[str]) -> None:
    for key in keys:
        if isinstance(key, str) and key and len(key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret_key must be at least {MIN_SECRET_LENGTH} characters (each key, when "
                "rotating): a short key can be guessed and every consent cookie forged. Make one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )


@functools.lru_cache(maxsize=1024)
def _state_json(
    decided: bool, granted: frozenset[str], services: frozenset[str], revision: str
) -> str:
    """The visitor's state as the client script reads it; few distinct states exist."""
    return json.dumps(
        {"decided": decided, "granted": sorted(granted), "services": sorted(services),
         "revision": revision},
        separators=(",", ":"),
    )


def _merge_vendors(
    builtin: bool, site: Sequence[Vendor], categories: Sequence[Category]
) -> tuple[Vendor, ...]:
    """Site vendors override built-in ones with the same id."""
    merged: dict[str, Vendor] = {}
    if builtin:
        merged.update((v.id, v) for v in BUILTIN_VENDORS)
    merged.update((v.id, v) for v in site)
    names = {c.name for c in categories}
    missing = sorted({v.category for v in merged.values()} - names)
    if builtin and missing:
        # Dropping those vendors would let their trackers run ungated: refuse instead.
        raise ValueError(
            f"the built-in vendor registry uses the categories {', '.join(missing)}: add them to "
            "categories, or pass builtin_vendors=False and declare your own vendors"
        )
    return tuple(merged.values())



