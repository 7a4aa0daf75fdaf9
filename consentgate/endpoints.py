"""consentgate's own endpoints under its prefix: the choice, the preferences page, the banner
fragment, the receipt and the static assets."""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.types import Receive, Scope, Send

from .consent import Consent
from .cookie import CookieSettings, cookie_names, host_name, new_consent_id
from .declaration import Declarations
from .pages import Asset, Pages, load_assets
from .policy import Policy
from .proof import NotRecorded, Proof
from .views import safe_next

logger = logging.getLogger("consentgate")

MAX_BODY = 64 * 1024
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
ACTIONS = ("accept_all", "reject_all", "save", "allow")


class Refused(enum.Enum):
    """Why a consent post was not taken."""

    CROSS_SITE = (403, "cross-site requests cannot change consent")
    METHOD = (405, "use POST to change consent")
    MEDIA_TYPE = (415, "send application/x-www-form-urlencoded or application/json")
    TOO_LARGE = (413, "request body too large")
    MALFORMED = (400, "malformed request body")
    ACTION = (400, "unknown action; use one of: " + ", ".join(ACTIONS))
    CATEGORY = (400, "unknown category")
    SERVICE = (400, "unknown service")
    STORAGE = (503, "your choice could not be recorded; please try again")


class Rejection(Exception):
    def __init__(self, reason: Refused, detail: str = "") -> None:
        self.reason, self.detail = reason, detail

    def response(self, want_json: bool) -> Response:
        status, message = self.reason.value
        message = f"{message}: {self.detail}" if self.detail else message
        if want_json:
            return JSONResponse({"error": message}, status_code=status)
        return PlainTextResponse(message, status_code=status)


@dataclass(frozen=True, slots=True)
class Choice:
    action: str
    categories: tuple[str, ...]
    services: tuple[str, ...]
    next: str | None


def same_site(headers: Headers, host: str, cookie_domain: str | None) -> bool:
    """Whether a state-changing request comes from our own site.

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` on every cross-site POST; ``Referer`` is the
    fallback for older ones. A request carrying none of them cannot come from another site's page.
    """
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "same-site", "none"):
        return False
    origin = headers.get("origin")
    if origin is not None:
        return _host_ok(origin, host, cookie_domain)
    referer = headers.get("referer")
    if referer is not None:
        return _host_ok(referer, host, cookie_domain)
    return True


def _host_ok(url: str, host: str, cookie_domain: str | None) -> bool:
    try:
        netloc = urlsplit(url).netloc.lower()
    except ValueError:
        return False
    if not netloc:
        return False
    if netloc == host.lower():
        return True
    if cookie_domain:
        name = netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        domain = cookie_domain.lower().lstrip(".")
        return name == domain or name.endswith("." + domain)
    return False


