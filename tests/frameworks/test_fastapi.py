"""FastAPI: ``app.add_middleware(ConsentMiddleware, ...)``, Jinja2Templates with consentgate's
helpers, the visitor's consent as an endpoint parameter (``VisitorConsent``), streaming and file
responses."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from fastapi.templating import Jinja2Templates
from helpers import ORIGIN
from matrix import CHUNKS, OPTIONS, PAGE, check_site

import consentgate
from consentgate import Consent, ConsentMiddleware
from consentgate.fastapi import VisitorConsent, consent_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TEMPLATE = PAGE.replace(
    "<h1>Welcome</h1>",
    "<h1>Welcome</h1>{% consent 'preference' %}<p>dark theme</p>{% else %}<p>default theme</p>"
    "{% endconsent %}",
)


def site(folder: Path) -> FastAPI:
    (folder / "page.html").write_text(PAGE)
    env = jinja2.Environment(loader=jinja2.DictLoader({"home.html": TEMPLATE}), autoescape=True)
    templates = Jinja2Templates(env=consentgate.install_jinja2(env))
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Any:
        return templates.TemplateResponse(request, "home.html")

    async def chunks() -> AsyncIterator[str]:
        for chunk in CHUNKS:
            yield chunk

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/html")

    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(folder / "page.html", media_type="text/html")

    @app.get("/api")
    async def api() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/me")
    async def me(consent: VisitorConsent) -> dict[str, Any]:
        return {"analytical": consent.allows("analytical"), "decided": consent.decided}

    @app.get("/me-too")
    def me_too(consent: Consent = Depends(consent_of)) -> dict[str, Any]:  # noqa: B008
        return {"granted": sorted(consent.granted)}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, consent: VisitorConsent) -> None:
        await websocket.accept()
        await websocket.send_json({"decided": consent.decided})
        await websocket.close()

    app.add_middleware(ConsentMiddleware, **OPTIONS)
    return app


def test_fastapi_site_is_gated_with_banner_and_own_paths(tmp_path: Path) -> None:
    check_site(TestClient(site(tmp_path)))


def test_an_endpoint_takes_the_visitors_consent_as_a_parameter(tmp_path: Path) -> None:
    client = TestClient(site(tmp_path))
    assert client.get("/me").json() == {"analytical": False, "decided": False}
    assert client.get("/me-too").json() == {"granted": ["necessary"]}
    client.post(
        "/consentgate/consent", data={"action": "save", "category": "analytical"}, headers=ORIGIN
    )
    assert client.get("/me").json() == {"analytical": True, "decided": True}
    assert client.get("/me-too").json() == {"granted": ["analytical", "necessary"]}
    # The dependency is no query parameter of the API's schema.
    schema = client.get("/openapi.json").json()
    assert "parameters" not in schema["paths"]["/me"]["get"]


def test_the_dependency_works_on_websockets_and_without_the_middleware(tmp_path: Path) -> None:
    app = site(tmp_path)
    with TestClient(app).websocket_connect("/ws") as socket:
        assert socket.receive_json() == {"decided": False}
    bare = FastAPI()
    bare.router.routes.extend(r for r in app.router.routes if getattr(r, "path", "") == "/me")
    assert TestClient(bare).get("/me").json() == {"analytical": False, "decided": False}


def test_templates_follow_the_visitors_choice(tmp_path: Path) -> None:
    client = TestClient(site(tmp_path))
    assert "default theme" in client.get("/").text
    client.post(
        "/consentgate/consent", data={"action": "save", "category": "preference"}, headers=ORIGIN
    )
    page = client.get("/").text
    assert "dark theme" in page and "default theme" not in page
