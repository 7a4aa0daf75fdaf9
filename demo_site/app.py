"""The demo site: a fake analytics script, a marketing pixel, a remembered theme and an embedded
video, all behind consentgate, plus pages that show what reached the server and when."""

from __future__ import annotations

import json
import os
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import consentgate
from consentgate import ConsentMiddleware, Policy, get_consent
from consentgate.consentlog import DEFAULT_FILENAME, ConsentLog

HERE = Path(__file__).resolve().parent
SECRET_ENV = "CONSENTGATE_SECRET"
CSP = (
    "default-src 'self'; img-src 'self' data:; "
    "frame-src https://www.youtube-nocookie.com https://www.youtube.com"
)
THEMES = ("light", "dark")
THEME_MAX_AGE = 365 * 24 * 60 * 60
# A 1x1 transparent GIF: what real tracking pixels answer.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
)
MAX_HITS = 500
MAX_BEACON = 4096

ConsentLogOption = str | os.PathLike[str] | ConsentLog | None


@dataclass(frozen=True, slots=True)
class Hit:
    """One request from a tracker, as the demo's own "tracking server" saw it."""

    time: datetime
    kind: str  # "analytics" (the fake script) or "pixel" (the marketing image)
    page: str
    granted: tuple[str, ...]  # what the visitor had granted when the hit arrived

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(timespec="seconds"),
            "kind": self.kind,
            "page": self.page,
            "granted": list(self.granted),
        }


def secret_from_environment() -> tuple[str, bool]:
    """The signing secret and whether it was generated (a development-only secret)."""
    configured = os.environ.get(SECRET_ENV, "")
    if configured:
        return configured, False
    return secrets.token_urlsafe(32), True


class ContentSecurityPolicy:
    """Adds the demo's strict CSP to its own pages: nothing in it needs inline script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", CSP)
                headers.setdefault("x-content-type-options", "nosniff")
            await send(message)

        await self.app(scope, receive, send_with_csp)


def _page_of(value: object) -> str:
    """A short, printable page path from untrusted tracker input."""
    text = value if isinstance(value, str) else ""
    text = "".join(ch for ch in text if ch.isprintable())[:200]
    return text or "?"


def create_app(
    secret_key: str | None = None, *, consent_log: ConsentLogOption = DEFAULT_FILENAME
) -> Starlette:
    """The demo wrapped in ``ConsentMiddleware``; without ``secret_key``, ``CONSENTGATE_SECRET``
    or else a fresh random secret (choices then do not survive a restart)."""
    if secret_key is None:
        secret_key, _ = secret_from_environment()
    templates = Jinja2Templates(
        directory=str(HERE / "templates"), context_processors=[consentgate.context_processor]
    )
    consentgate.install_jinja2(templates.env)
    hits: deque[Hit] = deque(maxlen=MAX_HITS)

    def theme_of(request: Request) -> str:
        # Without preference consent the cookie cannot exist; checking anyway fails closed.
        theme = request.cookies.get("theme", "light")
        if not get_consent(request).allows("preference") or theme not in THEMES:
            return "light"
        return theme

    def page(request: Request, name: str, **context: Any) -> Response:
        context.setdefault("theme", theme_of(request))
        return templates.TemplateResponse(request, name, context)

    def record(request: Request, kind: str, page_path: object) -> None:
        granted = tuple(sorted(get_consent(request).granted))
        hits.append(Hit(datetime.now(UTC), kind, _page_of(page_path), granted))

    async def home(request: Request) -> Response:
        return page(request, "home.html", active="home")

    async def collect(request: Request) -> Response:
        body = await request.body()
        page_path: object = None
        if len(body) <= MAX_BEACON:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                data = None
            if isinstance(data, dict):
                page_path = data.get("page")
        record(request, "analytics", page_path)
        return Response(status_code=204)

    async def pixel(request: Request) -> Response:
        record(request, "pixel", request.query_params.get("page"))
        return Response(
            PIXEL, media_type="image/gif", headers={"cache-control": "no-store, max-age=0"}
        )

    async def show_hits(request: Request) -> Response:
        newest_first = [hit.as_dict() for hit in reversed(hits)]
        if request.query_params.get("format") == "json":
            return JSONResponse({"hits": newest_first})
        return page(request, "hits.html", active="hits", hits=newest_first)

    async def clear_hits(request: Request) -> Response:
        hits.clear()
        return RedirectResponse("/hits", status_code=303)

    async def theme_page(request: Request) -> Response:
        chosen = request.query_params.get("chosen")
        allowed = get_consent(request).allows("preference")
        return page(
            request,
            "theme.html",
            active="theme",
            chosen=chosen if chosen in THEMES else None,
            remembered=request.cookies.get("theme") if allowed else None,
        )

    async def choose_theme(request: Request) -> Response:
        # Parsed by hand: request.form() would need python-multipart for one field.
        body = await request.body()
        try:
            fields = parse_qs(body[:1024].decode("latin-1"), max_num_fields=10)
        except ValueError:
            fields = {}
        chosen = (fields.get("theme") or [""])[0]
        if chosen not in THEMES:
            return Response("theme must be light or dark", status_code=400)
        response = RedirectResponse(f"/theme?chosen={chosen}", status_code=303)
        # Declared as a preference cookie: the middleware drops this header unless the
        # visitor granted that category.
        response.set_cookie("theme", chosen, max_age=THEME_MAX_AGE, path="/", samesite="lax")
        return response

    async def consent_page(request: Request) -> Response:
        consent = get_consent(request)
        categories = [(c, consent.allows(c.name)) for c in consentgate.DEFAULT_CATEGORIES]
        return page(request, "consent.html", active="consent", state=consent, categories=categories)

    async def privacy(request: Request) -> Response:
        return page(request, "privacy.html", active="privacy")

    async def video(request: Request) -> Response:
        return page(request, "video.html", active="video")

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/collect", collect, methods=["POST"]),
            Route("/pixel.gif", pixel),
            Route("/hits", show_hits),
            Route("/hits/clear", clear_hits, methods=["POST"]),
            Route("/theme", theme_page),
            Route("/theme", choose_theme, methods=["POST"]),
            Route("/consent", consent_page),
            Route("/privacy", privacy),
            Route("/video", video),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[
            Middleware(
                ConsentMiddleware,
                secret_key=secret_key,
                # The one third party it uses (the analytics and the pixel are its own).
                policy=Policy(cookies=(("theme", "preference"),), services=["youtube"]),
                privacy_policy_url="/privacy",
                consent_log=consent_log,
            ),
            Middleware(ContentSecurityPolicy),
        ],
    )
    app.state.hits = hits
    return app