async def read_choice(request: Request) -> tuple[Choice, bool]:
    """Parse a form or JSON consent post; the bool says whether the client wants JSON back."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    wants_json = media == "application/json" or "application/json" in request.headers.get(
        "accept", ""
    )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Rejection(Refused.TOO_LARGE)
    if media == "application/json":
        try:
            data = json.loads(body or b"{}")
        except (ValueError, RecursionError):  # ("[" x 60,000 nests deeper than the parser goes)
            raise Rejection(Refused.MALFORMED, "invalid JSON") from None
        if not isinstance(data, dict):
            raise Rejection(Refused.MALFORMED, "expected a JSON object")
        categories, services = data.get("categories", []), data.get("services", [])
        action, next_url = data.get("action"), data.get("next")
        if not (_strings(categories) and _strings(services)):
            raise Rejection(Refused.MALFORMED, "categories and services must be lists of strings")
        if not isinstance(next_url, (str, type(None))):
            raise Rejection(Refused.MALFORMED, "next must be a string")
    elif media in ("application/x-www-form-urlencoded", ""):
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=256)
        except (UnicodeDecodeError, ValueError):
            raise Rejection(Refused.MALFORMED, "invalid form data") from None
        action = next((v for k, v in fields if k == "action"), None)
        next_url = next((v for k, v in fields if k == "next"), None)
        categories = [v for k, v in fields if k == "category"]
        services = [v for k, v in fields if k == "service"]
    else:
        raise Rejection(Refused.MEDIA_TYPE)
    if action not in ACTIONS:
        raise Rejection(Refused.ACTION)
    return Choice(str(action), tuple(categories), tuple(services), next_url), wants_json


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


#: Browsers keep at most ~180 cookies a domain: more names than this in one request are not a
#: browser's, and expiring each on every variant of the host would make a huge response.
MAX_EXPIRED = 512


class Site(Protocol):
    """What the endpoints need of the middleware, and no more."""

    @property
    def policy(self) -> Policy: ...
    @property
    def cookie(self) -> CookieSettings: ...
    @property
    def pages(self) -> Pages: ...
    @property
    def proof(self) -> Proof | None: ...
    @property
    def declarations(self) -> Declarations: ...
    def consent_of(self, scope: Scope) -> Consent: ...
    def cookie_header(self, scope: Scope, consent: Consent) -> str: ...


class Endpoints:
    """The ASGI app mounted at the middleware's prefix."""

    def __init__(self, site: Site, assets: dict[str, Asset] | None = None) -> None:
        self.site = site
        self.assets = assets if assets is not None else load_assets()
        self.routes: dict[str, Callable[[Request], Any]] = {
            "/consent": self.consent,
            "/preferences": self.preferences,
            "/banner": self.banner,
            "/receipt": self.receipt,
            "/cookies": self.cookies,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        request = Request(scope, receive)
        if path.startswith("/static/"):
            response = self.static(request, path[len("/static/") :])
        elif path in self.routes:
            response = await self.routes[path](request)
        else:
            response = PlainTextResponse("Not Found", status_code=404)
        # Every answer is exactly the type it says: no browser may sniff a JSON error into HTML.
        response.headers["X-Content-Type-Options"] = "nosniff"
        await response(scope, receive, send)

    def static(self, request: Request, name: str) -> Response:
        asset = self.assets.get(name)
        if asset is None or request.method not in ("GET", "HEAD"):
            return PlainTextResponse("Not Found", status_code=404)
        etag = f'"{asset.version}"'
        if request.query_params.get("v") == asset.version:
            cache = "public, max-age=31536000, immutable"
        else:
            cache = "no-cache"
        headers = {"Cache-Control": cache, "ETag": etag}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    async def consent(self, request: Request) -> Response:
        site = self.site
        wants_json = "application/json" in request.headers.get("content-type", "")
        try:
            if request.method != "POST":
                raise Rejection(Refused.METHOD)
            if not same_site(request.headers, _host(request), site.cookie.domain):
                raise Rejection(Refused.CROSS_SITE)
            choice, wants_json = await read_choice(request)
            before = site.consent_of(request.scope)
            consent = self.apply(choice, before)
            source = _source(choice, request, before, site.policy.required)
            if site.proof is not None:
                try:
                    await site.proof.record(request, consent, source=source)
                except NotRecorded as exc:
                    raise Rejection(Refused.STORAGE) from exc
        except Rejection as rejection:
            refusal = rejection.response(wants_json)
            if rejection.reason is Refused.METHOD:
                refusal.headers["Allow"] = "POST"
            return refusal
        response: Response
        if wants_json:
            response = JSONResponse(consent.as_dict())
        else:
            target = choice.next or request.headers.get("referer")
            response = RedirectResponse(safe_next(target, _host(request)), status_code=303)
        response.headers["Cache-Control"] = "no-store"
        response.headers.append("set-cookie", site.cookie_header(request.scope, consent))
        for value in self.expired(request, consent):
            response.headers.append("set-cookie", value)
        return response

    def expired(self, request: Request, after: Consent) -> list[str]:
        """``Set-Cookie`` values expiring every known cookie of a category (or service) the
        choice does not allow that the browser sent."""
        policy, name = self.site.policy, self.site.cookie.full_name
        doomed = []
        for sent in cookie_names(request.scope["headers"]):
            found = policy.cookie_category(sent)
            if found and not after.allows(found[0], found[1]) and sent != name:
                doomed.append(sent)
                if len(doomed) >= MAX_EXPIRED:
                    break
        return expired_cookie_headers(doomed, _host(request), self.site.cookie.domain)

    def apply(self, choice: Choice, before: Consent) -> Consent:
        policy = self.site.policy
        unknown = [c for c in choice.categories if c not in policy.names]
        if unknown:
            raise Rejection(Refused.CATEGORY, ", ".join(repr(c) for c in unknown[:5]))
        unknown = [s for s in choice.services if s not in policy.vendor_ids]
        if unknown:
            raise Rejection(Refused.SERVICE, ", ".join(repr(s) for s in unknown[:5]))
        granted, services = frozenset(choice.categories), frozenset(choice.services)
        if choice.action == "accept_all":
            granted, services = policy.names, frozenset()
        elif choice.action == "reject_all":
            granted, services = frozenset(), frozenset()
        elif choice.action == "allow":
            # Adds to what the visitor has now: a choice, or what the signals gave them so far.
            granted, services = before.granted | granted, before.services | services
        return Consent(
            granted=policy.required | granted,
            services=services,
            revision=policy.revision,
            given_at=datetime.now(UTC).replace(microsecond=0),
            consent_id=before.consent_id
            or (before.previous and before.previous.consent_id)
            or new_consent_id(),
            decided=True,
        )

    async def preferences(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("use GET", status_code=405, headers={"Allow": "GET"})
        return HTMLResponse(
            self.page("preferences.html", request), headers={"Cache-Control": "no-store"}
        )

    async def banner(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("use GET", status_code=405, headers={"Allow": "GET"})
        return HTMLResponse(
            self.page("banner.html", request), headers={"Cache-Control": "no-store"}
        )

    async def cookies(self, request: Request) -> Response:
        """The cookie declaration: a page, or (``?format=json`` or ``Accept:
        application/json``) its JSON; in the visitor's language either way."""
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("use GET", status_code=405, headers={"Allow": "GET"})
        declarations = self.site.declarations
        language = request.headers.get("accept-language")
        headers = {"Cache-Control": "no-store", "Vary": "Accept, Accept-Language"}
        wants_json = request.query_params.get("format") == "json" or (
            "application/json" in request.headers.get("accept", "")
        )
        if wants_json:
            return JSONResponse(declarations.declaration(language).as_json(), headers=headers)
        html = self.page("cookies.html", request, declaration_html=declarations.html(language))
        return HTMLResponse(html, headers=headers)

    async def receipt(self, request: Request) -> Response:
        """The visitor's own consent records, as a page or (``?format=json``) as JSON."""
        proof = self.site.proof
        if proof is None:
            return PlainTextResponse("This site keeps no consent log.", status_code=404)

        def render_html(receipt: dict[str, Any]) -> str:
            return self.page("receipt.html", request, receipt=receipt)

        return await proof.receipt(request, self.site.consent_of(request.scope), render_html)

    def page(self, name: str, request: Request, **extra: Any) -> str:
        """One of consentgate's own pages, linking back to where the visitor came from."""
        next_url = request.query_params.get("next") or request.headers.get("referer")
        return self.site.pages.page(
            name,
            request.scope,
            self.site.consent_of(request.scope),
            safe_next(next_url, _host(request)),
            **extra,
        )


def _host(request: Request) -> str:
    return request.headers.get("host", "")


def _source(choice: Choice, request: Request, before: Consent, required: frozenset[str]) -> str:
    if choice.action == "allow":
        return "placeholder"
    # Refusing is a withdrawal only where something optional had been given before.
    given = before.decided and (before.services or before.granted - required)
    if choice.action == "reject_all" and given:
        return "withdrawal"
    referer = request.headers.get("referer", "")
    if referer.split("?", 1)[0].endswith("/preferences"):
        return "preferences"
    return "banner"


def expired_cookie_headers(names: Iterable[str], host: str, domain: str | None) -> list[str]:
    """``Set-Cookie`` values that delete ``names`` on every variant they may have been set on.

    The request's ``Host`` goes into ``Domain=`` only when it is a valid host name: a raw ASGI
    server may pass anything (CR/LF, "; Secure", an IP) and it must not reach the header.
    """
    bare = host.rsplit(":", 1)[0].lower() if not host.endswith("]") else ""
    domains: list[str | None] = [None]
    labels = bare.split(".") if host_name(bare) else []
    # Trackers set cookies on the registrable domain (".example.com") as often as on the host.
    for i in range(len(labels) - 1):
        domains.append(".".join(labels[i:]))
    if domain:
        domains.append(domain.lstrip("."))
    headers = []
    for name in names:
        for d in dict.fromkeys(domains):
            attrs = f"; Domain={d}" if d else ""
            headers.append(f"{name}=; Max-Age=0; Expires={_EPOCH}; Path=/{attrs}")
    return headers
