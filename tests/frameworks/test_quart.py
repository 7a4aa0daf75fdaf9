"""Quart, an ASGI framework not built on Starlette: ``app.asgi_app = ConsentMiddleware(
app.asgi_app, ...)`` (Quart's way of adding ASGI middleware), its Jinja2 templates with
consentgate's helpers, streamed and file responses."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from helpers import ORIGIN
from matrix import CHUNKS, OPTIONS, PAGE, check_site
from quart import Quart, render_template_string, request, send_file

import consentgate
from consentgate import ConsentMiddleware, get_consent

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TEMPLATE = PAGE.replace(
    "<h1>Welcome</h1>",
    "<h1>Welcome</h1>{% consent 'analytical' %}<p>with stats</p>{% else %}<p>no stats</p>"
    "{% endconsent %}{{ consent_script('marketing', src='/ads.js') }}"
    "{{ cookie_settings_link() }}",
)


def site(folder: Path) -> Quart:
    (folder / "page.html").write_text(PAGE)
    app = Quart(__name__)
    consentgate.install_jinja2(app.jinja_env)

    @app.get("/")
    async def home() -> str:
        return await render_template_string(TEMPLATE)

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            yield chunk.encode()

    @app.get("/stream")
    async def stream() -> Any:
        return app.response_class(chunks(), mimetype="text/html")

    @app.get("/file")
    async def file() -> Any:
        return await send_file(folder / "page.html", mimetype="text/html")

    @app.get("/api")
    async def api() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/me")
    async def me() -> dict[str, Any]:
        # Quart's request carries the ASGI scope; get_consent() alone reads the context.
        return {"request": get_consent(request).decided, "context": get_consent().decided}

    app.asgi_app = ConsentMiddleware(app.asgi_app, **OPTIONS)  # type: ignore[method-assign]
    return app


def test_quart_site_is_gated_with_banner_and_own_paths(tmp_path: Path) -> None:
    with TestClient(site(tmp_path)) as client:
        check_site(client)


def test_templates_and_handlers_see_the_visitors_choice(tmp_path: Path) -> None:
    with TestClient(site(tmp_path)) as client:
        before = client.get("/").text
        assert "no stats" in before and 'data-consent-src="/ads.js"' in before
        assert client.get("/me").json() == {"request": False, "context": False}
        client.post("/consentgate/consent", data={"action": "accept_all"}, headers=ORIGIN)
        after = client.get("/").text
        assert "with stats" in after and 'src="/ads.js"' in after
        assert client.get("/me").json() == {"request": True, "context": True}
