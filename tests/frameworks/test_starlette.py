"""Starlette: ``app.add_middleware(ConsentMiddleware, ...)``, templates through Jinja2Templates
with consentgate's helpers, streaming and file responses."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import jinja2
from matrix import CHUNKS, OPTIONS, PAGE, check_site, live
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

import consentgate
from consentgate import ConsentMiddleware

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TEMPLATE = PAGE.replace(
    "<h1>Welcome</h1>",
    "<h1>Welcome</h1>{% consent 'analytical' %}<p>with stats</p>{% else %}<p>no stats</p>"
    "{% endconsent %}{{ consent_script('marketing', src='/ads.js') }}"
    "<footer>{{ cookie_settings_link() }}</footer>",
)


def site(folder: Path) -> Starlette:
    (folder / "page.html").write_text(PAGE)
    env = jinja2.Environment(loader=jinja2.DictLoader({"home.html": TEMPLATE}), autoescape=True)
    templates = Jinja2Templates(env=consentgate.install_jinja2(env))

    async def home(request: Request) -> Response:
        return templates.TemplateResponse(request, "home.html")

    async def chunks() -> AsyncIterator[str]:
        for chunk in CHUNKS:
            yield chunk

    async def stream(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type="text/html")

    async def file(request: Request) -> Response:
        return FileResponse(folder / "page.html", media_type="text/html")

    async def api(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/stream", stream),
            Route("/file", file),
            Route("/api", api),
        ]
    )
    app.add_middleware(ConsentMiddleware, **OPTIONS)
    return app


def test_starlette_site_is_gated_with_banner_and_own_paths(tmp_path: Path) -> None:
    check_site(TestClient(site(tmp_path)))


def test_templates_follow_the_visitors_choice(tmp_path: Path) -> None:
    client = TestClient(site(tmp_path))
    before = client.get("/").text
    assert "no stats" in before and "with stats" not in before
    assert 'data-consent-src="/ads.js"' in before
    assert 'href="/consentgate/preferences"' in before
    client.post(
        "/consentgate/consent",
        data={"action": "accept_all"},
        headers={"origin": "http://testserver"},
    )
    after = client.get("/").text
    assert "with stats" in after and "no stats" not in after and live(after)
    assert 'src="/ads.js"' in after
